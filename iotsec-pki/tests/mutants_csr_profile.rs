//! The CSR checks and the issuance profile at their edges: each limit on and one past it, each
//! subject attribute and subjectAltName kind the profile reads, the key/signature pairs it
//! accepts, and the allow-list rules. Written against the mutants `cargo mutants` left alive in
//! `ca/csr_check.rs` and `ca/profile.rs` (FUZZING.md, "Mutation testing").
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod hand_csr;

use std::net::IpAddr;
use std::time::Duration;

use der::Encode;
use der::asn1::{Ia5String, OctetString, SetOfVec, Utf8StringRef};
use hand_csr::{CN, SERIAL, csr, csr_by, extension_request, rdn, san};
use iotsec_pki::ca_error::CaError;
use iotsec_pki::csr_check::{
    MAX_CSR_LEN, MAX_SANS, SanEntry, SubjectAttribute, SubjectEntry, verify_csr,
};
use iotsec_pki::profile::{SanRule, url_path};
use iotsec_pki::{DeviceKey, IssuanceProfile, KeyAlgorithm};
use x509_cert::attr::{Attribute, AttributeTypeAndValue};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::RelativeDistinguishedName;

fn subject_refusal(der: &[u8]) -> Option<&'static str> {
    match verify_csr(der) {
        Err(CaError::SubjectNotAllowed { reason }) => Some(reason),
        _ => None,
    }
}

fn san_refusal(der: &[u8]) -> Option<String> {
    match verify_csr(der) {
        Err(CaError::SanNotAllowed { name }) => Some(name),
        _ => None,
    }
}

fn atv(oid: &str, value: der::Any) -> AttributeTypeAndValue {
    AttributeTypeAndValue {
        oid: oid.parse().unwrap(),
        value,
    }
}

fn utf8_rdn(oid: &str, value: &str) -> RelativeDistinguishedName {
    let v = der::Any::encode_from(&Utf8StringRef::new(value).unwrap()).unwrap();
    RelativeDistinguishedName(SetOfVec::try_from(vec![atv(oid, v)]).unwrap())
}

fn sans_ext(names: Vec<GeneralName>) -> Extension {
    Extension {
        extn_id: "2.5.29.17".parse().unwrap(),
        critical: false,
        extn_value: OctetString::new(SubjectAltName(names).to_der().unwrap()).unwrap(),
    }
}

fn dns(name: &str) -> GeneralName {
    GeneralName::DnsName(Ia5String::new(name).unwrap())
}

fn ip(bytes: &[u8]) -> GeneralName {
    GeneralName::IpAddress(OctetString::new(bytes).unwrap())
}

/// An extension the profile ignores, carrying `len` bytes.
fn ignored_ext(len: usize) -> Extension {
    Extension {
        extn_id: "1.3.6.1.4.1.55555.1".parse().unwrap(),
        critical: false,
        extn_value: OctetString::new(vec![0x41; len]).unwrap(),
    }
}

fn p256() -> DeviceKey {
    DeviceKey::from_secret_bytes(KeyAlgorithm::P256, &[7; 32]).unwrap()
}

fn ed25519() -> DeviceKey {
    DeviceKey::from_secret_bytes(KeyAlgorithm::Ed25519, &[7; 32]).unwrap()
}

#[test]
fn every_subject_attribute_of_the_profile_is_read_with_its_string_type() {
    let der = csr(
        vec![
            utf8_rdn(CN, "sensor-01"),
            rdn(SERIAL, "SN1"),
            rdn("2.5.4.6", "DE"),
            utf8_rdn("2.5.4.10", "Acme"),
            rdn("2.5.4.11", "Plant 2"),
        ],
        vec![],
    );
    let entry = |attribute, value: &str, printable| SubjectEntry {
        attribute,
        value: value.into(),
        printable,
    };
    let v = verify_csr(&der).unwrap();
    assert_eq!(
        v.subject,
        vec![
            entry(SubjectAttribute::CommonName, "sensor-01", false),
            entry(SubjectAttribute::SerialNumber, "SN1", true),
            entry(SubjectAttribute::Country, "DE", true),
            entry(SubjectAttribute::Organization, "Acme", false),
            entry(SubjectAttribute::OrganizationalUnit, "Plant 2", true),
        ]
    );
    assert_eq!((v.sans, v.san_der), (vec![], None));
}

#[test]
fn attribute_oids_are_the_rfc_4519_ones() {
    use SubjectAttribute::*;
    let arcs: Vec<&[u64]> = [
        CommonName,
        SerialNumber,
        Country,
        Organization,
        OrganizationalUnit,
    ]
    .into_iter()
    .map(SubjectAttribute::arcs)
    .collect();
    assert_eq!(
        arcs,
        vec![
            &[2, 5, 4, 3][..],
            &[2, 5, 4, 5],
            &[2, 5, 4, 6],
            &[2, 5, 4, 10],
            &[2, 5, 4, 11]
        ]
    );
}

