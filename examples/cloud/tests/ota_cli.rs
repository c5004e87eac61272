//! `iotsec-cloud ota`: keygen, root init/rotate, sign and verify, run as the binary, with the
//! contract's exit codes (0 valid, 1 rejected with the reason, 2 bad input).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::{Path, PathBuf};

use common::{p, run, run_owned};

const VENDOR: &str = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";
const CLASS: &str = "6ba7b811-9dad-11d1-80b4-00c04fd430c8";

/// `[--format json] ota verify --root ROOT --manifest MANIFEST` (files in `dir`); `extra` is
/// added.
fn verify(
    dir: &Path,
    json: bool,
    root: &str,
    manifest: &str,
    extra: &[&str],
) -> (i32, String, String) {
    let (root, manifest) = (p(dir, root), p(dir, manifest));
    let mut args = if json {
        vec!["--format", "json"]
    } else {
        vec![]
    };
    args.extend_from_slice(&["ota", "verify", "--root", &root, "--manifest", &manifest]);
    args.extend_from_slice(extra);
    run(&args)
}

fn keygen(dir: &Path, name: &str, alg: &str) {
    let (code, stdout, stderr) = run(&[
        "--format",
        "json",
        "ota",
        "keygen",
        "--alg",
        alg,
        "--out",
        &p(dir, name),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["alg"], alg);
    assert_eq!(json["kid"].as_str().unwrap().len(), 16);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "secret key files must be private");
    }
}

/// Keys r1 r2 (root, 2-of-2), s1 s2 s3 (release, 2-of-3), root v1 and image.
fn setup(name: &str) -> PathBuf {
    let dir = common::scratch(&format!("ota-cli-{name}"));
    for k in ["r1", "r2", "s1", "s2"] {
        keygen(&dir, &format!("{k}.json"), "ed25519");
    }
    keygen(&dir, "s3.json", "es256");
    let (code, _, stderr) = run(&[
        "ota",
        "root",
        "init",
        "--root-key",
        &p(&dir, "r1.json"),
        "--root-key",
        &p(&dir, "r2.json"),
        "--root-threshold",
        "2",
        "--release-key",
        &p(&dir, "s1.json"),
        "--release-key",
        &p(&dir, "s2.json"),
        "--release-key",
        &p(&dir, "s3.json"),
        "--release-threshold",
        "2",
        "--sign",
        &p(&dir, "r1.json"),
        "--sign",
        &p(&dir, "r2.json"),
        "--out",
        &p(&dir, "root.cbor"),
    ]);
    assert_eq!(code, 0, "{stderr}");
    std::fs::write(dir.join("fw.bin"), vec![0x5a; 70_000]).unwrap();
    dir
}

fn sign(dir: &Path, out: &str, counter: &str, keys: &[&str]) -> i32 {
    let mut args = vec![
        "ota".to_string(),
        "sign".into(),
        "--vendor".into(),
        VENDOR.into(),
        "--class".into(),
        CLASS.into(),
        "--version".into(),
        "1.4.0".into(),
        "--security-counter".into(),
        counter.into(),
        "--sequence".into(),
        "7".into(),
        "--image".into(),
        format!("app={}", p(dir, "fw.bin")),
        "--out".into(),
        p(dir, out),
    ];
    for k in keys {
        args.push("--key".into());
        args.push(p(dir, k));
    }
    run_owned(&args).0
}

fn state(dir: &Path, counter: u64) -> String {
    let path = dir.join("state.json");
    std::fs::write(
        &path,
        serde_json::json!({
            "vendor_id": VENDOR, "class_id": CLASS, "device_id": "dev-1",
            "security_counter": counter, "last_sequence": 3, "trusted_root_version": 1,
            "slot_capacity": 1_000_000
        })
        .to_string(),
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn sign_then_verify_with_image_and_state_exits_zero() {
    let dir = setup("ok");
    assert_eq!(sign(&dir, "m.cbor", "5", &["s1.json", "s3.json"]), 0);
    let st = state(&dir, 5);
    let image = p(&dir, "fw.bin");
    let extra = ["--image", &image, "--state", &st];
    let (code, stdout, stderr) = verify(&dir, true, "root.cbor", "m.cbor", &extra);
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["valid"], true);
    assert_eq!(json["signers"], 2);
    assert_eq!(json["image"], "verified");
    assert_eq!(json["device_checks"], true);
}

#[test]
fn rejections_exit_one_with_the_reason() {
    let dir = setup("reject");
    // One signature where two are needed.
    assert_eq!(sign(&dir, "one.cbor", "5", &["s1.json"]), 0);
    let (code, stdout, _) = verify(&dir, true, "root.cbor", "one.cbor", &[]);
    assert_eq!(code, 1);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["code"], "threshold_not_met", "{json}");
    assert_eq!(
        json["reason"],
        "release threshold not met: 1 of 2 distinct keys signed"
    );
    // Rollback against the device state.
    assert_eq!(sign(&dir, "m.cbor", "5", &["s1.json", "s2.json"]), 0);
    let st = state(&dir, 9);
    let (code, stdout, _) = verify(&dir, false, "root.cbor", "m.cbor", &["--state", &st]);
    assert_eq!(code, 1);
    assert!(stdout.contains("rollback"), "{stdout}");
    let (code, stdout, _) = verify(&dir, true, "root.cbor", "m.cbor", &["--state", &st]);
    assert_eq!(code, 1);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["code"], "rollback", "{json}");
    // Another image than the signed one.
    std::fs::write(dir.join("evil.bin"), vec![0x5b; 70_000]).unwrap();
    let evil = p(&dir, "evil.bin");
    let (code, stdout, _) = verify(&dir, false, "root.cbor", "m.cbor", &["--image", &evil]);
    assert_eq!(code, 1);
    assert!(stdout.contains("digest"), "{stdout}");
    let (code, stdout, _) = verify(&dir, true, "root.cbor", "m.cbor", &["--image", &evil]);
    assert_eq!(code, 1);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["code"], "image_digest_mismatch", "{json}");
    assert_eq!(
        json["reason"],
        "image: image digest does not match the signed digest"
    );
    // A tampered manifest.
    let mut bytes = std::fs::read(dir.join("m.cbor")).unwrap();
    let at = bytes.windows(5).position(|w| w == b"1.4.0").unwrap();
    bytes[at] = b'9';
    std::fs::write(dir.join("tampered.cbor"), bytes).unwrap();
    let (code, stdout, _) = verify(&dir, false, "root.cbor", "tampered.cbor", &[]);
    assert_eq!(code, 1);
    assert!(stdout.contains("does not verify"), "{stdout}");
}

