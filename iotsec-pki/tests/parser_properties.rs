//! Property tests for the CA's outside-input decoders: `csr_check::verify_csr`, the OCSP
//! request path (`ocsp_responder::parse_request` and `respond`) and `devid::identity_of`. Random
//! bytes and mutations of valid inputs never panic; valid inputs still give their exact values.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod hand_csr;

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use der::asn1::OctetString;
use der::{Decode, Encode};
use iotsec_pki::ca_error::CaError;
use iotsec_pki::ca_state::{CaSettings, CaState, enable_devid, init_state};
use iotsec_pki::csr_check::{SanEntry, SubjectAttribute, verify_csr};
use iotsec_pki::devid::{DevIdKind, DevIdProfile, DeviceIdentity, identity_of};
use iotsec_pki::ocsp_responder::{ID_SHA1, MAX_REQUESTS, parse_request, respond};
use iotsec_pki::{CsrRequest, DeviceKey, DeviceName, KeyAlgorithm, build_csr};
use proptest::prelude::*;
use sha2::Digest;
use time::OffsetDateTime;
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_ocsp::{CertId, CertStatus, OcspRequest, OcspResponse, OcspResponseStatus, Request};

const HW_TYPE: &str = "1.3.6.1.4.1.32473.1.7";
const OTHER_HW_TYPE: &str = "1.3.6.1.4.1.32473.1.8";
const NOW: i64 = 1_790_000_000;

fn algorithm() -> impl Strategy<Value = KeyAlgorithm> {
    prop_oneof![Just(KeyAlgorithm::P256), Just(KeyAlgorithm::Ed25519)]
}

/// A key from 32 bytes `seed`: 0x00.. and 0xFF.. are not P-256 scalars (zero, and above the
/// group order), so the seed is kept within 1..=0xFE.
fn key(alg: KeyAlgorithm, seed: u8) -> DeviceKey {
    DeviceKey::from_secret_bytes(alg, &[seed.clamp(1, 0xFE); 32]).unwrap()
}

/// A CSR for `cn`, with the subjectAltName `DNS:dns` unless `dns` is empty.
fn csr(alg: KeyAlgorithm, seed: u8, cn: &str, dns: &str) -> Vec<u8> {
    let names = [DeviceName::Dns(dns)];
    build_csr(
        &key(alg, seed),
        &CsrRequest {
            common_name: cn,
            device_names: if dns.is_empty() { &[] } else { &names },
            ..Default::default()
        },
    )
    .unwrap()
}

/// One DevID-enabled CA for the whole file, in a scratch directory under the target dir (it
/// issues DevIDs only: the identity comes from the CA, and CSRs carry no SAN).
fn ca() -> &'static Mutex<CaState> {
    static CA: OnceLock<Mutex<CaState>> = OnceLock::new();
    CA.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("pki-parser-properties-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let state = dir.join("state");
        init_state(
            &state,
            &CaSettings {
                organization: "Acme".into(),
                crl_url: "http://127.0.0.1/crl.der".into(),
                lifetime_secs: 3600,
            },
            OffsetDateTime::now_utc(),
        )
        .unwrap();
        enable_devid(
            &state,
            &DevIdProfile {
                hw_type: HW_TYPE.parse().unwrap(),
                kind: DevIdKind::Local,
            },
        )
        .unwrap();
        Mutex::new(CaState::open(&state).unwrap())
    })
}

/// A CertID naming serial `serial` of the CA's intermediate (SHA-1, as OpenSSL sends).
fn cert_id(ca: &CaState, serial: &[u8]) -> CertId {
    let int = x509_cert::Certificate::from_der(ca.authority.intermediate_der()).unwrap();
    let name = int.tbs_certificate.subject.to_der().unwrap();
    CertId {
        hash_algorithm: AlgorithmIdentifierOwned {
            oid: ID_SHA1,
            parameters: Some(der::asn1::Null.into()),
        },
        issuer_name_hash: OctetString::new(sha1::Sha1::digest(&name).to_vec()).unwrap(),
        issuer_key_hash: OctetString::new(
            sha1::Sha1::digest(ca.authority.ca_public_key()).to_vec(),
        )
        .unwrap(),
        serial_number: SerialNumber::new(serial).unwrap(),
    }
}

fn ocsp_request(ids: Vec<CertId>) -> Vec<u8> {
    OcspRequest {
        tbs_request: x509_ocsp::TbsRequest {
            version: Default::default(),
            requestor_name: None,
            request_list: ids
                .into_iter()
                .map(|req_cert| Request {
                    req_cert,
                    single_request_extensions: None,
                })
                .collect(),
            request_extensions: None,
        },
        optional_signature: None,
    }
    .to_der()
    .unwrap()
}

