//! The routes of `iotsec-fleet-api` and their handlers. Every handler authenticates first
//! (device: a certificate the registry knows, not revoked, device not decommissioned;
//! operator: a configured CN), bounds and parses its body (unknown JSON fields refused), and
//! runs the store and the CA off the async runtime. Refusals are [`ApiError`] JSON with a
//! stable code.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64ct::{Base64, Encoding};
use iotsec_attest::ErrorCode;
use iotsec_attest::appraise::tpm_evidence::{
    AkBinding, FIRMWARE_PCR, MAX_TPM_EVIDENCE_LEN, TpmEvidence, TpmEvidenceError, TpmExpectations,
    appraise_tpm_evidence,
};
use iotsec_attest::identity::registration::{
    EkTrust, PendingRegistration, REGISTRATION_ID_LEN, Registrar, RegistrationError,
    RegistrationRequest, SECRET_LEN,
};
use iotsec_attest::se_evidence::{
    MAX_EVIDENCE_LEN, SeEvidence, SeExpectations, appraise_se_evidence,
};
use iotsec_fleet_api::{
    ApiError, Appraisal, DeviceReport, DeviceStatus, Evidence, EvidenceFormat, MAX_IMAGE_BODY,
    MAX_JSON_BODY, MAX_TPM_EK_CERTIFICATE, MAX_TPM_PUBLIC, Nonce, PublishOutcome, PublishRelease,
    Quarantine, ReleaseOffer, RolloutCommand, TpmActivate, TpmChallenge, TpmRegister,
    TpmRegistered, base64_len, paths,
};
use iotsec_pki::ca_state::to_pem;
use iotsec_pki::est::service::{BindingPolicy, LabelPolicy, TlsFacts};
use iotsec_pki::{CaState, EstService};
use serde::de::DeserializeOwned;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::broker::Broker;
use super::certs::{CertFacts, facts};
use super::sqlite::SqliteFleetStore;
use super::store::{
    AppraisalEntry, AttestationState, Enrollment, FleetStore, PendingTpmRegistration, Release,
    StoreError, check_reason, cohort_bps,
};
use super::{ServeConfig, ServeError, TpmTrust};

/// Longest version string accepted.
const MAX_VERSION_LEN: usize = 64;
/// Most outstanding nonces (all devices); the oldest are dropped beyond it.
const MAX_NONCES: usize = 65_536;
/// Most outstanding nonces per device.
const MAX_NONCES_PER_DEVICE: usize = 4;

/// A refusal: status and [`ApiError`].
#[derive(Debug)]
pub struct Failure {
    status: StatusCode,
    code: String,
    message: String,
}

impl Failure {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            message: message.into(),
        }
    }
    fn bad(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    fn internal(e: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        let status = match e.code() {
            "unknown_device" => StatusCode::NOT_FOUND,
            "bad_stages" | "bad_reason" => StatusCode::BAD_REQUEST,
            "store_failed" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::CONFLICT,
        };
        Self::new(status, e.code(), e.to_string())
    }
}

impl From<ServeError> for Failure {
    fn from(e: ServeError) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, e.code(), e.to_string())
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(ApiError {
                code: self.code,
                message: self.message,
            }),
        )
            .into_response()
    }
}

type Reply = Result<Response, Failure>;

/// Outstanding attestation nonces: nonce -> (device, expiry in Unix seconds).
#[derive(Default)]
struct Nonces {
    issued: HashMap<[u8; 32], (String, i64)>,
}

impl Nonces {
    fn issue(&mut self, device: &str, now: i64, ttl: i64) -> [u8; 32] {
        self.issued.retain(|_, (_, exp)| *exp > now);
        let mine: Vec<([u8; 32], i64)> = self
            .issued
            .iter()
            .filter(|(_, (d, _))| d == device)
            .map(|(n, (_, e))| (*n, *e))
            .collect();
        if mine.len() >= MAX_NONCES_PER_DEVICE
            && let Some((oldest, _)) = mine.iter().min_by_key(|(_, e)| *e)
        {
            self.issued.remove(oldest);
        }
        if self.issued.len() >= MAX_NONCES
            && let Some(oldest) = self
                .issued
                .iter()
                .min_by_key(|(_, (_, e))| *e)
                .map(|(n, _)| *n)
        {
            self.issued.remove(&oldest);
        }
        let mut nonce = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut iotsec_attest::identity::credential::OsRng, &mut nonce);
        self.issued.insert(nonce, (device.to_owned(), now + ttl));
        nonce
    }

    /// Redeems `nonce` for `device` once; false when unknown, expired or another device's.
    fn redeem(&mut self, nonce: &[u8; 32], device: &str, now: i64) -> bool {
        match self.issued.get(nonce) {
            Some((d, exp)) if d == device && *exp > now => {
                self.issued.remove(nonce);
                true
            }
            _ => false,
        }
    }
}

/// The service's shared state.
pub struct App {
    pub(crate) store: Arc<dyn FleetStore>,
    ca: Mutex<CaState>,
    est: Arc<EstService>,
    config: Arc<ServeConfig>,
    nonces: Mutex<Nonces>,
    pub(crate) broker: Option<Broker>,
}

/// What [`open`] prepared.
pub struct Opened {
    pub app: Arc<App>,
    pub tls: Arc<rustls::ServerConfig>,
    pub ca_chain_pem: String,
}

fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Opens the CA, the store and the broker files; builds the TLS configuration (TLS 1.3, client
/// certificates verified against the fleet root, optional so that EST bootstrap with HTTP
/// Basic works; revocation is checked per request against the registry and the CA's store, so
/// a revoked or decommissioned device gets a typed 403 instead of a failed handshake).
pub fn open(config: &Arc<ServeConfig>) -> Result<Opened, ServeError> {
    if config.operators.iter().any(|o| o.is_empty()) {
        return Err(ServeError::Config("an operator CN is empty".into()));
    }
    iotsec_ota::TrustRoot::from_pinned(&config.ota_trust_root)
        .map_err(|e| ServeError::Config(format!("the OTA trust root does not load: {e}")))?;
    let dir = &config.state_dir;
    let ca = CaState::open_with(dir, &config.pins)?;
    let est_ca = CaState::open_with(dir, &config.pins)?;
    let ca_chain_pem = ca.chain_pem()?;
    let policy = LabelPolicy {
        basic: config
            .bootstrap
            .as_ref()
            .map(|(u, p)| (u.clone(), p.as_str().to_owned())),
        client_cert_auth: true,
        binding: BindingPolicy::Optional,
        manual_approval: false,
        layout: iotsec_pki::est_message::Base64Layout::Lines64,
        ca: String::new(),
    };
    let mut labels = HashMap::new();
    let mut est = Vec::new();
    for (label, name) in &config.labels {
        if label.is_empty() || labels.contains_key(label) {
            return Err(ServeError::Config(format!(
                "label {label:?}: empty or repeated"
            )));
        }
        labels.insert(
            label.clone(),
            LabelPolicy {
                ca: name.clone(),
                ..policy.clone()
            },
        );
        if !est.iter().any(|(n, _)| n == name) {
            est.push((
                name.clone(),
                CaState::open_intermediate_with(dir, name, &config.pins)?,
            ));
        }
    }
    labels.insert(String::new(), policy);
    let certified = Arc::new(iotsec_pki::est_transport::issue_server_identity(&ca)?);
    let root = rustls::pki_types::CertificateDer::from(ca.authority.root_der().to_vec());
    let tls = iotsec_pki::tls_config::server_config_presenting(
        iotsec_pki::tls_config::process_provider()?,
        certified,
        &[root],
        Vec::new(),
        &[],
        iotsec_pki::tls_config::ClientAuth::Optional,
    )?;
    let mut service = EstService::new(est_ca, labels);
    for (name, other) in est {
        service = service.with_intermediate(name, other);
    }
    let store: Arc<dyn FleetStore> = Arc::new(SqliteFleetStore::open(dir)?);
    let broker = config.broker.clone().map(Broker::new).transpose()?;
    let app = App {
        store,
        ca: Mutex::new(ca),
        est: Arc::new(service),
        config: config.clone(),
        nonces: Mutex::new(Nonces::default()),
        broker,
    };
    app.reconcile_revocations()?;
    app.publish_posture()?;
    app.publish_crl()?;
    Ok(Opened {
        app: Arc::new(app),
        tls: Arc::new(tls),
        ca_chain_pem,
    })
}

impl App {
    /// Quarantines `device` for probing `owner`'s topics (a device the registry does not
    /// know, an operator, or one already quarantined is left alone).
    pub(crate) fn quarantine_prober(&self, device: &str, owner: &str) -> Result<(), ServeError> {
        match self.store.device(device)? {
            Some(d) if d.quarantine.is_none() => {
                self.store.set_quarantine(device, Some("probing"))?;
                eprintln!("iotsec-cloud: quarantined {device}: probed topics of {owner}");
                self.posture_written()
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn ca(&self) -> Result<std::sync::MutexGuard<'_, CaState>, ServeError> {
        self.ca
            .lock()
            .map_err(|_| ServeError::Config("CA lock poisoned".into()))
    }

    /// The registry is the record of revocations: a serial it marks revoked that the CA's
    /// store does not list (a kill between the two writes) is revoked in the CA now.
    fn reconcile_revocations(&self) -> Result<(), ServeError> {
        let serials = self.store.revoked_serials()?;
        let mut ca = self.ca()?;
        for serial in serials {
            let bytes = hex::decode(&serial)
                .map_err(|e| ServeError::Config(format!("stored serial {serial}: {e}")))?;
            ca.revoke(&bytes, 1, time::OffsetDateTime::now_utc())?;
        }
        Ok(())
    }

    /// Rewrites the broker's posture feed now (no broker: nothing): at start, and from the
    /// writer task.
    fn publish_posture(&self) -> Result<(), ServeError> {
        match &self.broker {
            Some(b) => b.write_posture(|| Ok(self.store.devices()?)),
            None => Ok(()),
        }
    }

    /// A registry change the broker may learn of within the coalescing delay (enrollment,
    /// accepted attestation, report: they grant nothing the broker must withdraw).
    fn posture_changed(&self) {
        if let Some(b) = &self.broker {
            b.posture.changed();
        }
    }

    /// A security change (quarantine, revocation): returns once the feed on disk has it.
    fn posture_written(&self) -> Result<(), ServeError> {
        match &self.broker {
            Some(b) => b.posture.changed_and_written(),
            None => Ok(()),
        }
    }

    /// Rewrites the broker's CRL file and signals it (no broker: nothing).
    fn publish_crl(&self) -> Result<(), ServeError> {
        let Some(b) = &self.broker else {
            return Ok(());
        };
        let der = self.est.current_crl()?;
        let pem = to_pem("X509 CRL", &der)?;
        b.write_crl(&pem)
    }
}

/// Runs blocking work off the runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(Failure::internal)?
}

/// The body as JSON `T`: 413 over the route's limit, 400 for anything but one `T`.
fn parse_json<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, Failure> {
    let body = body_bytes(body)?;
    serde_json::from_slice(&body).map_err(|e| {
        Failure::bad(
            "bad_json",
            format!("the body is not the expected JSON: {e}"),
        )
    })
}

fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, Failure> {
    body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Failure::new(
                r.status(),
                "body_too_large",
                "the body is over this endpoint's limit",
            )
        } else {
            Failure::bad("bad_body", r.body_text())
        }
    })
}

fn no_body(body: Result<Bytes, BytesRejection>) -> Result<(), Failure> {
    match body_bytes(body)?.is_empty() {
        true => Ok(()),
        false => Err(Failure::bad(
            "unexpected_body",
            "this endpoint takes no body",
        )),
    }
}

