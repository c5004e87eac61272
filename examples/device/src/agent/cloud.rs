//! The agent's HTTPS client (reqwest over rustls, TLS 1.3 only, the provider chosen by the
//! application): EST (RFC 7030 §4.1.2 `cacerts`, §4.2 `simpleenroll` / `simplereenroll`) and
//! the fleet API (`iotsec_fleet_api`). Every reply is read up to a cap fixed per step before it
//! is parsed; an error reply is read as the fleet API's [`iotsec_fleet_api::ApiError`].

use std::sync::Arc;
use std::time::Duration;

use iotsec_fleet_api::{
    ApiError, Appraisal, DeviceReport, DeviceStatus, Evidence, MAX_JSON_BODY, Nonce, ReleaseOffer,
    TpmActivate, TpmChallenge, TpmRegister, TpmRegistered, paths,
};
use iotsec_pki::est_client::{HttpReply, MAX_RESPONSE, certs_of};
use iotsec_pki::est_message::{Base64Layout, encode_csr_body};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde::de::DeserializeOwned;

use super::error::AgentError;

/// TLS client credentials: the chain (DER, leaf first) and the PKCS#8 key.
pub(crate) type ClientAuth = (Vec<Vec<u8>>, zeroize::Zeroizing<Vec<u8>>);

/// A rustls client configuration for TLS 1.3 with `roots`, presenting `auth` if given.
pub(crate) fn tls_config(
    provider: &Arc<rustls::crypto::CryptoProvider>,
    roots: &[Vec<u8>],
    auth: Option<ClientAuth>,
) -> Result<rustls::ClientConfig, AgentError> {
    let roots: Vec<CertificateDer<'static>> =
        roots.iter().cloned().map(CertificateDer::from).collect();
    let auth = auth.map(|(chain, mut key)| {
        (
            chain.into_iter().map(CertificateDer::from).collect(),
            // rustls takes an owned key: it gets the buffer, moved out of its Zeroizing.
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(std::mem::take(&mut *key))),
        )
    });
    iotsec_pki::tls_config::client_config(Arc::clone(provider), &roots, auth)
        .map_err(|e| AgentError::Tls(e.to_string()))
}

/// One HTTPS identity towards the cloud (the bootstrap one, or the enrolled device's).
#[derive(Debug, Clone)]
pub(crate) struct Cloud {
    base: String,
    est: String,
    client: reqwest::Client,
}

/// The largest image the agent downloads is the signed size; this caps the JSON of an
/// error reply to an image request.
const MAX_ERROR_BODY: usize = 4 * 1024;

