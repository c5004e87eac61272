//! A fleet service for the agent tests: iotsec-pki's EST router (est-axum, TLS 1.3, client
//! certificates checked against the CA and its CRL) plus the device side of the fleet API
//! (`iotsec_fleet_api`), whose decisions are the crates': nonces from
//! `iotsec_attest::appraise::nonce_issuer`, evidence appraised by
//! `iotsec_attest::se_evidence::appraise_se_evidence` against the device certificate's key, or
//! TPM evidence by `iotsec_attest::appraise::tpm_evidence::appraise_tpm_evidence` against the
//! AK registered for the device at its first accepted quote.
//! The test sets what it offers (a release, a decommissioning) and reads what devices
//! reported.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Extension, Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use base64ct::{Base64, Encoding};
use der::Decode;
use iotsec_attest::appraise::nonce_issuer::NonceIssuer;
use iotsec_attest::appraise::tpm_evidence::{
    AkBinding, TpmEvidence, TpmExpectations, appraise_tpm_evidence,
};
use iotsec_attest::se_evidence::{SeExpectations, appraise_se_evidence};
use iotsec_fleet_api::{
    ApiError, Appraisal, DeviceReport, DeviceStatus, Evidence, Nonce, ReleaseOffer, paths,
};
use iotsec_pki::est::http::{
    ServeLimits, TlsConfigCell, TlsFacts, router, serve, server_config_for,
};
use iotsec_pki::est_service::{EstService, LabelPolicy};
use sha2::Digest;

/// What the service offers and what it was told.
#[derive(Default)]
pub struct Registry {
    /// Device ids the operator decommissioned.
    pub decommissioned: HashSet<String>,
    /// Answer `/v1/device/status` with 200 `decommissioned: true` (else 403 like every other
    /// device endpoint).
    pub status_says_decommissioned: bool,
    /// The release offered to every device: (offer, image).
    pub release: Option<(ReleaseOffer, Vec<u8>)>,
    /// Accepted firmware measurements.
    pub references: Vec<[u8; 32]>,
    /// What the status tells devices about renewal (0: 60 s).
    pub renew_before_secs: u64,
    /// Reports received: (device id, report).
    pub reports: Vec<(String, DeviceReport)>,
    /// Appraisals made: (device id, accepted, code).
    pub appraisals: Vec<(String, bool, Option<String>)>,
    last_counter: HashMap<String, u64>,
    /// TPM AK Names registered per device.
    pub tpm_aks: HashMap<String, Vec<u8>>,
    /// TPM registrations asked for: (device id, request). Every one is refused with 403
    /// `ek_not_allowed` (the real exchange is tested against `iotsec-cloud serve`).
    pub tpm_registrations: Vec<(String, iotsec_fleet_api::TpmRegister)>,
}

struct Shared {
    registry: Arc<Mutex<Registry>>,
    nonces: Mutex<NonceIssuer>,
}