fn client_cert(peer: Option<&TlsFacts>) -> Result<CertFacts, Failure> {
    let der = peer.and_then(|p| p.client_cert.as_ref()).ok_or_else(|| {
        Failure::new(
            StatusCode::UNAUTHORIZED,
            "no_client_certificate",
            "this endpoint requires a client certificate",
        )
    })?;
    facts(der).ok_or_else(|| {
        Failure::new(
            StatusCode::UNAUTHORIZED,
            "unknown_certificate",
            "the client certificate has no single CN",
        )
    })
}

/// A device authenticated by its client certificate.
struct Device {
    id: String,
    cert: CertFacts,
}

fn device_auth(app: &App, peer: Option<&TlsFacts>) -> Result<Device, Failure> {
    let cert = client_cert(peer)?;
    let status = app.store.certificate(&cert.serial)?;
    let Some(status) = status.filter(|s| s.device == cert.cn) else {
        return Err(Failure::new(
            StatusCode::UNAUTHORIZED,
            "unknown_certificate",
            "the registry knows no device with this certificate",
        ));
    };
    if status.decommissioned {
        return Err(Failure::new(
            StatusCode::FORBIDDEN,
            "decommissioned",
            "this device is decommissioned: wipe its keys",
        ));
    }
    // The CA's store too: a revocation made with `pki revoke` on the same state counts.
    let revoked_in_ca = hex::decode(&cert.serial)
        .map_err(Failure::internal)
        .and_then(|s| {
            let ca = app.ca().map_err(Failure::from)?;
            Ok(ca.ensure_not_revoked(&s).is_err())
        })?;
    if status.revoked || revoked_in_ca {
        return Err(Failure::new(
            StatusCode::FORBIDDEN,
            "revoked",
            "this certificate is revoked",
        ));
    }
    Ok(Device {
        id: status.device,
        cert,
    })
}

fn operator_auth(app: &App, peer: Option<&TlsFacts>) -> Result<String, Failure> {
    let cert = client_cert(peer)?;
    if !app.config.operators.contains(&cert.cn) {
        return Err(Failure::new(
            StatusCode::FORBIDDEN,
            "not_operator",
            "this certificate is not an operator's",
        ));
    }
    let serial = hex::decode(&cert.serial).map_err(Failure::internal)?;
    if app
        .ca()
        .map_err(Failure::from)?
        .ensure_not_revoked(&serial)
        .is_err()
    {
        return Err(Failure::new(
            StatusCode::FORBIDDEN,
            "revoked",
            "this certificate is revoked",
        ));
    }
    Ok(cert.cn)
}

fn json_reply(status: StatusCode, value: impl serde::Serialize) -> Reply {
    Ok((status, axum::Json(value)).into_response())
}

/// The router: the fleet API, EST, CRL and OCSP.
pub fn router(app: Arc<App>) -> Router {
    let json_limit = DefaultBodyLimit::max(MAX_JSON_BODY);
    let api = Router::new()
        .route(paths::ATTEST_NONCE, post(attest_nonce))
        .route(paths::ATTEST_EVIDENCE, post(attest_evidence))
        .route(paths::RELEASE, get(release_offer))
        .route(paths::RELEASE_IMAGE, get(release_image))
        .route(paths::REPORT, post(report))
        .route(paths::STATUS, get(status))
        .route(paths::TPM_REGISTER, post(tpm_register))
        .route(paths::TPM_ACTIVATE, post(tpm_activate))
        .route(paths::ROLLOUT, get(rollout_get).post(rollout_post))
        .route(paths::DEVICES, get(devices))
        .route(paths::DEVICE, get(device))
        .route(paths::QUARANTINE, post(quarantine))
        .route(paths::REVOKE, post(end_device::<false>))
        .route(paths::DECOMMISSION, post(end_device::<true>))
        .layer(json_limit)
        .route(
            paths::RELEASES,
            post(publish).layer(DefaultBodyLimit::max(MAX_IMAGE_BODY)),
        )
        .fallback(|| async { Failure::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint") })
        .method_not_allowed_fallback(|| async {
            Failure::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not take this method",
            )
        })
        .with_state(app.clone());
    // EST, the CRL (paths::CRL) and OCSP (paths::OCSP) exactly as the CA's EST service decides.
    let est = iotsec_pki::est::http::router(app.est.clone())
        .layer(axum::middleware::from_fn_with_state(app, record_enrollment));
    api.merge(est)
}

type Peer = Option<axum::Extension<TlsFacts>>;

fn peer_of(peer: &Peer) -> Option<&TlsFacts> {
    peer.as_ref().map(|axum::Extension(p)| p)
}

async fn attest_nonce(
    State(app): State<Arc<App>>,
    peer: Peer,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    let peer = peer_of(&peer).cloned();
    let nonce = blocking(move || {
        let device = device_auth(&app, peer.as_ref())?;
        no_body(body)?;
        let ttl = i64::try_from(app.config.nonce_ttl_secs).unwrap_or(i64::MAX / 2);
        let mut nonces = app.nonces.lock().map_err(Failure::internal)?;
        Ok(Nonce {
            nonce: hex::encode(nonces.issue(&device.id, now_unix(), ttl)),
            expires_in_secs: app.config.nonce_ttl_secs,
        })
    })
    .await?;
    json_reply(StatusCode::OK, nonce)
}

async fn attest_evidence(
    State(app): State<Arc<App>>,
    peer: Peer,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    let peer = peer_of(&peer).cloned();
    let appraisal = blocking(move || {
        let device = device_auth(&app, peer.as_ref())?;
        let evidence: Evidence = parse_json(body)?;
        appraise(&app, &device, &evidence)
    })
    .await?;
    json_reply(StatusCode::OK, appraisal)
}

fn decode_nonce(text: &str) -> Result<[u8; 32], Failure> {
    hex::decode(text)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| Failure::bad("bad_nonce", "the nonce is not 32 bytes of hex"))
}

/// What an appraisal established: (measurement, counter, TPM AK to register) or a refusal code.
type Verdict = Result<([u8; 32], Option<u64>, Option<Vec<u8>>), &'static str>;

