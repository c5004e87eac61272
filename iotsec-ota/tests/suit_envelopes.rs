//! Real SUIT envelopes (RFC 9124 Appendix B examples, `../shared/data/suit-examples`) are
//! another format: they must be refused cleanly (tag 107 is not `COSE_Sign`), never half-read.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_ota::canonical_cbor::CborError;
use iotsec_ota::cose_sign::CoseSign;
use iotsec_ota::{Error, Manifest, TrustRoot};

mod shared_data;

/// The hex blocks of the shared SUIT examples, `None` (skipped) when they are absent.
fn envelopes() -> Option<Vec<(String, Vec<u8>)>> {
    let dir = shared_data::shared_data("suit-examples")?;
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "txt") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // Hex blocks are the fenced sections made only of hex digits.
        for block in text.split("~~~").skip(1).step_by(2) {
            let hex: String = block.split_whitespace().collect();
            if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                found.push((path.display().to_string(), hex::decode(&hex).unwrap()));
            }
        }
    }
    Some(found)
}

#[test]
fn suit_envelopes_are_refused_as_another_format() {
    let Some(all) = envelopes() else {
        return;
    };
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
