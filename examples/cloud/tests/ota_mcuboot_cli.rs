//! `iotsec-cloud ota mcuboot verify|sign` run as the binary, with exact outputs and the
//! contract's exit codes (0 valid, 1 refused with its code, 2 bad input). The fixtures were
//! made by imgtool 2.5.0 (`iotsec-ota/tests/fixtures/mcuboot/README.md`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{p, run};
use serde_json::json;

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../iotsec-ota/tests/fixtures/mcuboot"
);
const DIGEST: &str = "3a012cf5456d5f7e4df5cadb0789746c9158838e960951a8f35c671dd3e714e9";

fn fixture(name: &str) -> String {
    format!("{FIXTURES}/{name}")
}

fn verify_json(key: &str, image: &str) -> (i32, serde_json::Value, String) {
    let (code, stdout, stderr) = run(&[
        "--format", "json", "ota", "mcuboot", "verify", "--key", key, image,
    ]);
    let json = serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
    (code, json, stderr)
}

/// Text output of `ota mcuboot verify` with the Ed25519 fixture key.
fn verify_text(image: &str) -> (i32, String) {
    let key = fixture("ed25519.pub.pem");
    let (code, stdout, _) = run(&["ota", "mcuboot", "verify", "--key", &key, image]);
    (code, stdout)
}

#[test]
fn verify_accepts_an_imgtool_image_and_reports_its_fields() {
    let (code, json, stderr) = verify_json(
        &fixture("ed25519.pub.pem"),
        &fixture("imgtool-ed25519-counter7.bin"),
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        json,
        json!({
            "valid": true, "version": "1.2.3+4", "security_counter": 7, "dependencies": [],
            "flags": 0, "load_address": 0, "image_size": 1024, "hash": "sha256",
            "digest": DIGEST, "signature": "ed25519", "key_reference": "keyhash",
        })
    );
    let (code, stdout) = verify_text(&fixture("imgtool-ed25519-counter7.bin"));
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        "valid: MCUboot image 1.2.3+4, security counter 7, ed25519 over sha256\n"
    );
}

#[test]
fn verify_refuses_with_the_code_and_exit_1() {
    let dir = common::scratch("mcuboot-refused");
    let image = std::fs::read(fixture("imgtool-ed25519-counter7.bin")).unwrap();
    let (code, json, _) = verify_json(
        &fixture("p256.pub.pem"),
        &fixture("imgtool-ed25519-counter7.bin"),
    );
    assert_eq!(code, 1);
    assert_eq!(
        json,
        json!({"valid": false, "code": "mcuboot_algorithm_mismatch",
               "reason": "TLV 0x0024 does not match the trusted key's algorithm"})
    );
    let mut payload_flipped = image.clone();
    payload_flipped[32 + 500] ^= 0x80;
    let mut appended = image.clone();
    let info = 32 + 1024 + 12; // header, payload, protected area (SEC_CNT)
    let total = u16::from_le_bytes([image[info + 2], image[info + 3]]) + 8;
    appended[info + 2..info + 4].copy_from_slice(&total.to_le_bytes());
    appended.extend_from_slice(&[0xa0, 0, 4, 0, 1, 2, 3, 4]);
    for (name, bytes, want) in [
        ("payload.bin", payload_flipped, "mcuboot_hash_mismatch"),
        ("appended.bin", appended, "mcuboot_unknown_tlv"),
        (
            "short.bin",
            image[..image.len() - 3].to_vec(),
            "mcuboot_truncated",
        ),
    ] {
        std::fs::write(dir.join(name), bytes).unwrap();
        let (code, json, _) = verify_json(&fixture("ed25519.pub.pem"), &p(&dir, name));
        assert_eq!(
            (code, json["valid"].clone(), json["code"].as_str()),
            (1, json!(false), Some(want)),
            "{name}"
        );
    }
    let (code, stdout) = verify_text(&p(&dir, "appended.bin"));
    assert_eq!(code, 1);
    assert_eq!(
        stdout,
        "rejected: unknown TLV type 0x00a0 at offset 1212 (mcuboot_unknown_tlv)\n"
    );
}

