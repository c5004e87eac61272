//! Server-side CSR acceptance (RFC 2986 §4.2, RFC 7030 §3.4): decode, check proof of possession,
//! and extract ONLY what a device may ask for: its public key, a plain subject, and its
//! subjectAltNames. Everything else in the request (basicConstraints, keyUsage, EKU, validity
//! wishes, any other extension) is ignored: the issuance profile belongs to the CA.

use std::net::IpAddr;

use der::asn1::{PrintableStringRef, Utf8StringRef};
use der::oid::ObjectIdentifier;
use der::{Decode, Encode, Tag, Tagged};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::request::{CertReq, ExtensionReq};

use crate::ca::error::CaError;
use crate::device::key::{ECDSA_WITH_SHA256, ID_EC_PUBLIC_KEY, ID_ED25519, KeyAlgorithm};

/// `secp256r1` named curve (RFC 5480 §2.1.1.1).
pub const ID_SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// `id-ce-subjectAltName` (RFC 5280 §4.2.1.6).
pub const ID_CE_SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
/// Hard cap on a CSR (bytes).
pub const MAX_CSR_LEN: usize = 16 * 1024;
/// Hard cap on subjectAltName entries.
pub const MAX_SANS: usize = 16;

/// Subject attribute types a device may request (RFC 4519).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectAttribute {
    /// commonName (2.5.4.3)
    CommonName,
    /// serialNumber (2.5.4.5), used by IEEE 802.1AR DevIDs
    SerialNumber,
    /// countryName (2.5.4.6)
    Country,
    /// organizationName (2.5.4.10)
    Organization,
    /// organizationalUnitName (2.5.4.11)
    OrganizationalUnit,
}

impl SubjectAttribute {
    fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        Some(match oid.to_string().as_str() {
            "2.5.4.3" => Self::CommonName,
            "2.5.4.5" => Self::SerialNumber,
            "2.5.4.6" => Self::Country,
            "2.5.4.10" => Self::Organization,
            "2.5.4.11" => Self::OrganizationalUnit,
            _ => return None,
        })
    }

    /// The attribute OID arcs.
    pub fn arcs(self) -> &'static [u64] {
        match self {
            Self::CommonName => &[2, 5, 4, 3],
            Self::SerialNumber => &[2, 5, 4, 5],
            Self::Country => &[2, 5, 4, 6],
            Self::Organization => &[2, 5, 4, 10],
            Self::OrganizationalUnit => &[2, 5, 4, 11],
        }
    }
}

/// One subject attribute with its string type preserved, so the issued certificate's subject
/// encodes to the same bytes as the request's (RFC 7030 §4.2.2 compares them on re-enroll).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectEntry {
    /// The attribute.
    pub attribute: SubjectAttribute,
    /// The value.
    pub value: String,
    /// True for PrintableString, false for UTF8String.
    pub printable: bool,
}

/// One requested subjectAltName.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SanEntry {
    /// dNSName
    Dns(String),
    /// uniformResourceIdentifier
    Uri(String),
    /// iPAddress
    Ip(IpAddr),
}

impl core::fmt::Display for SanEntry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SanEntry::Dns(d) => write!(f, "DNS:{d}"),
            SanEntry::Uri(u) => write!(f, "URI:{u}"),
            SanEntry::Ip(i) => write!(f, "IP:{i}"),
        }
    }
}

/// A CSR whose proof of possession verified, reduced to what the CA may take from it.
#[derive(Debug, Clone)]
pub struct VerifiedCsr {
    /// DER of the subject Name exactly as requested.
    pub subject_der: Vec<u8>,
    /// The subject attributes, in order.
    pub subject: Vec<SubjectEntry>,
    /// The requested subjectAltNames, in order.
    pub sans: Vec<SanEntry>,
    /// DER of the requested SubjectAltName extension value, if any.
    pub san_der: Option<Vec<u8>>,
    /// Key algorithm.
    pub key_algorithm: KeyAlgorithm,
    /// DER SubjectPublicKeyInfo.
    pub spki_der: Vec<u8>,
    /// The subjectPublicKey bits (SEC1 point or Ed25519 key).
    pub public_key: Vec<u8>,
    /// challengePassword, if present.
    pub challenge_password: Option<String>,
}

fn subject_entries(req: &CertReq) -> Result<Vec<SubjectEntry>, CaError> {
    let mut out = Vec::new();
    for rdn in req.info.subject.0.iter() {
        if rdn.0.len() != 1 {
            return Err(CaError::SubjectNotAllowed {
                reason: "multi-valued RDN",
            });
        }
        for atv in rdn.0.iter() {
            let attribute =
                SubjectAttribute::from_oid(&atv.oid).ok_or(CaError::SubjectNotAllowed {
                    reason: "attribute type outside the profile",
                })?;
            let (value, printable) = match atv.value.tag() {
                Tag::PrintableString => (
                    atv.value
                        .decode_as::<PrintableStringRef<'_>>()
                        .map_err(CaError::MalformedCsr)?
                        .as_str()
                        .to_owned(),
                    true,
                ),
                Tag::Utf8String => (
                    atv.value
                        .decode_as::<Utf8StringRef<'_>>()
                        .map_err(CaError::MalformedCsr)?
                        .as_str()
                        .to_owned(),
                    false,
                ),
                _ => {
                    return Err(CaError::SubjectNotAllowed {
                        reason: "string type other than PrintableString/UTF8String",
                    });
                }
            };
            if value.is_empty() || value.len() > 64 || value.chars().any(char::is_control) {
                return Err(CaError::SubjectNotAllowed {
                    reason: "empty, over-long or control characters",
                });
            }
            out.push(SubjectEntry {
                attribute,
                value,
                printable,
            });
        }
    }
    let count = |a: SubjectAttribute| out.iter().filter(|e| e.attribute == a).count();
    if count(SubjectAttribute::CommonName) == 0 {
        return Err(CaError::SubjectNotAllowed {
            reason: "no commonName",
        });
    }
    // The identity attributes once each: with two, consumers disagree on which one names the
    // device (mosquitto's use_identity_as_username takes the first CN, Go's pkix.Name the
    // last); the CA/B Baseline Requirements' subject profile allows each once too.
    if count(SubjectAttribute::CommonName) > 1 || count(SubjectAttribute::SerialNumber) > 1 {
        return Err(CaError::SubjectNotAllowed {
            reason: "commonName or serialNumber repeated",
        });
    }
    Ok(out)
}