#[test]
fn subject_shapes_outside_the_profile_are_refused() {
    let cn = |v: &str| csr(vec![rdn(CN, v)], vec![]);
    assert!(verify_csr(&cn(&"a".repeat(64))).is_ok());
    let refused = "empty, over-long or control characters";
    assert_eq!(subject_refusal(&cn(&"a".repeat(65))), Some(refused));
    assert_eq!(
        subject_refusal(&csr(vec![utf8_rdn(CN, "")], vec![])),
        Some(refused)
    );
    assert_eq!(
        subject_refusal(&csr(vec![utf8_rdn(CN, "a\u{7}b")], vec![])),
        Some(refused)
    );
    assert_eq!(
        subject_refusal(&csr(vec![rdn(SERIAL, "SN1")], vec![])),
        Some("no commonName")
    );
    assert_eq!(
        subject_refusal(&csr(vec![rdn(CN, "a"), rdn("2.5.4.7", "Berlin")], vec![])),
        Some("attribute type outside the profile")
    );
    let ia5 = der::Any::encode_from(&Ia5String::new("a").unwrap()).unwrap();
    let ia5_rdn = RelativeDistinguishedName(SetOfVec::try_from(vec![atv(CN, ia5)]).unwrap());
    assert_eq!(
        subject_refusal(&csr(vec![ia5_rdn], vec![])),
        Some("string type other than PrintableString/UTF8String")
    );
    let two = RelativeDistinguishedName(
        SetOfVec::try_from(vec![
            atv(
                CN,
                der::Any::encode_from(&Utf8StringRef::new("a").unwrap()).unwrap(),
            ),
            atv(
                SERIAL,
                der::Any::encode_from(&Utf8StringRef::new("b").unwrap()).unwrap(),
            ),
        ])
        .unwrap(),
    );
    assert_eq!(
        subject_refusal(&csr(vec![two], vec![])),
        Some("multi-valued RDN")
    );
}

#[test]
fn subject_alt_names_of_each_kind_up_to_the_cap() {
    let der = csr(
        vec![rdn(CN, "d")],
        vec![extension_request(vec![
            ignored_ext(3),
            sans_ext(vec![
                dns("d.example"),
                GeneralName::UniformResourceIdentifier(Ia5String::new("urn:dev:1").unwrap()),
                ip(&[192, 0, 2, 1]),
                ip(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
            ]),
        ])],
    );
    let v = verify_csr(&der).unwrap();
    assert_eq!(
        v.sans,
        vec![
            SanEntry::Dns("d.example".into()),
            SanEntry::Uri("urn:dev:1".into()),
            SanEntry::Ip("192.0.2.1".parse::<IpAddr>().unwrap()),
            SanEntry::Ip("2001:db8::1".parse::<IpAddr>().unwrap()),
        ]
    );
    let shown: Vec<String> = v.sans.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "DNS:d.example",
            "URI:urn:dev:1",
            "IP:192.0.2.1",
            "IP:2001:db8::1"
        ]
    );
    // The extension value exactly as requested, for the re-enroll comparison.
    let expected = SubjectAltName(vec![
        dns("d.example"),
        GeneralName::UniformResourceIdentifier(Ia5String::new("urn:dev:1").unwrap()),
        ip(&[192, 0, 2, 1]),
        ip(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
    ])
    .to_der()
    .unwrap();
    assert_eq!(v.san_der, Some(expected));

    let many = |n: usize| {
        let names = (0..n).map(|i| dns(&format!("d{i}.example"))).collect();
        csr(
            vec![rdn(CN, "d")],
            vec![extension_request(vec![sans_ext(names)])],
        )
    };
    assert_eq!(verify_csr(&many(MAX_SANS)).unwrap().sans.len(), 16);
    assert_eq!(
        san_refusal(&many(MAX_SANS + 1)),
        Some("17 entries".to_owned())
    );
    let bad_ip = csr(
        vec![rdn(CN, "d")],
        vec![extension_request(vec![sans_ext(vec![ip(&[
            1, 2, 3, 4, 5,
        ])])])],
    );
    assert_eq!(san_refusal(&bad_ip), Some("malformed iPAddress".to_owned()));
    let mail = csr(
        vec![rdn(CN, "d")],
        vec![extension_request(vec![sans_ext(vec![
            GeneralName::Rfc822Name(Ia5String::new("a@b.example").unwrap()),
        ])])],
    );
    assert!(san_refusal(&mail).unwrap().starts_with("Rfc822Name("));
    // Attributes other than the extension request are not read as one.
    let challenge = Attribute {
        oid: "1.2.840.113549.1.9.7".parse().unwrap(),
        values: SetOfVec::try_from(vec![
            der::Any::encode_from(&Utf8StringRef::new("pw").unwrap()).unwrap(),
        ])
        .unwrap(),
    };
    let v = verify_csr(&csr(
        vec![rdn(CN, "d")],
        vec![challenge, extension_request(vec![san("d.example")])],
    ))
    .unwrap();
    assert_eq!(v.sans, vec![SanEntry::Dns("d.example".into())]);
    assert_eq!(v.challenge_password.as_deref(), Some("pw"));
}