/// Appraises evidence: undecodable evidence is bad input (400, registry untouched); decodable
/// evidence redeems its nonce, is appraised by `iotsec-attest` (SE evidence, or a TPM quote
/// with the device's registered AK) and the verdict is recorded (a refusal quarantines).
fn appraise(app: &App, device: &Device, evidence: &Evidence) -> Result<Appraisal, Failure> {
    let nonce = decode_nonce(&evidence.nonce)?;
    let cap = match evidence.format {
        EvidenceFormat::Se => MAX_EVIDENCE_LEN,
        EvidenceFormat::Tpm => MAX_TPM_EVIDENCE_LEN,
    };
    if evidence.evidence.len() > cap.div_ceil(3) * 4 {
        return Err(Failure::bad("bad_evidence", "the evidence is too long"));
    }
    let bytes = Base64::decode_vec(&evidence.evidence)
        .map_err(|_| Failure::bad("bad_evidence", "the evidence is not base64"))?;
    // Undecodable evidence is bad input, not an appraisal: the registry is left alone.
    let parsed = match evidence.format {
        EvidenceFormat::Se => SeEvidence::parse(&bytes)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        EvidenceFormat::Tpm => TpmEvidence::parse(&bytes)
            .map(|_| ())
            .map_err(|e| format!("{} ({})", e, e.code())),
    };
    parsed
        .map_err(|e| Failure::bad("bad_evidence", format!("the evidence does not parse: {e}")))?;
    // Well-formed TPM evidence that no configured trust can appraise: refused before the nonce
    // is spent or anything is recorded.
    if evidence.format == EvidenceFormat::Tpm && matches!(app.config.tpm, TpmTrust::Refuse) {
        return Err(tpm_not_enabled());
    }
    let redeemed =
        app.nonces
            .lock()
            .map_err(Failure::internal)?
            .redeem(&nonce, &device.id, now_unix());
    if !redeemed {
        return Err(Failure::bad(
            "nonce_unknown",
            "the nonce was not issued to this device, was used, or expired",
        ));
    }
    let mut references: Vec<(String, [u8; 32])> = app.config.factory_firmware.clone();
    references.extend(app.store.release_digests()?);
    let digests: Vec<[u8; 32]> = references.iter().map(|(_, d)| *d).collect();
    let state = app.store.attestation_state(&device.id)?;
    let outcome: Verdict = match evidence.format {
        EvidenceFormat::Se => appraise_se(device, &bytes, &nonce, &digests, state.last_counter),
        EvidenceFormat::Tpm => appraise_tpm(app, device, &bytes, &nonce, &digests, &state)?,
    };
    let mut claims = serde_json::Map::new();
    claims.insert("nonce".into(), json!(evidence.nonce));
    claims.insert("format".into(), json!(evidence.format));
    let entry = match outcome {
        Ok((measurement, counter, tpm_ak)) => {
            let version = references
                .iter()
                .find(|(_, d)| *d == measurement)
                .map(|(v, _)| v.clone());
            claims.insert("firmware_sha256".into(), json!(hex::encode(measurement)));
            claims.insert("firmware".into(), json!(version));
            if let Some(counter) = counter {
                claims.insert("counter".into(), json!(counter));
            }
            if let Some(ak) = &tpm_ak {
                claims.insert("tpm_ak_name".into(), json!(hex::encode(ak)));
                claims.insert(
                    "firmware_pcr".into(),
                    json!(format!("sha256:{FIRMWARE_PCR}")),
                );
            }
            AppraisalEntry {
                device: device.id.clone(),
                accepted: true,
                code: None,
                claims: claims.clone(),
                firmware: version,
                counter,
                tpm_ak,
                at: now_unix(),
            }
        }
        Err(code) => AppraisalEntry {
            device: device.id.clone(),
            accepted: false,
            code: Some(code.to_owned()),
            claims: claims.clone(),
            firmware: None,
            counter: None,
            tpm_ak: None,
            at: now_unix(),
        },
    };
    let record = app.store.record_appraisal(&entry)?;
    match entry.accepted {
        true => app.posture_changed(),
        false => app.posture_written()?,
    }
    Ok(Appraisal {
        accepted: entry.accepted,
        code: entry.code,
        claims,
        quarantined: record.quarantine.is_some(),
    })
}

/// SE evidence signed by the key of the device's certificate, device id = SHA-256 of its CN.
fn appraise_se(
    device: &Device,
    bytes: &[u8],
    nonce: &[u8; 32],
    digests: &[[u8; 32]],
    last_counter: Option<u64>,
) -> Verdict {
    let device_id: [u8; 32] = Sha256::digest(device.id.as_bytes()).into();
    let Some(key) = &device.cert.p256 else {
        return Err("key_not_p256");
    };
    appraise_se_evidence(
        bytes,
        &SeExpectations {
            public_key: key,
            nonce,
            device_id: Some(&device_id),
            firmware_references: digests,
            last_counter,
        },
    )
    .map(|e| (*e.firmware_measurement, Some(e.counter), None))
    .map_err(|e| e.code())
}

