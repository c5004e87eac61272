//! EK certificate validation (TCG EK Credential Profile 2.5 §3.2: EKU tcg-kp-EKCertificate
//! 2.23.133.8.1, subjectAltName directoryName with tcg-at-tpmManufacturer 2.23.133.2.1,
//! tpmModel 2.23.133.2.2, tpmVersion 2.23.133.2.3), the chain up to a trusted root (RFC 5280
//! §6.1: signatures, issuer names, CA flags, and the validity period of every certificate on the
//! path at the appraisal time; EK certificates commonly carry 99991231235959Z, which is simply
//! a date far ahead), and the binding of the certificate to the EK the TPM presents (same
//! public key).
//!
//! On every certificate of the path, RFC 5280's structural rules apply too (see `ek_path`):
//! unprocessed critical extensions and duplicate extensions are refused, a CA's keyUsage must
//! allow keyCertSign, pathLenConstraint and directoryName name constraints are enforced, and the
//! EK certificate's keyUsage must match its key (keyEncipherment for RSA, keyAgreement for ECC).
//! No vendor quirk is known for these, so there is no switch for them.
//!
//! Known vendor quirks are refused by default and tolerated one by one through [`EkQuirks`].

use std::string::{String, ToString};
use std::vec::Vec;

use der::{Decode, Encode};
use p256::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, SubjectAltName};

pub use crate::identity::ek_error::EkCertError;
use crate::identity::ek_path::{self, EkKind, OID_BASIC_CONSTRAINTS, OID_EKU, OID_SAN, extension};
use crate::tpm::public::{PublicArea, PublicKey};

const OID_TCG_KP_EK_CERTIFICATE: &str = "2.23.133.8.1";
const OID_TPM_MANUFACTURER: &str = "2.23.133.2.1";
const OID_TPM_MODEL: &str = "2.23.133.2.2";
const OID_TPM_VERSION: &str = "2.23.133.2.3";
/// Longest chain walked.
pub const MAX_CHAIN: usize = 8;

/// Tolerances for certificates real TPM vendors ship.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EkQuirks {
    /// The certificate read from NV is followed by 0xFF filler up to the index size.
    pub allow_ff_padding: bool,
    /// The serial number INTEGER has redundant leading zero bytes (not DER).
    pub allow_non_minimal_serial: bool,
    /// No EKU extension (older certificates).
    pub allow_missing_eku: bool,
    /// A certificate on the path is outside its validity period. The EK outlives its
    /// certificate, so a fleet may choose to keep trusting a chain that has expired; each such
    /// certificate is then reported in [`EkIdentity::quirks_used`].
    pub allow_outside_validity: bool,
}

/// What a valid EK certificate says about the TPM.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EkIdentity {
    /// tcg-at-tpmManufacturer (e.g. `id:00001014`).
    pub manufacturer: String,
    /// tcg-at-tpmModel.
    pub model: String,
    /// tcg-at-tpmVersion.
    pub version: String,
    /// Serial number, hex.
    pub serial: String,
    /// Quirks that were needed.
    pub quirks_used: Vec<&'static str>,
}

/// Reads a DER TLV header: (header length, content length).
fn tlv(input: &[u8]) -> Option<(usize, usize)> {
    let first = *input.get(1)?;
    if first < 0x80 {
        return Some((2, usize::from(first)));
    }
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 3 {
        return None;
    }
    let mut len = 0usize;
    for i in 0..n {
        len = (len << 8) | usize::from(*input.get(2 + i)?);
    }
    Some((2 + n, len))
}

fn encode_len(len: usize, out: &mut Vec<u8>) {
    match len {
        0..=0x7f => out.push(len as u8),
        0x80..=0xff => out.extend_from_slice(&[0x81, len as u8]),
        _ => out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]),
    }
}

/// Splits a certificate into (TBS TLV bytes, whole certificate bytes) and what follows.
/// (TBS TLV, certificate TLV, trailing bytes).
type Split<'a> = (&'a [u8], &'a [u8], &'a [u8]);