impl Cloud {
    /// A client for `base` (`https://HOST:PORT`) with the EST `label`, speaking TLS `tls`.
    pub(crate) fn new(
        base: &str,
        label: Option<&str>,
        tls: rustls::ClientConfig,
        timeout: Duration,
        keep_alive: Duration,
    ) -> Result<Cloud, AgentError> {
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .https_only(true)
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout)
            // A step's requests share one connection; an idle device holds none after
            // `keep_alive` (a thousand devices on one host would otherwise hold a thousand
            // idle TLS sessions).
            .pool_max_idle_per_host(1)
            .pool_idle_timeout(keep_alive)
            .build()
            .map_err(|source| AgentError::Http {
                doing: "building the HTTPS client",
                source,
            })?;
        let base = base.trim_end_matches('/').to_owned();
        let est = match label {
            Some(label) => format!("{base}{}/{label}", paths::EST),
            None => format!("{base}{}", paths::EST),
        };
        Ok(Cloud { base, est, client })
    }

    async fn send(
        &self,
        doing: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, AgentError> {
        request.send().await.map_err(|source| {
            if source.is_timeout() {
                AgentError::Timeout { doing }
            } else {
                AgentError::Http { doing, source }
            }
        })
    }

    /// The body, refused past `max` bytes (checked on the announced length and while reading).
    async fn body(
        doing: &'static str,
        mut response: reqwest::Response,
        max: usize,
    ) -> Result<Vec<u8>, AgentError> {
        if response.content_length().is_some_and(|n| n > max as u64) {
            return Err(AgentError::ReplyTooLarge { doing, max });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|source| AgentError::Http { doing, source })?
        {
            if body.len() + chunk.len() > max {
                return Err(AgentError::ReplyTooLarge { doing, max });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// The refusal a non-success reply carries: its fleet-API code, or `http_<status>`.
    async fn refused(doing: &'static str, response: reqwest::Response) -> AgentError {
        let status = response.status().as_u16();
        let body = Self::body(doing, response, MAX_ERROR_BODY)
            .await
            .unwrap_or_default();
        let (code, message) = match serde_json::from_slice::<ApiError>(&body) {
            Ok(e) => (e.code, e.message),
            Err(_) => (
                format!("http_{status}"),
                String::from_utf8_lossy(&body)
                    .trim()
                    .chars()
                    .take(200)
                    .collect(),
            ),
        };
        AgentError::Refused {
            doing,
            status,
            code,
            message,
        }
    }

    /// A JSON reply of a 200, bounded by [`MAX_JSON_BODY`].
    async fn json<T: DeserializeOwned>(
        doing: &'static str,
        response: reqwest::Response,
    ) -> Result<T, AgentError> {
        if response.status() != reqwest::StatusCode::OK {
            return Err(Self::refused(doing, response).await);
        }
        let body = Self::body(doing, response, MAX_JSON_BODY).await?;
        serde_json::from_slice(&body).map_err(|e| AgentError::BadReply {
            doing,
            reason: e.to_string(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET /cacerts` (RFC 7030 §4.1): the CA certificates, DER.
    pub(crate) async fn cacerts(&self) -> Result<Vec<Vec<u8>>, AgentError> {
        const DOING: &str = "fetching the CA certificates (EST cacerts)";
        let response = self
            .send(DOING, self.client.get(format!("{}/cacerts", self.est)))
            .await?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(Self::refused(DOING, response).await);
        }
        let body = Self::body(DOING, response, MAX_RESPONSE).await?;
        certs_of(&HttpReply {
            status: 200,
            retry_after: None,
            body,
        })
        .map_err(|e| AgentError::BadReply {
            doing: DOING,
            reason: e.to_string(),
        })
    }

    /// `POST /simpleenroll` (with `basic`, or the bootstrap certificate of this client) or
    /// `/simplereenroll` (with the device certificate): the issued certificates, DER.
    pub(crate) async fn enroll(
        &self,
        reenroll: bool,
        basic: Option<(&str, &str)>,
        csr: &[u8],
    ) -> Result<Vec<Vec<u8>>, AgentError> {
        let (doing, op) = if reenroll {
            ("re-enrolling (EST simplereenroll)", "simplereenroll")
        } else {
            ("enrolling (EST simpleenroll)", "simpleenroll")
        };
        let mut request = self
            .client
            .post(format!("{}/{op}", self.est))
            .header("Content-Type", "application/pkcs10")
            .header("Content-Transfer-Encoding", "base64")
            .body(encode_csr_body(csr, Base64Layout::Lines64));
        if let Some((user, password)) = basic {
            request = request.basic_auth(user, Some(password));
        }
        let response = self.send(doing, request).await?;
        match response.status().as_u16() {
            200 => {}
            202 => {
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok());
                return Err(AgentError::EnrollPending { retry_after });
            }
            _ => return Err(Self::refused(doing, response).await),
        }
        let body = Self::body(doing, response, MAX_RESPONSE).await?;
        certs_of(&HttpReply {
            status: 200,
            retry_after: None,
            body,
        })
        .map_err(|e| AgentError::BadReply {
            doing,
            reason: e.to_string(),
        })
    }

    /// A fresh attestation nonce.
    pub(crate) async fn nonce(&self) -> Result<Nonce, AgentError> {
        const DOING: &str = "asking for an attestation nonce";
        let response = self
            .send(DOING, self.client.post(self.url(paths::ATTEST_NONCE)))
            .await?;
        Self::json(DOING, response).await
    }

    /// Evidence for appraisal.
    pub(crate) async fn evidence(&self, evidence: &Evidence) -> Result<Appraisal, AgentError> {
        self.post_json(
            "sending attestation evidence",
            paths::ATTEST_EVIDENCE,
            evidence,
        )
        .await
    }

    /// `POST value` as JSON to `path`; the 200 reply as JSON.
    async fn post_json<T: DeserializeOwned>(
        &self,
        doing: &'static str,
        path: &str,
        value: &impl serde::Serialize,
    ) -> Result<T, AgentError> {
        let response = self
            .send(
                doing,
                self.client
                    .post(self.url(path))
                    .header("Content-Type", "application/json")
                    .body(json_body(value)?),
            )
            .await?;
        Self::json(doing, response).await
    }

    /// The TPM's EK and AK for registration: the credential to activate.
    pub(crate) async fn tpm_register(
        &self,
        request: &TpmRegister,
    ) -> Result<TpmChallenge, AgentError> {
        self.post_json(
            "registering the TPM attestation key",
            paths::TPM_REGISTER,
            request,
        )
        .await
    }

    /// The activated secret: the registered AK.
    pub(crate) async fn tpm_activate(
        &self,
        request: &TpmActivate,
    ) -> Result<TpmRegistered, AgentError> {
        self.post_json(
            "activating the TPM credential",
            paths::TPM_ACTIVATE,
            request,
        )
        .await
    }

    /// The release offered to this device, if any (200 or 204).
    pub(crate) async fn release(&self) -> Result<Option<ReleaseOffer>, AgentError> {
        const DOING: &str = "asking the release channel";
        let response = self
            .send(DOING, self.client.get(self.url(paths::RELEASE)))
            .await?;
        if response.status() == reqwest::StatusCode::NO_CONTENT {
            return Ok(None);
        }
        Self::json(DOING, response).await.map(Some)
    }

    /// Streams the image of `version` into `sink` as it arrives, refusing more than `max`
    /// bytes. Ends early, without error, when the receiver stopped reading (the installer
    /// refused the image: its outcome says why).
    pub(crate) async fn image(
        &self,
        version: &str,
        max: u64,
        sink: tokio::sync::mpsc::Sender<Vec<u8>>,
    ) -> Result<(), AgentError> {
        const DOING: &str = "downloading the release image";
        // The version goes into the path: only the characters of a version string.
        if version.is_empty()
            || !version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_'))
        {
            return Err(AgentError::BadReply {
                doing: DOING,
                reason: format!("release version {version:?} is not a version string"),
            });
        }
        let too_large = AgentError::ReplyTooLarge {
            doing: DOING,
            max: usize::try_from(max).unwrap_or(usize::MAX),
        };
        let path = paths::RELEASE_IMAGE.replace("{version}", version);
        let mut response = self.send(DOING, self.client.get(self.url(&path))).await?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(Self::refused(DOING, response).await);
        }
        if response.content_length().is_some_and(|n| n > max) {
            return Err(too_large);
        }
        let mut received = 0u64;
        while let Some(chunk) = response.chunk().await.map_err(|source| AgentError::Http {
            doing: DOING,
            source,
        })? {
            received += chunk.len() as u64;
            if received > max {
                return Err(too_large);
            }
            if sink.send(chunk.to_vec()).await.is_err() {
                break;
            }
        }
        Ok(())
    }

    /// What the device runs and how its last update ended.
    pub(crate) async fn report(&self, report: &DeviceReport) -> Result<(), AgentError> {
        const DOING: &str = "reporting to the cloud";
        let response = self
            .send(
                DOING,
                self.client
                    .post(self.url(paths::REPORT))
                    .header("Content-Type", "application/json")
                    .body(json_body(report)?),
            )
            .await?;
        if response.status().is_success() {
            return Ok(());
        }
        Err(Self::refused(DOING, response).await)
    }

    /// The registry's view of this device.
    pub(crate) async fn status(&self) -> Result<DeviceStatus, AgentError> {
        const DOING: &str = "asking for the device status";
        let response = self
            .send(DOING, self.client.get(self.url(paths::STATUS)))
            .await?;
        Self::json(DOING, response).await
    }
}

fn json_body(value: &impl serde::Serialize) -> Result<Vec<u8>, AgentError> {
    serde_json::to_vec(value).map_err(|e| AgentError::BadConfig {
        reason: e.to_string(),
    })
}
