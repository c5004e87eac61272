//! PKCS#10 requests built field by field (x509-cert), for the shapes `build_csr` never makes:
//! repeated subject attributes, several subjectAltName requests, PrintableString values.
#![allow(dead_code, clippy::unwrap_used)]

use der::asn1::{OctetString, PrintableString, SetOfVec};
use der::{Decode, Encode};
use iotsec_pki::{DeviceKey, KeyAlgorithm};
use x509_cert::attr::{Attribute, AttributeTypeAndValue};
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::{RdnSequence, RelativeDistinguishedName};
use x509_cert::request::{CertReq, CertReqInfo, ExtensionReq};

/// commonName.
pub const CN: &str = "2.5.4.3";
/// serialNumber.
pub const SERIAL: &str = "2.5.4.5";

/// One RDN holding one PrintableString attribute.
pub fn rdn(oid: &str, value: &str) -> RelativeDistinguishedName {
    let atv = AttributeTypeAndValue {
        oid: oid.parse().unwrap(),
        value: der::Any::encode_from(&PrintableString::new(value).unwrap()).unwrap(),
    };
    RelativeDistinguishedName(SetOfVec::try_from(vec![atv]).unwrap())
}

/// A subjectAltName extension with one dNSName.
pub fn san(dns: &str) -> Extension {
    let names = SubjectAltName(vec![GeneralName::DnsName(
        dns.to_string().try_into().unwrap(),
    )]);
    Extension {
        extn_id: "2.5.29.17".parse().unwrap(),
        critical: false,
        extn_value: OctetString::new(names.to_der().unwrap()).unwrap(),
    }
}

/// An extensionRequest attribute carrying `exts`.
pub fn extension_request(exts: Vec<Extension>) -> Attribute {
    let oid: ObjectIdentifier = "1.2.840.113549.1.9.14".parse().unwrap();
    Attribute {
        oid,
        values: SetOfVec::try_from(vec![der::Any::encode_from(&ExtensionReq(exts)).unwrap()])
            .unwrap(),
    }
}

/// A CSR with these subject RDNs and request attributes, self-signed with an Ed25519 key.
pub fn csr(subject: Vec<RelativeDistinguishedName>, attributes: Vec<Attribute>) -> Vec<u8> {
    let key = DeviceKey::from_secret_bytes(KeyAlgorithm::Ed25519, &[7; 32]).unwrap();
    csr_by(&key, subject, attributes, None)
}

/// A CSR signed by `key`, whose signatureAlgorithm field is `alg` (or the key's own).
pub fn csr_by(
    key: &DeviceKey,
    subject: Vec<RelativeDistinguishedName>,
    attributes: Vec<Attribute>,
    alg: Option<x509_cert::spki::AlgorithmIdentifierOwned>,
) -> Vec<u8> {
    let info = CertReqInfo {
        version: x509_cert::request::Version::V1,
        subject: RdnSequence(subject),
        public_key: x509_cert::spki::SubjectPublicKeyInfoOwned::from_der(
            &key.public_key_der().unwrap(),
        )
        .unwrap(),
        attributes: SetOfVec::try_from(attributes).unwrap(),
    };
    let signature = key.sign(&info.to_der().unwrap()).unwrap();
    CertReq {
        info,
        algorithm: alg.unwrap_or_else(|| key.signature_algorithm()),
        signature: der::asn1::BitString::from_bytes(&signature).unwrap(),
    }
    .to_der()
    .unwrap()
}