fn split(der: &[u8]) -> Result<Split<'_>, EkCertError> {
    let bad = || EkCertError::Malformed("bad outer TLV".to_string());
    let (h, l) = tlv(der).ok_or_else(bad)?;
    let cert = der.get(..h + l).ok_or_else(bad)?;
    let rest = der.get(h + l..).ok_or_else(bad)?;
    let inner = cert.get(h..).ok_or_else(bad)?;
    let (th, tl) = tlv(inner).ok_or_else(bad)?;
    let tbs = inner.get(..th + tl).ok_or_else(bad)?;
    Ok((tbs, cert, rest))
}

/// Re-encodes a certificate whose serial INTEGER has redundant leading zeros, minimally.
fn minimize_serial(cert: &[u8]) -> Option<Vec<u8>> {
    let (h, _) = tlv(cert)?;
    let inner = cert.get(h..)?;
    let (th, tl) = tlv(inner)?;
    let tbs_body = inner.get(th..th + tl)?;
    let after_tbs = inner.get(th + tl..)?;
    // Optional [0] version.
    let mut at = 0;
    if *tbs_body.first()? == 0xa0 {
        let (vh, vl) = tlv(tbs_body)?;
        at = vh + vl;
    }
    let serial_tlv = tbs_body.get(at..)?;
    if *serial_tlv.first()? != 0x02 {
        return None;
    }
    let (sh, sl) = tlv(serial_tlv)?;
    let mut value = serial_tlv.get(sh..sh + sl)?;
    while value.len() > 1 && value.first() == Some(&0) && value.get(1).is_some_and(|b| *b < 0x80) {
        value = value.get(1..)?;
    }
    let mut new_tbs_body = tbs_body.get(..at)?.to_vec();
    new_tbs_body.push(0x02);
    encode_len(value.len(), &mut new_tbs_body);
    new_tbs_body.extend_from_slice(value);
    new_tbs_body.extend_from_slice(tbs_body.get(at + sh + sl..)?);
    let mut new_inner = std::vec![0x30];
    encode_len(new_tbs_body.len(), &mut new_inner);
    new_inner.extend_from_slice(&new_tbs_body);
    new_inner.extend_from_slice(after_tbs);
    let mut out = std::vec![0x30];
    encode_len(new_inner.len(), &mut out);
    out.extend_from_slice(&new_inner);
    Some(out)
}

struct Parsed<'a> {
    cert: Certificate,
    tbs: &'a [u8],
}

fn parse<'a>(
    der: &'a [u8],
    quirks: &EkQuirks,
    used: &mut Vec<&'static str>,
) -> Result<Parsed<'a>, EkCertError> {
    let (tbs, cert_bytes, rest) = split(der)?;
    if !rest.is_empty() {
        let all_ff = rest.iter().all(|b| *b == 0xff);
        if !(all_ff && quirks.allow_ff_padding) {
            return Err(EkCertError::TrailingBytes {
                count: rest.len(),
                all_ff,
            });
        }
        used.push("ff_padding");
    }
    match Certificate::from_der(cert_bytes) {
        Ok(cert) => Ok(Parsed { cert, tbs }),
        Err(e) => {
            let fixed = minimize_serial(cert_bytes).filter(|f| f.as_slice() != cert_bytes);
            match fixed.and_then(|f| Certificate::from_der(&f).ok()) {
                Some(cert) if quirks.allow_non_minimal_serial => {
                    used.push("non_minimal_serial");
                    Ok(Parsed { cert, tbs })
                }
                Some(_) => Err(EkCertError::NonMinimalSerial),
                None => Err(EkCertError::Malformed(e.to_string())),
            }
        }
    }
}

