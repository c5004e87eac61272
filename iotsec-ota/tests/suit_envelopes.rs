//! Real SUIT envelopes (draft-ietf-suit-manifest Appendix B examples,
//! `../shared/data/suit-examples`) are another format for the `COSE_Sign` manifest path: it
//! must refuse them cleanly (tag 107 is not `COSE_Sign`), never half-read them. The SUIT
//! verifier itself is tested in `tests/suit_examples.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_ota::canonical_cbor::CborError;
use iotsec_ota::cose_sign::CoseSign;
use iotsec_ota::{Error, Manifest, TrustRoot};

mod suit_support;

fn envelopes() -> Vec<(String, Vec<u8>)> {
    let Some(dir) = suit_support::examples_dir() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for n in 0..6 {
        for block in suit_support::blocks(&dir, n) {
            found.push((format!("example{n}"), block));
        }
    }
    found
}

#[test]
fn suit_envelopes_are_refused_as_another_format() {
    let all = envelopes();
    if all.is_empty() {
        return; // skipped loudly by suit_support
    }
    assert!(
        all.len() >= 6,
        "expected the RFC 9124 examples, found {}",
        all.len()
    );
    for (name, bytes) in &all {
        // Every envelope starts with tag 107 (0xd8 0x6b).
        assert_eq!(&bytes[..2], &[0xd8, 0x6b], "{name}");
        assert_eq!(
            CoseSign::from_cbor(bytes),
            Err(Error::Encoding(CborError::InvalidValue {
                offset: 0,
                reason: "unexpected tag"
            })),
            "{name}"
        );
        assert!(TrustRoot::from_pinned(bytes).is_err(), "{name}");
        assert!(matches!(
            Manifest::from_cbor(bytes),
            Err(CborError::UnexpectedType { offset: 0, .. })
        ));
    }
}