/// A TPM quote whose qualifying data is the nonce, by the AK registered for this device (with
/// [`TpmTrust::Endorsed`] only an AK registered beside a trusted EK; with
/// [`TpmTrust::FirstUse`], on first use, an AK no other device registered), with the firmware
/// PCR of a reference.
fn appraise_tpm(
    app: &App,
    device: &Device,
    bytes: &[u8],
    nonce: &[u8; 32],
    digests: &[[u8; 32]],
    state: &AttestationState,
) -> Result<Verdict, Failure> {
    let offered = TpmEvidence::parse(bytes)
        .and_then(|e| e.ak_name())
        .map_err(|e| Failure::bad("bad_evidence", e.to_string()))?;
    let endorsed = matches!(app.config.tpm, TpmTrust::Endorsed(_));
    let registered = match (&state.tpm_ak, &state.tpm_ek_sha256) {
        // A key bound on first use is not registered in the sense an EK policy asks for.
        (Some(_), None) if endorsed => None,
        (ak, _) => ak.as_deref(),
    };
    let ak = match registered {
        Some(name) => AkBinding::Registered(name),
        None => match app.store.tpm_ak_owner(&offered)? {
            Some(owner) if owner != device.id => AkBinding::OtherDevice,
            _ if endorsed => return Ok(Err(TpmEvidenceError::AkNotRegistered.code())),
            _ => AkBinding::FirstUse,
        },
    };
    let verifier = iotsec_attest::verify::ring::RingVerifier;
    Ok(appraise_tpm_evidence(
        bytes,
        &TpmExpectations {
            nonce,
            ak,
            firmware_references: digests,
            verifier: &verifier,
        },
    )
    .and_then(|accepted| {
        let measurement = digests
            .get(accepted.firmware)
            .copied()
            .ok_or(TpmEvidenceError::UnknownFirmware)?;
        let register = registered.is_none().then_some(accepted.ak_name);
        Ok((measurement, None, register))
    })
    .map_err(|e| e.code()))
}

fn tpm_not_enabled() -> Failure {
    Failure::new(
        StatusCode::CONFLICT,
        "tpm_not_enabled",
        "this service trusts no TPM attestation key (serve --tpm-ek-ca, --tpm-ek-allow or --tpm-trust-on-first-use)",
    )
}

/// The EK trust registration needs, or why registration is refused.
fn ek_trust(app: &App) -> Result<&EkTrust, Failure> {
    match &app.config.tpm {
        TpmTrust::Endorsed(trust) => Ok(trust),
        TpmTrust::Refuse => Err(tpm_not_enabled()),
        TpmTrust::FirstUse => Err(Failure::new(
            StatusCode::CONFLICT,
            "tpm_registration_not_enabled",
            "this service binds attestation keys on first use; it checks no EK (serve --tpm-ek-ca or --tpm-ek-allow)",
        )),
    }
}

/// A registration refusal: 400 for bad input, 403 for a refused EK, AK or secret.
fn registration_failure(e: RegistrationError) -> Failure {
    let status = match e.kind() {
        iotsec_attest::ErrorKind::BadInput => StatusCode::BAD_REQUEST,
        _ => StatusCode::FORBIDDEN,
    };
    Failure::new(status, e.code(), e.to_string())
}

/// Standard base64 of at most `cap` bytes, else 400 `bad_FIELD`.
fn base64_field(field: &str, text: &str, cap: usize) -> Result<Vec<u8>, Failure> {
    let bad = |why: &str| Failure::bad(&format!("bad_{field}"), format!("{field}: {why}"));
    if text.len() > base64_len(cap) {
        return Err(bad(&format!("more than {cap} bytes")));
    }
    Base64::decode_vec(text).map_err(|_| bad("not base64"))
}

fn unix_u64(t: i64) -> u64 {
    u64::try_from(t).unwrap_or(0)
}

/// `POST /v1/tpm/register`: the EK is trusted and the AK is an attestation key; the answer is
/// a credential only the TPM holding both can activate (`iotsec_attest::identity::registration`).
async fn tpm_register(
    State(app): State<Arc<App>>,
    peer: Peer,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    let peer = peer_of(&peer).cloned();
    let challenge = blocking(move || {
        let device = device_auth(&app, peer.as_ref())?;
        let request: TpmRegister = parse_json(body)?;
        let trust = ek_trust(&app)?;
        let ek_public = base64_field("ek_public", &request.ek_public, MAX_TPM_PUBLIC)?;
        let ek_certificate = request
            .ek_certificate
            .as_deref()
            .map(|c| base64_field("ek_certificate", c, MAX_TPM_EK_CERTIFICATE))
            .transpose()?;
        let ak_public = base64_field("ak_public", &request.ak_public, MAX_TPM_PUBLIC)?;
        let now = now_unix();
        let ttl = app.config.tpm_registration_ttl_secs;
        let challenge = Registrar::new(trust, ttl)
            .challenge(
                &RegistrationRequest {
                    subject: &device.id,
                    ek_public: &ek_public,
                    ek_certificate: ek_certificate.as_deref(),
                    ak_public: &ak_public,
                },
                &mut iotsec_attest::identity::credential::OsRng,
                unix_u64(now),
            )
            .map_err(registration_failure)?;
        let p = &challenge.pending;
        app.store.add_tpm_registration(
            &PendingTpmRegistration {
                id: p.id.to_vec(),
                device: device.id.clone(),
                ak_name: p.ak_name.clone(),
                ek_sha256: p.ek_digest.to_vec(),
                secret_sha256: p.secret_digest.to_vec(),
                expires_at: i64::try_from(p.expires_at).unwrap_or(i64::MAX),
            },
            now,
        )?;
        Ok(TpmChallenge {
            registration: hex::encode(p.id),
            credential: Base64::encode_string(&challenge.credential.id_object),
            secret: Base64::encode_string(&challenge.credential.encrypted_secret),
            expires_in_secs: ttl,
        })
    })
    .await?;
    json_reply(StatusCode::OK, challenge)
}

