//! The EST server's decisions (RFC 7030 §3-§4, RFC 8951), without I/O: a parsed HTTP request,
//! the TLS facts (client certificate, exporter value) and the time in
//! ([`EstService::handle`]), an HTTP response out. Its only effects go through what it is
//! given: each issuing CA as an [`IssuingCa`] (issuance records and revocations behind
//! [`CertStore`](crate::store::CertStore) / [`EnrollmentStore`](crate::store::EnrollmentStore), the certificates of
//! earlier key generations, CRL numbers), the approval queue as an [`ApprovalStore`], and a
//! random source ([`EstService::from_parts`], [`EstService::with_rng`]) for serials and
//! serverkeygen keys. The servers (the blocking transport, the axum mount) read the clock, plug
//! in the CA state directory on SQLite and the OS random source ([`EstService::new`]), and move
//! the bytes; `.ci/checks.d/pki-sans-io.sh` keeps file, database, clock, OS randomness and
//! transport imports out of this module.
//!
//! Labels (RFC 7030 §3.2.2) select the policy: authentication (TLS client certificate and/or
//! HTTP Basic, §3.2.3), channel binding (§3.5 with RFC 9266 tls-exporter), manual approval
//! (§4.2.3: 202 + Retry-After) and the base64 layout of responses.
//!
//! The approval queue is an [`ApprovalStore`] passed in with
//! [`EstService::with_approval_store`] (without one, the queue in the label's CA database); the
//! identities the application bars from enrollment come in as an
//! [`EnrollmentAdmission`].
//!
//! # Re-submitted requests
//!
//! A client whose enrollment timed out sends the same request again. RFC 7030 §4.2.1 lets
//! the server answer simpleenroll and simplereenroll with "the certificate" issued for the
//! request and says nothing that obliges a second issuance; §4.2.3 already has the client
//! repeat the identical request to collect a certificate. So an identical CSR (same SHA-256
//! over its DER) from the same authenticated client (same label, same HTTP Basic user, same
//! TLS client certificate) within [`EstService::with_reissue_window`] (default
//! [`DEFAULT_REISSUE_WINDOW`]) gets the certificate already issued for it, byte for byte,
//! instead of a second one: one device, one certificate. Answering again discloses nothing:
//! the response is the public certificate of the key whose possession the CSR's signature
//! proves, to the client that was authenticated for it, after every check a first request
//! passes (authentication, channel binding, names, admission). A certificate that expired,
//! was revoked, or whose CA may no longer issue is never handed out again: the request is
//! decided as a new one. serverkeygen always issues anew: its response carries a private key,
//! which the server does not keep.

use std::collections::HashMap;
use std::sync::Mutex;

use der::{Decode, Encode};
use time::OffsetDateTime;

use crate::ca::csr_check::{ID_CE_SUBJECT_ALT_NAME, VerifiedCsr, verify_csr};
use crate::ca::error::CaError;
use crate::ca::issuer::IssuingCa;
use crate::device::channel_binding::{BindingCheck, check_binding};
use crate::device::est_message::{
    Base64Layout, decode_base64_body, encode_base64, encode_certs_only_body,
};
use crate::est::basic_auth::{FailedAuth, FailedAuthLimit, basic_credentials_match};
use crate::est::enrollment_admission::{EnrollmentAdmission, admit_enrollment};
use crate::store::{ApprovalStore, EnrollmentKey};

/// How long an identical request from the same client gets the certificate already issued
/// for it ("Re-submitted requests" in the module documentation).
pub const DEFAULT_REISSUE_WINDOW: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// Channel-binding policy of a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BindingPolicy {
    /// challengePassword must carry this session's tls-exporter value.
    Required,
    /// A challengePassword shaped like a binding (32 or 12 bytes of base64) must be this
    /// session's; a plain password or none is accepted.
    #[default]
    Optional,
    /// Not checked.
    Off,
}

/// Policy of one EST label.
#[derive(Debug, Clone, Default)]
pub struct LabelPolicy {
    /// HTTP Basic credentials (user, password); `None` disables Basic.
    pub basic: Option<(String, String)>,
    /// Accept a TLS client certificate issued by this label's CA as authentication for
    /// simpleenroll and serverkeygen, for the certificate's own Subject and SAN only (a DevID
    /// label takes the identity from the certificate instead).
    pub client_cert_auth: bool,
    /// Channel binding.
    pub binding: BindingPolicy,
    /// Hold enrollments for manual approval (202 + Retry-After).
    pub manual_approval: bool,
    /// Response layout.
    pub layout: Base64Layout,
    /// The issuing CA (intermediate) of this label: "" is the service's default CA, any other
    /// name one added with [`EstService::with_intermediate`]. `cacerts` returns its chain,
    /// enrollment is signed by it, and re-enrollment only renews certificates it issued.
    pub ca: String,
}

/// What the TLS layer knows about the connection. The servers of this crate attach it to each
/// request (with feature `est-axum`, as an axum request extension that an application's own
/// handlers read too).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFacts {
    /// The client's end-entity certificate (already verified by rustls against our CA + CRL).
    pub client_cert: Option<Vec<u8>>,
    /// The RFC 9266 tls-exporter value of the session.
    pub exporter: Option<[u8; 32]>,
    /// The client's address (failed authentication is counted per address).
    pub peer: Option<std::net::SocketAddr>,
}