/// Verifies `signature` over `tbs` with the key in `issuer`.
fn verify_signed(
    issuer: &Certificate,
    alg: &str,
    tbs: &[u8],
    signature: &[u8],
) -> Result<bool, EkCertError> {
    use p256::ecdsa::signature::Verifier;
    let spki = issuer
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| EkCertError::Malformed(e.to_string()))?;
    Ok(match alg {
        "1.2.840.10045.4.3.2" | "1.2.840.10045.4.3.3" => {
            if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_der(&spki) {
                let Ok(sig) = p256::ecdsa::DerSignature::from_bytes(signature) else {
                    return Ok(false);
                };
                if alg.ends_with(".2") {
                    k.verify(tbs, &sig).is_ok()
                } else {
                    use p256::ecdsa::signature::hazmat::PrehashVerifier;
                    let digest = crate::tpm::algorithm::HashAlg::Sha384.digest(&[tbs]);
                    p256::ecdsa::Signature::try_from(sig)
                        .is_ok_and(|s| k.verify_prehash(digest.as_bytes(), &s).is_ok())
                }
            } else if let Ok(k) = p384::ecdsa::VerifyingKey::from_public_key_der(&spki) {
                let Ok(sig) = p384::ecdsa::DerSignature::from_bytes(signature) else {
                    return Ok(false);
                };
                use p384::ecdsa::signature::hazmat::PrehashVerifier;
                let h = if alg.ends_with(".2") {
                    crate::tpm::algorithm::HashAlg::Sha256
                } else {
                    crate::tpm::algorithm::HashAlg::Sha384
                };
                let digest = h.digest(&[tbs]);
                p384::ecdsa::Signature::try_from(sig)
                    .is_ok_and(|s| k.verify_prehash(digest.as_bytes(), &s).is_ok())
            } else {
                return Err(EkCertError::UnsupportedAlgorithm(alg.to_string()));
            }
        }
        "1.2.840.113549.1.1.11" | "1.2.840.113549.1.1.12" => {
            let k = rsa::RsaPublicKey::from_public_key_der(&spki)
                .map_err(|_| EkCertError::UnsupportedAlgorithm(alg.to_string()))?;
            if alg.ends_with(".11") {
                let d = crate::tpm::algorithm::HashAlg::Sha256.digest(&[tbs]);
                k.verify(
                    rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                    d.as_bytes(),
                    signature,
                )
                .is_ok()
            } else {
                let d = crate::tpm::algorithm::HashAlg::Sha384.digest(&[tbs]);
                k.verify(
                    rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
                    d.as_bytes(),
                    signature,
                )
                .is_ok()
            }
        }
        other => return Err(EkCertError::UnsupportedAlgorithm(other.to_string())),
    })
}

fn ek_matches(cert: &Certificate, ek: &PublicArea<'_>) -> Result<bool, EkCertError> {
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| EkCertError::Malformed(e.to_string()))?;
    let pad = |v: &[u8], n: usize| {
        crate::wire::left_pad::<48>(v).map(|a| a.get(48 - n..).map(<[u8]>::to_vec))
    };
    Ok(match ek.key {
        PublicKey::Ecc { curve, x, y } => {
            let n = curve.field_len();
            let point = match (
                p256::PublicKey::from_public_key_der(&spki),
                p384::PublicKey::from_public_key_der(&spki),
            ) {
                (Ok(k), _) => p256::EncodedPoint::from(k).as_bytes().to_vec(),
                (_, Ok(k)) => p384::EncodedPoint::from(k).as_bytes().to_vec(),
                _ => return Ok(false),
            };
            let mut want = std::vec![4u8];
            match (pad(x, n).flatten(), pad(y, n).flatten()) {
                (Some(x), Some(y)) => {
                    want.extend_from_slice(&x);
                    want.extend_from_slice(&y);
                }
                _ => return Ok(false),
            }
            point == want
        }
        PublicKey::Rsa {
            modulus, exponent, ..
        } => match rsa::RsaPublicKey::from_public_key_der(&spki) {
            Ok(k) => {
                k.n().to_bytes_be() == modulus
                    && k.e().to_bytes_be() == rsa::BigUint::from(exponent).to_bytes_be()
            }
            Err(_) => false,
        },
    })
}

