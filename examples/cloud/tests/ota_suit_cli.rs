//! `iotsec-cloud ota suit verify|sign` run as the binary on the draft-ietf-suit-manifest
//! examples (`../shared/data/suit-examples`, skipped loudly when absent), with the contract's
//! exit codes (0 valid, 1 refused with a code, 2 bad input) and exact outputs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::{Path, PathBuf};

use common::{p, run};
use p256::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};

const VENDOR: &str = "fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe";
const CLASS: &str = "1492af14-2569-5e48-bf42-9b2d51f2ab45";
const DIGEST_A: &str = "00112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210";

fn examples() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/suit-examples"
    ));
    if dir.join("private_key.pem").is_file() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{} is missing (shared test data)", dir.display());
    }
    eprintln!("SKIPPED: {} is absent", dir.display());
    None
}

/// A scratch dir with `pub.pem` (the examples' public key) and `exampleN.suit` (N = 0..6).
fn setup(name: &str) -> Option<PathBuf> {
    let data = examples()?;
    let dir = common::scratch(&format!("ota-suit-{name}"));
    let pem = std::fs::read_to_string(data.join("private_key.pem")).unwrap();
    let secret = p256::SecretKey::from_pkcs8_pem(&pem).unwrap();
    let public = secret
        .public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    std::fs::write(dir.join("pub.pem"), public).unwrap();
    std::fs::copy(data.join("private_key.pem"), dir.join("priv.pem")).unwrap();
    for n in 0..6 {
        let text = std::fs::read_to_string(data.join(format!("example{n}.txt"))).unwrap();
        let hex: String = text
            .split("~~~")
            .skip(1)
            .step_by(2)
            .map(|b| b.split_whitespace().collect::<String>())
            .filter(|b| !b.is_empty() && b.bytes().all(|c| c.is_ascii_hexdigit()))
            .last()
            .unwrap();
        std::fs::write(
            dir.join(format!("example{n}.suit")),
            hex::decode(hex).unwrap(),
        )
        .unwrap();
    }
    Some(dir)
}

fn verify(dir: &Path, json: bool, envelope: &str, extra: &[&str]) -> (i32, String, String) {
    let (key, envelope) = (p(dir, "pub.pem"), p(dir, envelope));
    let mut args = if json {
        vec!["--format", "json"]
    } else {
        vec![]
    };
    args.extend_from_slice(&["ota", "suit", "verify", "--key", &key]);
    args.extend_from_slice(extra);
    args.push(&envelope);
    run(&args)
}

fn state(dir: &Path, last_sequence: u64) -> String {
    let path = dir.join(format!("state-{last_sequence}.json"));
    let state = serde_json::json!({
        "vendor_id": VENDOR, "class_id": CLASS, "device_id": "dev-1",
        "security_counter": 0, "last_sequence": last_sequence,
        "trusted_root_version": 1, "slot_capacity": 1 << 20,
    });
    std::fs::write(&path, state.to_string()).unwrap();
    path.display().to_string()
}

