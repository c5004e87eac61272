//! The crate's one SHA-256 (FIPS 180-4): image digests, checksums, cohort buckets and the ES256
//! message hash all go through it, so a firmware build links a single implementation.
//!
//! RustCrypto `sha2` by default (its feature `force-soft-compact` through ours, `sha2-compact`,
//! gives the smallest code). With the feature `hmac-sha256`, jedisct1's `hmac-sha256` instead:
//! on a Cortex-M4 at opt-level "s" it hashes with about 30% fewer instructions than `sha2`'s
//! compact rounds for about 1.5 KiB more code (BENCHMARKS.md, firmware tables). With the
//! feature `sha256-m4` (which wins over both, on `target_arch = "arm"` only), the crate's own
//! compression function laid out for Cortex-M4 (`sha256_m4`): the fewest instructions per KiB
//! there. All of them sit behind one type, [`Sha256`], used through the `digest` 0.10 trait
//! [`Digest`].

use core::fmt;

pub use sha2::Digest;
use sha2::digest::{FixedOutput, HashMarker, Output, OutputSizeUser, Update, typenum::U32};

// `sha256-m4` selects the crate's own compression function only on Arm, as `es256-cm4` does;
// elsewhere (hosts, often with SHA instructions that `sha2` uses) the feature changes nothing.
#[cfg(all(feature = "sha256-m4", target_arch = "arm"))]
use crate::sha256_m4::Sha256 as Backend;
#[cfg(all(
    feature = "hmac-sha256",
    not(all(feature = "sha256-m4", target_arch = "arm"))
))]
use hmac_sha256::WrappedHash as Backend;
#[cfg(not(any(
    feature = "hmac-sha256",
    all(feature = "sha256-m4", target_arch = "arm")
)))]
use sha2::Sha256 as Backend;

/// SHA-256 from the backend the features select, used through [`Digest`]. Its `update` and
/// `finalize` are out of line: the crate hashes in several places (image, ES256 message, cohort
/// bucket, checksums), and inlined copies of the backend's block buffering at each of them cost a
/// firmware flash it does not need (hashing is per block, so the call costs nothing measurable).
#[derive(Clone, Default)]
pub struct Sha256(Backend);

impl HashMarker for Sha256 {}

impl OutputSizeUser for Sha256 {
    type OutputSize = U32;
}

impl Update for Sha256 {
    #[inline(never)]
    fn update(&mut self, data: &[u8]) {
        Update::update(&mut self.0, data);
    }
}

impl FixedOutput for Sha256 {
    #[inline(never)]
    fn finalize_into(self, out: &mut Output<Self>) {
        FixedOutput::finalize_into(self.0, out);
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sha256 { .. }")
    }
}

#[cfg(test)]
mod tests {
    use super::{Digest, Sha256};

    #[test]
    fn fips_180_4_two_block_message() {
        // FIPS 180-4 example "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".
        let digest = Sha256::digest(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq");
        assert_eq!(
            digest.as_slice(),
            [
                0x24, 0x8d, 0x6a, 0x61, 0xd2, 0x06, 0x38, 0xb8, 0xe5, 0xc0, 0x26, 0x93, 0x0c, 0x3e,
                0x60, 0x39, 0xa3, 0x3c, 0xe4, 0x59, 0x64, 0xff, 0x21, 0x67, 0xf6, 0xec, 0xed, 0xd4,
                0x19, 0xdb, 0x06, 0xc1
            ]
        );
    }

    #[test]
    fn pieces_through_the_wrapper_equal_sha2() {
        // The out-of-line wrapper hands every piece to the backend, in order.
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 31 + 7) as u8).collect();
        let mut hasher = Sha256::new();
        for piece in data.chunks(77) {
            hasher.update(piece);
        }
        assert_eq!(
            hasher.finalize().as_slice(),
            sha2::Sha256::digest(&data).as_slice()
        );
        assert_eq!(format!("{:?}", Sha256::new()), "Sha256 { .. }");
    }
}
