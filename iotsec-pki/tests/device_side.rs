//! Device side: keys, CSRs and EST message parsing, checked against OpenSSL where it is a peer.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
mod peers;

use common::csr_for;
use der::{Decode, Encode};
use iotsec_pki::channel_binding::{BindingCheck, challenge_password_for, check_binding};
use iotsec_pki::csr::challenge_password;
use iotsec_pki::est_message::{
    Base64Layout, encode_base64, encode_certs_only_body, encode_certs_only_der, parse_certs_only,
};
use iotsec_pki::{CsrRequest, DeviceKey, DeviceName, Error, KeyAlgorithm, build_csr};
use proptest::prelude::*;
use x509_cert::request::CertReq;

const SEED: [u8; 32] = [7u8; 32];

fn request<'a>(names: &'a [DeviceName<'a>], pw: Option<&'a str>) -> CsrRequest<'a> {
    CsrRequest {
        common_name: "dev-0001",
        organization: Some("Acme Fleet"),
        device_names: names,
        challenge_password: pw,
    }
}

#[test]
fn p256_key_round_trips_through_pkcs8_and_rejects_zero_scalar() {
    let key = DeviceKey::from_secret_bytes(KeyAlgorithm::P256, &SEED).unwrap();
    let der = key.to_pkcs8_der().unwrap();
    let back = DeviceKey::from_pkcs8_der(&der).unwrap();
    assert_eq!(back.algorithm(), KeyAlgorithm::P256);
    assert_eq!(
        back.public_key_der().unwrap(),
        key.public_key_der().unwrap()
    );
    assert_eq!(
        DeviceKey::from_secret_bytes(KeyAlgorithm::P256, &[0u8; 32]).unwrap_err(),
        Error::KeyRejected {
            algorithm: KeyAlgorithm::P256
        }
    );
    assert_eq!(
        DeviceKey::from_secret_bytes(KeyAlgorithm::P256, &[0xff; 32]).unwrap_err(),
        Error::KeyRejected {
            algorithm: KeyAlgorithm::P256
        }
    );
}

#[test]
fn ed25519_key_round_trips_and_debug_hides_secret() {
    let key = DeviceKey::from_secret_bytes(KeyAlgorithm::Ed25519, &SEED).unwrap();
    let back = DeviceKey::from_pkcs8_der(&key.to_pkcs8_der().unwrap()).unwrap();
    assert_eq!(
        back.public_key_der().unwrap(),
        key.public_key_der().unwrap()
    );
    assert_eq!(format!("{key:?}"), "DeviceKey(Ed25519)");
}

#[test]
fn generated_keys_differ() {
    let mut rng = rand_core::OsRng;
    let a = DeviceKey::generate(KeyAlgorithm::P256, &mut rng);
    let b = DeviceKey::generate(KeyAlgorithm::P256, &mut rng);
    assert_ne!(a.public_key_der().unwrap(), b.public_key_der().unwrap());
    let c = DeviceKey::generate(KeyAlgorithm::Ed25519, &mut rng);
    assert_eq!(c.public_key_der().unwrap().len(), 44);
}

#[test]
fn csr_carries_subject_san_and_challenge_password() {
    for alg in [KeyAlgorithm::P256, KeyAlgorithm::Ed25519] {
        let key = DeviceKey::from_secret_bytes(alg, &SEED).unwrap();
        let names = [
            DeviceName::Dns("dev-0001.fleet.example"),
            DeviceName::Uri("urn:dev:0001"),
        ];
        let der = build_csr(&key, &request(&names, Some("s3cret+/="))).unwrap();
        let req = CertReq::from_der(&der).unwrap();
        assert_eq!(req.info.subject.to_string(), "CN=dev-0001,O=Acme Fleet");
        assert_eq!(
            challenge_password(&req).unwrap().as_deref(),
            Some("s3cret+/=")
        );
        assert_eq!(
            req.info.public_key.to_der().unwrap(),
            key.public_key_der().unwrap()
        );
        // OpenSSL is the peer that must accept the request and its signature.
        if let Some(text) = peers::openssl_req_text(&der) {
            assert!(text.contains("verify OK"), "{text}");
            assert!(text.contains("DNS:dev-0001.fleet.example"), "{text}");
            assert!(text.contains("URI:urn:dev:0001"), "{text}");
            assert!(text.contains("challengePassword"), "{text}");
        }
    }
}

#[test]
fn csr_without_optional_parts_has_no_attributes() {
    let der = csr_for(KeyAlgorithm::P256, SEED[0], "dev-2");
    let req = CertReq::from_der(&der).unwrap();
    assert!(req.info.attributes.is_empty());
    assert_eq!(challenge_password(&req).unwrap(), None);
}

#[test]
fn csr_rejects_empty_and_oversized_fields() {
    let key = DeviceKey::from_secret_bytes(KeyAlgorithm::P256, &SEED).unwrap();
    let empty = CsrRequest::default();
    assert!(matches!(
        build_csr(&key, &empty),
        Err(Error::CsrField {
            field: "commonName",
            ..
        })
    ));
    let long = "x".repeat(65);
    let req = CsrRequest {
        common_name: &long,
        ..Default::default()
    };
    assert!(matches!(build_csr(&key, &req), Err(Error::CsrField { .. })));
    let pw = "p".repeat(256);
    let req = CsrRequest {
        common_name: "d",
        challenge_password: Some(&pw),
        ..Default::default()
    };
    assert!(matches!(
        build_csr(&key, &req),
        Err(Error::CsrField {
            field: "challengePassword",
            ..
        })
    ));
}