/// `POST /v1/tpm/activate`: the registration is spent, then judged (same device, not expired,
/// the sealed secret); when it passes, the AK is bound to the device with its EK.
async fn tpm_activate(
    State(app): State<Arc<App>>,
    peer: Peer,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    let peer = peer_of(&peer).cloned();
    let registered = blocking(move || {
        let device = device_auth(&app, peer.as_ref())?;
        let mut request: TpmActivate = parse_json(body)?;
        ek_trust(&app)?;
        let id: [u8; REGISTRATION_ID_LEN] = hex::decode(&request.registration)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                Failure::bad(
                    "bad_registration",
                    "the registration id is not 16 bytes of hex",
                )
            })?;
        let secret =
            base64_field("secret", &request.secret, SECRET_LEN).map(zeroize::Zeroizing::new);
        zeroize::Zeroize::zeroize(&mut request.secret);
        let secret = secret?;
        let Some(taken) = app.store.take_tpm_registration(&id, &device.id)? else {
            return Err(Failure::new(
                StatusCode::FORBIDDEN,
                "registration_unknown",
                "no pending registration of this device has this id (unknown, used or dropped)",
            ));
        };
        let digest = |v: &[u8]| <[u8; 32]>::try_from(v).map_err(Failure::internal);
        let pending = PendingRegistration {
            id,
            subject: taken.device.clone(),
            ak_name: taken.ak_name.clone(),
            ek_digest: digest(&taken.ek_sha256)?,
            secret_digest: digest(&taken.secret_sha256)?,
            expires_at: unix_u64(taken.expires_at),
        };
        pending
            .verify(&device.id, &secret, unix_u64(now_unix()))
            .map_err(registration_failure)?;
        app.store
            .bind_tpm_ak(&device.id, &taken.ak_name, &taken.ek_sha256)?;
        Ok(TpmRegistered {
            ak_name: hex::encode(&taken.ak_name),
            ek_sha256: hex::encode(&taken.ek_sha256),
        })
    })
    .await?;
    json_reply(StatusCode::OK, registered)
}

/// The release offered to `device` now, if any.
fn offer_for(app: &App, device: &str) -> Result<Option<Release>, Failure> {
    let rollout = app.store.rollout()?;
    let record = app
        .store
        .device(device)?
        .ok_or_else(|| Failure::new(StatusCode::UNAUTHORIZED, "unknown_device", "not enrolled"))?;
    let Some(version) = rollout.version.clone() else {
        return Ok(None);
    };
    let stage = super::store::Rollout {
        version: rollout.version,
        stages_bps: rollout.stages_bps,
        stage: rollout.stage,
        halted: rollout.halted,
    };
    if stage.halted.is_some() || !stage.in_stage(record.cohort_bps) {
        return Ok(None);
    }
    if record.firmware.as_deref() == Some(version.as_str()) {
        return Ok(None);
    }
    Ok(app.store.release(&version)?)
}

async fn release_offer(State(app): State<Arc<App>>, peer: Peer) -> Reply {
    let peer = peer_of(&peer).cloned();
    let offer = blocking(move || {
        let device = device_auth(&app, peer.as_ref())?;
        offer_for(&app, &device.id)
    })
    .await?;
    match offer {
        None => Ok(StatusCode::NO_CONTENT.into_response()),
        Some(r) => json_reply(
            StatusCode::OK,
            ReleaseOffer {
                version: r.version,
                manifest: Base64::encode_string(&r.manifest),
                image_sha256: hex::encode(r.image_sha256),
                image_len: r.image_len,
            },
        ),
    }
}

async fn release_image(
    State(app): State<Arc<App>>,
    peer: Peer,
    Path(version): Path<String>,
) -> Reply {
    let peer = peer_of(&peer).cloned();
    let image = blocking(move || {
        let device = device_auth(&app, peer.as_ref())?;
        if app.store.release(&version)?.is_none() {
            return Err(Failure::new(
                StatusCode::NOT_FOUND,
                "unknown_release",
                format!("release {version:?} is not published"),
            ));
        }
        let offered = offer_for(&app, &device.id)?.is_some_and(|r| r.version == version);
        if !offered {
            return Err(Failure::new(
                StatusCode::FORBIDDEN,
                "not_offered",
                format!("release {version:?} is not offered to this device"),
            ));
        }
        app.store
            .release_image(&version)?
            .ok_or_else(|| Failure::new(StatusCode::NOT_FOUND, "unknown_release", "gone"))
    })
    .await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        )],
        image,
    )
        .into_response())
}

fn check_version(version: &str) -> Result<(), Failure> {
    let ok = !version.is_empty()
        && version.len() <= MAX_VERSION_LEN
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-._".contains(&b));
    match ok {
        true => Ok(()),
        false => Err(Failure::bad(
            "bad_version",
            format!("a version is 1..={MAX_VERSION_LEN} characters of [A-Za-z0-9+-._]"),
        )),
    }
}

