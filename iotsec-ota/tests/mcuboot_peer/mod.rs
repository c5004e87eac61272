//! The real MCUboot signing tool, imgtool 2.5.0 (`.ci/pip-packages.txt`, venv `target/venv`),
//! driven on scratch files, plus the fixtures the MCUboot tests share.
//! With `CI=true` a missing imgtool fails the test; elsewhere it skips loudly.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use iotsec_ota::mcuboot::TrustedKey;

pub struct Imgtool {
    bin: PathBuf,
    pub dir: PathBuf,
}

/// imgtool from the venv (or PATH), and a fresh scratch directory named `name`.
pub fn imgtool(name: &str) -> Option<Imgtool> {
    let venv = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/venv/bin/imgtool"
    ));
    for bin in [venv, PathBuf::from("imgtool")] {
        let ok = Command::new(&bin).arg("version").output().is_ok_and(|o| {
            o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "2.5.0"
        });
        if ok {
            let dir = std::env::temp_dir()
                .join(format!("iotsec-ota-mcuboot-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            return Some(Imgtool { bin, dir });
        }
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("imgtool 2.5.0 is missing: run .ci/install.sh (it installs .ci/pip-packages.txt)");
    }
    eprintln!("SKIPPED: imgtool 2.5.0 not installed (python3 -m pip install imgtool==2.5.0)");
    None
}

impl Imgtool {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn run<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Output {
        Command::new(&self.bin)
            .args(args)
            .current_dir(&self.dir)
            .output()
            .unwrap()
    }

    /// Runs imgtool and requires success.
    pub fn ok<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "imgtool failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A new key of imgtool type `kind` (`ed25519`, `ecdsa-p256`) in `NAME.pem`, its public
    /// PEM in `NAME.pub.pem`; returns the trusted key parsed from the public PEM.
    pub fn keygen(&self, name: &str, kind: &str) -> TrustedKey {
        let private = format!("{name}.pem");
        let public = format!("{name}.pub.pem");
        self.ok(&["keygen", "-k", &private, "-t", kind]);
        self.ok(&["getpub", "-k", &private, "-e", "pem", "-o", &public]);
        TrustedKey::from_pem(&std::fs::read_to_string(self.path(&public)).unwrap()).unwrap()
    }

    /// `imgtool sign` of `payload` with header padding, a 1 MiB slot and `extra` flags;
    /// returns the image bytes.
    pub fn sign(&self, payload: &[u8], extra: &[&str]) -> Vec<u8> {
        std::fs::write(self.path("in.bin"), payload).unwrap();
        let mut args = vec!["sign", "-H", "0x20", "--pad-header", "-S", "0x100000"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["in.bin", "out.bin"]);
        self.ok(&args);
        std::fs::read(self.path("out.bin")).unwrap()
    }

    /// `imgtool verify` of `image` with key file `key`: (exit success, stdout).
    pub fn verify(&self, image: &[u8], key: &str) -> (bool, String) {
        std::fs::write(self.path("check.bin"), image).unwrap();
        let out = self.run(&["verify", "-k", key, "check.bin"]);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// `imgtool dumpinfo -f json` of `image`.
    pub fn dumpinfo(&self, image: &[u8]) -> serde_json::Value {
        std::fs::write(self.path("dump.bin"), image).unwrap();
        let out = self.ok(&["dumpinfo", "-f", "json", "dump.bin"]);
        serde_json::from_str(&out).unwrap()
    }
}

/// A deterministic, non-repeating payload of `len` bytes.
pub fn payload(len: usize) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

pub fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
}

fn le16(b: &[u8], at: usize) -> usize {
    u16::from_le_bytes([b[at], b[at + 1]]) as usize
}

fn le32(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize
}

/// Offset of the unprotected TLV info header.
pub fn unprotected_offset(image: &[u8]) -> usize {
    le16(image, 8) + le32(image, 12) + le16(image, 10)
}

/// (value offset, length) of the first TLV of type `kind` in the area whose info is at `info`.
pub fn find_tlv_in(image: &[u8], info: usize, kind: u16) -> Option<(usize, usize)> {
    let end = info + le16(image, info + 2);
    let mut at = info + 4;
    while at < end {
        let (k, len) = (le16(image, at) as u16, le16(image, at + 2));
        if k == kind {
            return Some((at + 4, len));
        }
        at += 4 + len;
    }
    None
}

/// (value offset, length) of the first unprotected TLV of type `kind`.
pub fn find_tlv(image: &[u8], kind: u16) -> Option<(usize, usize)> {
    find_tlv_in(image, unprotected_offset(image), kind)
}

/// (value offset, length) of the first protected TLV of type `kind`.
pub fn find_protected_tlv(image: &[u8], kind: u16) -> Option<(usize, usize)> {
    find_tlv_in(image, le16(image, 8) + le32(image, 12), kind)
}

/// `image` with a TLV appended to its unprotected area (the area length updated).
pub fn append_tlv(image: &[u8], kind: u16, value: &[u8]) -> Vec<u8> {
    let info = unprotected_offset(image);
    let mut out = image.to_vec();
    let total = le16(image, info + 2) + 4 + value.len();
    out[info + 2..info + 4].copy_from_slice(&(total as u16).to_le_bytes());
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    out.extend_from_slice(value);
    out
}

/// Recomputes the SHA-256 hash TLV the way an attacker can (it is not signed).
pub fn rehash_sha256(image: &mut [u8]) {
    use sha2::Digest;
    let region = unprotected_offset(image);
    let digest = sha2::Sha256::digest(&image[..region]);
    let (at, len) = find_tlv(image, 0x10).unwrap();
    image[at..at + len].copy_from_slice(&digest);
}

pub fn version(
    major: u8,
    minor: u8,
    revision: u16,
    build: u32,
) -> iotsec_ota::mcuboot::ImageVersion {
    iotsec_ota::mcuboot::ImageVersion {
        major,
        minor,
        revision,
        build,
    }
}

/// The dependency imgtool writes for `-d "(1,2.0.7)"`.
pub fn dependency() -> iotsec_ota::mcuboot::Dependency {
    iotsec_ota::mcuboot::Dependency {
        image_id: 1,
        min_version: version(2, 0, 7, 0),
    }
}

impl Imgtool {
    /// Our `Signer` for imgtool's private key file `NAME.pem`.
    pub fn signer(&self, name: &str) -> Box<dyn iotsec_ota::signer::Signer> {
        let pem = std::fs::read_to_string(self.path(&format!("{name}.pem"))).unwrap();
        iotsec_ota::mcuboot::load_signer_pem(&pem).unwrap()
    }
}