/// A running service; stopped on drop.
pub struct TestCloud {
    pub url: String,
    pub registry: Arc<Mutex<Registry>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestCloud {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn api_error(status: StatusCode, code: &str) -> Response {
    let body = serde_json::to_vec(&ApiError {
        code: code.into(),
        message: code.replace('_', " "),
    })
    .unwrap();
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r
}

fn json(value: &impl serde::Serialize) -> Response {
    Response::new(Body::from(serde_json::to_vec(value).unwrap()))
}

/// The calling device (the CN of its verified client certificate) and its raw P-256 key, or
/// the refusal (401 without a certificate, 403 when decommissioned).
fn caller(shared: &Shared, tls: &TlsFacts) -> Result<(String, [u8; 64]), Box<Response>> {
    let Some(der) = &tls.client_cert else {
        return Err(Box::new(api_error(
            StatusCode::UNAUTHORIZED,
            "no_client_certificate",
        )));
    };
    let cert = x509_cert::Certificate::from_der(der).unwrap();
    let tbs = &cert.tbs_certificate;
    let cn = tbs
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .find(|a| a.oid == der::asn1::ObjectIdentifier::new_unwrap("2.5.4.3"))
        .and_then(|a| a.value.decode_as::<der::asn1::Utf8StringRef<'_>>().ok())
        .map(|s| s.as_str().to_owned())
        .unwrap();
    let point = tbs.subject_public_key_info.subject_public_key.raw_bytes();
    let key: [u8; 64] = point[1..].try_into().unwrap();
    let registry = shared.registry.lock().unwrap();
    if registry.decommissioned.contains(&cn) && !registry.status_says_decommissioned {
        return Err(Box::new(api_error(StatusCode::FORBIDDEN, "decommissioned")));
    }
    Ok((cn, key))
}

async fn nonce(State(shared): State<Arc<Shared>>, Extension(tls): Extension<TlsFacts>) -> Response {
    if let Err(r) = caller(&shared, &tls) {
        return *r;
    }
    let nonce = shared.nonces.lock().unwrap().issue(now()).unwrap();
    json(&Nonce {
        nonce: hex::encode(nonce.as_bytes()),
        expires_in_secs: 60,
    })
}

async fn tpm_register(
    State(shared): State<Arc<Shared>>,
    Extension(tls): Extension<TlsFacts>,
    body: Bytes,
) -> Response {
    let (cn, _) = match caller(&shared, &tls) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let Ok(request) = serde_json::from_slice(&body) else {
        return api_error(StatusCode::BAD_REQUEST, "bad_json");
    };
    shared
        .registry
        .lock()
        .unwrap()
        .tpm_registrations
        .push((cn, request));
    api_error(StatusCode::FORBIDDEN, "ek_not_allowed")
}

async fn evidence(
    State(shared): State<Arc<Shared>>,
    Extension(tls): Extension<TlsFacts>,
    body: Bytes,
) -> Response {
    let (id, key) = match caller(&shared, &tls) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let Ok(evidence) = serde_json::from_slice::<Evidence>(&body) else {
        return api_error(StatusCode::BAD_REQUEST, "bad_json");
    };
    let nonce = hex::decode(&evidence.nonce).unwrap();
    if shared.nonces.lock().unwrap().redeem(&nonce, now()).is_err() {
        return api_error(StatusCode::BAD_REQUEST, "nonce_unknown");
    }
    let bytes = Base64::decode_vec(&evidence.evidence).unwrap();
    let device_id: [u8; 32] = sha2::Sha256::digest(id.as_bytes()).into();
    let mut registry = shared.registry.lock().unwrap();
    let references = registry.references.clone();
    if evidence.format == iotsec_fleet_api::EvidenceFormat::Tpm {
        let Ok(offered) = TpmEvidence::parse(&bytes).and_then(|e| e.ak_name()) else {
            return api_error(StatusCode::BAD_REQUEST, "bad_evidence");
        };
        let owner = registry
            .tpm_aks
            .iter()
            .find(|(_, ak)| **ak == offered)
            .map(|(d, _)| d.clone());
        let ak = match (registry.tpm_aks.get(&id), owner) {
            (Some(name), _) => AkBinding::Registered(name),
            (None, Some(other)) if other != id => AkBinding::OtherDevice,
            (None, _) => AkBinding::FirstUse,
        };
        let verifier = iotsec_attest::verify::ring::RingVerifier;
        let outcome = appraise_tpm_evidence(
            &bytes,
            &TpmExpectations {
                nonce: &nonce,
                ak,
                firmware_references: &references,
                verifier: &verifier,
            },
        );
        let (accepted, code) = match outcome {
            Ok(e) => {
                registry.tpm_aks.entry(id.clone()).or_insert(e.ak_name);
                (true, None)
            }
            Err(e) => {
                use iotsec_attest::ErrorCode;
                (false, Some(e.code().to_owned()))
            }
        };
        registry.appraisals.push((id, accepted, code.clone()));
        return json(&Appraisal {
            accepted,
            code,
            claims: serde_json::Map::from_iter([("format".to_owned(), "tpm".into())]),
            quarantined: !accepted,
        });
    }
    let expect = SeExpectations {
        public_key: &key,
        nonce: &nonce,
        device_id: Some(&device_id),
        firmware_references: &references,
        last_counter: registry.last_counter.get(&id).copied(),
    };
    let (accepted, code) = match appraise_se_evidence(&bytes, &expect) {
        Ok(e) => {
            registry.last_counter.insert(id.clone(), e.counter);
            (true, None)
        }
        Err(e) => (false, Some(e.code().to_owned())),
    };
    registry.appraisals.push((id, accepted, code.clone()));
    json(&Appraisal {
        accepted,
        code,
        claims: serde_json::Map::new(),
        quarantined: !accepted,
    })
}

async fn release(
    State(shared): State<Arc<Shared>>,
    Extension(tls): Extension<TlsFacts>,
) -> Response {
    if let Err(r) = caller(&shared, &tls) {
        return *r;
    }
    match &shared.registry.lock().unwrap().release {
        Some((offer, _)) => json(offer),
        None => {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::NO_CONTENT;
            r
        }
    }
}

async fn image(
    State(shared): State<Arc<Shared>>,
    Extension(tls): Extension<TlsFacts>,
    UrlPath(version): UrlPath<String>,
) -> Response {
    if let Err(r) = caller(&shared, &tls) {
        return *r;
    }
    match &shared.registry.lock().unwrap().release {
        Some((offer, image)) if offer.version == version => {
            Response::new(Body::from(image.clone()))
        }
        _ => api_error(StatusCode::NOT_FOUND, "no_such_release"),
    }
}

async fn report(
    State(shared): State<Arc<Shared>>,
    Extension(tls): Extension<TlsFacts>,
    body: Bytes,
) -> Response {
    let (id, _) = match caller(&shared, &tls) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let Ok(report) = serde_json::from_slice::<DeviceReport>(&body) else {
        return api_error(StatusCode::BAD_REQUEST, "bad_json");
    };
    shared.registry.lock().unwrap().reports.push((id, report));
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

async fn status(
    State(shared): State<Arc<Shared>>,
    Extension(tls): Extension<TlsFacts>,
) -> Response {
    let (id, _) = match caller(&shared, &tls) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let registry = shared.registry.lock().unwrap();
    json(&DeviceStatus {
        decommissioned: registry.decommissioned.contains(&id),
        quarantined: false,
        renew_before_secs: match registry.renew_before_secs {
            0 => 60,
            n => n,
        },
        id,
    })
}

impl TestCloud {
    /// Serves EST (HTTP Basic `basic`, client-certificate re-enrollment) for the CA in
    /// `ca_state` and the device API, on a loopback port of the current runtime.
    pub async fn start(ca_state: &Path, basic: (&str, &str)) -> TestCloud {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let ca = iotsec_pki::ca_state::CaState::open(ca_state).unwrap();
        let certified = Arc::new(iotsec_pki::est_transport::issue_server_identity(&ca).unwrap());
        let labels = HashMap::from([(
            String::new(),
            LabelPolicy {
                basic: Some((basic.0.into(), basic.1.into())),
                client_cert_auth: true,
                ..Default::default()
            },
        )]);
        let service = Arc::new(EstService::new(ca, labels));
        let tls = Arc::new(TlsConfigCell::new(
            server_config_for(&service, certified).unwrap(),
        ));
        let registry = Arc::new(Mutex::new(Registry::default()));
        let shared = Arc::new(Shared {
            registry: Arc::clone(&registry),
            nonces: Mutex::new(NonceIssuer::new(60, 1024)),
        });
        let device_api = Router::new()
            .route(paths::ATTEST_NONCE, post(nonce))
            .route(paths::ATTEST_EVIDENCE, post(evidence))
            .route(paths::RELEASE, get(release))
            .route(paths::RELEASE_IMAGE, get(image))
            .route(paths::REPORT, post(report))
            .route(paths::STATUS, get(status))
            .route(paths::TPM_REGISTER, post(tpm_register))
            .with_state(shared);
        let app = router(service).merge(device_api);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let mut limits = ServeLimits::default();
        limits.max_body = 1024 * 1024;
        // Every device of a test is on 127.0.0.1.
        limits.max_connections = 4096;
        limits.max_per_address = 4096;
        limits.reserve = 0;
        tokio::spawn(serve(listener, tls, app, limits, async move {
            let _ = stopped.await;
        }));
        TestCloud {
            url,
            registry,
            stop: Some(stop),
        }
    }
}
