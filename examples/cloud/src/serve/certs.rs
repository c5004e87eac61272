//! What the service reads from a certificate (RFC 5280 §4.1): the subject CN (the device id),
//! the serial and the P-256 public key attestation evidence is pinned to.

use der::Decode;
use der::asn1::{PrintableStringRef, Utf8StringRef};
use iotsec_pki::store::hex_upper;
use x509_cert::Certificate;

/// id-at-commonName (X.520).
const CN: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("2.5.4.3");

/// The facts of one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFacts {
    /// Subject CN.
    pub cn: String,
    /// Serial, upper-case hex.
    pub serial: String,
    /// The subject's P-256 key as raw X||Y, when it is one.
    pub p256: Option<[u8; 64]>,
}

/// Reads `der`; `None` for anything that is not a certificate with exactly one CN.
pub fn facts(der: &[u8]) -> Option<CertFacts> {
    let cert = Certificate::from_der(der).ok()?;
    let tbs = &cert.tbs_certificate;
    let mut cns = tbs
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|atv| atv.oid == CN)
        .map(|atv| {
            atv.value
                .decode_as::<Utf8StringRef<'_>>()
                .map(|s| s.as_str().to_owned())
                .or_else(|_| {
                    atv.value
                        .decode_as::<PrintableStringRef<'_>>()
                        .map(|s| s.as_str().to_owned())
                })
                .ok()
        });
    let cn = cns.next()??;
    if cns.next().is_some() {
        return None;
    }
    let key = tbs.subject_public_key_info.subject_public_key.raw_bytes();
    let p256 = match key.split_first() {
        Some((0x04, xy)) => <[u8; 64]>::try_from(xy).ok(),
        _ => None,
    };
    Some(CertFacts {
        cn,
        serial: hex_upper(tbs.serial_number.as_bytes()),
        p256,
    })
}
