//! A CSR that names the device twice is refused: two commonNames or serialNumbers (consumers
//! disagree on which one is the identity) and two subjectAltName requests (only one was read).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use der::asn1::{OctetString, PrintableString, SetOfVec};
use der::{Decode, Encode};
use iotsec_pki::ca_error::CaError;
use iotsec_pki::csr_check::{SanEntry, verify_csr};
use iotsec_pki::{DeviceKey, KeyAlgorithm};
use x509_cert::attr::{Attribute, AttributeTypeAndValue};
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::{RdnSequence, RelativeDistinguishedName};
use x509_cert::request::{CertReq, CertReqInfo, ExtensionReq};

const CN: &str = "2.5.4.3";
const SERIAL: &str = "2.5.4.5";

fn rdn(oid: &str, value: &str) -> RelativeDistinguishedName {
    let atv = AttributeTypeAndValue {
        oid: oid.parse().unwrap(),
        value: der::Any::encode_from(&PrintableString::new(value).unwrap()).unwrap(),
    };
    RelativeDistinguishedName(SetOfVec::try_from(vec![atv]).unwrap())
}

fn san(dns: &str) -> Extension {
    let names = SubjectAltName(vec![GeneralName::DnsName(
        dns.to_string().try_into().unwrap(),
    )]);
    Extension {
        extn_id: "2.5.29.17".parse().unwrap(),
        critical: false,
        extn_value: OctetString::new(names.to_der().unwrap()).unwrap(),
    }
}

fn extension_request(exts: Vec<Extension>) -> Attribute {
    let oid: ObjectIdentifier = "1.2.840.113549.1.9.14".parse().unwrap();
    Attribute {
        oid,
        values: SetOfVec::try_from(vec![der::Any::encode_from(&ExtensionReq(exts)).unwrap()])
            .unwrap(),
    }
}

/// A CSR with these subject RDNs and request attributes, self-signed with an Ed25519 key.
fn csr(subject: Vec<RelativeDistinguishedName>, attributes: Vec<Attribute>) -> Vec<u8> {
    let key = DeviceKey::from_secret_bytes(KeyAlgorithm::Ed25519, &[7; 32]).unwrap();
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
        algorithm: key.signature_algorithm(),
        signature: der::asn1::BitString::from_bytes(&signature).unwrap(),
    }
    .to_der()
    .unwrap()
}

fn subject_refusal(der: &[u8]) -> Option<&'static str> {
    match verify_csr(der) {
        Err(CaError::SubjectNotAllowed { reason }) => Some(reason),
        _ => None,
    }
}

#[test]
fn one_name_of_each_kind_is_accepted() {
    let der = csr(
        vec![rdn(CN, "sensor-01"), rdn(SERIAL, "SN1")],
        vec![extension_request(vec![san("sensor-01.example")])],
    );
    let v = verify_csr(&der).unwrap();
    assert_eq!(v.subject.len(), 2);
    assert_eq!(v.sans, vec![SanEntry::Dns("sensor-01.example".into())]);
}

#[test]
fn a_second_common_name_is_refused() {
    let der = csr(vec![rdn(CN, "sensor-01"), rdn(CN, "admin")], vec![]);
    assert_eq!(
        subject_refusal(&der),
        Some("commonName or serialNumber repeated")
    );
}

#[test]
fn a_second_serial_number_is_refused() {
    let der = csr(
        vec![rdn(CN, "sensor-01"), rdn(SERIAL, "SN1"), rdn(SERIAL, "SN2")],
        vec![],
    );
    assert_eq!(
        subject_refusal(&der),
        Some("commonName or serialNumber repeated")
    );
}

#[test]
fn a_second_subject_alt_name_request_is_refused() {
    let twice_in_one = csr(
        vec![rdn(CN, "sensor-01")],
        vec![extension_request(vec![
            san("sensor-01.example"),
            san("admin.example"),
        ])],
    );
    let in_two_requests = csr(
        vec![rdn(CN, "sensor-01")],
        vec![
            extension_request(vec![san("sensor-01.example")]),
            extension_request(vec![san("admin.example")]),
        ],
    );
    for der in [twice_in_one, in_two_requests] {
        assert!(matches!(
            verify_csr(&der),
            Err(CaError::SanNotAllowed { name }) if name == "subjectAltName requested twice"
        ));
    }
}
