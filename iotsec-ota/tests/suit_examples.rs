//! The six draft-ietf-suit-manifest Appendix B example envelopes verify with the exact values
//! they carry; any flipped byte in the signed region is refused; the sequence-number rule is
//! the crate's replay rule.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod suit_support;

use iotsec_ota::suit::{SuitError, SuitImage, authenticate_envelope, verify_envelope};
use suit_support::*;

fn image(digest: [u8; 32], size: Option<u64>, slot: Option<u64>) -> SuitImage {
    SuitImage { digest, size, slot }
}

/// (sequence number, components as (id parts, vendor and class checked, images))
type Expected = (u64, Vec<(Vec<Vec<u8>>, bool, Vec<SuitImage>)>);

fn expected(n: usize) -> Expected {
    let a = image(DIGEST_A, Some(34768), None);
    match n {
        0..=2 => (n as u64, vec![(vec![vec![0x00]], true, vec![a])]),
        3 => (
            3,
            vec![(
                vec![vec![0x00]],
                true,
                vec![
                    image(DIGEST_A, Some(34768), Some(0)),
                    image(DIGEST_B, Some(76834), Some(1)),
                ],
            )],
        ),
        4 => (
            4,
            vec![
                (vec![vec![0x00]], true, vec![a]),
                (vec![vec![0x02]], false, vec![image(DIGEST_A, None, None)]),
                (
                    vec![vec![0x01]],
                    false,
                    vec![image(DIGEST_B, Some(76834), None)],
                ),
            ],
        ),
        5 => (
            5,
            vec![
                (vec![vec![0x00]], true, vec![a]),
                (
                    vec![vec![0x01]],
                    false,
                    vec![image(DIGEST_B, Some(76834), None)],
                ),
            ],
        ),
        _ => unreachable!(),
    }
}

#[test]
fn the_six_examples_verify_with_their_exact_values() {
    let Some(dir) = examples_dir() else { return };
    let key = example_key(&dir);
    for n in 0..6 {
        let bytes = envelope(&dir, n);
        // Example 0 carries sequence number 0, which no stored number is below: it is
        // authenticated here and its rollback refusal is checked further down.
        let verified = if n == 0 {
            authenticate_envelope(&bytes, &[key])
        } else {
            verify_envelope(&bytes, &[key], &device(n as u64 - 1))
        }
        .unwrap_or_else(|e| panic!("example {n}: {e}"));
        let manifest = verified.manifest;
        let (sequence, components) = expected(n);
        assert_eq!(manifest.sequence_number, sequence, "example {n}");
        assert_eq!(manifest.components.len(), components.len(), "example {n}");
        for (component, (id, identity, images)) in manifest.components.iter().zip(&components) {
            let parts: Vec<Vec<u8>> = component.id.iter().map(|p| p.to_vec()).collect();
            assert_eq!(&parts, id, "example {n}");
            let (vendor, class) = if *identity {
                (Some(VENDOR), Some(CLASS))
            } else {
                (None, None)
            };
            assert_eq!(component.vendor_id, vendor, "example {n}");
            assert_eq!(component.class_id, class, "example {n}");
            assert_eq!(
                component.images.as_slice(),
                images.as_slice(),
                "example {n}"
            );
        }
        assert!(manifest.severed.is_empty(), "example {n}");
        let uri = (n == 2).then_some("https://git.io/JJYoj");
        assert_eq!(manifest.reference_uri, uri, "example {n}");
    }
}

/// Example 2 without its severable members (the draft's middle block): install and text are
/// severed, the signature still holds, and the validate sequence still yields the image.
#[test]
fn example_2_verifies_with_install_and_text_severed() {
    let Some(dir) = examples_dir() else { return };
    let blocks = blocks(&dir, 2);
    let severed = &blocks[blocks.len() - 2];
    let verified = authenticate_envelope(severed, &[example_key(&dir)]).unwrap();
    assert_eq!(verified.manifest.severed.as_slice(), &[20, 23]);
    assert_eq!(
        verified.manifest.components[0].images.as_slice(),
        &[image(DIGEST_A, Some(34768), None)]
    );
}

/// The draft's first block of each example has no authentication block at all.
#[test]
fn envelopes_without_a_signature_are_refused() {
    let Some(dir) = examples_dir() else { return };
    for n in 0..6 {
        let unsigned = &blocks(&dir, n)[0];
        assert_eq!(
            authenticate_envelope(unsigned, &[example_key(&dir)]),
            Err(SuitError::Unsigned),
            "example {n}"
        );
    }
}

