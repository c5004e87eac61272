//! The root's own CRL (an "ARL", authority revocation list, RFC 5280 §5): how the offline root
//! revokes an intermediate certificate, as in a two-tier `openssl ca` hierarchy, EJBCA or AWS
//! Private CA.
//!
//! The root's records live in `DIR/root.sqlite` (the same schema as an intermediate's
//! database: the intermediate certificates it revoked, and its CRL number). Recording a
//! revocation needs no key; signing the CRL does: the root key is opened as
//! [`RootKey::of_state`] finds it (`offline/root.key.pem`, or its token with
//! [`ROOT_PIN_ENV`](crate::keys::token::ROOT_PIN_ENV)) and must be the key `root.pem` certifies.
//! The CRL is valid for [`ROOT_CRL_VALIDITY`]: the root is offline, so it is re-signed at a
//! ceremony before that, and at once after a revocation.
//!
//! A relying party that checks the whole chain (`openssl verify -crl_check_all`, RFC 5280
//! §6.3) then refuses every certificate under a revoked intermediate; and this CA refuses to
//! issue with it ([`CaError::IssuerRevoked`]). Intermediates certified while `ca.txt` has a
//! `root_crl_url=` line carry that URL as their CRL distribution point
//! ([`crate::ca::state::set_root_crl_url`]).

use std::path::Path;

use time::OffsetDateTime;

use crate::ca::authority::{RevokedEntry, sign_root_crl};
use crate::ca::error::CaError;
use crate::ca::state_dir::{intermediate_dir, read_pem};
use crate::keys::root::RootKey;
use crate::store::{CertStore, IssuedRecord, SqliteStore};

/// How long a root CRL is valid (nextUpdate - thisUpdate): the root is offline, so its CRL is
/// signed at ceremonies, not hourly (the default of `openssl ca -gencrl` is 30 days too).
pub const ROOT_CRL_VALIDITY: time::Duration = time::Duration::days(30);

pub use crate::ca::state_dir::ROOT_DB_FILE;

/// RFC 5280 §5.3.1 CRLReason names, by code (7 is unused).
const REASONS: [(&str, u8); 10] = [
    ("unspecified", 0),
    ("keyCompromise", 1),
    ("cACompromise", 2),
    ("affiliationChanged", 3),
    ("superseded", 4),
    ("cessationOfOperation", 5),
    ("certificateHold", 6),
    ("removeFromCRL", 8),
    ("privilegeWithdrawn", 9),
    ("aACompromise", 10),
];

/// A CRL reason given as its RFC 5280 name (`keyCompromise`, case-insensitive) or its number.
pub fn parse_reason(given: &str) -> Result<u8, CaError> {
    let unknown = || CaError::UnknownReason {
        given: given.to_owned(),
    };
    if let Ok(n) = given.parse::<u8>() {
        return REASONS
            .iter()
            .find(|(_, code)| *code == n)
            .map(|(_, code)| *code)
            .ok_or_else(unknown);
    }
    REASONS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(given))
        .map(|(_, code)| *code)
        .ok_or_else(unknown)
}

/// The certificate file of an intermediate of the CA in `dir`: the default one (`None`) or
/// the named one.
pub fn intermediate_certificate(dir: &Path, name: Option<&str>) -> Result<Vec<u8>, CaError> {
    let ca_dir = match name {
        Some(name) => intermediate_dir(dir, name)?,
        None => dir.to_path_buf(),
    };
    read_pem(&ca_dir.join("intermediate.pem"), "CERTIFICATE")
}

/// What [`revoke_intermediate`] recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntermediateRevocation {
    /// The intermediate certificate's serial (big-endian magnitude).
    pub serial: Vec<u8>,
    /// False if the root had revoked it already (the first reason and time stand).
    pub newly_revoked: bool,
}