#[test]
fn verify_bad_input_exits_2_with_one_line() {
    let (code, stdout, stderr) = run(&[
        "ota",
        "mcuboot",
        "verify",
        "--key",
        &fixture("ed25519.pem"),
        &fixture("imgtool-ed25519-counter7.bin"),
    ]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(
        stderr,
        format!(
            "error: {}: not an Ed25519 or P-256 PUBLIC KEY PEM (trusted key is not a usable Ed25519 or P-256 key)\n",
            fixture("ed25519.pem")
        )
    );
    let (code, _, stderr) = run(&[
        "ota",
        "mcuboot",
        "verify",
        "--key",
        &fixture("ed25519.pub.pem"),
        "/nonexistent/image.bin",
    ]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: /nonexistent/image.bin: No such file or directory (os error 2)\n"
    );
}

#[test]
fn sign_makes_the_bytes_imgtool_made() {
    let dir = common::scratch("mcuboot-sign");
    let out = p(&dir, "signed.bin");
    let (code, stdout, stderr) = run(&[
        "--format",
        "json",
        "ota",
        "mcuboot",
        "sign",
        "--key",
        &fixture("ed25519.pem"),
        "--version",
        "1.2.3+4",
        "--security-counter",
        "7",
        "--header-size",
        "0x20",
        "--pad-header",
        "--slot-size",
        "0x10000",
        &fixture("payload.bin"),
        &out,
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(fixture("imgtool-ed25519-counter7.bin")).unwrap()
    );
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        json,
        json!({
            "version": "1.2.3+4", "security_counter": 7, "dependencies": [], "flags": 0,
            "load_address": 0, "image_size": 1024, "hash": "sha256", "digest": DIGEST,
            "signature": "ed25519", "key_reference": "keyhash", "out": out, "bytes": 1212,
        })
    );
    // P-256, pure Ed25519 and a dependency, each verified by our own verify command.
    for (key, public, extra, signature) in [
        ("p256.pem", "p256.pub.pem", vec![], "ecdsa-p256"),
        (
            "ed25519.pem",
            "ed25519.pub.pem",
            vec!["--pure", "--public-key-format", "full"],
            "ed25519-pure",
        ),
        (
            "ed25519.pem",
            "ed25519.pub.pem",
            vec!["--sha", "512", "-d", "1,2.0.7"],
            "ed25519",
        ),
    ] {
        let key = fixture(key);
        let mut args = vec![
            "ota",
            "mcuboot",
            "sign",
            "-k",
            &key,
            "-v",
            "2.0.0",
            "-s",
            "8",
            "-H",
            "32",
            "--pad-header",
            "-S",
            "65536",
        ];
        let input = fixture("payload.bin");
        args.extend(extra.iter().copied());
        args.extend([input.as_str(), out.as_str()]);
        let (code, stdout, stderr) = run(&args);
        assert_eq!(code, 0, "{stderr}");
        assert!(
            stdout.starts_with(&format!(
                "MCUboot image 2.0.0+0 (security counter 8, {signature} over "
            )),
            "{stdout}"
        );
        let (code, json, _) = verify_json(&fixture(public), &out);
        assert_eq!(
            (
                code,
                json["signature"].as_str(),
                json["security_counter"].as_u64()
            ),
            (0, Some(signature), Some(8))
        );
    }
    let (_, json, _) = verify_json(&fixture("ed25519.pub.pem"), &out);
    assert_eq!(
        json["dependencies"],
        json!([{"image_id": 1, "min_version": "2.0.7+0"}])
    );
}

#[test]
fn sign_refuses_combinations_it_does_not_implement() {
    let dir = common::scratch("mcuboot-sign-refused");
    let out = p(&dir, "x.bin");
    let input = fixture("payload.bin");
    let base = |key: &'static str, version: &'static str| -> Vec<String> {
        [
            "ota",
            "mcuboot",
            "sign",
            "-k",
            &fixture(key),
            "-v",
            version,
            "-s",
            "1",
            "-H",
            "32",
            "--pad-header",
            "-S",
            "65536",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--pure".into(), "--sha".into(), "512".into()],
            "error: --pure fixes the hash to SHA-512: drop --sha (as imgtool refuses it)\n",
        ),
        (
            vec!["--pure".into()],
            "error: pure signatures need Ed25519 (mcuboot_sign_unsupported)\n",
        ),
        (
            vec!["--align".into(), "3".into()],
            "error: alignment 3 is not 1, 2, 4, 8, 16 or 32 (mcuboot_sign_invalid_align)\n",
        ),
        (
            vec![],
            "error: --version 1.2+3: version must be major[.minor[.revision[+build]]] (8, 8, 16 and 32 bits)\n",
        ),
        (
            vec!["-S".into(), "1024".into()],
            "error: image of 1212 bytes plus trailer of 432 bytes exceeds the slot of 1024 (mcuboot_sign_slot_too_small)\n",
        ),
    ];
    for (extra, want) in cases {
        let key = if want.contains("need Ed25519") {
            "p256.pem"
        } else {
            "ed25519.pem"
        };
        let version = if want.contains("--version") {
            "1.2+3"
        } else {
            "1.0.0"
        };
        let mut args = base(key, version);
        if extra.first().is_some_and(|a| a == "-S") {
            args.truncate(args.len() - 2); // the default slot size
        }
        args.extend(extra);
        args.extend([input.clone(), out.clone()]);
        let (code, stdout, stderr) = common::run_owned(&args);
        assert_eq!(
            (code, stdout.as_str(), stderr.as_str()),
            (2, "", want),
            "{args:?}"
        );
    }
    // imgtool flags this command does not implement are unknown, never ignored.
    for flag in [
        ["--encrypt", "k.pem"],
        ["--pad", "--confirm"],
        ["--load-addr", "0x100"],
    ] {
        let mut args = base("ed25519.pem", "1.0.0");
        args.extend(flag.iter().map(|s| s.to_string()));
        args.extend([input.clone(), out.clone()]);
        let (code, stdout, stderr) = common::run_owned(&args);
        assert_eq!((code, stdout.as_str()), (2, ""), "{flag:?}");
        assert!(
            stderr.starts_with("error: unexpected argument") && stderr.lines().count() == 1,
            "{stderr}"
        );
    }
    assert!(!dir.join("x.bin").exists());
}
