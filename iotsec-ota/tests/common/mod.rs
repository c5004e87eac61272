//! Fixtures shared by the integration tests: deterministic keys, roots and manifests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use iotsec_ota::DeviceState;
use iotsec_ota::manifest_builder::{ComponentSpec, ManifestBuilder};
use iotsec_ota::signer::{Ed25519Key, Es256Key, Signer, sign_document};
use iotsec_ota::trust_root::{ROOT_CONTENT_TYPE, TrustRootPayload};

pub const VENDOR: [u8; 16] = [0x11; 16];
pub const CLASS: [u8; 16] = [0x22; 16];
pub const DEVICE: &[u8] = b"device-0001";
pub const IMAGE: &[u8] = b"firmware image v2: pretend this is an ARM binary";

pub fn ed(n: u8) -> Ed25519Key {
    Ed25519Key::from_seed(&[n; 32])
}

pub fn es(n: u8) -> Es256Key {
    let mut scalar = [0u8; 32];
    scalar[31] = n;
    scalar[0] = 0x10;
    Es256Key::from_scalar(&scalar).unwrap()
}

pub fn entry(key: &dyn Signer) -> (Vec<u8>, iotsec_ota::Algorithm, Vec<u8>) {
    (key.key_id(), key.algorithm(), key.public_key())
}

/// A root payload: root role = `root_keys` with `root_threshold`, release role = `release_keys`
/// with `release_threshold`.
pub fn root_payload(
    version: u64,
    root_keys: &[&dyn Signer],
    root_threshold: u8,
    release_keys: &[&dyn Signer],
    release_threshold: u8,
) -> TrustRootPayload {
    let mut keys = Vec::new();
    for key in root_keys.iter().chain(release_keys) {
        let e = entry(*key);
        if !keys.contains(&e) {
            keys.push(e);
        }
    }
    TrustRootPayload {
        version,
        keys,
        root: (
            root_threshold,
            root_keys.iter().map(|k| k.key_id()).collect(),
        ),
        release: (
            release_threshold,
            release_keys.iter().map(|k| k.key_id()).collect(),
        ),
        expires_at: None,
    }
}

pub fn sign_root(payload: &TrustRootPayload, signers: &[&dyn Signer]) -> Vec<u8> {
    sign_document(ROOT_CONTENT_TYPE, &payload.to_cbor(), signers).unwrap()
}

/// Root v1: root role 2-of-3 (ed 1, ed 2, es 3); release role 2-of-3 (ed 4, es 5, ed 6).
pub fn root_v1() -> Vec<u8> {
    let (r1, r2, r3) = (ed(1), ed(2), es(3));
    let (s4, s5, s6) = (ed(4), es(5), ed(6));
    let payload = root_payload(1, &[&r1, &r2, &r3], 2, &[&s4, &s5, &s6], 2);
    sign_root(&payload, &[&r1, &r3])
}

pub fn state() -> DeviceState<'static> {
    DeviceState {
        vendor_id: VENDOR,
        class_id: CLASS,
        device_id: DEVICE,
        security_counter: 3,
        last_sequence: 10,
        trusted_root_version: 1,
        slot_capacity: 1 << 20,
        now: iotsec_ota::TrustedTime::At(1_800_000_000),
    }
}

pub fn release() -> ManifestBuilder {
    ManifestBuilder::new(VENDOR, CLASS, "2.0.0")
        .security_counter(4)
        .sequence_number(11)
        .component(ComponentSpec::from_image("app", IMAGE))
        .expires_at(1_900_000_000)
}

/// A manifest signed by release keys ed 4 and es 5.
pub fn signed(builder: &ManifestBuilder) -> Vec<u8> {
    builder.sign(&[&ed(4), &es(5)]).unwrap()
}

/// The Python with pycose and cbor2 (`target/venv` from `.ci/pip-packages.txt`, else
/// `python3`); `None` skips loudly, and with `CI=true` a missing peer fails the test.
#[allow(clippy::panic)]
pub fn python() -> Option<std::path::PathBuf> {
    let venv = std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/venv/bin/python"
    ));
    let candidates = [venv, std::path::PathBuf::from("python3")];
    for python in candidates {
        let ok = std::process::Command::new(&python)
            .args(["-c", "import pycose, cbor2"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(python);
        }
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("pycose is missing: run .ci/install.sh (it installs .ci/pip-packages.txt)");
    }
    eprintln!("SKIPPED: pycose not installed (python3 -m pip install pycose==1.1.0)");
    None
}

/// A scratch directory `iotsec-ota-NAME-PID` under the system temp dir.
pub fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("iotsec-ota-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A deterministic image of `len` bytes that differs per `version`.
pub fn versioned_image(version: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u64 * 31 + version * 7) as u8)
        .collect()
}

/// The install ticket a verified manifest for `image` would give.
pub fn install_ticket(
    image: &[u8],
    counter: u64,
    sequence: u64,
) -> iotsec_ota::trial_boot::InstallTicket {
    use sha2::Digest;
    iotsec_ota::trial_boot::InstallTicket {
        security_counter: counter,
        sequence_number: sequence,
        digest: sha2::Sha256::digest(image).into(),
        size: image.len() as u64,
    }
}
