//! The device's check of what the CA sent back (RFC 7030 §4.2.3: the client must accept only
//! the certificate it asked for): an issued leaf is taken only when it certifies the device's
//! own key and names exactly what the device requested (RFC 5280 §4.1.2.6 subject,
//! §4.2.1.6 subjectAltName), or, on a renewal, exactly what the current certificate names.
//!
//! A CA or a man in the middle handing a device somebody else's certificate, or its own with
//! another name, is refused here, before the device writes anything.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use der::asn1::{PrintableStringRef, Utf8StringRef};
use der::{Decode, Encode};
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

use crate::device::csr::{CsrRequest, DeviceName, ID_AT_COMMON_NAME, ID_CE_SUBJECT_ALT_NAME};
use crate::device::key::DeviceKey;

/// What the issued leaf must name.
#[derive(Debug, Clone, Copy)]
pub enum ExpectedLeaf<'a> {
    /// A new enrollment: exactly the request's common name, and exactly its dNSName and URI
    /// subjectAltName entries (in any order; a DevID CA may add its serialNumber and
    /// hardwareModuleName, which are not compared).
    Requested(&'a CsrRequest<'a>),
    /// A renewal or rekey (RFC 7030 §4.2.2): the Subject and subjectAltName of the current
    /// certificate (DER), byte for byte.
    SameAs(&'a [u8]),
}

/// Why an issued leaf is not the certificate the device asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LeafMismatch {
    /// The issued certificate (or, on a renewal, the current one) is not DER X.509.
    #[error("the issued certificate does not decode")]
    Undecodable,
    /// The certificate certifies another public key than the device's.
    #[error("the issued certificate certifies another key")]
    OtherKey,
    /// A renewal whose certificate has another Subject or subjectAltName than the current one.
    #[error("the issued certificate changes the Subject or SAN")]
    ChangedNames,
    /// The subject's common names are not exactly the one requested.
    #[error("the issued certificate's CN is {got:?}, not {expected:?}")]
    CommonName {
        /// The common names in the certificate.
        got: Vec<String>,
        /// The one requested.
        expected: String,
    },
    /// The subjectAltName extension is not DER.
    #[error("the issued certificate's SAN does not decode")]
    SanUndecodable,
    /// The dNSName / URI entries are not the ones requested.
    #[error(
        "the issued certificate names DNS {dns:?} URI {uri:?}, not the requested DNS \
         {expected_dns:?} URI {expected_uri:?}"
    )]
    Names {
        /// dNSNames in the certificate (sorted).
        dns: Vec<String>,
        /// URIs in the certificate (sorted).
        uri: Vec<String>,
        /// dNSNames requested.
        expected_dns: Vec<String>,
        /// URIs requested.
        expected_uri: Vec<String>,
    },
}

impl LeafMismatch {
    /// A stable identifier of the mismatch, for logs and machine-readable reports.
    pub fn code(&self) -> &'static str {
        match self {
            LeafMismatch::Undecodable => "leaf-undecodable",
            LeafMismatch::OtherKey => "leaf-other-key",
            LeafMismatch::ChangedNames => "leaf-changed-names",
            LeafMismatch::CommonName { .. } => "leaf-common-name",
            LeafMismatch::SanUndecodable => "leaf-san-undecodable",
            LeafMismatch::Names { .. } => "leaf-names",
        }
    }

    /// Always a refusal: the device does not take the certificate.
    pub fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::Refusal
    }
}

/// Accepts `leaf` (DER) only when it certifies `key` and names what `expected` says.
pub fn check_issued_leaf(
    leaf: &[u8],
    key: &DeviceKey,
    expected: &ExpectedLeaf<'_>,
) -> Result<(), LeafMismatch> {
    let cert = Certificate::from_der(leaf).map_err(|_| LeafMismatch::Undecodable)?;
    let spki = cert.tbs_certificate.subject_public_key_info.to_der().ok();
    if spki.is_none() || spki != key.public_key_der().ok() {
        return Err(LeafMismatch::OtherKey);
    }
    match expected {
        ExpectedLeaf::SameAs(current) => {
            let old = Certificate::from_der(current).map_err(|_| LeafMismatch::Undecodable)?;
            if cert.tbs_certificate.subject != old.tbs_certificate.subject
                || san_of(&cert) != san_of(&old)
            {
                return Err(LeafMismatch::ChangedNames);
            }
            Ok(())
        }
        ExpectedLeaf::Requested(request) => {
            let cns = common_names(&cert);
            if cns.len() != 1 || cns.first().map(String::as_str) != Some(request.common_name) {
                return Err(LeafMismatch::CommonName {
                    got: cns,
                    expected: request.common_name.to_string(),
                });
            }
            let (mut dns, mut uri) = (Vec::new(), Vec::new());
            if let Some(san) = san_of(&cert) {
                let san =
                    SubjectAltName::from_der(san).map_err(|_| LeafMismatch::SanUndecodable)?;
                for name in san.0 {
                    match name {
                        GeneralName::DnsName(d) => dns.push(d.to_string()),
                        GeneralName::UniformResourceIdentifier(u) => uri.push(u.to_string()),
                        _ => {}
                    }
                }
            }
            let (mut expected_dns, mut expected_uri) = (Vec::new(), Vec::new());
            for name in request.device_names {
                match name {
                    DeviceName::Dns(d) => expected_dns.push(d.to_string()),
                    DeviceName::Uri(u) => expected_uri.push(u.to_string()),
                }
            }
            for v in [&mut dns, &mut uri, &mut expected_dns, &mut expected_uri] {
                v.sort();
            }
            if dns != expected_dns || uri != expected_uri {
                return Err(LeafMismatch::Names {
                    dns,
                    uri,
                    expected_dns,
                    expected_uri,
                });
            }
            Ok(())
        }
    }
}

/// The subjectAltName extension value of `cert`, if it has one.
fn san_of(cert: &Certificate) -> Option<&[u8]> {
    cert.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == ID_CE_SUBJECT_ALT_NAME)
        .map(|e| e.extn_value.as_bytes())
}

/// The subject's common names (UTF8String or PrintableString; another string type reads as
/// empty, which matches no request).
pub(crate) fn common_names(cert: &Certificate) -> Vec<String> {
    cert.tbs_certificate
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|atv| atv.oid == ID_AT_COMMON_NAME)
        .map(|atv| {
            atv.value
                .decode_as::<Utf8StringRef<'_>>()
                .map(|s| s.to_string())
                .or_else(|_| {
                    atv.value
                        .decode_as::<PrintableStringRef<'_>>()
                        .map(|s| s.to_string())
                })
                .unwrap_or_default()
        })
        .collect()
}
