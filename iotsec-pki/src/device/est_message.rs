//! EST message bodies (RFC 7030 §4, with the RFC 8951 clarifications).
//!
//! - Requests: `application/pkcs10` bodies are base64 of the DER CSR (RFC 8951 §3.2).
//! - Responses: `application/pkcs7-mime; smime-type=certs-only` bodies are base64 of a CMS
//!   SignedData with no signers and no content (RFC 7030 §4.1.3, RFC 5652 §5).
//!
//! Parsing is tolerant in exactly the ways real servers differ (base64 with or without line
//! breaks, CR/LF, PEM armour, raw DER) and strict everywhere else: a hard size cap, a cap on
//! the number of certificates, trailing bytes rejected by the DER decoder, signers rejected.

use alloc::string::String;
use alloc::vec::Vec;

use base64ct::{Base64, Encoding};
use cms::cert::CertificateChoices;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{CertificateSet, EncapsulatedContentInfo, SignedData, SignerInfos};
use der::asn1::{ObjectIdentifier, SetOfVec};
use der::{Any, Decode, Encode};
use x509_cert::Certificate;

use crate::error::Error;

/// `id-signedData` (RFC 5652 §5.1).
pub const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
/// `id-data` (RFC 5652 §4).
pub const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");

/// Hard cap on an EST response body (bytes), checked before any decoding.
pub const MAX_BODY_LEN: usize = 256 * 1024;
/// Hard cap on the number of certificates in a certs-only response.
pub const MAX_CERTIFICATES: usize = 16;

/// How base64 bodies are laid out on the wire (a per-label server setting; see the crate
/// README: strongSwan's `pki --est` rejects line breaks, OpenSSL rejects lines of 1,024+).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Base64Layout {
    /// Lines of 64 characters, each ended by LF (the default, RFC 7468 style).
    #[default]
    Lines64,
    /// One line, ended by LF.
    OneLine,
}

/// Encodes bytes as base64 in the given layout, always ending with a newline.
pub fn encode_base64(bytes: &[u8], layout: Base64Layout) -> String {
    let b64 = Base64::encode_string(bytes);
    match layout {
        Base64Layout::OneLine => {
            let mut s = b64;
            s.push('\n');
            s
        }
        Base64Layout::Lines64 => {
            let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 1);
            for (i, c) in b64.chars().enumerate() {
                if i > 0 && i % 64 == 0 {
                    out.push('\n');
                }
                out.push(c);
            }
            out.push('\n');
            out
        }
    }
}

/// Encodes a DER CSR as an `application/pkcs10` request body (RFC 8951 §3.2).
pub fn encode_csr_body(csr_der: &[u8], layout: Base64Layout) -> String {
    encode_base64(csr_der, layout)
}

/// Decodes a base64 body, ignoring ASCII whitespace anywhere (RFC 8951 §3.1: transfer
/// encoding is base64, line breaks are not significant).
pub fn decode_base64_body(body: &[u8]) -> Result<Vec<u8>, Error> {
    if body.len() > MAX_BODY_LEN {
        return Err(Error::BodyTooLarge {
            len: body.len(),
            max: MAX_BODY_LEN,
        });
    }
    let compact: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if compact.is_empty() {
        return Err(Error::NotBase64);
    }
    Base64::decode_vec(core::str::from_utf8(&compact).map_err(|_| Error::NotBase64)?)
        .map_err(|_| Error::NotBase64)
}

/// What an EST body decodes to before the CMS layer.
enum Payload {
    Pkcs7(Vec<u8>),
    Certificate(Vec<u8>),
}

fn payload(body: &[u8]) -> Result<Payload, Error> {
    if body.len() > MAX_BODY_LEN {
        return Err(Error::BodyTooLarge {
            len: body.len(),
            max: MAX_BODY_LEN,
        });
    }
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    let trimmed = body.get(start..).unwrap_or_default();
    if trimmed.starts_with(b"-----BEGIN") {
        let (label, der) = pem_rfc7468::decode_vec(trimmed).map_err(|_| Error::NotBase64)?;
        return match label {
            "PKCS7" | "CMS" => Ok(Payload::Pkcs7(der)),
            "CERTIFICATE" => Ok(Payload::Certificate(der)),
            _ => Err(Error::UnexpectedPemLabel),
        };
    }
    match decode_base64_body(trimmed) {
        Ok(der) => Ok(Payload::Pkcs7(der)),
        // Raw DER (a SEQUENCE) is tolerated: some servers ignore RFC 8951.
        Err(Error::NotBase64) if trimmed.first() == Some(&0x30) => {
            Ok(Payload::Pkcs7(trimmed.to_vec()))
        }
        Err(e) => Err(e),
    }
}

/// Parses a certs-only response (`/cacerts`, `/simpleenroll`, `/simplereenroll`) into its
/// certificates, in the order the server sent them.
pub fn parse_certs_only(body: &[u8]) -> Result<Vec<Certificate>, Error> {
    match payload(body)? {
        Payload::Certificate(der) => Ok(alloc::vec![Certificate::from_der(&der)?]),
        Payload::Pkcs7(der) => parse_certs_only_der(&der),
    }
}

/// Parses the DER of a certs-only CMS message.
pub fn parse_certs_only_der(der_bytes: &[u8]) -> Result<Vec<Certificate>, Error> {
    let ci = ContentInfo::from_der(der_bytes)?;
    if ci.content_type != ID_SIGNED_DATA {
        return Err(Error::NotSignedData {
            content_type: ci.content_type,
        });
    }
    let sd: SignedData = ci.content.decode_as()?;
    let signers = sd.signer_infos.0.len();
    if signers != 0 || sd.encap_content_info.econtent.is_some() {
        return Err(Error::NotCertsOnly { signers });
    }
    let Some(set) = sd.certificates else {
        return Err(Error::NoCertificates);
    };
    let count = set.0.len();
    if count == 0 {
        return Err(Error::NoCertificates);
    }
    if count > MAX_CERTIFICATES {
        return Err(Error::TooManyCertificates {
            count,
            max: MAX_CERTIFICATES,
        });
    }
    let mut out = Vec::with_capacity(count);
    for choice in set.0.into_vec() {
        match choice {
            CertificateChoices::Certificate(c) => out.push(c),
            CertificateChoices::Other(_) => return Err(Error::UnsupportedCertificateChoice),
        }
    }
    Ok(out)
}

/// Encodes certificates (DER) as a degenerate certs-only SignedData (RFC 7030 §4.1.3).
pub fn encode_certs_only_der(certs_der: &[&[u8]]) -> Result<Vec<u8>, Error> {
    let mut set = SetOfVec::new();
    for der_bytes in certs_der {
        set.insert(CertificateChoices::Certificate(Certificate::from_der(
            der_bytes,
        )?))?;
    }
    let sd = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::new(),
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: ID_DATA,
            econtent: None,
        },
        certificates: Some(CertificateSet(set)),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::new()),
    };
    let ci = ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(&sd)?,
    };
    Ok(ci.to_der()?)
}

/// Encodes certificates as a base64 certs-only response body in the given layout.
pub fn encode_certs_only_body(certs_der: &[&[u8]], layout: Base64Layout) -> Result<String, Error> {
    Ok(encode_base64(&encode_certs_only_der(certs_der)?, layout))
}
