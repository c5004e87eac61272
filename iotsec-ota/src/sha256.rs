//! The crate's one SHA-256 (FIPS 180-4): image digests, checksums, cohort buckets and the ES256
//! message hash all go through it, so a firmware build links a single implementation.
//!
//! RustCrypto `sha2` by default (its feature `force-soft-compact` through ours, `sha2-compact`,
//! gives the smallest code). With the feature `hmac-sha256`, jedisct1's `hmac-sha256` instead:
//! on a Cortex-M4 at opt-level "s" it hashes with about 30% fewer instructions than `sha2`'s
//! compact rounds for about 1.5 KiB more code (BENCHMARKS.md, firmware tables).

#[cfg(feature = "hmac-sha256")]
pub(crate) use hmac_sha256::WrappedHash as Sha256;
pub(crate) use sha2::Digest;
#[cfg(not(feature = "hmac-sha256"))]
pub(crate) use sha2::Sha256;

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
}