/// The status and the CertStatus kinds (good/revoked/unknown) of a DER OCSP response.
fn response_statuses(der: &[u8]) -> (OcspResponseStatus, Vec<&'static str>) {
    let response = OcspResponse::from_der(der).unwrap();
    let Some(bytes) = response.response_bytes else {
        return (response.response_status, Vec::new());
    };
    let basic = x509_ocsp::BasicOcspResponse::from_der(bytes.response.as_bytes()).unwrap();
    let kinds = basic
        .tbs_response_data
        .responses
        .iter()
        .map(|r| match r.cert_status {
            CertStatus::Good(_) => "good",
            CertStatus::Revoked(_) => "revoked",
            CertStatus::Unknown(_) => "unknown",
        })
        .collect();
    (response.response_status, kinds)
}

fn flip(bytes: &mut [u8], flips: &[(prop::sample::Index, u8)]) {
    for (at, value) in flips {
        let i = at.index(bytes.len());
        bytes[i] ^= value | 1;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn csr_random_bytes_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        prop_assert!(verify_csr(&bytes).is_err());
    }

    /// A valid CSR verifies with its exact subject, SAN and key; changing any byte of it (one
    /// to three bytes, each to a different value) is refused: nothing in a CSR is malleable
    /// under its self-signature.
    #[test]
    fn csr_valid_verifies_and_every_mutation_is_refused(
        alg in algorithm(),
        seed in any::<u8>(),
        cn in "[a-z0-9-]{1,32}",
        dns in "[a-z]{1,20}\\.example",
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let der = csr(alg, seed, &cn, &dns);
        let v = verify_csr(&der).unwrap();
        prop_assert_eq!(v.key_algorithm, alg);
        prop_assert_eq!(&v.spki_der, &key(alg, seed).public_key_der().unwrap());
        prop_assert_eq!(v.subject.len(), 1);
        prop_assert_eq!(v.subject[0].attribute, SubjectAttribute::CommonName);
        prop_assert_eq!(&v.subject[0].value, &cn);
        prop_assert_eq!(&v.sans, &vec![SanEntry::Dns(dns.clone())]);
        prop_assert_eq!(v.challenge_password, None);

        let mut mutated = der.clone();
        flip(&mut mutated, &flips);
        prop_assume!(mutated != der); // two flips of one byte may cancel out
        let refused = verify_csr(&mutated);
        prop_assert!(refused.is_err(), "mutation accepted: {:02x?}", mutated);
    }

    #[test]
    fn ocsp_random_bytes_are_a_malformed_request(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        prop_assume!(parse_request(&bytes).is_err());
        let ca = ca().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        prop_assert!(matches!(parse_request(&bytes), Err(CaError::MalformedOcspRequest(_))));
        let (status, kinds) = response_statuses(&respond(&ca, &bytes, NOW));
        prop_assert_eq!(status, OcspResponseStatus::MalformedRequest);
        prop_assert!(kinds.is_empty());
    }

    /// 1..=16 CertIDs parse, with their serials in order; the responder answers each (good for
    /// the certificate the CA issued, unknown for made-up serials). 0 and 17+ are refused.
    /// Mutations never panic and always get a DER response.
    #[test]
    fn ocsp_requests_parse_answer_and_mutations_never_panic(
        serials in proptest::collection::vec(proptest::collection::vec(1u8..=0x7f, 1..=20), 0..=20),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut ca = ca().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let issued = ca
            .issue_devid(
                &csr(KeyAlgorithm::P256, 7, "ocsp-subject", ""),
                &DeviceIdentity::from_serial("ocsp-0001"),
                OffsetDateTime::now_utc(),
            )
            .unwrap();
        let mut ids = vec![cert_id(&ca, &issued.serial)];
        ids.extend(serials.iter().map(|s| cert_id(&ca, s)));
        let der = ocsp_request(ids);
        let n = serials.len() + 1;
        match parse_request(&der) {
            Ok(req) => {
                prop_assert!(n <= MAX_REQUESTS);
                let got: Vec<&[u8]> = req
                    .tbs_request
                    .request_list
                    .iter()
                    .map(|r| r.req_cert.serial_number.as_bytes())
                    .collect();
                prop_assert_eq!(got[0], issued.serial.as_slice());
                let want: Vec<&[u8]> = serials.iter().map(Vec::as_slice).collect();
                prop_assert_eq!(&got[1..], want.as_slice());
                let (status, kinds) = response_statuses(&respond(&ca, &der, NOW));
                prop_assert_eq!(status, OcspResponseStatus::Successful);
                prop_assert_eq!(kinds.len(), n);
                prop_assert_eq!(kinds[0], "good");
                prop_assert!(kinds[1..].iter().all(|k| *k == "unknown"), "{:?}", kinds);
            }
            Err(e) => {
                prop_assert!(n > MAX_REQUESTS, "{} CertIDs refused: {}", n, e);
                prop_assert!(matches!(e, CaError::MalformedOcspRequest(_)));
            }
        }
        let mut mutated = der;
        flip(&mut mutated, &flips);
        let _ = parse_request(&mutated);
        let response = respond(&ca, &mutated, NOW);
        prop_assert!(OcspResponse::from_der(&response).is_ok());
    }

    /// A DevID issued for `serial` names exactly that identity for its hwType, none for another
    /// hwType; random bytes are an error and mutations never panic.
    #[test]
    fn devid_identity_of_issued_random_and_mutated(
        // PrintableString without '?' (refused by the CA): see `a_printable_question_mark_is_refused_not_a_panic`.
        serial in "[A-Za-z0-9 '()+,./:=-]{1,64}",
        noise in proptest::collection::vec(any::<u8>(), 0..600),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let hw: ObjectIdentifier = HW_TYPE.parse().unwrap();
        let other: ObjectIdentifier = OTHER_HW_TYPE.parse().unwrap();
        let issued = ca()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .issue_devid(
                &csr(KeyAlgorithm::Ed25519, 9, "devid-subject", ""),
                &DeviceIdentity::from_serial(serial.clone()),
                OffsetDateTime::now_utc(),
            )
            .unwrap();
        prop_assert_eq!(
            identity_of(&issued.der, &hw).unwrap(),
            Some(DeviceIdentity::from_serial(serial))
        );
        prop_assert_eq!(identity_of(&issued.der, &other).unwrap(), None);
        let noise_is_a_malformed_certificate = matches!(
            identity_of(&noise, &hw),
            Err(CaError::MalformedCertificate { which: "client certificate", .. })
        );
        prop_assert!(noise_is_a_malformed_certificate);
        let mut mutated = issued.der.clone();
        flip(&mut mutated, &flips);
        let _ = identity_of(&mutated, &hw);
    }
}