async fn report(
    State(app): State<Arc<App>>,
    peer: Peer,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    let peer = peer_of(&peer).cloned();
    blocking(move || {
        let device = device_auth(&app, peer.as_ref())?;
        let report: DeviceReport = parse_json(body)?;
        check_version(&report.firmware)?;
        if let Some(u) = &report.update {
            check_version(&u.version)?;
            if let Some(code) = &u.code {
                check_reason(code).map_err(Failure::from)?;
            }
        }
        let effect = app.store.record_report(&device.id, &report, now_unix())?;
        if effect.halted {
            eprintln!(
                "iotsec-cloud: rollout halted: {} reverted the update (canary_reverted)",
                device.id
            );
        }
        app.posture_changed();
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn status(State(app): State<Arc<App>>, peer: Peer) -> Reply {
    let peer = peer_of(&peer).cloned();
    let status = blocking(move || {
        let device = device_auth(&app, peer.as_ref())?;
        let record = app.store.device(&device.id)?.ok_or_else(|| {
            Failure::new(StatusCode::UNAUTHORIZED, "unknown_device", "not enrolled")
        })?;
        Ok(DeviceStatus {
            id: record.id,
            quarantined: record.quarantine.is_some(),
            decommissioned: record.decommissioned,
            renew_before_secs: app.config.renew_before_secs,
        })
    })
    .await?;
    json_reply(StatusCode::OK, status)
}

async fn rollout_get(State(app): State<Arc<App>>, peer: Peer) -> Reply {
    as_operator(app, peer, |app| Ok(app.store.rollout()?)).await
}

async fn rollout_post(
    State(app): State<Arc<App>>,
    peer: Peer,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    as_operator(app, peer, move |app| {
        let command: RolloutCommand = parse_json(body)?;
        if let RolloutCommand::Start { version, .. } = &command {
            check_version(version)?;
        }
        Ok(app.store.rollout_command(&command)?)
    })
    .await
}

async fn devices(State(app): State<Arc<App>>, peer: Peer) -> Reply {
    as_operator(app, peer, |app| Ok(app.store.devices()?)).await
}

async fn device(State(app): State<Arc<App>>, peer: Peer, Path(id): Path<String>) -> Reply {
    as_operator(app, peer, move |app| {
        app.store.device(&id)?.ok_or_else(|| {
            Failure::new(
                StatusCode::NOT_FOUND,
                "unknown_device",
                format!("no device {id:?}"),
            )
        })
    })
    .await
}

async fn quarantine(
    State(app): State<Arc<App>>,
    peer: Peer,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    as_operator(app, peer, move |app| {
        let q: Quarantine = parse_json(body)?;
        check_reason(&q.reason)?;
        let record = app
            .store
            .set_quarantine(&id, q.quarantined.then_some(q.reason.as_str()))?;
        app.posture_written()?;
        Ok(record)
    })
    .await
}

/// Runs `f` for an authenticated operator off the runtime; its value is the 200 JSON answer.
async fn as_operator<T: serde::Serialize + Send + 'static>(
    app: Arc<App>,
    peer: Peer,
    f: impl FnOnce(&App) -> Result<T, Failure> + Send + 'static,
) -> Reply {
    let peer = peer_of(&peer).cloned();
    let value = blocking(move || {
        operator_auth(&app, peer.as_ref())?;
        f(&app)
    })
    .await?;
    json_reply(StatusCode::OK, value)
}

/// RFC 5280 §5.3.1 reason codes.
const KEY_COMPROMISE: u8 = 1;
const CESSATION_OF_OPERATION: u8 = 5;

fn revoke_device(
    app: &App,
    id: &str,
    decommission: bool,
) -> Result<iotsec_fleet_api::DeviceRecord, Failure> {
    let (record, serials) = app.store.revoke(id, decommission, now_unix())?;
    let reason = match decommission {
        true => CESSATION_OF_OPERATION,
        false => KEY_COMPROMISE,
    };
    {
        let mut ca = app.ca().map_err(Failure::from)?;
        for serial in &serials {
            let bytes = hex::decode(serial).map_err(Failure::internal)?;
            ca.revoke(&bytes, reason, time::OffsetDateTime::now_utc())
                .map_err(|e| Failure::from(ServeError::from(e)))?;
        }
    }
    // The feed first: the SIGHUP that loads the CRL reloads it too, and its `revoked` entry
    // closes the device's open session.
    app.posture_written()?;
    app.publish_crl()?;
    Ok(record)
}

/// `revoke` and `decommission` (with `DECOMMISSION`): an operator's, no body.
async fn end_device<const DECOMMISSION: bool>(
    State(app): State<Arc<App>>,
    peer: Peer,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    as_operator(app, peer, move |app| {
        no_body(body)?;
        revoke_device(app, &id, DECOMMISSION)
    })
    .await
}

/// The manifest's checks: signed by the trust root's release keys, naming `version`, with a
/// component of exactly this image. Returns the reasons it fails.
fn check_manifest(root_doc: &[u8], manifest: &[u8], version: &str, image: &[u8]) -> Vec<String> {
    use iotsec_ota::cose_sign::CoseSign;
    let digest: [u8; 32] = Sha256::digest(image).into();
    let root = match iotsec_ota::TrustRoot::from_pinned(root_doc) {
        Ok(r) => r,
        Err(_) => return vec!["trust_root".into()],
    };
    let signed = match CoseSign::from_cbor(manifest) {
        Ok(s) => s,
        Err(e) => return vec![format!("manifest_{}", e.code())],
    };
    if signed.content_type != iotsec_ota::verifier::MANIFEST_CONTENT_TYPE {
        return vec!["manifest_wrong_type".into()];
    }
    if let Err(e) = root.check_threshold(iotsec_ota::Role::Release, &signed) {
        return vec![format!("manifest_{}", e.code())];
    }
    let Ok(m) = iotsec_ota::Manifest::from_cbor(signed.payload) else {
        return vec!["manifest_malformed".into()];
    };
    let mut reasons = Vec::new();
    if m.version != version {
        reasons.push("version_mismatch".into());
    }
    let len = u64::try_from(image.len()).unwrap_or(u64::MAX);
    if !m
        .components
        .iter()
        .any(|c| c.digest == digest && c.size == len)
    {
        reasons.push("digest_mismatch".into());
    }
    reasons
}

async fn publish(
    State(app): State<Arc<App>>,
    peer: Peer,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    let peer = peer_of(&peer).cloned();
    let (published, outcome) = blocking(move || {
        operator_auth(&app, peer.as_ref())?;
        let req: PublishRelease = parse_json(body)?;
        check_version(&req.version)?;
        let b64 = |what: &str, text: &str| {
            Base64::decode_vec(text)
                .map_err(|_| Failure::bad("bad_base64", format!("{what} is not base64")))
        };
        let manifest = b64("manifest", &req.manifest)?;
        let image = b64("image", &req.image)?;
        let sbom_bytes = b64("sbom", &req.sbom)?;
        let sbom = iotsec_sbom::parse_sbom(&sbom_bytes)
            .map_err(|e| Failure::bad("bad_sbom", format!("the SBOM does not parse: {e}")))?;
        let mut reasons =
            check_manifest(&app.config.ota_trust_root, &manifest, &req.version, &image);
        let image_sha = iotsec_sbom::gate::sha256_hex(&image);
        let decision = iotsec_sbom::gate::decide(&iotsec_sbom::gate::GateInputs {
            sbom: &sbom,
            advisories: &app.config.gate.advisories,
            vex: &[],
            policy: &app.config.gate.policy,
            firmware_sha256: Some(&image_sha),
            today: time::OffsetDateTime::now_utc().date(),
        });
        let binding = &decision.binding;
        let passed = decision.verdict != iotsec_sbom::Decision::Fail;
        if !passed {
            reasons.push("gate_failed".into());
        }
        let bound = binding.firmware_sha256.as_deref() == Some(image_sha.as_str())
            && iotsec_sbom::gate::Binding::decision_digest(decision.verdict, binding)
                == binding.decision_sha256;
        if !bound {
            reasons.push("decision_not_bound".into());
        }
        let mut outcome = PublishOutcome {
            published: false,
            gate: decision.verdict.as_str().to_owned(),
            decision_digest: binding.decision_sha256.clone(),
            reasons,
        };
        if !outcome.reasons.is_empty() {
            return Ok((false, outcome));
        }
        let release = Release {
            version: req.version.clone(),
            manifest,
            image_sha256: Sha256::digest(&image).into(),
            image_len: u64::try_from(image.len()).unwrap_or(u64::MAX),
            decision_digest: binding.decision_sha256.clone(),
            published_at: now_unix(),
        };
        app.store.publish(&release, &image)?;
        outcome.published = true;
        Ok((true, outcome))
    })
    .await?;
    let status = match published {
        true => StatusCode::CREATED,
        false => StatusCode::UNPROCESSABLE_ENTITY,
    };
    json_reply(status, outcome)
}

/// Records every certificate EST issues in the registry before the response leaves: a
/// response the device never gets is not lost either (the device enrolls again), and nothing
/// acknowledged is missing from the registry.
async fn record_enrollment(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let enrolls = path.ends_with("/simpleenroll") || path.ends_with("/simplereenroll");
    if !enrolls {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, iotsec_pki::est::http::MAX_EST_BODY).await else {
        return Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "the EST body is over the limit",
        )
        .into_response();
    };
    let refused = {
        let (app, body) = (app.clone(), body.clone());
        blocking(move || refuse_ended_device(&app, &body)).await
    };
    if let Err(e) = refused {
        return e.into_response();
    }
    let response = next
        .run(Request::from_parts(parts, axum::body::Body::from(body)))
        .await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_JSON_BODY).await else {
        return Failure::internal("the EST answer is over the limit").into_response();
    };
    let recorded = {
        let body = body.clone();
        blocking(move || record_issued(&app, &body)).await
    };
    match recorded {
        Ok(()) => Response::from_parts(parts, axum::body::Body::from(body)),
        Err(e) => e.into_response(),
    }
}