#[test]
fn bad_input_exits_two_with_one_line() {
    let dir = setup("bad");
    let (code, _, stderr) = verify(&dir, false, "missing.cbor", "m.cbor", &[]);
    assert_eq!(code, 2);
    assert_eq!(stderr.trim().lines().count(), 1);
    // A public-only key file cannot sign.
    std::fs::write(dir.join("pub.json"), {
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("s1.json")).unwrap()).unwrap();
        v.as_object_mut().unwrap().remove("secret");
        v.to_string()
    })
    .unwrap();
    assert_eq!(sign(&dir, "x.cbor", "1", &["pub.json"]), 2);
    let (code, _, _) = run(&["ota", "sign", "--vendor", "not-a-uuid"]);
    assert_eq!(code, 2);
    // A `now` that is present but not seconds since the epoch is bad input, not "no clock"
    // (which would switch the expiry checks off).
    assert_eq!(sign(&dir, "m.cbor", "5", &["s1.json", "s2.json"]), 0);
    let st = state(&dir, 5);
    for now in [
        serde_json::json!("2030-01-01"),
        serde_json::json!(-1),
        serde_json::json!(1.5),
    ] {
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&st).unwrap()).unwrap();
        v["now"] = now.clone();
        std::fs::write(&st, v.to_string()).unwrap();
        let (code, stdout, stderr) = verify(&dir, false, "root.cbor", "m.cbor", &["--state", &st]);
        assert_eq!((code, stdout.as_str()), (2, ""), "{now}");
        assert_eq!(
            stderr.trim(),
            "error: state: now must be an unsigned integer (seconds since the epoch)",
            "{now}"
        );
    }
}

#[cfg(unix)]
#[test]
fn keygen_over_a_world_readable_file_leaves_a_private_key() {
    use std::os::unix::fs::PermissionsExt;
    let dir = common::scratch("ota-cli-keymode");
    let path = dir.join("k.json");
    std::fs::write(&path, "old").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    keygen(&dir, "k.json", "ed25519"); // asserts mode 0600
    assert_ne!(std::fs::read_to_string(&path).unwrap(), "old");
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "k.json")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn root_rotation_needs_old_and_new_thresholds() {
    let dir = setup("rotate");
    keygen(&dir, "r3.json", "ed25519");
    let rotate = |signers: &[&str], out: &str| {
        let mut args = vec![
            "ota".to_string(),
            "root".into(),
            "rotate".into(),
            "--current".into(),
            p(&dir, "root.cbor"),
            "--root-key".into(),
            p(&dir, "r2.json"),
            "--root-key".into(),
            p(&dir, "r3.json"),
            "--root-threshold".into(),
            "2".into(),
            "--release-key".into(),
            p(&dir, "s2.json"),
            "--release-threshold".into(),
            "1".into(),
            "--out".into(),
            p(&dir, out),
        ];
        for s in signers {
            args.push("--sign".into());
            args.push(p(&dir, s));
        }
        run_owned(&args)
    };
    // New keys only: the old root threshold (r1 + r2) is not met.
    let (code, stdout, _) = rotate(&["r2.json", "r3.json"], "v2-bad.cbor");
    assert_eq!(code, 1, "{stdout}");
    assert!(!dir.join("v2-bad.cbor").exists());
    let (code, stdout, stderr) = rotate(&["r1.json", "r2.json", "r3.json"], "v2.cbor");
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("version 2"));
}
