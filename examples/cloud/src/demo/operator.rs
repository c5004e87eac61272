//! The operator: the demo drives the cloud through its admin API (`iotsec-fleet-api`) over
//! HTTPS, TLS 1.3 only, with the operator's client certificate, as any operator tool would;
//! and checks the broker's listener with the same identity.

use std::path::Path;
use std::time::Duration;

use iotsec_fleet_api::{
    ApiError, DeviceRecord, PublishOutcome, RolloutCommand, RolloutStatus, paths,
};
use reqwest::StatusCode;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::de::DeserializeOwned;

use super::pki::FleetPki;

/// Per-request limit: a request that takes longer is a failure of the step that made it.
const REQUEST_LIMIT: Duration = Duration::from_secs(120);

/// A TLS 1.3 client configuration trusting the fleet chain, presenting `identity` (certificate
/// PEM, key PEM) if given.
pub fn tls_config(
    pki: &FleetPki,
    identity: Option<(&Path, &Path)>,
) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&pki.root)
        .map_err(|e| format!("{}: {e}", pki.root.display()))?
    {
        let cert = cert.map_err(|e| format!("{}: {e}", pki.root.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("{}: {e}", pki.root.display()))?;
    }
    let builder = rustls::ClientConfig::builder_with_protocol_versions(&[&rustls::version::TLS13])
        .with_root_certificates(roots);
    match identity {
        None => Ok(builder.with_no_client_auth()),
        Some((cert, key)) => {
            let mut chain: Vec<CertificateDer<'static>> = Vec::new();
            for c in CertificateDer::pem_file_iter(cert)
                .map_err(|e| format!("{}: {e}", cert.display()))?
            {
                chain.push(c.map_err(|e| format!("{}: {e}", cert.display()))?);
            }
            // The intermediate, so that a peer trusting only the root can build the path.
            for c in CertificateDer::pem_file_iter(&pki.chain)
                .map_err(|e| format!("{}: {e}", pki.chain.display()))?
                .take(1)
            {
                chain.push(c.map_err(|e| format!("{}: {e}", pki.chain.display()))?);
            }
            let key =
                PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("client certificate: {e}"))
        }
    }
}

/// The admin API client.
pub struct Operator {
    http: reqwest::Client,
    base: String,
}

/// A request that did not give the expected answer: the HTTP status (if any) and the
/// error's stable code.
#[derive(Debug, Clone)]
pub struct ApiFailure {
    /// The status, when a response came.
    pub status: Option<u16>,
    /// The API error code (`revoked`, `gate_failed`, ...) or a transport description.
    pub code: String,
    /// One line.
    pub message: String,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(s) => write!(f, "HTTP {s} {}: {}", self.code, self.message),
            None => write!(f, "{}: {}", self.code, self.message),
        }
    }
}

fn transport(e: reqwest::Error) -> ApiFailure {
    ApiFailure {
        status: None,
        code: "transport".into(),
        message: e.to_string(),
    }
}

impl Operator {
    /// A client of the cloud at `base` (`https://127.0.0.1:PORT`) with `tls`.
    pub fn new(base: &str, tls: rustls::ClientConfig) -> Result<Operator, String> {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(REQUEST_LIMIT)
            .no_proxy()
            .build()
            .map_err(|e| format!("HTTPS client: {e}"))?;
        Ok(Operator {
            http,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn answer<T: DeserializeOwned>(
        response: reqwest::Response,
        ok: &[StatusCode],
    ) -> Result<T, ApiFailure> {
        let status = response.status();
        let body = response.bytes().await.map_err(transport)?;
        if ok.contains(&status) {
            return serde_json::from_slice(&body).map_err(|e| ApiFailure {
                status: Some(status.as_u16()),
                code: "bad_json".into(),
                message: e.to_string(),
            });
        }
        let error: Option<ApiError> = serde_json::from_slice(&body).ok();
        Err(ApiFailure {
            status: Some(status.as_u16()),
            code: error
                .as_ref()
                .map_or_else(|| "no_error_body".to_owned(), |e| e.code.clone()),
            message: error.map_or_else(
                || String::from_utf8_lossy(&body).chars().take(200).collect(),
                |e| e.message,
            ),
        })
    }

    /// GET `path` with status 200 expected.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiFailure> {
        let r = self
            .http
            .get(self.url(path))
            .send()
            .await
            .map_err(transport)?;
        Self::answer(r, &[StatusCode::OK]).await
    }

    /// The status of GET `path` (any status: a refusal is an answer here).
    pub async fn get_status(&self, path: &str) -> Result<u16, ApiFailure> {
        let r = self
            .http
            .get(self.url(path))
            .send()
            .await
            .map_err(transport)?;
        Ok(r.status().as_u16())
    }

    /// Every device in the registry.
    pub async fn devices(&self) -> Result<Vec<DeviceRecord>, ApiFailure> {
        self.get(paths::DEVICES).await
    }

    /// One device's record.
    pub async fn device(&self, id: &str) -> Result<DeviceRecord, ApiFailure> {
        self.get(&paths::DEVICE.replace("{id}", id)).await
    }

    async fn post_empty(&self, template: &str, id: &str) -> Result<DeviceRecord, ApiFailure> {
        let r = self
            .http
            .post(self.url(&template.replace("{id}", id)))
            .send()
            .await
            .map_err(transport)?;
        Self::answer(r, &[StatusCode::OK]).await
    }

    /// Revokes a device's certificates and quarantines it.
    pub async fn revoke(&self, id: &str) -> Result<DeviceRecord, ApiFailure> {
        self.post_empty(paths::REVOKE, id).await
    }

    /// Decommissions a device.
    pub async fn decommission(&self, id: &str) -> Result<DeviceRecord, ApiFailure> {
        self.post_empty(paths::DECOMMISSION, id).await
    }

    /// Publishes a release: the outcome, published (201) or refused (422).
    pub async fn publish(
        &self,
        release: &iotsec_fleet_api::PublishRelease,
    ) -> Result<(u16, PublishOutcome), ApiFailure> {
        let r = self.post_json(paths::RELEASES, release).await?;
        let status = r.status().as_u16();
        let outcome =
            Self::answer(r, &[StatusCode::CREATED, StatusCode::UNPROCESSABLE_ENTITY]).await?;
        Ok((status, outcome))
    }

    /// Where the rollout stands.
    pub async fn rollout_status(&self) -> Result<RolloutStatus, ApiFailure> {
        self.get(paths::ROLLOUT).await
    }

    /// Sends a rollout command.
    pub async fn rollout(&self, command: &RolloutCommand) -> Result<RolloutStatus, ApiFailure> {
        let r = self.post_json(paths::ROLLOUT, command).await?;
        Self::answer(r, &[StatusCode::OK]).await
    }

    async fn post_json(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<reqwest::Response, ApiFailure> {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .map_err(transport)
    }
}