/// EST enrolls devices only: an operator CN (or the deny stream's reader) is refused (403
/// `operator_cn`; the bootstrap credential devices share must not make operators, whose
/// certificates come from [`super::identity::issue_operator`]), and a device the operator
/// revoked or decommissioned does not enroll again under its id (403). A CSR that does not
/// parse is left to the EST service, which refuses it.
fn refuse_ended_device(app: &App, body: &[u8]) -> Result<(), Failure> {
    use iotsec_pki::ca::error::{BackendError, BarredReason};
    use iotsec_pki::est::enrollment_admission::{ReservedNames, admit_enrollment};
    let Ok(der) = iotsec_pki::est_message::decode_base64_body(body) else {
        return Ok(());
    };
    let Ok(csr) = iotsec_pki::csr_check::verify_csr(&der) else {
        return Ok(());
    };
    let reader = app
        .broker
        .as_ref()
        .and_then(|b| b.config().deny.as_ref())
        .map(|d| d.reader.clone());
    let admission = ReservedNames::new(
        app.config.operators.iter().cloned().chain(reader),
        |cn: &str| match app.store.device(cn) {
            Ok(Some(d)) if d.decommissioned => Ok(Some(BarredReason::Decommissioned)),
            Ok(Some(d)) if d.revoked => Ok(Some(BarredReason::Revoked)),
            Ok(_) => Ok(None),
            Err(e) => Err(iotsec_pki::CaError::Storage(BackendError::new(e))),
        },
    );
    admit_enrollment(&csr, &admission).map_err(|e| {
        let code = match &e {
            iotsec_pki::CaError::ReservedName { .. } => "operator_cn",
            iotsec_pki::CaError::IdentityBarred {
                reason: BarredReason::Decommissioned,
                ..
            } => "decommissioned",
            iotsec_pki::CaError::IdentityBarred { .. } => "revoked",
            _ => return Failure::internal(e),
        };
        Failure::new(StatusCode::FORBIDDEN, code, e.to_string())
    })
}

/// Records the leaf of an EST certs-only response in the registry.
fn record_issued(app: &App, body: &[u8]) -> Result<(), Failure> {
    use der::Encode;
    let certs = iotsec_pki::est_message::parse_certs_only(body).map_err(Failure::internal)?;
    let leaf = certs
        .first()
        .ok_or_else(|| Failure::internal("EST issued no certificate"))?
        .to_der()
        .map_err(Failure::internal)?;
    let f = facts(&leaf).ok_or_else(|| Failure::internal("the issued certificate has no CN"))?;
    app.store.record_enrollment(
        &Enrollment {
            device: f.cn.clone(),
            serial: f.serial,
            at: now_unix(),
        },
        cohort_bps(&f.cn),
    )?;
    app.posture_changed();
    Ok(())
}

/// The posture feed's writer task, when the service feeds a broker.
pub fn posture_task(
    app: &Arc<App>,
) -> Option<impl std::future::Future<Output = ()> + Send + 'static> {
    app.broker.as_ref()?;
    let app = app.clone();
    Some(async move {
        let Some(broker) = app.broker.as_ref() else {
            return;
        };
        loop {
            let generation = broker.posture.next().await;
            let writer = app.clone();
            let outcome = tokio::task::spawn_blocking(move || writer.publish_posture())
                .await
                .unwrap_or_else(|e| Err(ServeError::Broker(format!("posture writer: {e}"))));
            if let Err(e) = &outcome {
                eprintln!("iotsec-cloud: posture feed: {e}");
            }
            broker.posture.done(generation, outcome);
        }
    })
}

/// The deny-stream follower, when the broker configuration asks for one.
pub fn deny_task(app: &Arc<App>) -> Option<impl std::future::Future<Output = ()> + Send + 'static> {
    let deny = app.broker.as_ref()?.config().deny.clone()?;
    Some(super::deny::follow(app.clone(), deny))
}