/// An HTTP request reduced to what EST needs.
#[derive(Debug, Clone, Default)]
pub struct EstRequest {
    /// Method.
    pub method: String,
    /// Path (no query).
    pub path: String,
    /// Content-Type header.
    pub content_type: Option<String>,
    /// Authorization header.
    pub authorization: Option<String>,
    /// Body.
    pub body: Vec<u8>,
}

/// An HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EstResponse {
    /// Status code.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
    /// Body (text bodies end with a newline). Zeroized on drop: a serverkeygen response carries
    /// a private key.
    pub body: zeroize::Zeroizing<Vec<u8>>,
}

impl EstResponse {
    fn text(status: u16, msg: &str) -> Self {
        Self {
            status,
            headers: vec![("Content-Type", "text/plain; charset=utf-8".into())],
            body: format!("{msg}\n").into_bytes().into(),
        }
    }
    fn pkcs7(body: String) -> Self {
        Self {
            status: 200,
            headers: vec![
                (
                    "Content-Type",
                    "application/pkcs7-mime; smime-type=certs-only".into(),
                ),
                ("Content-Transfer-Encoding", "base64".into()),
            ],
            body: body.into_bytes().into(),
        }
    }
    fn unauthorized() -> Self {
        let mut r = Self::text(401, "authentication required");
        r.headers
            .push(("WWW-Authenticate", "Basic realm=\"est\"".into()));
        r
    }
}

/// An issuing CA the service holds.
type HeldCa = Mutex<Box<dyn IssuingCa + Send>>;

/// The EST service: labels and the CA.
pub struct EstService {
    labels: HashMap<String, LabelPolicy>,
    cas: HashMap<String, HeldCa>,
    /// Serials of issued certificates and serverkeygen keys.
    rng: Mutex<Box<dyn rand_core::CryptoRngCore + Send>>,
    retry_after_secs: u32,
    crl_cache: Mutex<HashMap<String, CachedCrl>>,
    /// The root's CRL (signed offline) and the request path it is published at.
    root_crl: Option<(String, Vec<u8>)>,
    /// Failed HTTP Basic authentications per client address.
    failed_auth: Mutex<FailedAuth>,
    /// The names of every CA certificate of the service, which no leaf may carry.
    ca_names: Vec<CaName>,
    /// The approval queue; `None`: the one in the label's CA database.
    approvals: Option<Mutex<Box<dyn ApprovalStore + Send>>>,
    /// Identities the application bars from enrollment.
    admission: Option<Box<dyn EnrollmentAdmission>>,
    /// How long a re-submitted request gets the certificate already issued for it.
    reissue_window: std::time::Duration,
}

/// A CA certificate's subject (DER) and commonNames.
struct CaName {
    subject_der: Vec<u8>,
    common_names: Vec<String>,
}

impl CaName {
    fn of(ca: &dyn IssuingCa) -> Vec<CaName> {
        [ca.authority().root_der(), ca.authority().intermediate_der()]
            .into_iter()
            .filter_map(|der| x509_cert::Certificate::from_der(der).ok())
            .filter_map(|cert| {
                Some(CaName {
                    subject_der: cert.tbs_certificate.subject.to_der().ok()?,
                    common_names: crate::device::issued_leaf::common_names(&cert),
                })
            })
            .collect()
    }
}

/// See [`EstService::client_trust`].
#[cfg(feature = "est-axum")]
pub(crate) struct ClientTrust {
    pub(crate) root: Vec<u8>,
    pub(crate) crls: Vec<Vec<u8>>,
    pub(crate) revoked_issuers: Vec<Vec<u8>>,
}

struct CachedCrl {
    der: Vec<u8>,
    made_at: i64,
    revocations: usize,
}

/// A published CRL is re-signed after this many seconds even without new revocations.
pub const CRL_REFRESH_SECS: i64 = 3600;

enum Operation {
    CaCerts,
    SimpleEnroll,
    SimpleReenroll,
    CsrAttrs,
    ServerKeygen,
}

fn route(path: &str) -> Option<(String, Operation)> {
    let rest = path.strip_prefix("/.well-known/est/")?;
    let (label, op) = match rest.split_once('/') {
        Some((l, op)) => (l.to_owned(), op),
        None => (String::new(), rest),
    };
    let op = match op {
        "cacerts" => Operation::CaCerts,
        "simpleenroll" => Operation::SimpleEnroll,
        "simplereenroll" => Operation::SimpleReenroll,
        "csrattrs" => Operation::CsrAttrs,
        "serverkeygen" => Operation::ServerKeygen,
        _ => return None,
    };
    Some((label, op))
}

