//! The demo's firmware images and release-channel trust root, shared with the `serve` tests
//! (`tests/serve_support` includes this file), so both publish what the devices expect.

use iotsec_ota::signer::{Ed25519Key, Es256Key, Signer, sign_document};
use iotsec_ota::trust_root::{ROOT_CONTENT_TYPE, TrustRootPayload};

/// The manifests' vendor id (what the devices expect).
pub const VENDOR: [u8; 16] = *b"iotsec-demo-vndr";
/// The manifests' class id.
pub const CLASS: [u8; 16] = *b"sensor-class-v1\0";

/// The firmware image of `version` (16 KiB, the version stamped through it).
pub fn image(version: &str) -> Vec<u8> {
    let line = format!("iotsec demo sensor firmware {version}\n");
    line.as_bytes()
        .iter()
        .copied()
        .cycle()
        .take(16 * 1024)
        .collect()
}

/// An Ed25519 root key, an ES256 release key and the trust root (version 1, one key per role,
/// no expiry) naming them, signed by the root key.
pub fn release_keys() -> Result<(Ed25519Key, Es256Key, Vec<u8>), String> {
    let root = Ed25519Key::generate();
    let release_key = Es256Key::generate();
    let payload = TrustRootPayload {
        version: 1,
        keys: vec![
            (root.key_id(), root.algorithm(), root.public_key()),
            (
                release_key.key_id(),
                release_key.algorithm(),
                release_key.public_key(),
            ),
        ],
        root: (1, vec![root.key_id()]),
        release: (1, vec![release_key.key_id()]),
        expires_at: None,
    };
    let document = sign_document(ROOT_CONTENT_TYPE, &payload.to_cbor(), &[&root])
        .map_err(|e| format!("trust root: {e}"))?;
    Ok((root, release_key, document))
}