fn requested_sans(req: &CertReq) -> Result<(Vec<SanEntry>, Option<Vec<u8>>), CaError> {
    let mut found = None;
    for attr in req.info.attributes.iter() {
        if attr.oid != <ExtensionReq as der::oid::AssociatedOid>::OID {
            continue;
        }
        for value in attr.values.iter() {
            let exts: ExtensionReq = value.decode_as().map_err(CaError::MalformedCsr)?;
            for ext in exts.0 {
                if ext.extn_id != ID_CE_SUBJECT_ALT_NAME {
                    continue; // every other requested extension is ignored on purpose
                }
                // One subjectAltName request: with two, which names the device asked for is
                // ambiguous (RFC 5280 §4.2: an extension appears at most once).
                if found.is_some() {
                    return Err(CaError::SanNotAllowed {
                        name: "subjectAltName requested twice".into(),
                    });
                }
                let raw = ext.extn_value.as_bytes().to_vec();
                let san = SubjectAltName::from_der(&raw).map_err(CaError::MalformedCsr)?;
                if san.0.len() > MAX_SANS {
                    return Err(CaError::SanNotAllowed {
                        name: format!("{} entries", san.0.len()),
                    });
                }
                let mut out = Vec::new();
                for name in san.0 {
                    out.push(match name {
                        GeneralName::DnsName(d) => SanEntry::Dns(d.to_string()),
                        GeneralName::UniformResourceIdentifier(u) => SanEntry::Uri(u.to_string()),
                        GeneralName::IpAddress(ip) => {
                            let b = ip.as_bytes();
                            let addr = if let Ok(v4) = <[u8; 4]>::try_from(b) {
                                IpAddr::from(v4)
                            } else if let Ok(v6) = <[u8; 16]>::try_from(b) {
                                IpAddr::from(v6)
                            } else {
                                return Err(CaError::SanNotAllowed {
                                    name: "malformed iPAddress".into(),
                                });
                            };
                            SanEntry::Ip(addr)
                        }
                        other => {
                            return Err(CaError::SanNotAllowed {
                                name: format!("{other:?}"),
                            });
                        }
                    });
                }
                found = Some((out, Some(raw)));
            }
        }
    }
    Ok(found.unwrap_or((Vec::new(), None)))
}

/// Decodes a DER CSR, verifies its self-signature with ring, and extracts what the CA may use.
pub fn verify_csr(der_bytes: &[u8]) -> Result<VerifiedCsr, CaError> {
    if der_bytes.len() > MAX_CSR_LEN {
        return Err(CaError::MalformedCsr(der::ErrorKind::Overlength.into()));
    }
    let req = CertReq::from_der(der_bytes).map_err(CaError::MalformedCsr)?;
    let spki = &req.info.public_key;
    let key_oid = spki.algorithm.oid;
    let sig_oid = req.algorithm.oid;
    let public_key = spki
        .subject_public_key
        .as_bytes()
        .ok_or(CaError::CsrSignatureInvalid)?
        .to_vec();
    let key_algorithm = if key_oid == ID_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        if curve != Some(ID_SECP256R1) {
            return Err(CaError::UnsupportedAlgorithm { oid: key_oid });
        }
        if sig_oid != ECDSA_WITH_SHA256 || req.algorithm.parameters.is_some() {
            return Err(CaError::UnsupportedAlgorithm { oid: sig_oid });
        }
        KeyAlgorithm::P256
    } else if key_oid == ID_ED25519 {
        if sig_oid != ID_ED25519 {
            return Err(CaError::UnsupportedAlgorithm { oid: sig_oid });
        }
        KeyAlgorithm::Ed25519
    } else {
        return Err(CaError::UnsupportedAlgorithm { oid: key_oid });
    };
    let tbs = req.info.to_der().map_err(CaError::MalformedCsr)?;
    let sig = req
        .signature
        .as_bytes()
        .ok_or(CaError::CsrSignatureInvalid)?;
    if !crate::device::key::verify_signature(key_algorithm, &public_key, &tbs, sig) {
        return Err(CaError::CsrSignatureInvalid);
    }

    let subject = subject_entries(&req)?;
    let (sans, san_der) = requested_sans(&req)?;
    Ok(VerifiedCsr {
        subject_der: req.info.subject.to_der().map_err(CaError::MalformedCsr)?,
        subject,
        sans,
        san_der,
        key_algorithm,
        spki_der: spki.to_der().map_err(CaError::MalformedCsr)?,
        public_key,
        challenge_password: crate::device::csr::challenge_password(&req)?,
    })
}
