//! RFC 5280 §6.1 path rules for an EK certificate chain beyond signatures, names and validity:
//! critical extensions (§4.2, §6.1.4 (o)), the key usage of CA certificates (§4.2.1.3, §6.1.4
//! (n)), path length constraints (§4.2.1.9, §6.1.4 (l)(m)), name constraints on directory names
//! (§4.2.1.10, §6.1.3 (b)(c)) and the EK certificate's own key usage (TCG EK Credential Profile:
//! keyEncipherment for an RSA EK, keyAgreement for an ECC EK).
//!
//! The path is given leaf first: index 0 is the EK certificate, the last one the trusted root.
//! The root's extensions are checked like the others (as OpenSSL and Go do): a constraint a
//! manufacturer put in its root is meant to hold.

use std::string::ToString;
use std::vec::Vec;

use der::{Decode, Tag, Tagged};
use x509_cert::Certificate;
use x509_cert::attr::{Attribute, AttributeTypeAndValue};
use x509_cert::ext::pkix::constraints::name::GeneralSubtree;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    BasicConstraints, CertificatePolicies, ExtendedKeyUsage, KeyUsage, NameConstraints,
    SubjectAltName,
};
use x509_cert::name::{Name, RelativeDistinguishedName};

use crate::identity::ek_error::EkCertError;

pub(crate) const OID_BASIC_CONSTRAINTS: &str = "2.5.29.19";
const OID_KEY_USAGE: &str = "2.5.29.15";
pub(crate) const OID_EKU: &str = "2.5.29.37";
pub(crate) const OID_SAN: &str = "2.5.29.17";
const OID_NAME_CONSTRAINTS: &str = "2.5.29.30";
const OID_CERTIFICATE_POLICIES: &str = "2.5.29.32";
const OID_SUBJECT_DIRECTORY_ATTRIBUTES: &str = "2.5.29.9";
/// PKCS #9 emailAddress in a subject: an rfc822Name for name constraints (RFC 5280 §4.2.1.10).
const OID_EMAIL_ADDRESS: &str = "1.2.840.113549.1.9.1";

/// What the EK's key is for, which decides the key usage bit its certificate must assert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EkKind {
    /// RSA EK: decrypts credential blobs (keyEncipherment).
    Rsa,
    /// ECC EK: ECDH for credential activation (keyAgreement).
    Ecc,
}

/// The DER value of `cert`'s extension `oid` (dotted), if present.
pub(crate) fn extension<'c>(cert: &'c Certificate, oid: &str) -> Option<&'c [u8]> {
    cert.tbs_certificate
        .extensions
        .as_ref()?
        .iter()
        .find(|e| e.extn_id.to_string() == oid)
        .map(|e| e.extn_value.as_bytes())
}

fn malformed(depth: usize, oid: &str) -> EkCertError {
    EkCertError::MalformedExtension {
        depth,
        oid: oid.to_string(),
    }
}

/// Every extension of the certificate at `depth`: at most one of each (RFC 5280 §4.2), the ones
/// we process must decode, and a critical one we do not process refuses the certificate.
///
/// Processed: basicConstraints, keyUsage, extendedKeyUsage, subjectAltName, nameConstraints,
/// certificatePolicies (any policy is accepted: no policy tree is built, so a CA that marks it
/// critical restricts nothing here) and subjectDirectoryAttributes (the TPM specification and
/// security attributes of an EK certificate, informational). Anything else that is critical
/// (policyConstraints, policyMappings, inhibitAnyPolicy, private extensions) is refused.
pub(crate) fn check_extensions(cert: &Certificate, depth: usize) -> Result<(), EkCertError> {
    let Some(extensions) = cert.tbs_certificate.extensions.as_ref() else {
        return Ok(());
    };
    for (i, ext) in extensions.iter().enumerate() {
        let oid = ext.extn_id.to_string();
        if extensions
            .iter()
            .take(i)
            .any(|earlier| earlier.extn_id == ext.extn_id)
        {
            return Err(EkCertError::DuplicateExtension { depth, oid });
        }
        let value = ext.extn_value.as_bytes();
        let decodes = match oid.as_str() {
            OID_BASIC_CONSTRAINTS => BasicConstraints::from_der(value).is_ok(),
            OID_KEY_USAGE => KeyUsage::from_der(value).is_ok(),
            OID_EKU => ExtendedKeyUsage::from_der(value).is_ok(),
            OID_SAN => SubjectAltName::from_der(value).is_ok(),
            OID_NAME_CONSTRAINTS => NameConstraints::from_der(value).is_ok(),
            OID_CERTIFICATE_POLICIES => CertificatePolicies::from_der(value).is_ok(),
            // x509-cert 0.2's SubjectDirectoryAttributes is a SEQUENCE OF AttributeTypeAndValue;
            // RFC 5280 §4.2.1.8 says SEQUENCE OF Attribute (type and a SET OF values).
            OID_SUBJECT_DIRECTORY_ATTRIBUTES => Vec::<Attribute>::from_der(value).is_ok(),
            _ if ext.critical => {
                return Err(EkCertError::UnknownCriticalExtension { depth, oid });
            }
            _ => true,
        };
        if !decodes {
            return Err(EkCertError::MalformedExtension { depth, oid });
        }
    }
    Ok(())
}