/// Every byte of the authentication wrapper and the manifest, inverted one at a time, is
/// refused; each example is under 1 KiB, so the loop is bounded.
#[test]
fn any_flipped_byte_in_the_signed_region_is_refused() {
    let Some(dir) = examples_dir() else { return };
    let key = example_key(&dir);
    for n in 0..6 {
        let bytes = envelope(&dir, n);
        // Signed region: from the authentication wrapper to the end of the manifest bstr. In
        // example 2 the severable members follow; they are covered through their digests.
        // Example 2: tag and map head (3), authentication (1 + 2 + 0x73), manifest (1 + 2 + 0xd1).
        let end = if n == 2 {
            3 + (1 + 2 + 0x73) + (1 + 2 + 0xd1)
        } else {
            bytes.len()
        };
        let mut codes = std::collections::BTreeSet::new();
        for at in 0..end {
            let mut tampered = bytes.clone();
            tampered[at] ^= 0xff;
            let result = authenticate_envelope(&tampered, &[key]);
            let Err(e) = result else {
                panic!("example {n}: flipped byte {at} accepted");
            };
            codes.insert(e.code());
        }
        // The manifest digest and the signature are what catch the bulk of them.
        assert!(
            codes.contains("suit_manifest_digest_mismatch"),
            "example {n}: {codes:?}"
        );
        assert!(
            codes.contains("suit_bad_signature"),
            "example {n}: {codes:?}"
        );
    }
}

/// The signature bytes and the manifest bytes, each flipped, give the named refusal.
#[test]
fn flipped_signature_and_manifest_bytes_name_the_refusal() {
    let Some(dir) = examples_dir() else { return };
    let key = example_key(&dir);
    let bytes = envelope(&dir, 0);
    let signature = bytes
        .windows(3)
        .position(|w| w == [0x58, 0x40, 0x40])
        .unwrap()
        + 2;
    for at in signature..signature + 64 {
        let mut tampered = bytes.clone();
        tampered[at] ^= 0x01;
        assert_eq!(
            authenticate_envelope(&tampered, &[key]),
            Err(SuitError::BadSignature),
            "signature byte {at}"
        );
    }
    let manifest = bytes.len() - 0x71;
    for at in manifest..bytes.len() {
        let mut tampered = bytes.clone();
        tampered[at] ^= 0x01;
        assert_eq!(
            authenticate_envelope(&tampered, &[key]),
            Err(SuitError::ManifestDigestMismatch),
            "manifest byte {at}"
        );
    }
}

#[test]
fn a_tampered_severable_member_is_refused() {
    let Some(dir) = examples_dir() else { return };
    let bytes = envelope(&dir, 2);
    // The last byte belongs to the text member (23).
    let mut tampered = bytes.clone();
    *tampered.last_mut().unwrap() ^= 0x01;
    assert_eq!(
        authenticate_envelope(&tampered, &[example_key(&dir)]),
        Err(SuitError::SeveredMemberDigestMismatch { key: 23 })
    );
    let install = bytes
        .windows(4)
        .position(|w| w == [0x14, 0x58, 0x3c, 0x86])
        .unwrap();
    let mut tampered = bytes;
    tampered[install + 10] ^= 0x01;
    assert_eq!(
        authenticate_envelope(&tampered, &[example_key(&dir)]),
        Err(SuitError::SeveredMemberDigestMismatch { key: 20 })
    );
}

#[test]
fn sequence_numbers_not_above_the_stored_one_are_refused() {
    let Some(dir) = examples_dir() else { return };
    let key = example_key(&dir);
    for n in 0..6u64 {
        let bytes = envelope(&dir, n as usize);
        // Example 0 carries sequence number 0: no device state can be below it.
        if n > 0 {
            assert!(
                verify_envelope(&bytes, &[key], &device(n - 1)).is_ok(),
                "example {n}"
            );
        }
        for stored in [n, n + 1, u64::MAX] {
            assert_eq!(
                verify_envelope(&bytes, &[key], &device(stored)).map(|_| ()),
                Err(SuitError::Rollback { stored, offered: n }),
                "example {n}, stored {stored}"
            );
        }
    }
}

#[test]
fn another_vendor_class_or_a_small_slot_is_refused() {
    let Some(dir) = examples_dir() else { return };
    let key = example_key(&dir);
    let bytes = envelope(&dir, 1);
    let mut state = device(0);
    state.vendor_id[0] ^= 1;
    assert_eq!(
        verify_envelope(&bytes, &[key], &state).map(|_| ()),
        Err(SuitError::WrongVendor)
    );
    let mut state = device(0);
    state.class_id[15] ^= 1;
    assert_eq!(
        verify_envelope(&bytes, &[key], &state).map(|_| ()),
        Err(SuitError::WrongClass)
    );
    let mut state = device(0);
    state.slot_capacity = 34767;
    assert_eq!(
        verify_envelope(&bytes, &[key], &state).map(|_| ()),
        Err(SuitError::ImageTooLarge {
            size: 34768,
            capacity: 34767
        })
    );
}

#[test]
fn another_key_is_not_trusted() {
    let Some(dir) = examples_dir() else { return };
    let bytes = envelope(&dir, 0);
    let other = iotsec_ota::signer::Es256Key::from_scalar(&[7; 32]).unwrap();
    use iotsec_ota::signer::Signer;
    let es = iotsec_ota::suit::SuitKey::parse(other.algorithm(), &other.public_key()).unwrap();
    assert_eq!(
        authenticate_envelope(&bytes, &[es]),
        Err(SuitError::BadSignature)
    );
    let ed = iotsec_ota::signer::Ed25519Key::from_seed(&[7; 32]);
    let ed = iotsec_ota::suit::SuitKey::parse(ed.algorithm(), &ed.public_key()).unwrap();
    assert_eq!(
        authenticate_envelope(&bytes, &[ed]),
        Err(SuitError::NoTrustedSignature)
    );
}