#[test]
fn example_envelopes_verify_with_exact_output() {
    let Some(dir) = setup("valid") else { return };
    let (code, stdout, stderr) = verify(&dir, true, "example1.suit", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout.trim_end(),
        format!(
            r#"{{"algorithm":"ES256","components":[{{"class_id":"{CLASS}","id":["00"],"images":[{{"sha256":"{DIGEST_A}","size":34768,"slot":null}}],"vendor_id":"{VENDOR}"}}],"device_checks":false,"sequence_number":1,"severed":[],"valid":true}}"#
        )
    );
    let (code, stdout, _) = verify(&dir, false, "example5.suit", &[]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        "valid: SUIT manifest sequence 5, 2 component(s), ES256 signature, device checks not run (no --state)\n"
    );
    // Every example verifies; example 3's A/B images come out with their slots.
    for n in 0..6 {
        let (code, stdout, stderr) = verify(&dir, true, &format!("example{n}.suit"), &[]);
        assert_eq!(code, 0, "example {n}: {stderr}");
        let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(json["sequence_number"], n, "example {n}");
    }
    let (_, stdout, _) = verify(&dir, true, "example3.suit", &[]);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let slots: Vec<_> = json["components"][0]["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["size"].as_u64().unwrap(), i["slot"].as_u64().unwrap()))
        .collect();
    assert_eq!(slots, [(34768, 0), (76834, 1)]);
}

#[test]
fn refusals_exit_1_with_their_code() {
    let Some(dir) = setup("refused") else { return };
    let mut bytes = std::fs::read(dir.join("example0.suit")).unwrap();
    let signature = bytes
        .windows(3)
        .position(|w| w == [0x58, 0x40, 0x40])
        .unwrap()
        + 2;
    bytes[signature] ^= 1;
    std::fs::write(dir.join("bad-signature.suit"), &bytes).unwrap();
    let (code, stdout, _) = verify(&dir, true, "bad-signature.suit", &[]);
    assert_eq!(code, 1);
    assert_eq!(
        stdout.trim_end(),
        r#"{"code":"suit_bad_signature","reason":"signature does not verify (tampered envelope?)","valid":false}"#
    );
    let (code, stdout, _) = verify(&dir, false, "bad-signature.suit", &[]);
    assert_eq!(code, 1);
    assert_eq!(
        stdout,
        "rejected: signature does not verify (tampered envelope?)\n"
    );
    // The rollback rule with --state: example 2 (sequence 2) after 1 passes, after 2 does not.
    let (code, stdout, stderr) = verify(&dir, true, "example2.suit", &["--state", &state(&dir, 1)]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(r#""device_checks":true"#), "{stdout}");
    let (code, stdout, _) = verify(&dir, true, "example2.suit", &["--state", &state(&dir, 2)]);
    assert_eq!(code, 1);
    assert_eq!(
        stdout.trim_end(),
        r#"{"code":"suit_rollback","reason":"rollback: sequence number 2 is not above the stored 2","valid":false}"#
    );
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let Some(dir) = setup("bad-input") else {
        return;
    };
    let (code, stdout, stderr) = verify(&dir, true, "missing.suit", &[]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains("missing.suit"),
        "{stderr}"
    );
    // A private key where a public key belongs.
    let (code, _, stderr) = run(&[
        "ota",
        "suit",
        "verify",
        "--key",
        &p(&dir, "priv.pem"),
        &p(&dir, "example0.suit"),
    ]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        format!(
            "error: {}: not a P-256 or Ed25519 public key (SubjectPublicKeyInfo PEM)\n",
            p(&dir, "priv.pem")
        )
    );
}

#[test]
fn signed_envelopes_verify_and_carry_the_image() {
    let Some(dir) = setup("sign") else { return };
    std::fs::write(dir.join("fw.bin"), vec![0x5a; 4096]).unwrap();
    let (code, stdout, stderr) = run(&[
        "--format",
        "json",
        "ota",
        "suit",
        "sign",
        "--key",
        &p(&dir, "priv.pem"),
        "--vendor",
        VENDOR,
        "--class",
        CLASS,
        "--component",
        "00",
        "--image",
        &p(&dir, "fw.bin"),
        "--sequence",
        "42",
        "--uri",
        "https://fw.example/fw.bin",
        "--out",
        &p(&dir, "signed.suit"),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        json["sha256"],
        "f302957da5220938a7e3e51a8718c79b9e00dc13ab2119e8cfc978f041720382"
    );
    assert_eq!(json["size"], 4096);
    assert_eq!(json["algorithm"], "ES256");
    let (code, stdout, stderr) = verify(&dir, true, "signed.suit", &["--state", &state(&dir, 41)]);
    assert_eq!(code, 0, "{stderr}");
    let verified: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(verified["sequence_number"], 42);
    assert_eq!(
        verified["components"][0]["images"][0]["sha256"],
        json["sha256"]
    );
    assert_eq!(verified["components"][0]["images"][0]["size"], 4096);
}

#[test]
fn an_envelope_that_does_not_decode_is_bad_input_not_a_refusal() {
    let Some(dir) = setup("undecodable") else {
        return;
    };
    let whole = std::fs::read(dir.join("example0.suit")).unwrap();
    std::fs::write(dir.join("half.suit"), &whole[..whole.len() / 2]).unwrap();
    let (code, stdout, stderr) = verify(&dir, true, "half.suit", &[]);
    assert_eq!((code, stdout.as_str()), (2, ""), "{stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains("half.suit: bad encoding"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