/// The EK certificate's keyUsage (TCG EK Credential Profile §3.2 "Key Usage"): present, and
/// asserting keyEncipherment for an RSA EK or keyAgreement for an ECC EK. Other bits are not
/// refused (RFC 5280 allows a superset; the TPM's own key attributes decide what the EK does).
pub(crate) fn check_ek_key_usage(leaf: &Certificate, kind: EkKind) -> Result<(), EkCertError> {
    let required = match kind {
        EkKind::Rsa => "keyEncipherment",
        EkKind::Ecc => "keyAgreement",
    };
    let ku = extension(leaf, OID_KEY_USAGE)
        .map(|v| KeyUsage::from_der(v).map_err(|_| malformed(0, OID_KEY_USAGE)))
        .transpose()?;
    let ok = ku.is_some_and(|ku| match kind {
        EkKind::Rsa => ku.key_encipherment(),
        EkKind::Ecc => ku.key_agreement(),
    });
    if ok {
        Ok(())
    } else {
        Err(EkCertError::EkKeyUsage { required })
    }
}

fn self_issued(cert: &Certificate) -> bool {
    cert.tbs_certificate.issuer == cert.tbs_certificate.subject
}

/// The CA rules over the whole path (leaf first, root last): keyUsage with keyCertSign where
/// present, pathLenConstraint, then name constraints.
pub(crate) fn check_path(path: &[&Certificate]) -> Result<(), EkCertError> {
    for (depth, ca) in path.iter().enumerate().skip(1) {
        if let Some(v) = extension(ca, OID_KEY_USAGE) {
            let ku = KeyUsage::from_der(v).map_err(|_| malformed(depth, OID_KEY_USAGE))?;
            if !ku.key_cert_sign() {
                return Err(EkCertError::CaKeyUsage { depth });
            }
        }
        if let Some(v) = extension(ca, OID_BASIC_CONSTRAINTS) {
            let bc = BasicConstraints::from_der(v)
                .map_err(|_| malformed(depth, OID_BASIC_CONSTRAINTS))?;
            if let Some(path_len) = bc.path_len_constraint {
                // Non-self-issued intermediates between this CA and the EK certificate.
                let below = path
                    .get(1..depth)
                    .unwrap_or_default()
                    .iter()
                    .filter(|c| !self_issued(c))
                    .count();
                if below > usize::from(path_len) {
                    return Err(EkCertError::PathLenExceeded {
                        depth,
                        path_len,
                        intermediates: below,
                    });
                }
            }
        }
    }
    for (depth, ca) in path.iter().enumerate().skip(1) {
        let Some(v) = extension(ca, OID_NAME_CONSTRAINTS) else {
            continue;
        };
        let nc =
            NameConstraints::from_der(v).map_err(|_| malformed(depth, OID_NAME_CONSTRAINTS))?;
        for (name_depth, cert) in path.iter().enumerate().take(depth) {
            // §6.1.3 (b): self-issued intermediates are exempt, the EK certificate never is.
            if name_depth > 0 && self_issued(cert) {
                continue;
            }
            check_names(&nc, cert, depth, name_depth)?;
        }
    }
    Ok(())
}

/// A name's form as RFC 5280 spells it, for errors.
fn form(name: &GeneralName) -> &'static str {
    match name {
        GeneralName::OtherName(_) => "otherName",
        GeneralName::Rfc822Name(_) => "rfc822Name",
        GeneralName::DnsName(_) => "dNSName",
        GeneralName::DirectoryName(_) => "directoryName",
        GeneralName::EdiPartyName(_) => "ediPartyName",
        GeneralName::UniformResourceIdentifier(_) => "uniformResourceIdentifier",
        GeneralName::IpAddress(_) => "iPAddress",
        GeneralName::RegisteredId(_) => "registeredID",
    }
}

