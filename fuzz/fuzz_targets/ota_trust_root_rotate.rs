//! Trust-root rotation documents reach the device over the air: `TrustRoot::rotate` from the
//! pinned test root (v1, root role 2-of-3) never panics, and whatever it accepts is version 2
//! and would itself load as a pinned root (it carries its own root threshold).
#![no_main]

use std::sync::OnceLock;

use iotsec_ota::TrustRoot;
use libfuzzer_sys::fuzz_target;

/// `root_v1()` of the iotsec-ota test fixtures (written by `tests/fuzz_seeds.rs`).
const PINNED: &[u8] = include_bytes!("../corpus/ota_cose_sign/seed-root");

/// Loaded once: its signature checks would otherwise dominate every run.
static ROOT: OnceLock<TrustRoot<'static>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let pinned = ROOT.get_or_init(|| {
        TrustRoot::from_pinned(PINNED).unwrap_or_else(|e| panic!("the pinned root: {e:?}"))
    });
    if let Ok(next) = pinned.rotate(data) {
        assert_eq!(next.version(), 2);
        assert_eq!(TrustRoot::from_pinned(data).as_ref(), Ok(&next));
        // A second rotation with the same document is not the next version.
        assert!(next.rotate(data).is_err());
    }
});