/// Records that the root revokes the intermediate certificate `cert_der` (which it must have
/// signed: its issuer is checked against `DIR/root.pem`) for `reason`, at `now`. The next
/// [`root_crl`] lists it. No key is needed for this step.
pub fn revoke_intermediate(
    dir: &Path,
    cert_der: &[u8],
    reason: u8,
    now: OffsetDateTime,
) -> Result<IntermediateRevocation, CaError> {
    use der::{Decode, Encode};
    if parse_reason(&reason.to_string()).is_err() {
        return Err(CaError::UnknownReason {
            given: reason.to_string(),
        });
    }
    let malformed = |error| CaError::MalformedCertificate {
        which: "intermediate certificate",
        error,
    };
    let cert = x509_cert::Certificate::from_der(cert_der).map_err(malformed)?;
    let root = x509_cert::Certificate::from_der(&read_pem(&dir.join("root.pem"), "CERTIFICATE")?)
        .map_err(|error| CaError::MalformedCertificate {
        which: "root certificate",
        error,
    })?;
    if cert.tbs_certificate.issuer != root.tbs_certificate.subject || !signed_by(&cert, &root) {
        return Err(CaError::UnknownCertificate);
    }
    let serial = cert.tbs_certificate.serial_number.as_bytes().to_vec();
    let mut store = SqliteStore::open(&dir.join(ROOT_DB_FILE))?;
    if store.issued(&serial)?.is_none() {
        store.record_issued(&IssuedRecord {
            serial: serial.clone(),
            subject_der: cert.tbs_certificate.subject.to_der().map_err(malformed)?,
            cert_der: cert_der.to_vec(),
            not_after: cert
                .tbs_certificate
                .validity
                .not_after
                .to_unix_duration()
                .as_secs()
                .try_into()
                .map_err(|_| CaError::TimeOutOfRange {
                    what: "the intermediate's notAfter",
                })?,
        })?;
    }
    let newly_revoked = store.revoke(&serial, reason, now.unix_timestamp())?;
    Ok(IntermediateRevocation {
        serial,
        newly_revoked,
    })
}

/// Whether `issuer`'s key made `cert`'s signature (ecdsa-with-SHA256 over P-256, the only
/// root key this crate makes): a name alone does not tell one root from another.
fn signed_by(cert: &x509_cert::Certificate, issuer: &x509_cert::Certificate) -> bool {
    use der::Encode;
    let Ok(tbs) = cert.tbs_certificate.to_der() else {
        return false;
    };
    signature_by(issuer, &cert.signature_algorithm.oid, &tbs, &cert.signature)
}

/// Whether `issuer`'s key made `signature` (with algorithm `algorithm`) over `tbs`.
fn signature_by(
    issuer: &x509_cert::Certificate,
    algorithm: &der::asn1::ObjectIdentifier,
    tbs: &[u8],
    signature: &der::asn1::BitString,
) -> bool {
    if *algorithm != crate::device::key::ECDSA_WITH_SHA256 {
        return false;
    }
    let Some(signature) = signature.as_bytes() else {
        return false;
    };
    let Some(key) = issuer
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .as_bytes()
    else {
        return false;
    };
    crate::device::key::verify_signature(
        crate::device::key::KeyAlgorithm::P256,
        key,
        tbs,
        signature,
    )
}

/// A root CRL file checked for publication ([`read_published_root_crl`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedRootCrl {
    /// The CRL (DER).
    pub der: Vec<u8>,
    /// Its CRL number (RFC 5280 §5.2.3).
    pub number: u64,
}

/// Reads the root's CRL (as `pki crl --root` wrote it: DER, or PEM `X509 CRL`) from `path`
/// and checks it before a server publishes it: one CRL and nothing after it, issued under
/// the subject of `root_der` and signed by its key (ecdsa-with-SHA256, P-256), with a CRL
/// number of at most 8 bytes. A truncated, foreign or forged file is refused
/// ([`CaError::RootCrlRefused`]).
pub fn read_published_root_crl(path: &Path, root_der: &[u8]) -> Result<PublishedRootCrl, CaError> {
    parse_published_root_crl(path, std::fs::read(path)?, root_der)
}

