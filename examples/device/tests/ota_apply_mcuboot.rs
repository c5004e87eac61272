//! `iotsec-device ota apply --mcuboot-key`: an MCUboot image signed by the trusted key goes
//! through the same A/B trial boot as a manifest update, its protected security counter held
//! to the device's committed counter (a lower one is refused), its version to the last
//! confirmed one. Keys are the imgtool-made test keys of `iotsec-ota/tests/fixtures/mcuboot`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::PathBuf;

use common::run_json as run;
use iotsec_ota::mcuboot::{ImageSpec, ImageVersion, load_signer_pem, sign_image};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../iotsec-ota/tests/fixtures/mcuboot"
);

struct Device {
    dir: PathBuf,
}

impl Device {
    /// A device with its factory image confirmed at security counter 3.
    fn new(name: &str) -> Self {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("mcuboot-apply-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("factory.bin"), vec![7u8; 10_000]).unwrap();
        std::fs::write(
            dir.join("state.json"),
            serde_json::json!({
                "vendor_id": "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
                "class_id": "6ba7b811-9dad-11d1-80b4-00c04fd430c8",
                "device_id": "dev-1", "trusted_root_version": 1, "slot_capacity": 100_000
            })
            .to_string(),
        )
        .unwrap();
        let device = Device { dir };
        let (code, _) = run(&[
            "ota",
            "provision",
            "--slots",
            &device.p("slots"),
            "--image",
            &device.p("factory.bin"),
            "--security-counter",
            "3",
            "--sequence",
            "1",
        ]);
        assert_eq!(code, 0);
        device
    }

    fn p(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// An image signed with fixture key `key` (`ed25519` or `p256`).
    fn image(
        &self,
        name: &str,
        key: &str,
        version: &str,
        counter: Option<u32>,
        len: usize,
    ) -> String {
        let pem = std::fs::read_to_string(format!("{FIXTURES}/{key}.pem")).unwrap();
        let signer = load_signer_pem(&pem).unwrap();
        let mut spec = ImageSpec::new(version.parse::<ImageVersion>().unwrap());
        spec.pad_header = true;
        spec.security_counter = counter;
        let image = sign_image(&vec![name.len() as u8; len], &spec, signer.as_ref()).unwrap();
        let path = self.p(&format!("{name}.bin"));
        std::fs::write(&path, image).unwrap();
        path
    }

    fn apply(&self, image: &str, health: &str) -> (i32, serde_json::Value) {
        self.apply_with_key(image, health, "ed25519")
    }

    fn apply_with_key(&self, image: &str, health: &str, key: &str) -> (i32, serde_json::Value) {
        let (code, stdout, _) = self.apply_raw(&[
            "--format",
            "json",
            "--mcuboot-key",
            &format!("{FIXTURES}/{key}.pub.pem"),
            "--image",
            image,
            "--health",
            health,
        ]);
        (
            code,
            serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null),
        )
    }

    /// `ota apply --slots S --state S` with `extra`: (exit code, stdout, stderr).
    fn apply_raw(&self, extra: &[&str]) -> (i32, String, String) {
        let (slots, state) = (self.p("slots"), self.p("state.json"));
        let mut args = vec!["ota", "apply", "--slots", &slots, "--state", &state];
        args.extend_from_slice(extra);
        common::run(&args)
    }
}

#[test]
fn a_signed_image_installs_and_a_lower_counter_is_then_refused() {
    let device = Device::new("rollback");
    let v2 = device.image("v2", "ed25519", "2.0.0", Some(5), 20_000);
    let (code, json) = device.apply(&v2, "pass");
    assert_eq!(code, 0, "{json}");
    assert_eq!(
        (
            &json["applied"],
            &json["version"],
            &json["security_counter"],
            &json["confirmed"],
            &json["result"]
        ),
        (
            &serde_json::json!(true),
            &serde_json::json!("2.0.0+0"),
            &serde_json::json!(5),
            &serde_json::json!("B"),
            &serde_json::json!("confirmed")
        )
    );
    // A newer version with counter 4 < 5: rollback, refused before anything is written.
    let older_counter = device.image("v3", "ed25519", "3.0.0", Some(4), 20_000);
    let (code, json) = device.apply(&older_counter, "pass");
    assert_eq!(code, 1);
    assert_eq!(json["code"], "mcuboot_rollback");
    assert_eq!(
        json["reason"],
        "rollback: security counter 4 is below the stored 5"
    );
    assert_eq!(
        (&json["security_counter"], &json["confirmed"]),
        (&serde_json::json!(5), &serde_json::json!("B"))
    );
    // The same counter with a version that is not newer: refused as a replay.
    let same_version = device.image("v2b", "ed25519", "2.0.0", Some(5), 20_000);
    let (code, json) = device.apply(&same_version, "pass");
    assert_eq!(code, 1);
    assert_eq!(
        json["reason"],
        "replay: sequence 144115188075855872 not newer than 144115188075855872"
    );
    // Equal counter, newer version: accepted (MCUboot allows an equal counter).
    let v21 = device.image("v21", "ed25519", "2.1.0", Some(5), 20_000);
    assert_eq!(device.apply(&v21, "pass").0, 0);
}

#[test]
fn refusals_carry_their_codes() {
    let device = Device::new("refusals");
    let cases = [
        (
            device.image("nocounter", "ed25519", "2.0.0", None, 1000),
            "ed25519",
            "mcuboot_missing_tlv",
        ),
        (
            device.image("otherkey", "p256", "2.0.0", Some(9), 1000),
            "ed25519",
            "mcuboot_algorithm_mismatch",
        ),
        (
            device.image("below", "ed25519", "2.0.0", Some(2), 1000),
            "ed25519",
            "mcuboot_rollback",
        ),
    ];
    for (image, key, code) in cases {
        let (exit, json) = device.apply_with_key(&image, "pass", key);
        assert_eq!((exit, json["code"].as_str()), (1, Some(code)), "{json}");
        assert_eq!(json["applied"], false);
    }
    // A tampered payload byte.
    let good = device.image("good", "ed25519", "2.0.0", Some(4), 1000);
    let mut bytes = std::fs::read(&good).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&good, bytes).unwrap();
    let (exit, json) = device.apply(&good, "pass");
    assert_eq!(
        (exit, json["code"].as_str()),
        (1, Some("mcuboot_hash_mismatch"))
    );
    // Larger than the slot: refused without reading it.
    let big = device.image("big", "ed25519", "2.0.0", Some(4), 100_001);
    let (exit, json) = device.apply(&big, "pass");
    assert_eq!(exit, 1);
    assert_eq!(
        json["reason"],
        "image of 100189 bytes exceeds the slot capacity of 100000"
    );
    // Nothing was installed by any of them.
    assert_eq!(json["security_counter"], 3);
}

