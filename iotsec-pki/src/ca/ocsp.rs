//! OCSP responder (RFC 6960) for certificates of the issuing CA, answered from the database.
//!
//! Responses are signed by the issuing CA itself (RFC 6960 §4.2.2.2), identify the responder
//! by key hash, echo a request nonce (§4.4.1), and answer `unknown` for certificates of
//! another issuer or serials this CA never issued (§2.2). A service with several issuing
//! intermediates picks the one a request names with [`serves`]. Malformed requests get
//! `malformedRequest` (§2.3), never a panic.

use der::asn1::{BitString, GeneralizedTime, Null, OctetString};
use der::oid::ObjectIdentifier;
use der::{Decode, Encode};
use sha1::Digest;
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::pkix::CrlReason;
use x509_ocsp::{
    BasicOcspResponse, CertStatus, OcspGeneralizedTime, OcspRequest, OcspResponse, ResponderId,
    ResponseData, RevokedInfo, SingleResponse,
};

use crate::ca::error::CaError;
use crate::ca::issuer::IssuingCa;
use crate::ca::state::CaState;

/// `id-sha1` (RFC 3279 §2.2.1): the hash OpenSSL and most clients use in CertID.
pub const ID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
/// `id-sha256` (RFC 5754 §2.2).
pub const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// `id-pkix-ocsp-nonce` (RFC 6960 §4.4.1).
pub const ID_OCSP_NONCE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");
/// Hard cap on the CertIDs of one request.
pub const MAX_REQUESTS: usize = 16;
/// How long a response may be cached (nextUpdate - thisUpdate).
pub const RESPONSE_VALIDITY_SECS: u64 = 3600;

fn time(unix: i64) -> Result<OcspGeneralizedTime, CaError> {
    let secs = u64::try_from(unix).map_err(|_| CaError::TimeOutOfRange {
        what: "a time before 1970",
    })?;
    Ok(OcspGeneralizedTime(
        GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(secs))
            .map_err(CaError::Encoding)?,
    ))
}

fn reason(n: u8) -> Option<CrlReason> {
    Some(match n {
        1 => CrlReason::KeyCompromise,
        2 => CrlReason::CaCompromise,
        3 => CrlReason::AffiliationChanged,
        4 => CrlReason::Superseded,
        5 => CrlReason::CessationOfOperation,
        6 => CrlReason::CertificateHold,
        9 => CrlReason::PrivilegeWithdrawn,
        10 => CrlReason::AaCompromise,
        _ => return None,
    })
}

/// Answers a DER `OCSPRequest` with a DER `OCSPResponse`.
pub fn respond(ca: &CaState, request_der: &[u8], now_unix: i64) -> Vec<u8> {
    respond_for(ca, request_der, now_unix)
}

/// [`respond`] for any issuing CA (the EST core's).
pub fn respond_for(ca: &dyn IssuingCa, request_der: &[u8], now_unix: i64) -> Vec<u8> {
    let response = match build(ca, request_der, now_unix) {
        Ok(r) => r,
        Err(CaError::MalformedOcspRequest(_)) => OcspResponse::malformed_request(),
        Err(_) => OcspResponse::internal_error(),
    };
    encoded_or_internal_error(response.to_der())
}

/// `OCSPResponse ::= SEQUENCE { responseStatus internalError(2) }` (RFC 6960 §4.2.1), DER.
pub const INTERNAL_ERROR_DER: [u8; 5] = [0x30, 0x03, 0x0a, 0x01, 0x02];

/// The encoded response, or [`INTERNAL_ERROR_DER`] when encoding failed (never an empty body).
fn encoded_or_internal_error(encoded: der::Result<Vec<u8>>) -> Vec<u8> {
    encoded.unwrap_or_else(|_| INTERNAL_ERROR_DER.to_vec())
}

/// Decodes an `OCSPRequest` and checks its shape (1..=16 CertIDs); the outside-input half of
/// the responder, fuzzed as `pki_ocsp_request`.
pub fn parse_request(request_der: &[u8]) -> Result<OcspRequest, CaError> {
    let req = OcspRequest::from_der(request_der).map_err(CaError::MalformedOcspRequest)?;
    let n = req.tbs_request.request_list.len();
    if n == 0 || n > MAX_REQUESTS {
        return Err(CaError::MalformedOcspRequest(
            der::ErrorKind::Length {
                tag: der::Tag::Sequence,
            }
            .into(),
        ));
    }
    Ok(req)
}

/// The issuer name and key of `ca` as a CertID hashes them with `oid` (SHA-1 or SHA-256).
struct IssuerId {
    name_der: Vec<u8>,
    key: Vec<u8>,
}

impl IssuerId {
    fn of(ca: &dyn IssuingCa) -> Result<Self, CaError> {
        let int = x509_cert::Certificate::from_der(ca.authority().intermediate_der()).map_err(
            |error| CaError::MalformedCertificate {
                which: "intermediate certificate",
                error,
            },
        )?;
        Ok(IssuerId {
            name_der: int
                .tbs_certificate
                .subject
                .to_der()
                .map_err(CaError::Encoding)?,
            key: ca.authority().ca_public_key().to_vec(),
        })
    }

