//! Device-side evaluation of the signed rollout gate: the device decides by itself whether it is
//! in a release's cohort, so a compromised distribution server cannot widen a canary.
//!
//! `bucket = u64::from_be_bytes(SHA-256(seed || device_id)[0..8]) mod 10000`; the device is in
//! the cohort when `bucket < basis_points`. Stages only ever grow the cohort: a device inside at
//! 1% stays inside at 10%.

use crate::sha256::{Digest, Sha256};

use crate::manifest::{ALL_DEVICES_BPS, RolloutGate};

/// This device's bucket (0..10000) for the release with `seed`.
pub fn cohort_bucket(seed: &[u8], device_id: &[u8]) -> u16 {
    let digest = Sha256::new()
        .chain_update(seed)
        .chain_update(device_id)
        .finalize();
    let mut prefix = [0u8; 8];
    for (out, byte) in prefix.iter_mut().zip(digest.iter()) {
        *out = *byte;
    }
    u64_mod_10000(u64::from_be_bytes(prefix))
}

/// `x mod 10000` with 32-bit arithmetic only: a Cortex-M4 has no 64-bit divide, and the
/// compiler's 64-bit division routine costs about 860 bytes of flash.
/// `x = hi * 2^32 + lo`, and `2^32 mod 10000 = 7296`.
fn u64_mod_10000(x: u64) -> u16 {
    const M: u32 = ALL_DEVICES_BPS as u32;
    let hi = (x >> 32) as u32;
    let lo = x as u32;
    (((hi % M) * 7296 + lo % M) % M) as u16
}

/// True when the device with `device_id` is inside `gate`'s cohort.
pub fn in_cohort(gate: &RolloutGate<'_>, device_id: &[u8]) -> bool {
    cohort_bucket(gate.seed, device_id) < gate.basis_points
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cohort_share_matches_basis_points_and_only_grows() {
        let seed = b"release-2026-11";
        let mut inside_1 = 0;
        let mut inside_10 = 0;
        for n in 0u32..20_000 {
            let id = n.to_be_bytes();
            let bucket = cohort_bucket(seed, &id);
            assert!(bucket < 10_000);
            let at_1 = bucket < 100;
            let at_10 = bucket < 1000;
            assert!(!at_1 || at_10);
            inside_1 += u32::from(at_1);
            inside_10 += u32::from(at_10);
        }
        // 1% and 10% of 20,000, within a few standard deviations.
        assert!((140..=260).contains(&inside_1), "{inside_1}");
        assert!((1800..=2200).contains(&inside_10), "{inside_10}");
    }

    #[test]
    fn thirty_two_bit_reduction_equals_u64_mod() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for edge in [0, 1, 9_999, 10_000, u64::from(u32::MAX), 1 << 32, u64::MAX] {
            assert_eq!(u64::from(u64_mod_10000(edge)), edge % 10_000);
        }
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            assert_eq!(u64::from(u64_mod_10000(x)), x % 10_000);
        }
    }

    #[test]
    fn bucket_is_the_documented_formula() {
        let digest = Sha256::digest(b"seed-0001device-42");
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&digest[..8]);
        let expected = (u64::from_be_bytes(prefix) % 10_000) as u16;
        assert_eq!(cohort_bucket(b"seed-0001", b"device-42"), expected);
    }
}
