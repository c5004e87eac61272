//! Interoperability of SUIT envelopes with an independent implementation (cbor2 + pycose,
//! `tests/peers/suit_peer.py`): the peer accepts the draft's examples and every envelope our
//! producer writes (ES256 and EdDSA) and refuses tampered ones, and our verifier accepts an
//! envelope the peer sealed. With `CI=true` a missing peer fails the test; elsewhere it skips
//! loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
mod suit_support;

use std::path::Path;
use std::process::Command;

use iotsec_ota::signer::{Ed25519Key, Signer};
use iotsec_ota::suit::{EnvelopeBuilder, SuitKey, authenticate_envelope};

const PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/suit_peer.py");

/// Runs the peer's `verify`: `Ok(sequence number)` or `Err(its reason)`.
fn peer_verify(python: &Path, envelope: &Path, signer: &dyn Signer) -> Result<u64, String> {
    let alg = match signer.algorithm() {
        iotsec_ota::Algorithm::EdDsa => "ed25519",
        _ => "es256",
    };
    let out = Command::new(python)
        .args([PEER, "verify"])
        .arg(envelope)
        .args([alg, &hex::encode(signer.public_key())])
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

fn builder() -> EnvelopeBuilder {
    EnvelopeBuilder::for_image(
        suit_support::VENDOR,
        suit_support::CLASS,
        &[b"\x00"],
        b"an image the peer never sees",
    )
    .sequence_number(77)
    .fetch_from("https://fw.example/app.bin")
    .invoke()
}

#[test]
fn the_peer_accepts_the_draft_examples() {
    let Some(python) = common::python() else {
        return;
    };
    let Some(dir) = suit_support::examples_dir() else {
        return;
    };
    let signer = suit_support::example_signer(&dir);
    let scratch = common::scratch("suit-examples");
    for n in 0..6 {
        let path = scratch.join(format!("example{n}.suit"));
        std::fs::write(&path, suit_support::envelope(&dir, n)).unwrap();
        assert_eq!(
            peer_verify(&python, &path, &signer),
            Ok(n as u64),
            "example {n}"
        );
    }
}

#[test]
fn the_peer_and_our_verifier_accept_what_we_produce() {
    let Some(python) = common::python() else {
        return;
    };
    let scratch = common::scratch("suit-ours");
    let es = common::es(21);
    let ed = Ed25519Key::from_seed(&[21; 32]);
    for signer in [&es as &dyn Signer, &ed] {
        let envelope = builder().sign(signer).unwrap();
        let key = SuitKey::parse(signer.algorithm(), &signer.public_key()).unwrap();
        let ours = authenticate_envelope(&envelope, &[key]).unwrap();
        assert_eq!(ours.manifest.sequence_number, 77);
        let path = scratch.join("ours.suit");
        std::fs::write(&path, &envelope).unwrap();
        assert_eq!(peer_verify(&python, &path, signer), Ok(77));
        // The peer really checks: a flipped manifest byte (the last) and a flipped signature
        // byte fail there too.
        let mut tampered = envelope.clone();
        *tampered.last_mut().unwrap() ^= 1;
        std::fs::write(&path, &tampered).unwrap();
        assert_eq!(
            peer_verify(&python, &path, signer),
            Err("manifest digest mismatch".into())
        );
        let mut tampered = envelope.clone();
        let signature = tampered.windows(2).position(|w| w == [0x58, 0x40]).unwrap() + 2;
        tampered[signature] ^= 1;
        std::fs::write(&path, &tampered).unwrap();
        assert_eq!(
            peer_verify(&python, &path, signer),
            Err("signature does not verify".into())
        );
    }
}

#[test]
fn our_verifier_accepts_an_envelope_the_peer_sealed() {
    let Some(python) = common::python() else {
        return;
    };
    let scratch = common::scratch("suit-theirs");
    std::fs::write(scratch.join("manifest.cbor"), builder().manifest().unwrap()).unwrap();
    let out = Command::new(&python)
        .args([PEER, "seal"])
        .arg(scratch.join("manifest.cbor"))
        .arg(hex::encode([33u8; 32]))
        .arg(scratch.join("theirs.suit"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let envelope = std::fs::read(scratch.join("theirs.suit")).unwrap();
    let ed = Ed25519Key::from_seed(&[33; 32]);
    let key = SuitKey::parse(ed.algorithm(), &ed.public_key()).unwrap();
    let verified = authenticate_envelope(&envelope, &[key]).unwrap();
    assert_eq!(verified.manifest.sequence_number, 77);
    // EdDSA is deterministic: pycose sealed exactly the bytes our producer writes.
    assert_eq!(envelope, builder().sign(&ed).unwrap());
}