    /// Whether CertID `id` names this issuer (constant-time comparison of both hashes).
    fn matches(&self, id: &x509_ocsp::CertId) -> bool {
        use subtle::ConstantTimeEq;
        let oid = &id.hash_algorithm.oid;
        let (n, k) = if *oid == ID_SHA1 {
            (
                sha1::Sha1::digest(&self.name_der).to_vec(),
                sha1::Sha1::digest(&self.key).to_vec(),
            )
        } else if *oid == ID_SHA256 {
            (
                sha2::Sha256::digest(&self.name_der).to_vec(),
                sha2::Sha256::digest(&self.key).to_vec(),
            )
        } else {
            return false;
        };
        bool::from(n.as_slice().ct_eq(id.issuer_name_hash.as_bytes()))
            & bool::from(k.as_slice().ct_eq(id.issuer_key_hash.as_bytes()))
    }
}

/// Whether `ca` issued the subject of any CertID in `request` (by issuer name and key hash):
/// a service with several intermediates answers with the one that does, since an OCSP
/// response signed by a CA vouches only for that CA's certificates.
pub fn serves(ca: &CaState, request: &OcspRequest) -> Result<bool, CaError> {
    serves_for(ca, request)
}

/// [`serves`] for any issuing CA (the EST core's).
pub fn serves_for(ca: &dyn IssuingCa, request: &OcspRequest) -> Result<bool, CaError> {
    let issuer = IssuerId::of(ca)?;
    Ok(request
        .tbs_request
        .request_list
        .iter()
        .any(|r| issuer.matches(&r.req_cert)))
}

fn build(ca: &dyn IssuingCa, request_der: &[u8], now: i64) -> Result<OcspResponse, CaError> {
    let req = parse_request(request_der)?;
    let list = &req.tbs_request.request_list;
    let issuer = IssuerId::of(ca)?;
    let issuer_key = ca.authority().ca_public_key();
    let mut responses = Vec::with_capacity(list.len());
    for r in list {
        let id = &r.req_cert;
        let ours = issuer.matches(id);
        let serial = id.serial_number.as_bytes();
        let status = if !ours || ca.records().issued(serial)?.is_none() {
            CertStatus::unknown()
        } else if let Some(rev) = ca.records().revocation(serial)? {
            CertStatus::revoked(RevokedInfo {
                revocation_time: time(rev.revoked_at)?,
                revocation_reason: reason(rev.reason),
            })
        } else {
            CertStatus::Good(Null)
        };
        responses.push(SingleResponse {
            cert_id: id.clone(),
            cert_status: status,
            this_update: time(now)?,
            next_update: Some(time(now.saturating_add(RESPONSE_VALIDITY_SECS as i64))?),
            single_extensions: None,
        });
    }
    let nonce: Vec<_> = req
        .tbs_request
        .request_extensions
        .iter()
        .flatten()
        .filter(|e| e.extn_id == ID_OCSP_NONCE)
        .cloned()
        .collect();
    let key_hash =
        OctetString::new(sha1::Sha1::digest(issuer_key).to_vec()).map_err(CaError::Encoding)?;
    let data = ResponseData {
        version: Default::default(),
        responder_id: ResponderId::ByKey(key_hash),
        produced_at: time(now)?,
        responses,
        response_extensions: if nonce.is_empty() { None } else { Some(nonce) },
    };
    let tbs = data.to_der().map_err(CaError::Encoding)?;
    let sig = ca.authority().sign_as_ca(&tbs)?;
    let basic = BasicOcspResponse {
        tbs_response_data: data,
        signature_algorithm: AlgorithmIdentifierOwned {
            oid: ca.authority().ca_signature_oid(),
            parameters: None,
        },
        signature: BitString::from_bytes(&sig).map_err(CaError::Encoding)?,
        certs: None,
    };
    OcspResponse::successful(basic).map_err(CaError::Encoding)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn undecodable_requests_are_malformed_requests_not_csrs() {
        assert!(matches!(
            parse_request(b"not DER"),
            Err(CaError::MalformedOcspRequest(_))
        ));
        assert_eq!(
            parse_request(&[0x30, 0x00])
                .unwrap_err()
                .to_string()
                .split(':')
                .next(),
            Some("malformed OCSP request")
        );
    }

    #[test]
    fn internal_error_constant_is_the_encoded_internal_error_response() {
        assert_eq!(
            OcspResponse::internal_error().to_der().unwrap(),
            INTERNAL_ERROR_DER
        );
        let decoded = OcspResponse::from_der(&INTERNAL_ERROR_DER).unwrap();
        assert_eq!(
            decoded.response_status,
            x509_ocsp::OcspResponseStatus::InternalError
        );
        assert!(decoded.response_bytes.is_none());
    }

    #[test]
    fn a_failed_encoding_answers_internal_error_not_an_empty_body() {
        let failed: der::Result<Vec<u8>> = Err(der::ErrorKind::Overflow.into());
        assert_eq!(encoded_or_internal_error(failed), INTERNAL_ERROR_DER);
        assert_eq!(encoded_or_internal_error(Ok(vec![1, 2])), [1, 2]);
    }
}
