//! PKCS#10 certification requests (RFC 2986) for device enrollment.
//!
//! The subject carries the device's common name (and optionally an organization); the
//! subjectAltName (RFC 5280 §4.2.1.6) carries the device id, requested through the PKCS#9
//! extensionRequest attribute (RFC 2985 §5.4.2); an optional challengePassword (RFC 2985 §5.4.1)
//! carries an enrollment secret or the RFC 9266 channel binding (RFC 7030 §3.5).
//!
//! The request is assembled from `x509-cert`'s ASN.1 types. `x509-cert` 0.2's `builder` feature
//! requires `std`, so it cannot be used on the device; this module does the same two steps
//! (encode `CertificationRequestInfo`, sign it) with the same types.

use alloc::string::String;
use alloc::vec::Vec;

use der::asn1::{
    Any, BitString, Ia5String, ObjectIdentifier, PrintableString, SetOfVec, Utf8StringRef,
};
use der::{Decode, Encode};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::attr::{Attribute, AttributeTypeAndValue};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::{AsExtension, Extension};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::request::{CertReq, CertReqInfo, ExtensionReq, Version};

use crate::device::key::DeviceKey;
use crate::error::Error;

/// `id-at-commonName` (RFC 4519 §2.3).
pub const ID_AT_COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
/// `id-at-organizationName` (RFC 4519 §2.19).
pub const ID_AT_ORGANIZATION_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
/// `pkcs-9-at-challengePassword` (RFC 2985 §5.4.1).
pub const ID_CHALLENGE_PASSWORD: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.7");

/// Upper bound of the common name and organization (RFC 5280 Appendix A `ub-common-name`).
pub const MAX_NAME_LEN: usize = 64;
/// Upper bound of a challengePassword (RFC 2985 `pkcs-9-ub-challengePassword`).
pub const MAX_CHALLENGE_PASSWORD_LEN: usize = 255;
/// Upper bound of one subjectAltName entry.
pub const MAX_SAN_LEN: usize = 253;

/// One subjectAltName entry naming the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceName<'a> {
    /// A dNSName, e.g. `dev-0001.fleet.example`.
    Dns(&'a str),
    /// A uniformResourceIdentifier, e.g. `urn:dev:serial:0001`.
    Uri(&'a str),
}

/// What a device asks the CA for. The CA decides what it grants.
#[derive(Debug, Clone, Copy, Default)]
pub struct CsrRequest<'a> {
    /// Subject common name (usually the device id).
    pub common_name: &'a str,
    /// Optional subject organization.
    pub organization: Option<&'a str>,
    /// subjectAltName entries (the device id).
    pub device_names: &'a [DeviceName<'a>],
    /// Optional challengePassword (enrollment secret or channel binding).
    pub challenge_password: Option<&'a str>,
}

fn check_len(field: &'static str, value: &str, max: usize) -> Result<(), Error> {
    if value.is_empty() || value.len() > max {
        return Err(Error::CsrField { field, max });
    }
    Ok(())
}

fn rdn(oid: ObjectIdentifier, value: &str) -> Result<RelativeDistinguishedName, Error> {
    let atv = AttributeTypeAndValue {
        oid,
        value: Any::encode_from(&Utf8StringRef::new(value)?)?,
    };
    Ok(RelativeDistinguishedName(SetOfVec::try_from(alloc::vec![
        atv
    ])?))
}

/// Builds the subject `Name` from a common name and an optional organization.
pub fn subject_name(common_name: &str, organization: Option<&str>) -> Result<Name, Error> {
    check_len("commonName", common_name, MAX_NAME_LEN)?;
    let mut rdns = Vec::new();
    if let Some(o) = organization {
        check_len("organizationName", o, MAX_NAME_LEN)?;
        rdns.push(rdn(ID_AT_ORGANIZATION_NAME, o)?);
    }
    rdns.push(rdn(ID_AT_COMMON_NAME, common_name)?);
    Ok(RdnSequence(rdns))
}