/// A CSR whose subject is one PrintableString commonName `cn` (what OpenSSL sends with
/// `string_mask = default`), self-signed with an Ed25519 key.
fn csr_with_printable_cn(cn: &str) -> Vec<u8> {
    hand_csr::csr(vec![hand_csr::rdn(hand_csr::CN, cn)], vec![])
}

/// X.680 PrintableString includes '?', and `verify_csr` (der) and rcgen accept it, but yasna
/// 0.6 (rcgen's DER writer) asserts it away: issuing for such a subject used to panic inside
/// the CA (poisoning its lock: every later EST request failed). It is now a typed refusal, and
/// our own CSR builder sends such a value as UTF8String, which issues.
#[test]
fn a_printable_question_mark_is_refused_not_a_panic() {
    let der = csr_with_printable_cn("sensor?01");
    let v = verify_csr(&der).unwrap();
    assert_eq!(v.subject[0].value, "sensor?01");
    assert!(v.subject[0].printable);
    let mut ca = ca()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // A '?' in the CA-asserted DevID serial, then in the device's own commonName.
    let plain = csr(KeyAlgorithm::P256, 3, "plain", "");
    for (csr_der, serial) in [(&plain, "SN?0001"), (&der, "SN0002")] {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            ca.issue_devid(
                csr_der,
                &DeviceIdentity::from_serial(serial),
                OffsetDateTime::now_utc(),
            )
        }));
        let Ok(result) = outcome else {
            panic!("the CA panicked");
        };
        assert_eq!(
            result.unwrap_err().to_string(),
            "CSR subject not allowed: '?' in a PrintableString (send the value as UTF8String)"
        );
    }
    // Our device-side builder writes "sensor?01" as UTF8String: issued, subject kept.
    let ours = csr(KeyAlgorithm::P256, 4, "sensor?01", "");
    let issued = ca
        .issue_devid(
            &ours,
            &DeviceIdentity::from_serial("SN0003"),
            OffsetDateTime::now_utc(),
        )
        .unwrap();
    assert!(
        issued.subject.contains("CN=sensor?01"),
        "{}",
        issued.subject
    );
}