#[test]
fn a_failed_health_check_reverts_and_keeps_the_counter() {
    let device = Device::new("revert");
    let v2 = device.image("v2", "ed25519", "2.0.0", Some(8), 5000);
    let (code, json) = device.apply(&v2, "fail");
    assert_eq!(code, 1);
    assert_eq!(json["result"], "reverted after a failed health check");
    assert_eq!(
        (&json["security_counter"], &json["confirmed"]),
        (&serde_json::json!(3), &serde_json::json!("A"))
    );
    // Power lost before the health check: the next boot reverts, the counter stays.
    let (code, json) = device.apply(&v2, "reset");
    assert_eq!(
        (code, json["result"].as_str()),
        (0, Some("trial pending (reset before confirm)"))
    );
    let (code, json) = run(&["ota", "boot", "--slots", &device.p("slots")]);
    assert_eq!(
        (
            code,
            json["booted"].as_str(),
            json["security_counter"].as_u64()
        ),
        (0, Some("A"), Some(3))
    );
}

#[test]
fn an_mcuboot_key_does_not_mix_with_a_manifest() {
    let device = Device::new("usage");
    let key = format!("{FIXTURES}/ed25519.pub.pem");
    let (code, _, stderr) = device.apply_raw(&[
        "--mcuboot-key",
        &key,
        "--root",
        "r",
        "--manifest",
        "m",
        "--image",
        "i",
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("error: the argument '--mcuboot-key <MCUBOOT_KEY>' cannot be used with"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1);
    let (code, _, stderr) = device.apply_raw(&["--image", "i"]);
    assert_eq!(code, 2);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