#[test]
fn a_request_of_exactly_the_size_cap_is_read_one_byte_more_is_not() {
    let sized = |pad: usize| {
        csr(
            vec![rdn(CN, "d")],
            vec![extension_request(vec![ignored_ext(pad)])],
        )
    };
    // The DER lengths sit in the two-byte form around 16 KiB, so the size follows the pad.
    let base = sized(15_000).len();
    let exact = sized(15_000 + MAX_CSR_LEN - base);
    assert_eq!(exact.len(), 16 * 1024);
    assert!(verify_csr(&exact).is_ok());
    let over = sized(15_001 + MAX_CSR_LEN - base);
    assert_eq!(over.len(), 16 * 1024 + 1);
    assert!(matches!(verify_csr(&over), Err(CaError::MalformedCsr(_))));
}

#[test]
fn keys_and_signature_algorithms_pair_exactly() {
    let subject = || vec![rdn(CN, "d")];
    let p = verify_csr(&csr_by(&p256(), subject(), vec![], None)).unwrap();
    assert_eq!(p.key_algorithm, KeyAlgorithm::P256);
    assert_eq!(p.spki_der, p256().public_key_der().unwrap());
    let e = verify_csr(&csr_by(&ed25519(), subject(), vec![], None)).unwrap();
    assert_eq!(e.key_algorithm, KeyAlgorithm::Ed25519);
    // ecdsa-with-SHA256 takes no parameters (RFC 5758 §3.2); the signature field is not signed,
    // so a NULL there would otherwise pass.
    let mut with_null = p256().signature_algorithm();
    with_null.parameters = Some(der::Any::from(der::asn1::Null));
    assert!(matches!(
        verify_csr(&csr_by(&p256(), subject(), vec![], Some(with_null))),
        Err(CaError::UnsupportedAlgorithm { .. })
    ));
    // A P-256 key claiming an Ed25519 signature, and the reverse.
    assert!(matches!(
        verify_csr(&csr_by(
            &p256(),
            subject(),
            vec![],
            Some(ed25519().signature_algorithm())
        )),
        Err(CaError::UnsupportedAlgorithm { .. })
    ));
    assert!(matches!(
        verify_csr(&csr_by(
            &ed25519(),
            subject(),
            vec![],
            Some(p256().signature_algorithm())
        )),
        Err(CaError::UnsupportedAlgorithm { .. })
    ));
    // A signature by another key.
    let mut der = csr_by(&ed25519(), subject(), vec![], None);
    let last = der.len() - 1;
    der[last] ^= 1;
    assert!(matches!(
        verify_csr(&der),
        Err(CaError::CsrSignatureInvalid)
    ));
}

#[test]
fn san_rules_admit_the_suffix_and_its_subdomains_and_the_uri_prefix() {
    let p = IssuanceProfile::short_lived("http://ca.example:8080/crl.der?x=1#f");
    assert_eq!(p.lifetime, Duration::from_secs(86_400));
    assert_eq!(
        p.san_allow,
        vec![
            SanRule::DnsSuffix("devices.invalid".into()),
            SanRule::UriPrefix("urn:dev:".into()),
        ]
    );
    assert_eq!(p.crl_url, "http://ca.example:8080/crl.der?x=1#f");
    assert!(p.devid.is_none());
    assert_eq!(p.crl_path(), Some("/crl.der"));
    let admitted = [
        SanEntry::Dns("devices.invalid".into()),
        SanEntry::Dns("a.b.DEVICES.invalid".into()),
        SanEntry::Uri("urn:dev:42".into()),
    ];
    assert_eq!(p.first_disallowed(&admitted), None);
    for refused in [
        SanEntry::Dns("xdevices.invalid".into()),
        SanEntry::Dns("devices.invalid.example".into()),
        SanEntry::Dns("urn:dev:42".into()),
        SanEntry::Uri("urn:other:1".into()),
        SanEntry::Uri("devices.invalid".into()),
        SanEntry::Ip("192.0.2.1".parse().unwrap()),
    ] {
        let list = [admitted[0].clone(), refused.clone(), admitted[2].clone()];
        assert_eq!(p.first_disallowed(&list), Some(&refused));
    }
    let none = IssuanceProfile {
        san_allow: vec![],
        ..p
    };
    assert_eq!(none.first_disallowed(&admitted), Some(&admitted[0]));
}

#[test]
fn url_paths() {
    assert_eq!(url_path("http://h:8080/crl.der?x"), Some("/crl.der"));
    assert_eq!(url_path("http://h/c/ca.crl#top"), Some("/c/ca.crl"));
    assert_eq!(url_path("http://h"), Some("/"));
    assert_eq!(url_path("http://h?x=/a"), Some("/"));
    assert_eq!(url_path("h/crl.der"), None);
}
