//! The draft-ietf-suit-manifest Appendix B examples (`../shared/data/suit-examples`): the six
//! envelopes, their signing key, and a device that fits them. Absent data skips loudly (with
//! `CI=true` it fails).
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::PathBuf;

use iotsec_ota::DeviceState;
use iotsec_ota::signer::{Es256Key, Signer};
use iotsec_ota::suit::SuitKey;
use p256::pkcs8::DecodePrivateKey;

pub const VENDOR: [u8; 16] = hex_literal(b"fa6b4a53d5ad5fdfbe9de663e4d41ffe");
pub const CLASS: [u8; 16] = hex_literal(b"1492af1425695e48bf429b2d51f2ab45");
pub const DIGEST_A: [u8; 32] =
    hex_literal(b"00112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210");
pub const DIGEST_B: [u8; 32] =
    hex_literal(b"0123456789abcdeffedcba987654321000112233445566778899aabbccddeeff");

const fn hex_literal<const N: usize>(text: &[u8]) -> [u8; N] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            _ => c - b'a' + 10,
        }
    }
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = (nibble(text[2 * i]) << 4) | nibble(text[2 * i + 1]);
        i += 1;
    }
    out
}

/// The examples directory, or `None` (skipped loudly; a failure under `CI=true`).
pub fn examples_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/suit-examples"
    ));
    if dir.join("private_key.pem").is_file() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{} is missing (shared test data)", dir.display());
    }
    eprintln!(
        "SKIPPED: {} is absent (draft-ietf-suit-manifest examples)",
        dir.display()
    );
    None
}

/// The hex blocks of `exampleN.txt`, in document order (the last one is the full envelope).
pub fn blocks(dir: &std::path::Path, n: usize) -> Vec<Vec<u8>> {
    let text = std::fs::read_to_string(dir.join(format!("example{n}.txt"))).unwrap();
    text.split("~~~")
        .skip(1)
        .step_by(2)
        .filter_map(|block| {
            let hex: String = block.split_whitespace().collect();
            (!hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| hex::decode(&hex).unwrap())
        })
        .collect()
}

/// The full envelope (with authentication and any severable members) of example `n`.
pub fn envelope(dir: &std::path::Path, n: usize) -> Vec<u8> {
    blocks(dir, n).pop().unwrap()
}

/// The examples' signing key (ES256, PKCS#8 PEM).
pub fn example_signer(dir: &std::path::Path) -> Es256Key {
    let pem = std::fs::read_to_string(dir.join("private_key.pem")).unwrap();
    let secret = p256::SecretKey::from_pkcs8_pem(&pem).unwrap();
    Es256Key::from_scalar(&secret.to_bytes().into()).unwrap()
}

pub fn example_key(dir: &std::path::Path) -> SuitKey {
    let signer = example_signer(dir);
    SuitKey::parse(signer.algorithm(), &signer.public_key()).unwrap()
}

/// A device of the examples' vendor and class that accepted sequence number `last`.
pub fn device(last: u64) -> DeviceState<'static> {
    DeviceState {
        vendor_id: VENDOR,
        class_id: CLASS,
        device_id: b"suit-device",
        security_counter: 0,
        last_sequence: last,
        trusted_root_version: 1,
        slot_capacity: 1 << 20,
        now: iotsec_ota::TrustedTime::NoTrustedClock,
    }
}