impl EstService {
    /// A service over the issuing CA `ca` with the given labels ("" is the default label),
    /// drawing serials and serverkeygen keys from `rng`. Nothing else reaches outside: the
    /// caller gives the time to each decision ([`EstService::handle`]).
    /// [`EstService::new`] is this with the OS random source.
    pub fn from_parts(
        ca: impl IssuingCa + Send + 'static,
        labels: HashMap<String, LabelPolicy>,
        rng: impl rand_core::CryptoRngCore + Send + 'static,
    ) -> Self {
        let ca_names = CaName::of(&ca);
        let mut cas: HashMap<String, HeldCa> = HashMap::new();
        cas.insert(String::new(), Mutex::new(Box::new(ca)));
        Self {
            labels,
            cas,
            rng: Mutex::new(Box::new(rng)),
            retry_after_secs: 60,
            crl_cache: Mutex::new(HashMap::new()),
            root_crl: None,
            failed_auth: Mutex::new(FailedAuth::new(FailedAuthLimit::default())),
            ca_names,
            approvals: None,
            admission: None,
            reissue_window: DEFAULT_REISSUE_WINDOW,
        }
    }

    /// Draws serials and serverkeygen keys from `rng` instead (a test makes the responses
    /// reproducible with a seeded one).
    pub fn with_rng(mut self, rng: impl rand_core::CryptoRngCore + Send + 'static) -> Self {
        self.rng = Mutex::new(Box::new(rng));
        self
    }

    /// Keeps the manual-approval queue (RFC 7030 §4.2.3) of every label in `store` (by
    /// default, each label's queue is in its CA's database, where `pki approve` finds it).
    pub fn with_approval_store(mut self, store: impl ApprovalStore + Send + 'static) -> Self {
        self.approvals = Some(Mutex::new(Box::new(store)));
        self
    }

    /// Refuses enrollments (simpleenroll, simplereenroll, serverkeygen) of the identities
    /// `admission` reserves or bars ([`crate::est::enrollment_admission`]): 403
    /// `reserved-name`, `identity-revoked`, `identity-decommissioned`.
    pub fn with_enrollment_admission(
        mut self,
        admission: impl EnrollmentAdmission + 'static,
    ) -> Self {
        self.admission = Some(Box::new(admission));
        self
    }

    /// How long an identical request from the same client gets the certificate already issued
    /// for it (module documentation, "Re-submitted requests"); zero issues anew every time.
    pub fn with_reissue_window(mut self, window: std::time::Duration) -> Self {
        self.reissue_window = window;
        self
    }

    /// Limits failed HTTP Basic authentications per client address (the address is
    /// [`TlsFacts::peer`]; default [`FailedAuthLimit::default`]).
    pub fn with_failed_auth_limit(mut self, limit: FailedAuthLimit) -> Self {
        self.failed_auth = Mutex::new(FailedAuth::new(limit));
        self
    }

    /// Publishes the root's CRL `der` (checked by
    /// [`read_published_root_crl`](crate::ca::root_crl::read_published_root_crl)) at the request
    /// path `path` of the CRL endpoint.
    pub fn with_root_crl(mut self, path: impl Into<String>, der: Vec<u8>) -> Self {
        self.root_crl = Some((path.into(), der));
        self
    }

    /// The root's CRL if it is published at `path`.
    pub fn root_crl_at(&self, path: &str) -> Option<&[u8]> {
        self.root_crl
            .as_ref()
            .filter(|(p, _)| p == path)
            .map(|(_, der)| der.as_slice())
    }

    /// Answers a request for a CRL (RFC 5280 §4.2.1.13 distribution point) at time `now`:
    /// `GET PATH` gets the root's CRL if it is published at PATH
    /// ([`EstService::with_root_crl`]), else the CRL of the CA [`EstService::ca_for_crl_path`]
    /// names; 404 for a path naming no CRL, 405 for another method.
    pub fn handle_crl_at(&self, req: &EstRequest, now: OffsetDateTime) -> EstResponse {
        if req.method != "GET" {
            let mut r = EstResponse::text(405, "method not allowed");
            r.headers.push(("Allow", "GET".into()));
            return r;
        }
        let crl = |der: Vec<u8>| EstResponse {
            status: 200,
            headers: vec![("Content-Type", "application/pkix-crl".into())],
            body: der.into(),
        };
        if let Some(der) = self.root_crl_at(&req.path) {
            return crl(der.to_vec());
        }
        match self.ca_for_crl_path(&req.path) {
            Some(name) => match self.current_crl_of_at(&name, now) {
                Ok(der) => crl(der),
                Err(_) => EstResponse::text(500, "internal error"),
            },
            None if crl_name(&req.path).is_some() => EstResponse::text(404, "no such CRL"),
            None => EstResponse::text(404, "not found"),
        }
    }

