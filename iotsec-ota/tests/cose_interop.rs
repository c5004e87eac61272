//! Interoperability of the `COSE_Sign` layer (RFC 9052 §4.1, §4.4) with an independent
//! implementation, pycose (Python), in both directions: pycose verifies our EdDSA and ES256
//! signatures, and our device verifier accepts a manifest pycose signed.
//!
//! pycose comes from `.ci/pip-packages.txt` (venv `target/venv`, on PATH under `./test.sh`).
//! With `CI=true` a missing peer fails the test; elsewhere it skips loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::process::Command;

use common::*;
use iotsec_ota::signer::Signer;
use iotsec_ota::trust_root::TrustRootPayload;
use iotsec_ota::{TrustRoot, verify};

const PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/pycose_peer.py");

fn keys_json(keys: &[&dyn Signer]) -> String {
    serde_json::Value::Array(
        keys.iter()
            .map(|k| {
                serde_json::json!({
                    "kid": hex::encode(k.key_id()),
                    "alg": if k.algorithm() == iotsec_ota::Algorithm::EdDsa { "ed25519" } else { "es256" },
                    "public": hex::encode(k.public_key()),
                })
            })
            .collect(),
    )
    .to_string()
}

#[test]
fn pycose_verifies_our_eddsa_and_es256_signatures() {
    let Some(python) = python() else { return };
    let dir = scratch("cose-ours");
    let doc = signed(&release()); // ed 4 + es 5
    std::fs::write(dir.join("m.cbor"), &doc).unwrap();
    std::fs::write(dir.join("keys.json"), keys_json(&[&ed(4), &es(5)])).unwrap();
    let out = Command::new(&python)
        .args([PEER, "verify"])
        .arg(dir.join("m.cbor"))
        .arg(dir.join("keys.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2");
    // A flipped payload byte must fail in pycose too: the peer really checks.
    let mut tampered = doc.clone();
    let at = tampered.windows(5).position(|w| w == b"2.0.0").unwrap();
    tampered[at] = b'3';
    std::fs::write(dir.join("t.cbor"), &tampered).unwrap();
    let out = Command::new(&python)
        .args([PEER, "verify"])
        .arg(dir.join("t.cbor"))
        .arg(dir.join("keys.json"))
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn our_verifier_accepts_a_manifest_signed_by_pycose() {
    let Some(python) = python() else { return };
    let dir = scratch("cose-theirs");
    let key = ed(40);
    // A root whose release role is the pycose-held key.
    let (r1, r2, r3) = (ed(1), ed(2), es(3));
    let mut payload: TrustRootPayload = root_payload(1, &[&r1, &r2, &r3], 2, &[&key], 1);
    payload.expires_at = None;
    let root_doc = sign_root(&payload, &[&r1, &r2]);
    let root = TrustRoot::from_pinned(&root_doc).unwrap();
    std::fs::write(dir.join("payload.cbor"), release().payload().unwrap()).unwrap();
    let out = Command::new(&python)
        .args([PEER, "sign"])
        .arg(dir.join("payload.cbor"))
        .arg(iotsec_ota::verifier::MANIFEST_CONTENT_TYPE)
        .arg(hex::encode([40u8; 32]))
        .arg(hex::encode(key.key_id()))
        .arg(dir.join("m.cbor"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = std::fs::read(dir.join("m.cbor")).unwrap();
    let verified = verify(&doc, &root, &state()).unwrap();
    assert_eq!(verified.signers, 1);
    assert_eq!(verified.manifest.version, "2.0.0");
    // pycose signs the very bytes we would sign: same document from our signer.
    assert_eq!(doc, release().sign(&[&key]).unwrap());
}
