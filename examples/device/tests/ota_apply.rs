//! `iotsec-device ota`: provision, apply (verify, install, trial boot, confirm or revert) and
//! boot on slot files, run as the binary.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::{Path, PathBuf};

use common::run_json as run;
use iotsec_ota::manifest_builder::{ComponentSpec, ManifestBuilder};
use iotsec_ota::signer::Ed25519Key;

const VENDOR: &str = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";
const CLASS: &str = "6ba7b811-9dad-11d1-80b4-00c04fd430c8";

fn uuid(text: &str) -> [u8; 16] {
    *uuid::Uuid::parse_str(text).unwrap().as_bytes()
}

struct Fixture {
    dir: PathBuf,
}

impl Fixture {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("iotsec-ota-dev-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let doc = common::ota_trust_root();
        std::fs::write(dir.join("root.cbor"), doc).unwrap();
        std::fs::write(dir.join("fw1.bin"), vec![1u8; 40_000]).unwrap();
        std::fs::write(
            dir.join("state.json"),
            serde_json::json!({
                "vendor_id": VENDOR, "class_id": CLASS, "device_id": "dev-1",
                "trusted_root_version": 1, "slot_capacity": 1_000_000
            })
            .to_string(),
        )
        .unwrap();
        let f = Fixture { dir };
        let (code, _) = run(&[
            "ota",
            "provision",
            "--slots",
            &f.p("slots"),
            "--image",
            &f.p("fw1.bin"),
            "--security-counter",
            "1",
            "--sequence",
            "1",
        ]);
        assert_eq!(code, 0);
        f
    }

    fn p(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    fn release(&self, name: &str, counter: u64, sequence: u64, fill: u8) -> (String, String) {
        self.release_of_len(name, counter, sequence, fill, 50_000 + usize::from(fill))
    }

    fn release_of_len(
        &self,
        name: &str,
        counter: u64,
        sequence: u64,
        fill: u8,
        len: usize,
    ) -> (String, String) {
        self.release_built(name, fill, len, |b| {
            b.security_counter(counter).sequence_number(sequence)
        })
    }

    /// A release of a `len`-byte image of `fill`, its manifest shaped by `build`.
    fn release_built(
        &self,
        name: &str,
        fill: u8,
        len: usize,
        build: impl FnOnce(ManifestBuilder) -> ManifestBuilder,
    ) -> (String, String) {
        let image = vec![fill; len];
        let image_path = self.p(&format!("{name}.bin"));
        std::fs::write(&image_path, &image).unwrap();
        let doc = build(ManifestBuilder::new(uuid(VENDOR), uuid(CLASS), "2.0.0"))
            .component(ComponentSpec::from_image("app", &image))
            .sign(&[&Ed25519Key::from_seed(&[2; 32])])
            .unwrap();
        let manifest_path = self.p(&format!("{name}.cbor"));
        std::fs::write(&manifest_path, doc).unwrap();
        (manifest_path, image_path)
    }

    fn apply_args(&self, manifest: &str, image: &str, health: &str) -> Vec<String> {
        let (slots, root, state) = (self.p("slots"), self.p("root.cbor"), self.p("state.json"));
        [
            "ota",
            "apply",
            "--slots",
            &slots,
            "--root",
            &root,
            "--manifest",
            manifest,
            "--image",
            image,
            "--state",
            &state,
            "--health",
            health,
        ]
        .map(str::to_owned)
        .to_vec()
    }

    fn apply(&self, manifest: &str, image: &str, health: &str) -> (i32, serde_json::Value) {
        let args = self.apply_args(manifest, image, health);
        run(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }
}

/// The `reason` of a refusal.
fn reason(json: &serde_json::Value) -> &str {
    json["reason"].as_str().unwrap()
}

fn slots(dir: &Path) -> String {
    dir.join("slots").display().to_string()
}

#[test]
fn healthy_update_is_confirmed_and_commits_the_counter() {
    let f = Fixture::new("ok");
    let (m, i) = f.release("v2", 4, 2, 2);
    let (code, json) = f.apply(&m, &i, "pass");
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["confirmed"], "B");
    assert_eq!(json["security_counter"], 4);
    assert_eq!(json["applied"], true);
    // The same manifest again is a replay.
    let (code, json) = f.apply(&m, &i, "pass");
    assert_eq!(code, 1);
    assert!(reason(&json).contains("replay"), "{json}");
    assert_eq!(json["code"], "replay", "{json}");
    // An older release (lower counter, newer sequence) is a rollback.
    let (m, i) = f.release("old", 3, 9, 3);
    let (code, json) = f.apply(&m, &i, "pass");
    assert_eq!(code, 1);
    assert!(reason(&json).contains("rollback"), "{json}");
    assert_eq!(json["code"], "rollback", "{json}");
}

#[test]
fn failed_health_check_reverts_and_keeps_the_counter() {
    let f = Fixture::new("fail");
    let (m, i) = f.release("v2", 4, 2, 2);
    let (code, json) = f.apply(&m, &i, "fail");
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["confirmed"], "A");
    assert_eq!(json["security_counter"], 1);
    assert_eq!(json["slot_b"], "empty");
}