    /// The request paths CRLs are published at besides [`crl_name`]'s: each CA's CRL URL path
    /// and the root's CRL path, sorted, without duplicates.
    pub fn crl_paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = self
            .cas
            .values()
            .filter_map(|ca| {
                ca.lock()
                    .ok()
                    .and_then(|ca| ca.authority().profile.crl_path().map(str::to_owned))
            })
            .chain(self.root_crl.iter().map(|(p, _)| p.clone()))
            .collect();
        paths.sort();
        paths.dedup();
        paths
    }

    /// What a TLS server needs at `now` to verify this service's clients: the root
    /// certificate, the current CRL of every CA ([`EstService::current_crl_of_at`]), and the
    /// intermediates the root revoked.
    #[cfg(feature = "est-axum")]
    pub(crate) fn client_trust(&self, now: OffsetDateTime) -> Result<ClientTrust, CaError> {
        let mut names = self.ca_names();
        names.sort();
        let mut trust = ClientTrust {
            root: self.ca()?.authority().root_der().to_vec(),
            crls: Vec::new(),
            revoked_issuers: Vec::new(),
        };
        for name in names {
            trust.crls.push(self.current_crl_of_at(&name, now)?);
            let ca = self.ca_named(&name)?;
            if ca.revoked_by_root() {
                trust
                    .revoked_issuers
                    .push(ca.authority().intermediate_der().to_vec());
            }
        }
        Ok(trust)
    }

    /// Adds the issuing intermediate `name` (e.g. a `CaState` opened with
    /// `CaState::open_intermediate`) for labels whose [`LabelPolicy::ca`] names it.
    pub fn with_intermediate(
        mut self,
        name: impl Into<String>,
        ca: impl IssuingCa + Send + 'static,
    ) -> Self {
        self.ca_names.extend(CaName::of(&ca));
        self.cas.insert(name.into(), Mutex::new(Box::new(ca)));
        self
    }

    /// Labels naming a CA the service does not have (each would answer 500).
    pub fn labels_without_ca(&self) -> Vec<String> {
        self.labels
            .iter()
            .filter(|(_, p)| !self.cas.contains_key(&p.ca))
            .map(|(l, _)| l.clone())
            .collect()
    }

    /// The names of the service's CAs ("" is the default).
    pub fn ca_names(&self) -> Vec<String> {
        self.cas.keys().cloned().collect()
    }

    fn ca_named(
        &self,
        name: &str,
    ) -> Result<std::sync::MutexGuard<'_, Box<dyn IssuingCa + Send>>, CaError> {
        self.cas
            .get(name)
            .ok_or_else(|| CaError::UnknownCa {
                name: name.to_owned(),
            })?
            .lock()
            .map_err(|_| CaError::Poisoned { what: "CA lock" })
    }

    fn ca(&self) -> Result<std::sync::MutexGuard<'_, Box<dyn IssuingCa + Send>>, CaError> {
        self.ca_named("")
    }

    /// The CA whose CRL is served at the request path `path`: the one whose CRL URL
    /// ([`IssuanceProfile::crl_path`](crate::ca::profile::IssuanceProfile::crl_path)) has this
    /// path, so the URL an old leaf carries still gives the CRL of the key that signed it after
    /// a rotation ([`crate::ca::rotation`]); when several share it, the one
    /// [`crl_name`] names, else the first by name. A path no
    /// CA's URL has: the CA [`crl_name`] names
    /// (`/crl/NAME.der`, `/crl/retired-SERIAL.der`), if the service has it.
    pub fn ca_for_crl_path(&self, path: &str) -> Option<String> {
        let conventional = crl_name(path)
            .filter(|n| self.cas.contains_key(*n))
            .map(str::to_owned);
        let mut matching: Vec<&String> = self
            .cas
            .iter()
            .filter(|(_, ca)| {
                ca.lock()
                    .is_ok_and(|ca| ca.authority().profile.crl_path() == Some(path))
            })
            .map(|(name, _)| name)
            .collect();
        matching.sort();
        match (&conventional, matching.first()) {
            (Some(c), _) if matching.contains(&c) => conventional,
            (_, Some(first)) => Some((*first).clone()),
            (_, None) => conventional,
        }
    }

    /// The CRL of CA `name` to publish at its CRL distribution point (RFC 5280 §4.2.1.13) at
    /// time `now`: re-signed when a revocation was added or after [`CRL_REFRESH_SECS`],
    /// otherwise served from cache. Each intermediate signs the CRL for its own certificates.
    pub fn current_crl_of_at(&self, name: &str, now: OffsetDateTime) -> Result<Vec<u8>, CaError> {
        let mut ca = self.ca_named(name)?;
        let revocations = ca.records().revocations(now.unix_timestamp())?.len();
        let mut cache = self
            .crl_cache
            .lock()
            .map_err(|_| CaError::Poisoned { what: "CRL cache" })?;
        if let Some(c) = cache.get(name)
            && c.revocations == revocations
            && now.unix_timestamp() - c.made_at < CRL_REFRESH_SECS
        {
            return Ok(c.der.clone());
        }
        let der = crate::ca::issuer::sign_crl(&mut **ca, now)?;
        cache.insert(
            name.to_owned(),
            CachedCrl {
                der: der.clone(),
                made_at: now.unix_timestamp(),
                revocations,
            },
        );
        Ok(der)
    }

    fn basic_ok(policy: &LabelPolicy, authorization: Option<&str>) -> bool {
        match (&policy.basic, authorization) {
            (Some((user, pass)), Some(h)) => basic_credentials_match(h, (user, pass)),
            _ => false,
        }
    }

    /// RFC 5280 §4.1.2.6: a leaf must not carry the subject, or the commonName, of a CA of
    /// this hierarchy (it would pass for its issuer wherever names are compared).
    fn refuse_ca_names(&self, csr: &VerifiedCsr) -> Result<(), CaError> {
        use crate::ca::csr_check::SubjectAttribute;
        for ca in &self.ca_names {
            if ca.subject_der == csr.subject_der {
                return Err(CaError::SubjectNamesCa { field: "subject" });
            }
            let names_ca = csr
                .subject
                .iter()
                .filter(|e| e.attribute == SubjectAttribute::CommonName)
                .any(|e| {
                    ca.common_names
                        .iter()
                        .any(|cn| cn.trim().eq_ignore_ascii_case(e.value.trim()))
                });
            if names_ca {
                return Err(CaError::SubjectNamesCa {
                    field: "commonName",
                });
            }
        }
        Ok(())
    }

    /// HTTP Basic of a request whose label accepts it: `Err` with the answer when the client
    /// address has used up its failed attempts (429), else whether the credentials match; a
    /// mismatch is counted and logged.
    fn basic_attempt(
        &self,
        label: &str,
        policy: &LabelPolicy,
        req: &EstRequest,
        tls: &TlsFacts,
        now: OffsetDateTime,
    ) -> Result<bool, EstResponse> {
        let Some(authorization) = req.authorization.as_deref() else {
            return Ok(false);
        };
        if policy.basic.is_none() {
            return Ok(false);
        }
        let peer = tls.peer.map(|p| p.ip());
        let mut failed = self
            .failed_auth
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(wait) = failed.retry_after(peer, now.unix_timestamp()) {
            // Each failure was logged; the refusals that follow would only repeat it.
            log::debug!(
                "EST: HTTP Basic from {} refused for {wait} s after repeated failures (label {label:?})",
                tls.peer
                    .map_or_else(|| "an unknown address".to_owned(), |p| p.to_string())
            );
            let mut r = EstResponse::text(429, "too many failed authentications");
            r.headers.push(("Retry-After", wait.to_string()));
            return Err(r);
        }
        let ok = Self::basic_ok(policy, Some(authorization));
        if !ok {
            failed.record_failure(peer, now.unix_timestamp());
            log::warn!(
                "EST: failed HTTP Basic authentication from {} (label {label:?})",
                tls.peer
                    .map_or_else(|| "an unknown address".to_owned(), |p| p.to_string())
            );
        }
        Ok(ok)
    }

    /// Decides one request at time `now` (the caller's clock: the servers read it once per
    /// request; a test or a replay passes its own). The decision reads no clock, no file and
    /// no socket: its only effects go through the issuing CAs, the approval queue and the
    /// random source it was given.
    pub fn handle(&self, req: &EstRequest, tls: &TlsFacts, now: OffsetDateTime) -> EstResponse {
        match self.decide(req, tls, now) {
            Ok(r) => r,
            Err(e) => match e {
                CaError::MalformedCsr(_)
                | CaError::MalformedCertificate { .. }
                | CaError::CsrSignatureInvalid
                | CaError::UnsupportedAlgorithm { .. }
                | CaError::SubjectNotAllowed { .. }
                | CaError::SanNotAllowed { .. }
                | CaError::ReenrollMismatch { .. }
                | CaError::Device(_) => EstResponse::text(400, &e.to_string()),
                CaError::Revoked { .. }
                | CaError::UnknownCertificate
                | CaError::IdentityNotAuthorized { .. }
                | CaError::SubjectNamesCa { .. }
                | CaError::ReservedName { .. }
                | CaError::IdentityBarred { .. }
                | CaError::DevIdIdentityRequired => EstResponse::text(403, &e.to_string()),
                // The label's CA may not issue (rotated out, or revoked by the root): not the
                // client's fault, and not an internal error either.
                CaError::IssuerRetired { .. } | CaError::IssuerRevoked { .. } => {
                    EstResponse::text(503, &e.to_string())
                }
                _ => EstResponse::text(500, "internal error"),
            },
        }
    }

    /// [`EstService::handle`] under its previous name.
    #[deprecated(note = "EstService::handle takes the time now")]
    pub fn handle_at(&self, req: &EstRequest, tls: &TlsFacts, now: OffsetDateTime) -> EstResponse {
        self.handle(req, tls, now)
    }

    fn decide(
        &self,
        req: &EstRequest,
        tls: &TlsFacts,
        now: OffsetDateTime,
    ) -> Result<EstResponse, CaError> {
        if req.path == "/ocsp" {
            return self.ocsp(req, now);
        }
        let Some((label, op)) = route(&req.path) else {
            return Ok(EstResponse::text(404, "not found"));
        };
        let Some(policy) = self.labels.get(&label) else {
            return Ok(EstResponse::text(404, "unknown label"));
        };
        let want_method = match op {
            Operation::CaCerts | Operation::CsrAttrs => "GET",
            _ => "POST",
        };
        if req.method != want_method {
            let mut r = EstResponse::text(405, "method not allowed");
            r.headers.push(("Allow", want_method.into()));
            return Ok(r);
        }
        match op {
            Operation::CaCerts => {
                let ca = self.ca_named(&policy.ca)?;
                let body = encode_certs_only_body(
                    &[ca.authority().intermediate_der(), ca.authority().root_der()],
                    policy.layout,
                )?;
                Ok(EstResponse::pkcs7(body))
            }
            Operation::CsrAttrs => {
                let mut oids = vec![ID_CE_SUBJECT_ALT_NAME];
                if policy.binding == BindingPolicy::Required {
                    oids.push(crate::device::csr::ID_CHALLENGE_PASSWORD);
                }
                let der = oids.to_der().map_err(CaError::Encoding)?;
                Ok(EstResponse {
                    status: 200,
                    headers: vec![
                        ("Content-Type", "application/csrattrs".into()),
                        ("Content-Transfer-Encoding", "base64".into()),
                    ],
                    body: encode_base64(&der, policy.layout).into_bytes().into(),
                })
            }
            Operation::SimpleEnroll | Operation::SimpleReenroll | Operation::ServerKeygen => {
                let reenroll = matches!(op, Operation::SimpleReenroll);
                let keygen = matches!(op, Operation::ServerKeygen);
                // Authentication first (RFC 7030 §3.2.3): never parse a body for a stranger.
                let by_cert = tls.client_cert.is_some() && (policy.client_cert_auth || reenroll);
                let by_basic = match self.basic_attempt(&label, policy, req, tls, now) {
                    Ok(ok) => ok,
                    Err(throttled) => return Ok(throttled),
                };
                if reenroll && tls.client_cert.is_none() {
                    return Ok(EstResponse::unauthorized());
                }
                if !by_cert && !by_basic {
                    return Ok(EstResponse::unauthorized());
                }
                let ct = req.content_type.as_deref().unwrap_or("");
                let media = ct.split(';').next().unwrap_or("").trim();
                if !media.eq_ignore_ascii_case("application/pkcs10") {
                    return Ok(EstResponse::text(
                        415,
                        "Content-Type must be application/pkcs10",
                    ));
                }
                let der = decode_base64_body(&req.body)?;
                let csr = verify_csr(&der)?;
                if let Some(r) = self.check_binding(policy, &csr, tls) {
                    return Ok(r);
                }
                self.refuse_ca_names(&csr)?;
                if let Some(admission) = &self.admission {
                    admit_enrollment(&csr, admission.as_ref())?;
                }
                let mut ca = self.ca_named(&policy.ca)?;
                if let Some(client) = &tls.client_cert {
                    let role = if reenroll {
                        ClientCertRole::Renewed
                    } else if by_basic || ca.authority().profile.devid.is_some() {
                        ClientCertRole::Accompanies
                    } else {
                        ClientCertRole::Authenticates
                    };
                    check_presented_cert(&**ca, client, &csr, role)?;
                }
                // IEEE 802.1AR §5.5: under a DevID CA the LDevID takes its identity from the
                // IDevID (or earlier LDevID) the device authenticated with over TLS.
                let identity = match (&ca.authority().profile.devid, &tls.client_cert) {
                    (None, _) => None,
                    (Some(p), Some(client)) => Some(
                        crate::ca::devid::identity_of(client, &p.hw_type)?
                            .ok_or(CaError::DevIdIdentityRequired)?,
                    ),
                    (Some(_), None) => return Err(CaError::DevIdIdentityRequired),
                };
                let request = EnrollmentKey {
                    client: client_key(&label, by_basic.then_some(policy), tls),
                    csr_sha256: sha256(&der),
                };
                // Module documentation, "Re-submitted requests".
                if !keygen
                    && let Some(since) = self.reissue_since(now)
                    && let Some(record) =
                        crate::ca::issuer::reissuable_for(&**ca, &request, since, now)?
                {
                    log::debug!(
                        "EST: label {label:?}: a re-submitted request gets certificate {} again",
                        crate::store::hex_upper(&record.serial)
                    );
                    return Ok(EstResponse::pkcs7(encode_certs_only_body(
                        &[&record.cert_der],
                        policy.layout,
                    )?));
                }
                // RFC 7030 §4.2.3: the client retries the same request after Retry-After; an
                // approved request is issued once and leaves the queue.
                let approved_id = if policy.manual_approval && !reenroll {
                    match self.queue(&mut **ca, |queue| {
                        Ok(match queue.find_pending(&label, &der)? {
                            Some((id, true)) => Ok(id),
                            Some((id, false)) => Err(id),
                            None => Err(queue.add_pending(&label, &der, now.unix_timestamp())?),
                        })
                    })? {
                        Ok(id) => Some(id),
                        Err(id) => {
                            let mut r =
                                EstResponse::text(202, &format!("request {id} awaits approval"));
                            r.headers
                                .push(("Retry-After", self.retry_after_secs.to_string()));
                            return Ok(r);
                        }
                    }
                } else {
                    None
                };
                let mut rng = self.rng.lock().map_err(|_| CaError::Poisoned {
                    what: "random source",
                })?;
                let rng: &mut dyn rand_core::CryptoRngCore = rng.as_mut();
                let response = if keygen {
                    let made = KeygenRequest {
                        csr: &csr,
                        identity: identity.as_ref(),
                        layout: policy.layout,
                        now,
                    };
                    server_keygen(&mut **ca, made, rng)?
                } else {
                    let cert = crate::ca::issuer::issue_for(
                        &mut **ca,
                        &csr,
                        identity.as_ref(),
                        Some(&request),
                        now,
                        rng,
                    )?;
                    EstResponse::pkcs7(encode_certs_only_body(&[&cert.der], policy.layout)?)
                };
                if let Some(id) = approved_id {
                    self.queue(&mut **ca, |queue| queue.remove_pending(id))?;
                }
                Ok(response)
            }
        }
    }

    /// Runs `f` on the approval queue: the one given to
    /// [`EstService::with_approval_store`], else the one in `ca`'s database.
    fn queue<T>(
        &self,
        ca: &mut dyn IssuingCa,
        f: impl FnOnce(&mut dyn ApprovalStore) -> Result<T, CaError>,
    ) -> Result<T, CaError> {
        match &self.approvals {
            Some(store) => {
                let mut store = store.lock().map_err(|_| CaError::Poisoned {
                    what: "approval queue",
                })?;
                f(store.as_mut())
            }
            None => f(ca.records_mut()),
        }
    }

    /// The earliest issuance (Unix seconds) a re-submitted request at `now` may get again;
    /// `None` when the window is zero.
    fn reissue_since(&self, now: OffsetDateTime) -> Option<i64> {
        let window = i64::try_from(self.reissue_window.as_secs()).unwrap_or(i64::MAX);
        (window > 0).then(|| now.unix_timestamp().saturating_sub(window))
    }

    /// RFC 6960 Appendix A.1: OCSP over HTTP POST (here on the same TLS listener).
    fn ocsp(&self, req: &EstRequest, now: OffsetDateTime) -> Result<EstResponse, CaError> {
        if req.method != "POST" {
            let mut r = EstResponse::text(405, "method not allowed");
            r.headers.push(("Allow", "POST".into()));
            return Ok(r);
        }
        let ct = req.content_type.as_deref().unwrap_or("");
        if !ct.trim().eq_ignore_ascii_case("application/ocsp-request") {
            return Ok(EstResponse::text(
                415,
                "Content-Type must be application/ocsp-request",
            ));
        }
        let now = now.unix_timestamp();
        let body = match crate::ca::ocsp::parse_request(&req.body) {
            // The issuing CA the request names answers (one lock at a time, names in order);
            // a request naming none of them gets `unknown` from the default CA, and a
            // malformed one `malformedRequest`.
            Ok(parsed) => {
                let mut names = self.ca_names();
                names.sort();
                let mut chosen = String::new();
                for name in names {
                    if crate::ca::ocsp::serves_for(&**self.ca_named(&name)?, &parsed)? {
                        chosen = name;
                        break;
                    }
                }
                crate::ca::ocsp::respond_for(&**self.ca_named(&chosen)?, &req.body, now)
            }
            Err(_) => crate::ca::ocsp::respond_for(&**self.ca()?, &req.body, now),
        };
        Ok(EstResponse {
            status: 200,
            headers: vec![("Content-Type", "application/ocsp-response".into())],
            body: body.into(),
        })
    }

    fn check_binding(
        &self,
        policy: &LabelPolicy,
        csr: &VerifiedCsr,
        tls: &TlsFacts,
    ) -> Option<EstResponse> {
        if policy.binding == BindingPolicy::Off {
            return None;
        }
        let check = check_binding(csr.challenge_password.as_deref(), tls.exporter.as_ref());
        let accepted = match policy.binding {
            BindingPolicy::Required => check.passes_required(),
            BindingPolicy::Optional => check.passes_optional(),
            BindingPolicy::Off => true,
        };
        if accepted {
            return None;
        }
        Some(EstResponse::text(
            400,
            match check {
                BindingCheck::TlsUniqueOnTls13 => {
                    "challengePassword carries a tls-unique value; TLS 1.3 requires tls-exporter (RFC 9266)"
                }
                BindingCheck::Unverifiable => {
                    "challengePassword carries a channel binding, but this connection offers none to check it against"
                }
                _ => "challengePassword does not carry this session's channel binding",
            },
        ))
    }
}