fn directory_string(value: &str) -> Result<Any, Error> {
    // PrintableString when it fits (what OpenSSL and libest emit), else UTF8String. A '?' is
    // PrintableString, but common CA stacks (rcgen's DER writer among them) cannot encode it
    // there, so it goes as UTF8String.
    match PrintableString::new(value) {
        Ok(p) if !value.contains('?') => Ok(Any::encode_from(&p)?),
        _ => Ok(Any::encode_from(&Utf8StringRef::new(value)?)?),
    }
}

/// Builds and signs a PKCS#10 request; returns its DER encoding.
pub fn build_csr(key: &DeviceKey, request: &CsrRequest<'_>) -> Result<Vec<u8>, Error> {
    let subject = subject_name(request.common_name, request.organization)?;
    let san = if request.device_names.is_empty() {
        None
    } else {
        let mut names = Vec::with_capacity(request.device_names.len());
        for name in request.device_names {
            names.push(match name {
                DeviceName::Dns(d) => {
                    check_len("subjectAltName dNSName", d, MAX_SAN_LEN)?;
                    GeneralName::DnsName(Ia5String::new(d)?)
                }
                DeviceName::Uri(u) => {
                    check_len("subjectAltName URI", u, MAX_SAN_LEN)?;
                    GeneralName::UniformResourceIdentifier(Ia5String::new(u)?)
                }
            });
        }
        Some(SubjectAltName(names).to_extension(&subject, &[])?)
    };
    assemble(key, subject, san, request.challenge_password)
}

/// Builds a re-enrollment request for `current` (RFC 7030 §4.2.2): the Subject and the
/// subjectAltName extension are copied byte for byte from the certificate being renewed;
/// `key` may be the same key (renew) or a new one (rekey).
pub fn build_renewal_csr(
    key: &DeviceKey,
    current: &x509_cert::Certificate,
    challenge_password: Option<&str>,
) -> Result<Vec<u8>, Error> {
    let subject = current.tbs_certificate.subject.clone();
    let san = current
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == ID_CE_SUBJECT_ALT_NAME)
        .map(|e| Extension {
            extn_id: e.extn_id,
            critical: e.critical,
            extn_value: e.extn_value.clone(),
        });
    assemble(key, subject, san, challenge_password)
}

/// `id-ce-subjectAltName` (RFC 5280 §4.2.1.6).
pub const ID_CE_SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");

fn assemble(
    key: &DeviceKey,
    subject: Name,
    san: Option<Extension>,
    challenge_password: Option<&str>,
) -> Result<Vec<u8>, Error> {
    let public_key = SubjectPublicKeyInfoOwned::from_der(&key.public_key_der()?)?;
    let mut attributes = SetOfVec::new();
    if let Some(ext) = san {
        attributes.insert(Attribute::try_from(ExtensionReq(alloc::vec![ext]))?)?;
    }
    if let Some(pw) = challenge_password {
        check_len("challengePassword", pw, MAX_CHALLENGE_PASSWORD_LEN)?;
        let mut values = SetOfVec::new();
        values.insert(directory_string(pw)?)?;
        attributes.insert(Attribute {
            oid: ID_CHALLENGE_PASSWORD,
            values,
        })?;
    }
    let info = CertReqInfo {
        version: Version::V1,
        subject,
        public_key,
        attributes,
    };
    let tbs = info.to_der()?;
    let signature = key.sign(&tbs)?;
    let req = CertReq {
        info,
        algorithm: key.signature_algorithm(),
        signature: BitString::from_bytes(&signature)?,
    };
    Ok(req.to_der()?)
}

/// Reads the challengePassword attribute of a request, if present (PrintableString or
/// UTF8String, RFC 2985 §5.4.1).
pub fn challenge_password(req: &CertReq) -> Result<Option<String>, Error> {
    for attr in req.info.attributes.iter() {
        if attr.oid != ID_CHALLENGE_PASSWORD {
            continue;
        }
        let mut values = attr.values.iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(Error::Der(
                der::ErrorKind::Value { tag: der::Tag::Set }.into(),
            ));
        };
        let s = if let Ok(p) = value.decode_as::<PrintableString>() {
            String::from(p.as_str())
        } else {
            let u: Utf8StringRef<'_> = value.decode_as()?;
            String::from(u.as_str())
        };
        return Ok(Some(s));
    }
    Ok(None)
}