fn tpm_identity(cert: &Certificate) -> Option<(String, String, String)> {
    let san = SubjectAltName::from_der(extension(cert, OID_SAN)?).ok()?;
    for name in san.0 {
        if let GeneralName::DirectoryName(dn) = name {
            let (mut m, mut mo, mut v) = (None, None, None);
            for rdn in dn.0.iter() {
                for atv in rdn.0.iter() {
                    let text = String::from_utf8_lossy(atv.value.value()).into_owned();
                    match atv.oid.to_string().as_str() {
                        OID_TPM_MANUFACTURER => m = Some(text),
                        OID_TPM_MODEL => mo = Some(text),
                        OID_TPM_VERSION => v = Some(text),
                        _ => {}
                    }
                }
            }
            if let (Some(m), Some(mo), Some(v)) = (m, mo, v) {
                return Some((m, mo, v));
            }
        }
    }
    None
}

/// Validates an EK certificate (DER, as read from the TPM's NV index) for the EK `ek`, through
/// `intermediates` (DER) to one of `roots` (DER, trusted as given), now.
pub fn validate_ek_certificate(
    ek_cert: &[u8],
    ek: &PublicArea<'_>,
    intermediates: &[&[u8]],
    roots: &[&[u8]],
    quirks: &EkQuirks,
) -> Result<EkIdentity, EkCertError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    validate_ek_certificate_at(ek_cert, ek, intermediates, roots, quirks, now)
}

/// [`validate_ek_certificate`] at the time `at` (unix seconds): every certificate on the path,
/// the trusted root included, must be within its validity period then.
pub fn validate_ek_certificate_at(
    ek_cert: &[u8],
    ek: &PublicArea<'_>,
    intermediates: &[&[u8]],
    roots: &[&[u8]],
    quirks: &EkQuirks,
    at: u64,
) -> Result<EkIdentity, EkCertError> {
    let mut used = Vec::new();
    let leaf = parse(ek_cert, quirks, &mut used)?;
    check_validity(&leaf.cert, 0, at, quirks, &mut used)?;
    ek_path::check_extensions(&leaf.cert, 0)?;
    let cert = &leaf.cert;
    match extension(cert, OID_EKU).map(ExtendedKeyUsage::from_der) {
        Some(Ok(eku))
            if eku
                .0
                .iter()
                .any(|o| o.to_string() == OID_TCG_KP_EK_CERTIFICATE) => {}
        None if quirks.allow_missing_eku => used.push("missing_eku"),
        _ => return Err(EkCertError::NotAnEkCertificate),
    }
    let (manufacturer, model, version) =
        tpm_identity(cert).ok_or(EkCertError::MissingTpmIdentity)?;
    if !ek_matches(cert, ek)? {
        return Err(EkCertError::EkMismatch);
    }
    let kind = match ek.key {
        PublicKey::Rsa { .. } => EkKind::Rsa,
        PublicKey::Ecc { .. } => EkKind::Ecc,
    };
    ek_path::check_ek_key_usage(cert, kind)?;

    // Walk the chain: each certificate must be signed by an intermediate or a root whose
    // subject is its issuer.
    let no_quirks = EkQuirks::default();
    let mut inter = Vec::new();
    for i in intermediates {
        inter.push(parse(i, &no_quirks, &mut Vec::new())?);
    }
    let mut root_certs = Vec::new();
    for r in roots {
        root_certs.push(parse(r, &no_quirks, &mut Vec::new())?);
    }
    // Certificates above the EK certificate, in path order, once their signatures verify.
    let mut above: Vec<Parsed<'_>> = Vec::new();
    let mut current = &leaf;
    for depth in 0..MAX_CHAIN {
        let alg = current.cert.signature_algorithm.oid.to_string();
        let sig = current.cert.signature.raw_bytes();
        let issuer_name = &current.cert.tbs_certificate.issuer;
        for root in &root_certs {
            if &root.cert.tbs_certificate.subject == issuer_name
                && verify_signed(&root.cert, &alg, current.tbs, sig)?
            {
                check_validity(&root.cert, depth + 1, at, quirks, &mut used)?;
                ek_path::check_extensions(&root.cert, depth + 1)?;
                let mut path: Vec<&Certificate> = Vec::with_capacity(above.len() + 2);
                path.push(&leaf.cert);
                path.extend(above.iter().map(|p| &p.cert));
                path.push(&root.cert);
                ek_path::check_path(&path)?;
                return Ok(EkIdentity {
                    manufacturer,
                    model,
                    version,
                    serial: hex::encode(leaf_serial(ek_cert, quirks)?),
                    quirks_used: used,
                });
            }
        }
        let Some(pos) = inter.iter().position(|c| {
            &c.cert.tbs_certificate.subject == issuer_name
                && verify_signed(&c.cert, &alg, current.tbs, sig).unwrap_or(false)
        }) else {
            let issuer_known = inter
                .iter()
                .chain(root_certs.iter())
                .any(|c| &c.cert.tbs_certificate.subject == issuer_name);
            return Err(if issuer_known {
                EkCertError::BadSignature { depth }
            } else {
                EkCertError::Untrusted
            });
        };
        let next = inter.swap_remove(pos);
        let is_ca = extension(&next.cert, OID_BASIC_CONSTRAINTS)
            .and_then(|b| BasicConstraints::from_der(b).ok())
            .is_some_and(|b| b.ca);
        if !is_ca {
            return Err(EkCertError::IssuerNotCa { depth });
        }
        check_validity(&next.cert, depth + 1, at, quirks, &mut used)?;
        ek_path::check_extensions(&next.cert, depth + 1)?;
        above.push(next);
        current = above.last().ok_or(EkCertError::Untrusted)?;
    }
    Err(EkCertError::Untrusted)
}

