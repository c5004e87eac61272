//! Streaming image verification over arbitrary chunkings: the verdict never depends on how the
//! image was cut, excess bytes abort at once, and any changed byte is a digest mismatch.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_ota::image_stream::{ImageError, ImageVerifier};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

fn chunks(image: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (image.len() + 1)).collect();
    points.push(0);
    points.push(image.len());
    points.sort_unstable();
    points
        .windows(2)
        .map(|w| image[w[0]..w[1]].to_vec())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_chunking_of_the_genuine_image_verifies(
        image in proptest::collection::vec(any::<u8>(), 0..4096),
        cuts in proptest::collection::vec(any::<usize>(), 0..20),
    ) {
        let digest: [u8; 32] = Sha256::digest(&image).into();
        let mut v = ImageVerifier::with_expectation(digest, image.len() as u64);
        for chunk in chunks(&image, &cuts) {
            v.update(&chunk).unwrap();
        }
        prop_assert_eq!(v.finish(), Ok(()));
    }

    #[test]
    fn one_changed_byte_is_a_digest_mismatch(
        image in proptest::collection::vec(any::<u8>(), 1..2048),
        at in any::<prop::sample::Index>(),
        cuts in proptest::collection::vec(any::<usize>(), 0..10),
    ) {
        let digest: [u8; 32] = Sha256::digest(&image).into();
        let mut tampered = image.clone();
        tampered[at.index(image.len())] ^= 0x01;
        let mut v = ImageVerifier::with_expectation(digest, image.len() as u64);
        for chunk in chunks(&tampered, &cuts) {
            v.update(&chunk).unwrap();
        }
        let refused = v.finish();
        prop_assert_eq!(refused, Err(ImageError::DigestMismatch));
        prop_assert_eq!(refused.map_err(|e| e.code()), Err("image_digest_mismatch"));
    }

    #[test]
    fn excess_bytes_abort_in_the_chunk_that_crosses_the_size(
        image in proptest::collection::vec(any::<u8>(), 0..2048),
        extra in proptest::collection::vec(any::<u8>(), 1..64),
        cuts in proptest::collection::vec(any::<usize>(), 0..10),
    ) {
        let digest: [u8; 32] = Sha256::digest(&image).into();
        let mut long = image.clone();
        long.extend_from_slice(&extra);
        let mut v = ImageVerifier::with_expectation(digest, image.len() as u64);
        let mut fed = 0usize;
        let mut refused = false;
        for chunk in chunks(&long, &cuts) {
            match v.update(&chunk) {
                Ok(()) => {
                    fed += chunk.len();
                    prop_assert!(fed <= image.len());
                }
                Err(e) => {
                    prop_assert_eq!(e, ImageError::TooLong { expected: image.len() as u64 });
                    prop_assert!(fed + chunk.len() > image.len());
                    refused = true;
                    break;
                }
            }
        }
        prop_assert!(refused);
        prop_assert_eq!(v.finish(), Err(ImageError::Aborted));
    }

    #[test]
    fn a_short_image_is_refused(
        image in proptest::collection::vec(any::<u8>(), 1..2048),
        cut in any::<prop::sample::Index>(),
    ) {
        let digest: [u8; 32] = Sha256::digest(&image).into();
        let end = cut.index(image.len());
        let mut v = ImageVerifier::with_expectation(digest, image.len() as u64);
        v.update(&image[..end]).unwrap();
        prop_assert_eq!(
            v.finish(),
            Err(ImageError::TooShort { expected: image.len() as u64, received: end as u64 })
        );
    }
}

#[test]
fn the_verifier_state_is_a_fixed_small_size() {
    // Constant RAM: the verifier holds a SHA-256 state, the expectation and counters, never
    // image bytes, whatever the image size.
    assert!(std::mem::size_of::<ImageVerifier>() <= 256);
    let mut v = ImageVerifier::with_expectation([0; 32], 10 << 20);
    v.update(&vec![0u8; 10 << 20]).unwrap();
    assert_eq!(v.received(), 10 << 20);
}