#[test]
fn reset_before_confirm_reverts_on_next_boot() {
    let f = Fixture::new("reset");
    let (m, i) = f.release("v2", 4, 2, 2);
    let (code, json) = f.apply(&m, &i, "reset");
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["trial"], "B");
    assert_eq!(json["applied"], false, "on trial, not yet applied");
    assert_eq!(json["result"], "trial pending (reset before confirm)");
    let (code, json) = run(&["ota", "boot", "--slots", &slots(&f.dir)]);
    assert_eq!(code, 0);
    assert_eq!(json["booted"], "A");
    assert_eq!(json["security_counter"], 1);
}

#[test]
fn a_swapped_image_is_refused_before_trial() {
    let f = Fixture::new("swap");
    let (m, _) = f.release("v2", 4, 2, 2);
    let evil = f.p("evil.bin");
    std::fs::write(&evil, vec![9u8; 50_002]).unwrap();
    let (code, json) = f.apply(&m, &evil, "pass");
    assert_eq!(code, 1, "{json}");
    assert!(reason(&json).contains("digest"), "{json}");
    let (code, json) = run(&["ota", "boot", "--slots", &slots(&f.dir)]);
    assert_eq!(code, 0);
    assert_eq!(json["booted"], "A");
    // A corrupt boot record is bad input.
    std::fs::write(f.dir.join("slots/boot-record.bin"), b"garbage").unwrap();
    let (code, _) = f.apply(&m, &evil, "pass");
    assert_eq!(code, 2);
}

#[test]
fn a_state_now_that_is_not_seconds_is_bad_input_not_no_clock() {
    let f = Fixture::new("badnow");
    let (m, i) = f.release("v2", 4, 2, 2);
    let state = f.dir.join("state.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    v["now"] = serde_json::json!("2030-01-01T00:00:00Z");
    std::fs::write(&state, v.to_string()).unwrap();
    let args = f.apply_args(&m, &i, "pass");
    let (code, stdout, stderr) = common::run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(
        stderr.trim(),
        "error: state: now must be an unsigned integer (seconds since the epoch)"
    );
    // The refused run changed nothing: the same release still installs and confirms.
    v["now"] = serde_json::json!(null);
    std::fs::write(&state, v.to_string()).unwrap();
    let (code, json) = f.apply(&m, &i, "pass");
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["confirmed"], "B");
}

#[test]
fn an_image_of_many_chunks_streams_into_the_slot() {
    let f = Fixture::new("stream");
    // 5 chunks of 64 KiB and a partial one, as the tool reads the file.
    let len = 5 * 64 * 1024 + 123;
    let (m, i) = f.release_of_len("big", 4, 2, 7, len);
    let (code, json) = f.apply(&m, &i, "pass");
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["confirmed"], "B");
    let slot_b = std::fs::read(f.dir.join("slots").join("slot-b.bin")).unwrap();
    assert_eq!(slot_b, vec![7u8; len]);
}

#[test]
fn without_now_the_host_clock_refuses_a_manifest_expired_in_1970() {
    let f = Fixture::new("expired");
    let (m, i) = f.release_built("old", 2, 50_000, |b| {
        b.security_counter(4).sequence_number(2).expires_at(1)
    });
    let (code, json) = f.apply(&m, &i, "pass");
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["code"], "expired", "{json}");
    // Only the explicit flag installs it, and the outcome says expiry was not checked.
    let mut args = f.apply_args(&m, &i, "pass");
    args.push("--no-trusted-time".into());
    let (code, json) = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["expiry_checked_at"], serde_json::Value::Null);
}

#[test]
fn a_state_file_with_an_unknown_key_is_bad_input() {
    let f = Fixture::new("state-keys");
    let state = f.dir.join("state.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    v["Now"] = 2.into();
    std::fs::write(&state, v.to_string()).unwrap();
    let (m, i) = f.release("v2", 4, 2, 2);
    let args = f.apply_args(&m, &i, "pass");
    let (code, out) = common::run_json_text(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 2, "{out}");
    assert!(
        out.starts_with(r#"error: state: unknown key "Now" (known: vendor_id,"#),
        "{out}"
    );
    // An endless state file ends at its cap.
    let mut args = f.apply_args(&m, &i, "pass");
    let at = args.iter().position(|a| a == "--state").unwrap() + 1;
    args[at] = "/dev/zero".into();
    let (code, out) = common::run_json_text(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 2, "{out}");
    assert_eq!(
        out.trim_end(),
        "error: reading state file /dev/zero: larger than the 64 KiB cap on state files"
    );
}