/// [`read_published_root_crl`] on the file's `bytes` already read (`path` only names it in
/// errors).
pub fn parse_published_root_crl(
    path: &Path,
    bytes: Vec<u8>,
    root_der: &[u8],
) -> Result<PublishedRootCrl, CaError> {
    use der::{Decode, Encode};
    let refused = |reason| CaError::RootCrlRefused {
        path: path.to_path_buf(),
        reason,
    };
    let der = if bytes.starts_with(b"-----BEGIN") {
        match pem_rfc7468::decode_vec(&bytes) {
            Ok(("X509 CRL", der)) => der,
            _ => return Err(refused("not a PEM X509 CRL")),
        }
    } else {
        bytes
    };
    let crl = x509_cert::crl::CertificateList::from_der(&der)
        .map_err(|_| refused("not a DER CRL (truncated, or trailing bytes)"))?;
    let root = x509_cert::Certificate::from_der(root_der).map_err(|error| {
        CaError::MalformedCertificate {
            which: "root certificate",
            error,
        }
    })?;
    if crl.tbs_cert_list.issuer != root.tbs_certificate.subject {
        return Err(refused("not issued by this root"));
    }
    let tbs = crl
        .tbs_cert_list
        .to_der()
        .map_err(|_| refused("not a DER CRL"))?;
    if !signature_by(&root, &crl.signature_algorithm.oid, &tbs, &crl.signature) {
        return Err(refused("its signature is not this root's"));
    }
    let number = crl
        .tbs_cert_list
        .crl_extensions
        .as_ref()
        .and_then(|exts| exts.iter().find(|e| e.extn_id == ID_CE_CRL_NUMBER))
        .and_then(|e| der::asn1::Uint::from_der(e.extn_value.as_bytes()).ok())
        .filter(|n| n.as_bytes().len() <= 8)
        .map(|n| {
            n.as_bytes()
                .iter()
                .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
        })
        .ok_or_else(|| refused("it has no CRL number (or one over 8 bytes)"))?;
    Ok(PublishedRootCrl { der, number })
}

/// RFC 5280 §5.2.3 cRLNumber.
const ID_CE_CRL_NUMBER: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("2.5.29.20");

/// Whether the root of the CA in `dir` revoked the intermediate certificate `cert_der`
/// (false when the root never revoked anything: there is no `DIR/root.sqlite`).
pub fn is_revoked_by_root(dir: &Path, cert_der: &[u8]) -> Result<bool, CaError> {
    use der::Decode;
    let path = dir.join(ROOT_DB_FILE);
    if !path.exists() {
        return Ok(false);
    }
    let cert = x509_cert::Certificate::from_der(cert_der).map_err(|error| {
        CaError::MalformedCertificate {
            which: "intermediate certificate",
            error,
        }
    })?;
    let store = SqliteStore::open(&path)?;
    Ok(store
        .revocation(cert.tbs_certificate.serial_number.as_bytes())?
        .is_some())
}

/// Signs the root's CRL for the CA in `dir` with the root key: every intermediate the root
/// revoked whose certificate has not expired, the next CRL number, nextUpdate
/// `now + ROOT_CRL_VALIDITY`. Refused if the root key is not at hand or is not the key
/// `root.pem` certifies.
pub fn root_crl(dir: &Path, now: OffsetDateTime) -> Result<Vec<u8>, CaError> {
    let root_der = read_pem(&dir.join("root.pem"), "CERTIFICATE")?;
    let root_key = RootKey::of_state(dir)?
        .open_certified(&root_der, &crate::keys::token::TokenPins::default())?;
    root_crl_signed_by(dir, root_key.as_ref(), now)
}

/// [`root_crl`] for a caller that holds the root key already (it must be the key
/// `DIR/root.pem` certifies).
pub fn root_crl_signed_by(
    dir: &Path,
    root_key: &dyn crate::keys::signer::Signer,
    now: OffsetDateTime,
) -> Result<Vec<u8>, CaError> {
    let root_der = read_pem(&dir.join("root.pem"), "CERTIFICATE")?;
    crate::keys::token::ensure_certified_key_for(
        root_key,
        &root_der,
        crate::keys::token::CaRole::Root,
    )?;
    let mut store = SqliteStore::open(&dir.join(ROOT_DB_FILE))?;
    let entries = store
        .revocations(now.unix_timestamp())?
        .into_iter()
        .map(|r| {
            Ok(RevokedEntry {
                revoked_at: OffsetDateTime::from_unix_timestamp(r.revoked_at).map_err(|_| {
                    CaError::TimeOutOfRange {
                        what: "a revocation time",
                    }
                })?,
                serial: r.serial,
                reason: r.reason,
            })
        })
        .collect::<Result<Vec<_>, CaError>>()?;
    let number = store.next_crl_number()?;
    sign_root_crl(
        &root_der,
        root_key,
        &entries,
        number,
        now,
        now + ROOT_CRL_VALIDITY,
    )
}