#[test]
fn certs_only_from_openssl_parses_in_every_layout() {
    let Some(fixture) = peers::openssl_certs_only_fixture() else {
        return;
    };
    let der = &fixture.pkcs7_der;
    for layout in [Base64Layout::Lines64, Base64Layout::OneLine] {
        let body = encode_base64(der, layout);
        let certs = parse_certs_only(body.as_bytes()).unwrap();
        assert_eq!(certs.len(), 2);
    }
    // CRLF line breaks and stray spaces.
    let crlf = encode_base64(der, Base64Layout::Lines64).replace('\n', "\r\n  ");
    assert_eq!(parse_certs_only(crlf.as_bytes()).unwrap().len(), 2);
    // PEM armour, and raw DER.
    assert_eq!(
        parse_certs_only(fixture.pkcs7_pem.as_bytes())
            .unwrap()
            .len(),
        2
    );
    assert_eq!(parse_certs_only(der).unwrap().len(), 2);
    // Our own encoder round-trips to the same certificates.
    let certs = parse_certs_only(der).unwrap();
    let ders: Vec<Vec<u8>> = certs.iter().map(|c| c.to_der().unwrap()).collect();
    let refs: Vec<&[u8]> = ders.iter().map(Vec::as_slice).collect();
    let ours = encode_certs_only_body(&refs, Base64Layout::Lines64).unwrap();
    assert!(ours.lines().all(|l| l.len() <= 64));
    assert!(ours.ends_with('\n'));
    let again = parse_certs_only(ours.as_bytes()).unwrap();
    let mut a: Vec<Vec<u8>> = again.iter().map(|c| c.to_der().unwrap()).collect();
    let mut b = ders.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b);
    // And OpenSSL reads what we encode.
    peers::openssl_reads_pkcs7(&encode_certs_only_der(&refs).unwrap());
}

#[test]
fn signed_cms_is_not_certs_only() {
    let Some(fixture) = peers::openssl_certs_only_fixture() else {
        return;
    };
    assert_eq!(
        parse_certs_only(&fixture.signed_cms_der).unwrap_err(),
        Error::NotCertsOnly { signers: 1 }
    );
}

#[test]
fn est_parser_rejects_garbage_with_typed_errors() {
    assert_eq!(parse_certs_only(b"").unwrap_err(), Error::NotBase64);
    assert_eq!(parse_certs_only(b"!!!!").unwrap_err(), Error::NotBase64);
    assert!(matches!(
        parse_certs_only(&vec![b'A'; 300 * 1024]).unwrap_err(),
        Error::BodyTooLarge { .. }
    ));
    assert_eq!(
        parse_certs_only(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
            .unwrap_err(),
        Error::UnexpectedPemLabel
    );
    // A ContentInfo of type id-data.
    let data = [
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01, 0xa0, 0x00,
    ];
    assert!(matches!(
        parse_certs_only(&data).unwrap_err(),
        Error::NotSignedData { .. } | Error::Der(_)
    ));
    // A certs-only message with no certificates.
    let empty = encode_certs_only_der(&[]).unwrap();
    assert_eq!(parse_certs_only(&empty).unwrap_err(), Error::NoCertificates);
}

#[test]
fn channel_binding_checks() {
    let exporter = [0x42u8; 32];
    let ours = Some(&exporter);
    let pw = challenge_password_for(&exporter);
    let other = challenge_password_for(&[0x43u8; 32]);
    let cases = [
        (Some(pw.as_str()), ours, BindingCheck::Bound, true, true),
        (None, ours, BindingCheck::Missing, false, true),
        (
            Some("AAAAAAAAAAAAAAAA"),
            ours,
            BindingCheck::TlsUniqueOnTls13,
            false,
            false,
        ),
        // Another session's value: a relayed request, refused even when binding is optional.
        (Some(&other), ours, BindingCheck::WrongBinding, false, false),
        (
            Some("hunter2"),
            ours,
            BindingCheck::NotABinding,
            false,
            true,
        ),
        // 33 bytes of base64 is not a binding either.
        (
            Some("QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"),
            ours,
            BindingCheck::NotABinding,
            false,
            true,
        ),
        // Without the session's value nothing is bound, and a binding cannot be checked.
        (
            Some(pw.as_str()),
            None,
            BindingCheck::Unverifiable,
            false,
            false,
        ),
        (
            Some("hunter2"),
            None,
            BindingCheck::NotABinding,
            false,
            true,
        ),
    ];
    for (password, exporter, check, required, optional) in cases {
        let got = check_binding(password, exporter);
        assert_eq!(got, check, "{password:?}");
        assert_eq!(got.passes_required(), required, "{password:?}");
        assert_eq!(got.passes_optional(), optional, "{password:?}");
    }
}

proptest! {
    #[test]
    fn est_parser_never_panics(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_certs_only(&body);
    }

    #[test]
    fn base64_layouts_round_trip(bytes in proptest::collection::vec(any::<u8>(), 1..700), one in any::<bool>()) {
        let layout = if one { Base64Layout::OneLine } else { Base64Layout::Lines64 };
        let text = encode_base64(&bytes, layout);
        prop_assert!(text.ends_with('\n'));
        if !one { prop_assert!(text.lines().all(|l| l.len() <= 64)); }
        prop_assert_eq!(iotsec_pki::est_message::decode_base64_body(text.as_bytes()).unwrap(), bytes);
    }

    #[test]
    fn csr_round_trips_any_printable_name(cn in "[a-zA-Z0-9 .-]{1,64}", pw in proptest::option::of("[ -~]{1,100}")) {
        let key = DeviceKey::from_secret_bytes(KeyAlgorithm::Ed25519, &SEED).unwrap();
        let der = build_csr(&key, &CsrRequest { common_name: &cn, challenge_password: pw.as_deref(), ..Default::default() }).unwrap();
        let req = CertReq::from_der(&der).unwrap();
        prop_assert_eq!(challenge_password(&req).unwrap(), pw);
    }
}