/// Applies the name constraints of the CA at `depth` to the certificate at `name_depth`.
///
/// Only directoryName subtrees are evaluated. A subtree of another form fails closed as soon as
/// the certificate carries a name of that form (a subjectAltName entry, or an emailAddress in
/// the subject for rfc822Name); a subtree with minimum ≠ 0 or a maximum (which RFC 5280 forbids)
/// fails closed too. This holds whether or not the extension is marked critical.
fn check_names(
    nc: &NameConstraints,
    cert: &Certificate,
    depth: usize,
    name_depth: usize,
) -> Result<(), EkCertError> {
    let permitted = nc.permitted_subtrees.as_deref().unwrap_or_default();
    let excluded = nc.excluded_subtrees.as_deref().unwrap_or_default();
    if let Some(odd) = permitted
        .iter()
        .chain(excluded)
        .find(|s| s.minimum != 0 || s.maximum.is_some())
    {
        return Err(EkCertError::UnsupportedNameConstraint {
            depth,
            form: form(&odd.base),
        });
    }
    let constrained_forms = || permitted.iter().chain(excluded).map(|s| form(&s.base));

    let mut directory_names: Vec<&Name> = Vec::new();
    let subject = &cert.tbs_certificate.subject;
    // RFC 5280 §4.2.1.10: an empty subject (as in EK certificates) is not constrained.
    if !subject.0.is_empty() {
        directory_names.push(subject);
        let has_email = subject
            .0
            .iter()
            .flat_map(|rdn| rdn.0.iter())
            .any(|atv| atv.oid.to_string() == OID_EMAIL_ADDRESS);
        if has_email && constrained_forms().any(|f| f == "rfc822Name") {
            return Err(EkCertError::UnsupportedNameConstraint {
                depth,
                form: "rfc822Name",
            });
        }
    }
    let san = extension(cert, OID_SAN)
        .map(|v| SubjectAltName::from_der(v).map_err(|_| malformed(name_depth, OID_SAN)))
        .transpose()?;
    for name in san.iter().flat_map(|s| s.0.iter()) {
        match name {
            GeneralName::DirectoryName(dn) => directory_names.push(dn),
            other => {
                let f = form(other);
                if constrained_forms().any(|c| c == f) {
                    return Err(EkCertError::UnsupportedNameConstraint { depth, form: f });
                }
            }
        }
    }

    let permitted_dirs = directory_subtrees(permitted);
    let excluded_dirs = directory_subtrees(excluded);
    for dn in directory_names {
        let outside_permitted =
            !permitted_dirs.is_empty() && !permitted_dirs.iter().any(|base| within(dn, base));
        if outside_permitted || excluded_dirs.iter().any(|base| within(dn, base)) {
            return Err(EkCertError::NameConstraintViolation {
                depth,
                name_depth,
                name: dn.to_string(),
            });
        }
    }
    Ok(())
}

fn directory_subtrees(subtrees: &[GeneralSubtree]) -> Vec<&Name> {
    subtrees
        .iter()
        .filter_map(|s| match &s.base {
            GeneralName::DirectoryName(dn) => Some(dn),
            _ => None,
        })
        .collect()
}

/// Whether `name` lies in the subtree rooted at `base`: `base`'s RDNs are a prefix of `name`'s.
fn within(name: &Name, base: &Name) -> bool {
    base.0.len() <= name.0.len() && base.0.iter().zip(name.0.iter()).all(|(b, n)| rdn_eq(b, n))
}

fn rdn_eq(a: &RelativeDistinguishedName, b: &RelativeDistinguishedName) -> bool {
    a.0.len() == b.0.len() && a.0.iter().all(|x| b.0.iter().any(|y| atv_eq(x, y)))
}

/// RFC 5280 §7.1 compares names after RFC 4518 preparation; this applies its ASCII part to the
/// directory string types (BMPString decoded first, so a re-encoding cannot dodge an excluded
/// subtree): case folded, leading/trailing space dropped, inner runs of space collapsed, the
/// string type itself ignored. Other value types compare byte for byte, tag included.
fn atv_eq(a: &AttributeTypeAndValue, b: &AttributeTypeAndValue) -> bool {
    if a.oid != b.oid {
        return false;
    }
    match (directory_text(&a.value), directory_text(&b.value)) {
        (Some(x), Some(y)) => x == y,
        _ => a.value.tag() == b.value.tag() && a.value.value() == b.value.value(),
    }
}

fn directory_text(value: &der::Any) -> Option<Vec<u8>> {
    match value.tag() {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::TeletexString
        | Tag::VisibleString
        | Tag::NumericString => Some(prepared(value.value())),
        Tag::BmpString => {
            let units = value
                .value()
                .chunks(2)
                .map(|c| match c {
                    [hi, lo] => Some(u16::from_be_bytes([*hi, *lo])),
                    _ => None,
                })
                .collect::<Option<Vec<u16>>>()?;
            let text = char::decode_utf16(units)
                .collect::<Result<std::string::String, _>>()
                .ok()?;
            Some(prepared(text.as_bytes()))
        }
        _ => None,
    }
}

fn prepared(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    for word in value
        .split(|b| *b == b' ')
        .filter(|w| !w.is_empty())
        .map(<[u8]>::to_ascii_lowercase)
    {
        if !out.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(&word);
    }
    out
}