/// What a serverkeygen request asks for, once authenticated and checked.
struct KeygenRequest<'a> {
    csr: &'a VerifiedCsr,
    identity: Option<&'a crate::ca::devid::DeviceIdentity>,
    layout: Base64Layout,
    now: OffsetDateTime,
}

/// RFC 7030 §4.4.2: the server generates a P-256 key (from the service's random source),
/// issues the certificate for the authenticated request's subject and SANs with that key, and
/// returns a `multipart/mixed` body: the PKCS#8 key (`application/pkcs8`, unencrypted:
/// protected by the TLS 1.3 channel, as §4.4.2 allows when no key-encryption attribute is
/// requested) and the certificate.
fn server_keygen(
    ca: &mut dyn IssuingCa,
    request: KeygenRequest<'_>,
    mut rng: &mut dyn rand_core::CryptoRngCore,
) -> Result<EstResponse, CaError> {
    let KeygenRequest {
        csr,
        identity,
        layout,
        now,
    } = request;
    let key =
        crate::device::key::DeviceKey::generate(crate::device::key::KeyAlgorithm::P256, &mut rng);
    let mut for_key = csr.clone();
    for_key.key_algorithm = crate::device::key::KeyAlgorithm::P256;
    for_key.public_key = key.raw_public_key();
    for_key.spki_der = key.public_key_der()?;
    let cert = crate::ca::issuer::issue_for(ca, &for_key, identity, None, now, rng)?;
    let key_der = key.to_pkcs8_der()?;
    let key_b64 = zeroize::Zeroizing::new(encode_base64(&key_der, layout));
    let certs = encode_certs_only_body(&[&cert.der], layout)?;
    let boundary = "iotsec-est-boundary";
    // Sized up front: a growing buffer would leave copies of the key in freed memory.
    let mut body =
        zeroize::Zeroizing::new(String::with_capacity(key_b64.len() + certs.len() + 512));
    body.push_str(&format!(
        "--{boundary}\r\nContent-Type: application/pkcs8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    ));
    body.push_str(&key_b64);
    body.push_str(&format!(
        "--{boundary}\r\nContent-Type: application/pkcs7-mime; smime-type=certs-only\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    ));
    body.push_str(&certs);
    body.push_str(&format!("--{boundary}--\r\n"));
    Ok(EstResponse {
        status: 200,
        headers: vec![(
            "Content-Type",
            format!("multipart/mixed; boundary={boundary}"),
        )],
        body: zeroize::Zeroizing::new(core::mem::take(&mut *body).into_bytes()),
    })
}

/// What a TLS client certificate presented with an enrollment stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientCertRole {
    /// simplereenroll: the certificate being renewed.
    Renewed,
    /// simpleenroll/serverkeygen whose only authentication is the certificate.
    Authenticates,
    /// Another authenticator decided (HTTP Basic), or a DevID label derives the identity
    /// from the certificate itself.
    Accompanies,
}

/// RFC 7030 §4.2.2: on re-enroll the presented certificate is the one renewed; it must be ours,
/// unrevoked, and the request's Subject and SAN must match it byte for byte (same key = renew,
/// new key = rekey; both allowed). When the certificate is the only authentication of an
/// enrollment, the same holds (a device can obtain a certificate for its own identity only,
/// from the CA that issued it: not another device's name, not at another label's CA). A
/// certificate that merely accompanies another authenticator must not be revoked.
fn check_presented_cert(
    ca: &dyn IssuingCa,
    client_der: &[u8],
    csr: &VerifiedCsr,
    role: ClientCertRole,
) -> Result<(), CaError> {
    let cert = x509_cert::Certificate::from_der(client_der).map_err(|error| {
        CaError::MalformedCertificate {
            which: "client certificate",
            error,
        }
    })?;
    let serial = cert.tbs_certificate.serial_number.as_bytes().to_vec();
    // Issued by this CA's current key or by a key rotated out of it: a device renews a
    // certificate from before a rotation (its revocation is checked just below either way).
    let known = crate::ca::issuer::find_issued(ca, &serial)?.map(|(record, _)| record);
    crate::ca::issuer::ensure_not_revoked(ca, &serial)?;
    let mismatch = |field| match role {
        ClientCertRole::Renewed => CaError::ReenrollMismatch { field },
        _ => CaError::IdentityNotAuthorized { field },
    };
    match role {
        ClientCertRole::Accompanies => return Ok(()),
        ClientCertRole::Renewed => {
            if known.as_ref().map(|k| k.cert_der.as_slice()) != Some(client_der) {
                return Err(CaError::UnknownCertificate);
            }
        }
        ClientCertRole::Authenticates => {
            if known.as_ref().map(|k| k.cert_der.as_slice()) != Some(client_der) {
                return Err(mismatch("issuer"));
            }
        }
    }
    if cert
        .tbs_certificate
        .subject
        .to_der()
        .map_err(|error| CaError::MalformedCertificate {
            which: "client certificate",
            error,
        })?
        != csr.subject_der
    {
        return Err(mismatch("subject"));
    }
    let cert_san = cert
        .tbs_certificate
        .extensions
        .unwrap_or_default()
        .into_iter()
        .find(|e| e.extn_id == ID_CE_SUBJECT_ALT_NAME)
        .map(|e| e.extn_value.as_bytes().to_vec());
    if cert_san != csr.san_der {
        return Err(mismatch("subjectAltName"));
    }
    Ok(())
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

/// Who is asking, for [`EnrollmentKey::client`]: the label, the HTTP Basic user when Basic
/// authenticated the request, and the TLS client certificate, each length-prefixed (no two
/// different clients hash the same input).
fn client_key(label: &str, basic: Option<&LabelPolicy>, tls: &TlsFacts) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    let mut field = |tag: &[u8], bytes: &[u8]| {
        h.update(tag);
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(b"iotsec-est-client/v1 label", label.as_bytes());
    if let Some((user, _)) = basic.and_then(|p| p.basic.as_ref()) {
        field(b"basic", user.as_bytes());
    }
    if let Some(cert) = &tls.client_cert {
        field(b"cert", &sha256(cert));
    }
    h.finalize().into()
}

/// The CRL a distribution-point path names: `Some("")` for the default CA (`/crl.der`,
/// `/anything.crl`), `Some(NAME)` for `/crl/NAME.der` or `/crl/NAME.crl`, `None` otherwise.
pub fn crl_name(path: &str) -> Option<&str> {
    let stem = path
        .strip_suffix(".der")
        .or_else(|| path.strip_suffix(".crl"))?;
    match stem.strip_prefix("/crl/") {
        Some(name) if !name.is_empty() && !name.contains('/') => Some(name),
        Some(_) => None,
        None => Some(""),
    }
}