/// Checks notBefore <= at <= notAfter (RFC 5280 §4.1.2.5: both inclusive).
fn check_validity(
    cert: &Certificate,
    depth: usize,
    at: u64,
    quirks: &EkQuirks,
    used: &mut Vec<&'static str>,
) -> Result<(), EkCertError> {
    let validity = &cert.tbs_certificate.validity;
    let not_before = validity.not_before.to_unix_duration().as_secs();
    let not_after = validity.not_after.to_unix_duration().as_secs();
    let problem = if at < not_before {
        Some(EkCertError::NotYetValid { depth, not_before })
    } else if at > not_after {
        Some(EkCertError::Expired { depth, not_after })
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(_) if quirks.allow_outside_validity => {
            if !used.contains(&"outside_validity") {
                used.push("outside_validity");
            }
            Ok(())
        }
        Some(e) => Err(e),
    }
}

fn leaf_serial(der: &[u8], quirks: &EkQuirks) -> Result<Vec<u8>, EkCertError> {
    let p = parse(der, quirks, &mut Vec::new())?;
    Ok(p.cert.tbs_certificate.serial_number.as_bytes().to_vec())
}

/// Reads a CA certificate given as PEM or DER (strict DER, nothing after it) and returns its
/// DER, so that a trust anchor or intermediate that does not parse is known before validation.
pub fn certificate_der(input: &[u8]) -> Result<Vec<u8>, EkCertError> {
    if input.starts_with(b"-----BEGIN") {
        let text = core::str::from_utf8(input)
            .map_err(|_| EkCertError::Malformed("PEM is not UTF-8".to_string()))?;
        return pem_to_der(text);
    }
    Certificate::from_der(input)
        .and_then(|c| c.to_der())
        .map_err(|e| EkCertError::Malformed(e.to_string()))
}

/// Decodes a PEM certificate to DER.
pub fn pem_to_der(pem: &str) -> Result<Vec<u8>, EkCertError> {
    use der::DecodePem;
    Certificate::from_pem(pem.as_bytes())
        .and_then(|c| c.to_der())
        .map_err(|e| EkCertError::Malformed(e.to_string()))
}
