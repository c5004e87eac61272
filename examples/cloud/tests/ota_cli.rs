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

/// `ota root init` of root v1 (r1 r2 2-of-2, s1 s2 s3 2-of-3) into `out`, `extra` added.
fn root_init(dir: &Path, out: &str, extra: &[&str]) -> (i32, String, String) {
    let key = |k: &str| p(dir, &format!("{k}.json"));
    let (r1, r2, s1, s2, s3, out) = (
        key("r1"),
        key("r2"),
        key("s1"),
        key("s2"),
        key("s3"),
        p(dir, out),
    );
    let mut args = vec![
        "ota",
        "root",
        "init",
        "--root-key",
        &r1,
        "--root-key",
        &r2,
        "--root-threshold",
        "2",
        "--release-key",
        &s1,
        "--release-key",
        &s2,
        "--release-key",
        &s3,
        "--release-threshold",
        "2",
        "--sign",
        &r1,
        "--sign",
        &r2,
        "--out",
        &out,
    ];
    args.extend_from_slice(extra);
    run(&args)
}

/// Keys r1 r2 (root, 2-of-2), s1 s2 s3 (release, 2-of-3), root v1 and image.
fn setup(name: &str) -> PathBuf {
    let dir = common::scratch(&format!("ota-cli-{name}"));
    for k in ["r1", "r2", "s1", "s2"] {
        keygen(&dir, &format!("{k}.json"), "ed25519");
    }
    keygen(&dir, "s3.json", "es256");
    let (code, _, stderr) = root_init(&dir, "root.cbor", &[]);
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

/// A manifest signed with s1 and s2 that expired one second into 1970 (the CLI refuses to sign
/// one, so the library does).
fn sign_expired(dir: &Path, out: &str) {
    use iotsec_ota::manifest_builder::{ComponentSpec, ManifestBuilder};
    use iotsec_ota::signer::Ed25519Key;
    let key = |name: &str| {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap();
        let seed: [u8; 32] = hex::decode(v["secret"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        Ed25519Key::from_seed(&seed)
    };
    let uuid = |t: &str| *uuid::Uuid::parse_str(t).unwrap().as_bytes();
    let image = std::fs::read(dir.join("fw.bin")).unwrap();
    let doc = ManifestBuilder::new(uuid(VENDOR), uuid(CLASS), "1.4.0")
        .security_counter(5)
        .sequence_number(7)
        .component(ComponentSpec::from_image("app", &image))
        .expires_at(1)
        .sign(&[&key("s1.json"), &key("s2.json")])
        .unwrap();
    std::fs::write(dir.join(out), doc).unwrap();
}

/// Rewrites the state file `st` with `edit`.
fn edit_state(st: &str, edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) {
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(st).unwrap()).unwrap();
    edit(v.as_object_mut().unwrap());
    std::fs::write(st, v.to_string()).unwrap();
}

#[test]
fn without_now_in_the_state_the_host_clock_refuses_an_expired_manifest() {
    let dir = setup("expired");
    sign_expired(&dir, "old.cbor");
    let st = state(&dir, 5);
    let (code, stdout, stderr) = verify(&dir, true, "root.cbor", "old.cbor", &["--state", &st]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["code"], "expired", "{json}");
    // Only an explicit flag says the device has no trusted time, and the result says so.
    let flag = ["--state", &st, "--no-trusted-time"];
    let (code, stdout, stderr) = verify(&dir, true, "root.cbor", "old.cbor", &flag);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["expiry_checked_at"], serde_json::Value::Null);
    let (code, stdout, _) = verify(&dir, false, "root.cbor", "old.cbor", &flag);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("expiry not checked: --no-trusted-time"),
        "{stdout}"
    );
    // A fresh manifest checked against the host clock reports the time it used.
    assert_eq!(sign(&dir, "m.cbor", "5", &["s1.json", "s2.json"]), 0);
    let (code, stdout, _) = verify(&dir, true, "root.cbor", "m.cbor", &["--state", &st]);
    assert_eq!(code, 0, "{stdout}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(json["expiry_checked_at"].as_u64().unwrap() > 1_700_000_000);
    // The flag contradicts a `now` in the state, and means nothing without a state.
    edit_state(&st, |o| {
        o.insert("now".into(), 2_000_000_000u64.into());
    });
    let (code, _, stderr) = verify(&dir, false, "root.cbor", "m.cbor", &flag);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("no trusted time contradicts the state file's now"),
        "{stderr}"
    );
    let (code, _, stderr) = verify(&dir, false, "root.cbor", "m.cbor", &["--no-trusted-time"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--state"), "{stderr}");
}

#[test]
fn a_state_file_with_an_unknown_key_is_bad_input() {
    let dir = setup("state-keys");
    sign_expired(&dir, "old.cbor");
    let st = state(&dir, 5);
    edit_state(&st, |o| {
        o.insert("Now".into(), 2u64.into());
    });
    let (code, stdout, stderr) = verify(&dir, false, "root.cbor", "old.cbor", &["--state", &st]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(
        stderr.starts_with("error: state: unknown field `Now`, expected one of `vendor_id`"),
        "{stderr}"
    );
}

#[test]
fn flags_that_would_be_ignored_are_refused() {
    let dir = setup("ignored-flags");
    let base = |extra: &[&str]| {
        let fw = format!("app={}", p(&dir, "fw.bin"));
        let (key, out) = (p(&dir, "s1.json"), p(&dir, "x.cbor"));
        let mut args = vec![
            "ota",
            "sign",
            "--vendor",
            VENDOR,
            "--class",
            CLASS,
            "--version",
            "1.0.0",
            "--security-counter",
            "1",
            "--sequence",
            "1",
            "--image",
            &fw,
            "--key",
            &key,
            "--out",
            &out,
        ];
        args.extend_from_slice(extra);
        let (code, _, stderr) = run(&args);
        (code, stderr, dir.join("x.cbor").exists())
    };
    // A seed without a share would sign a manifest with no rollout gate at all.
    let (code, stderr, written) = base(&["--rollout-seed", "00112233445566778899"]);
    assert_eq!((code, written), (2, false));
    assert!(stderr.contains("--rollout-bps"), "{stderr}");
    // An expiry already past would sign a manifest every device with a clock refuses.
    let (code, stderr, written) = base(&["--expires", "1"]);
    assert_eq!((code, written), (2, false));
    assert!(
        stderr.starts_with("error: --expires 1 is not in the future"),
        "{stderr}"
    );
    let (code, _, stderr) = root_init(&dir, "r.cbor", &["--expires", "1"]);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("error: --expires 1 is not in the future"),
        "{stderr}"
    );
    assert!(!dir.join("r.cbor").exists());
    // --component names the component of an --image; alone it would check nothing.
    assert_eq!(sign(&dir, "m.cbor", "5", &["s1.json", "s2.json"]), 0);
    let (code, _, stderr) = verify(&dir, false, "root.cbor", "m.cbor", &["--component", "app"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--image"), "{stderr}");
}

#[test]
fn endless_inputs_and_missing_arguments_end_with_one_line_naming_them() {
    let dir = setup("endless");
    let st = state(&dir, 5);
    assert_eq!(sign(&dir, "m.cbor", "5", &["s1.json", "s2.json"]), 0);
    let (root, manifest) = (p(&dir, "root.cbor"), p(&dir, "m.cbor"));
    for (args, want) in [
        (
            vec![
                "ota",
                "verify",
                "--root",
                "/dev/zero",
                "--manifest",
                &manifest,
            ],
            "error: reading signed document /dev/zero: larger than the 64 KiB cap on signed documents",
        ),
        (
            vec![
                "ota",
                "verify",
                "--root",
                &root,
                "--manifest",
                &manifest,
                "--state",
                "/dev/zero",
            ],
            "error: reading state file /dev/zero: larger than the 64 KiB cap on state files",
        ),
        (
            vec!["ota", "verify", "--root", &root],
            "error: the following required arguments were not provided: --manifest <MANIFEST>",
        ),
    ] {
        let (code, stdout, stderr) = run(&args);
        assert_eq!((code, stdout.as_str()), (2, ""), "{args:?}");
        assert_eq!(stderr.trim_end(), want);
    }
    // An endless image is streamed against the signed size and refused at its end.
    let extra = ["--state", &st, "--image", "/dev/zero"];
    let (code, stdout, _) = verify(&dir, false, "root.cbor", "m.cbor", &extra);
    assert_eq!(code, 1);
    assert!(stdout.contains("endless data"), "{stdout}");
}

#[test]
fn a_refusal_exits_one_and_an_unreadable_document_two() {
    // The exit code comes from the error (`is_refusal`), not from a list in the command.
    let dir = setup("refusal-or-bad-input");
    assert_eq!(sign(&dir, "m.cbor", "5", &["s1.json", "s2.json"]), 0);
    // A replayed manifest: read, understood, refused.
    let st = state(&dir, 9);
    let (code, stdout, _) = verify(&dir, true, "root.cbor", "m.cbor", &["--state", &st]);
    assert_eq!(code, 1, "{stdout}");
    // Not a COSE_Sign at all, and a manifest cut in half: nothing was decided, bad input.
    let whole = std::fs::read(dir.join("m.cbor")).unwrap();
    std::fs::write(dir.join("half.cbor"), &whole[..whole.len() / 2]).unwrap();
    std::fs::write(dir.join("junk.cbor"), b"not CBOR at all").unwrap();
    for junk in ["half.cbor", "junk.cbor"] {
        let (code, stdout, stderr) = verify(&dir, true, "root.cbor", junk, &[]);
        assert_eq!((code, stdout.as_str()), (2, ""), "{junk}: {stderr}");
        assert!(stderr.starts_with("error: manifest: "), "{junk}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    // A state file without the counters the verifier needs is bad input too.
    edit_state(&st, |o| {
        o.remove("security_counter");
    });
    let (code, _, stderr) = verify(&dir, true, "root.cbor", "m.cbor", &["--state", &st]);
    assert_eq!(code, 2);
    assert_eq!(stderr, "error: state: security_counter is missing\n");
}
