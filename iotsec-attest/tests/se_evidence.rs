//! Secure-element evidence: produced without a heap by a P-256 signer (software here, an
//! ATECC608 on a device), appraised signature-first; every field is covered by the signature
//! and every replay/rollback is named.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_attest::se_evidence::{
    MAX_EVIDENCE_LEN, SeEvidence, SeEvidenceError, SeExpectations, appraise_se_evidence,
    produce_se_evidence,
};
use p256::ecdsa::SigningKey;
use proptest::prelude::*;

const NONCE: [u8; 16] = *b"challenge-000042";
const DEVICE: [u8; 32] = [0x11; 32];
const FIRMWARE: [u8; 32] = [0x22; 32];

fn key() -> (SigningKey, [u8; 64]) {
    let sk = SigningKey::from_slice(&[7u8; 32]).unwrap();
    let point = sk.verifying_key().to_encoded_point(false);
    let mut raw = [0u8; 64];
    raw.copy_from_slice(&point.as_bytes()[1..]);
    (sk, raw)
}

fn evidence(counter: u64) -> Vec<u8> {
    let (mut sk, _) = key();
    let mut buf = [0u8; MAX_EVIDENCE_LEN];
    let n = produce_se_evidence(&mut sk, &NONCE, &DEVICE, &FIRMWARE, counter, &mut buf).unwrap();
    buf[..n].to_vec()
}

fn expect<'a>(raw: &'a [u8; 64], last: Option<u64>) -> SeExpectations<'a> {
    SeExpectations {
        public_key: raw,
        nonce: &NONCE,
        device_id: Some(&DEVICE),
        firmware_references: std::slice::from_ref(&FIRMWARE),
        last_counter: last,
    }
}

#[test]
fn genuine_evidence_is_accepted_with_its_claims() {
    let (_, raw) = key();
    let ev = evidence(5);
    assert_eq!(ev.len(), 4 + 2 + 16 + 32 + 32 + 8 + 64);
    let e = appraise_se_evidence(&ev, &expect(&raw, Some(4))).unwrap();
    assert_eq!(
        (e.counter, e.nonce, e.device_id, e.firmware_measurement),
        (5, &NONCE[..], &DEVICE, &FIRMWARE)
    );
}

#[test]
fn every_flipped_bit_before_the_signature_breaks_it() {
    let (_, raw) = key();
    let ev = evidence(5);
    for i in 6..ev.len() - 64 {
        let mut bad = ev.clone();
        bad[i] ^= 1;
        assert_eq!(
            appraise_se_evidence(&bad, &expect(&raw, None)).unwrap_err(),
            SeEvidenceError::BadSignature,
            "byte {i}"
        );
    }
}

#[test]
fn replay_rollback_wrong_nonce_device_and_firmware_are_named() {
    let (_, raw) = key();
    let ev = evidence(5);
    assert_eq!(
        appraise_se_evidence(&ev, &expect(&raw, Some(5))).unwrap_err(),
        SeEvidenceError::CounterNotIncreasing {
            stored: 5,
            offered: 5
        }
    );
    let mut e = expect(&raw, None);
    e.nonce = b"challenge-000043";
    assert_eq!(
        appraise_se_evidence(&ev, &e).unwrap_err(),
        SeEvidenceError::NonceMismatch
    );
    assert_eq!(SeEvidenceError::NonceMismatch.code(), "nonce_mismatch");
    assert_eq!(
        SeEvidenceError::CounterNotIncreasing {
            stored: 5,
            offered: 5
        }
        .code(),
        "counter_not_increasing"
    );
    let other = [0x12; 32];
    let mut e = expect(&raw, None);
    e.device_id = Some(&other);
    assert_eq!(
        appraise_se_evidence(&ev, &e).unwrap_err(),
        SeEvidenceError::DeviceIdMismatch
    );
    let refs = [[0x33; 32]];
    let mut e = expect(&raw, None);
    e.firmware_references = &refs;
    assert_eq!(
        appraise_se_evidence(&ev, &e).unwrap_err(),
        SeEvidenceError::UnknownFirmware
    );
}

/// Evidence checked against another device's valid key (on the curve) is refused as a bad
/// signature, not as a malformed key.
#[test]
fn evidence_under_another_valid_key_is_a_bad_signature() {
    let ev = evidence(5);
    let other = SigningKey::from_slice(&[8u8; 32]).unwrap();
    let point = other.verifying_key().to_encoded_point(false);
    let other_key: [u8; 64] = point.as_bytes()[1..].try_into().unwrap();
    assert_ne!(other_key, key().1);
    assert_eq!(
        appraise_se_evidence(&ev, &expect(&other_key, None)).unwrap_err(),
        SeEvidenceError::BadSignature
    );
    // A point off the curve is a different failure.
    let mut off_curve = key().1;
    off_curve[63] ^= 1;
    assert_eq!(
        appraise_se_evidence(&ev, &expect(&off_curve, None)).unwrap_err(),
        SeEvidenceError::InvalidKey
    );
}

#[test]
fn fuzz_seed_is_genuine_evidence() {
    let seed = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/corpus/attest_se_evidence/seed-genuine"
    );
    if std::env::var("IOTSEC_WRITE_SEEDS").is_ok() {
        std::fs::write(seed, evidence(5)).unwrap();
    }
    // The fuzz corpus is the repository's: a published package has no `../fuzz`. Inside the
    // repository a missing seed still fails.
    let fuzz_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz");
    if !std::path::Path::new(fuzz_dir).is_dir() {
        eprintln!("*** SKIPPED: {fuzz_dir} is absent (outside the repository) ***");
        return;
    }
    assert_eq!(
        std::fs::read(seed).unwrap(),
        evidence(5),
        "ECDSA here is deterministic (RFC 6979)"
    );
}

#[test]
fn structure_is_strict() {
    let ev = evidence(1);
    let mut longer = ev.clone();
    longer.push(0);
    assert!(matches!(
        SeEvidence::parse(&longer),
        Err(SeEvidenceError::Malformed(_))
    ));
    let mut v2 = ev.clone();
    v2[4] = 2;
    assert_eq!(
        SeEvidence::parse(&v2).unwrap_err(),
        SeEvidenceError::UnknownFormat
    );
    let (mut sk, _) = key();
    let mut small = [0u8; 100];
    assert!(matches!(
        produce_se_evidence(&mut sk, &NONCE, &DEVICE, &FIRMWARE, 1, &mut small),
        Err(SeEvidenceError::BufferTooSmall {
            need: 158,
            have: 100
        })
    ));
    assert_eq!(
        produce_se_evidence(&mut sk, &[0; 7], &DEVICE, &FIRMWARE, 1, &mut [0u8; 300]).unwrap_err(),
        SeEvidenceError::NonceLength(7)
    );
}

proptest! {
    #[test]
    fn parser_never_panics(data in proptest::collection::vec(any::<u8>(), 0..250)) {
        let _ = SeEvidence::parse(&data);
    }

    #[test]
    fn produced_evidence_round_trips(nonce in proptest::collection::vec(any::<u8>(), 8..=64), counter in any::<u64>()) {
        let (mut sk, raw) = key();
        let mut buf = [0u8; MAX_EVIDENCE_LEN];
        let n = produce_se_evidence(&mut sk, &nonce, &DEVICE, &FIRMWARE, counter, &mut buf).unwrap();
        let e = appraise_se_evidence(&buf[..n], &SeExpectations { nonce: &nonce, ..expect(&raw, None) }).unwrap();
        prop_assert_eq!(e.nonce, &nonce[..]);
        prop_assert_eq!(e.counter, counter);
    }
}
