//! SHA-256 (FIPS 180-4 §6.2.2) with a compression function laid out for 32-bit cores without
//! SHA instructions, such as the Cortex-M4 (feature `sha256-m4`).
//!
//! Hand-written because no crates.io implementation reaches 35,000 instructions per KiB on a
//! Cortex-M4 at opt-level "s" (BENCHMARKS.md, firmware tables); safe Rust only (no assembly).
//! Layout: sixteen rounds per loop iteration with the working variables renamed from round to
//! round (no register moves), the message schedule (§6.2.2 step 1) computed in place in a
//! 16-word ring at constant positions, and every rotation written so that it folds into an
//! operand shift (`eor r, a, b, ror #n`). Padding and the length field (§5.1.1) and the block
//! buffering come from RustCrypto's `digest` 0.10 core API, the same trait stack as `sha2`, so
//! the type plugs into [`sha2::Digest`] unchanged.

use core::fmt;

use sha2::digest::{
    HashMarker, Output,
    block_buffer::Eager,
    core_api::{
        AlgorithmName, Block, BlockSizeUser, Buffer, BufferKindUser, CoreWrapper, FixedOutputCore,
        OutputSizeUser, Reset, UpdateCore,
    },
    typenum::{U32, U64},
};

/// SHA-256 through the `digest` traits (block buffering, padding, output).
pub(crate) type Sha256 = CoreWrapper<Sha256Core>;

/// Initial hash value (FIPS 180-4 §5.3.3).
const H0: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// Round constants (FIPS 180-4 §4.2.2), sixteen per loop iteration.
const K: [[u32; 16]; 4] = [
    [
        0x428a_2f98,
        0x7137_4491,
        0xb5c0_fbcf,
        0xe9b5_dba5,
        0x3956_c25b,
        0x59f1_11f1,
        0x923f_82a4,
        0xab1c_5ed5,
        0xd807_aa98,
        0x1283_5b01,
        0x2431_85be,
        0x550c_7dc3,
        0x72be_5d74,
        0x80de_b1fe,
        0x9bdc_06a7,
        0xc19b_f174,
    ],
    [
        0xe49b_69c1,
        0xefbe_4786,
        0x0fc1_9dc6,
        0x240c_a1cc,
        0x2de9_2c6f,
        0x4a74_84aa,
        0x5cb0_a9dc,
        0x76f9_88da,
        0x983e_5152,
        0xa831_c66d,
        0xb003_27c8,
        0xbf59_7fc7,
        0xc6e0_0bf3,
        0xd5a7_9147,
        0x06ca_6351,
        0x1429_2967,
    ],
    [
        0x27b7_0a85,
        0x2e1b_2138,
        0x4d2c_6dfc,
        0x5338_0d13,
        0x650a_7354,
        0x766a_0abb,
        0x81c2_c92e,
        0x9272_2c85,
        0xa2bf_e8a1,
        0xa81a_664b,
        0xc24b_8b70,
        0xc76c_51a3,
        0xd192_e819,
        0xd699_0624,
        0xf40e_3585,
        0x106a_a070,
    ],
    [
        0x19a4_c116,
        0x1e37_6c08,
        0x2748_774c,
        0x34b0_bcb5,
        0x391c_0cb3,
        0x4ed8_aa4a,
        0x5b9c_ca4f,
        0x682e_6ff3,
        0x748f_82ee,
        0x78a5_636f,
        0x84c8_7814,
        0x8cc7_0208,
        0x90be_fffa,
        0xa450_6ceb,
        0xbef9_a3f7,
        0xc671_78f2,
    ],
];

/// Block-level SHA-256: the chaining value and the number of blocks compressed.
#[derive(Clone)]
pub(crate) struct Sha256Core {
    state: [u32; 8],
    blocks: u64,
}

impl Default for Sha256Core {
    fn default() -> Self {
        Self {
            state: H0,
            blocks: 0,
        }
    }
}

impl HashMarker for Sha256Core {}

impl BlockSizeUser for Sha256Core {
    type BlockSize = U64;
}

impl BufferKindUser for Sha256Core {
    type BufferKind = Eager;
}

impl OutputSizeUser for Sha256Core {
    type OutputSize = U32;
}

impl UpdateCore for Sha256Core {
    fn update_blocks(&mut self, blocks: &[Block<Self>]) {
        self.blocks = self.blocks.wrapping_add(blocks.len() as u64);
        for block in blocks {
            compress(&mut self.state, block.as_ref());
        }
    }
}

impl FixedOutputCore for Sha256Core {
    fn finalize_fixed_core(&mut self, buffer: &mut Buffer<Self>, out: &mut Output<Self>) {
        // §5.1.1: the message length in bits, modulo 2^64.
        let bits = self
            .blocks
            .wrapping_mul(512)
            .wrapping_add(8 * buffer.get_pos() as u64);
        buffer.len64_padding_be(bits, |block| compress(&mut self.state, block.as_ref()));
        for (bytes, word) in out.chunks_exact_mut(4).zip(self.state) {
            bytes.copy_from_slice(&word.to_be_bytes());
        }
    }
}

impl Reset for Sha256Core {
    fn reset(&mut self) {
        *self = Self::default();
    }
}

impl AlgorithmName for Sha256Core {
    fn write_alg_name(f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sha256")
    }
}

impl fmt::Debug for Sha256Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sha256Core { .. }")
    }
}

// §4.1.2 functions. Each rotation is one `ror` or one shifted operand of an `eor` or `add`.
// Σ0 and Σ1 factored as ROTR^n(x ^ ROTR^m(x ^ ROTR^k(x))): two `eor` with a rotated operand, and
// the outer rotation folds into the `add` that consumes the result (`add h, h, t, ror #n`), so
// each costs two instructions instead of three.
#[inline(always)]
fn big_sigma0(x: u32) -> u32 {
    (x ^ (x ^ x.rotate_right(9)).rotate_right(11)).rotate_right(2)
}

#[inline(always)]
fn big_sigma1(x: u32) -> u32 {
    (x ^ (x ^ x.rotate_right(14)).rotate_right(5)).rotate_right(6)
}

#[inline(always)]
fn small_sigma0(x: u32) -> u32 {
    x.rotate_right(7) ^ x.rotate_right(18) ^ (x >> 3)
}

#[inline(always)]
fn small_sigma1(x: u32) -> u32 {
    x.rotate_right(17) ^ x.rotate_right(19) ^ (x >> 10)
}

/// Ch(e, f, g) in three operations.
#[inline(always)]
fn ch(e: u32, f: u32, g: u32) -> u32 {
    ((f ^ g) & e) ^ g
}

/// Maj(a, b, c) in three operations.
#[inline(always)]
fn maj(a: u32, b: u32, c: u32) -> u32 {
    ((a ^ b) & (b ^ c)) ^ b
}

/// One round (§6.2.2 step 3); the caller renames the variables instead of shifting them.
macro_rules! round {
    ($a:ident, $b:ident, $c:ident, $d:ident, $e:ident, $f:ident, $g:ident, $h:ident, $k:expr, $w:expr) => {
        let t2 = big_sigma0($a).wrapping_add(maj($a, $b, $c));
        let t1 = $h
            .wrapping_add(big_sigma1($e))
            .wrapping_add(ch($e, $f, $g))
            .wrapping_add($k)
            .wrapping_add($w);
        $d = $d.wrapping_add(t1);
        $h = t1.wrapping_add(t2);
    };
}

/// W[t] for t >= 16 (§6.2.2 step 1), in place in the 16-word ring `w`, where `w[j]` holds W[t-16]
/// and W[t-2], W[t-7], W[t-15] are at `j + 14`, `j + 9`, `j + 1` (mod 16).
macro_rules! schedule {
    ($w:ident, $j:literal, $j2:literal, $j7:literal, $j15:literal) => {
        $w[$j] = $w[$j]
            .wrapping_add(small_sigma1($w[$j2]))
            .wrapping_add($w[$j7])
            .wrapping_add(small_sigma0($w[$j15]));
    };
}

/// The message schedule's next sixteen words, in place. Not inlined: the ring then stays in
/// memory, where the rounds read each word with one stack-relative load, instead of being split
/// into sixteen values that outnumber the core's registers and get spilled and shuffled.
#[inline(never)]
fn schedule(w: &mut [u32; 16]) {
    schedule!(w, 0, 14, 9, 1);
    schedule!(w, 1, 15, 10, 2);
    schedule!(w, 2, 0, 11, 3);
    schedule!(w, 3, 1, 12, 4);
    schedule!(w, 4, 2, 13, 5);
    schedule!(w, 5, 3, 14, 6);
    schedule!(w, 6, 4, 15, 7);
    schedule!(w, 7, 5, 0, 8);
    schedule!(w, 8, 6, 1, 9);
    schedule!(w, 9, 7, 2, 10);
    schedule!(w, 10, 8, 3, 11);
    schedule!(w, 11, 9, 4, 12);
    schedule!(w, 12, 10, 5, 13);
    schedule!(w, 13, 11, 6, 14);
    schedule!(w, 14, 12, 7, 15);
    schedule!(w, 15, 13, 8, 0);
}

/// The block as sixteen big-endian words (§3.1 word order), written out so that each word is one
/// load, one byte reverse and one store, with no zeroing of the array first.
fn load_words(block: &[u8; 64]) -> [u32; 16] {
    let (words, _) = block.as_chunks::<4>();
    let Ok(b) = <&[[u8; 4]; 16]>::try_from(words) else {
        return [0; 16];
    };
    [
        u32::from_be_bytes(b[0]),
        u32::from_be_bytes(b[1]),
        u32::from_be_bytes(b[2]),
        u32::from_be_bytes(b[3]),
        u32::from_be_bytes(b[4]),
        u32::from_be_bytes(b[5]),
        u32::from_be_bytes(b[6]),
        u32::from_be_bytes(b[7]),
        u32::from_be_bytes(b[8]),
        u32::from_be_bytes(b[9]),
        u32::from_be_bytes(b[10]),
        u32::from_be_bytes(b[11]),
        u32::from_be_bytes(b[12]),
        u32::from_be_bytes(b[13]),
        u32::from_be_bytes(b[14]),
        u32::from_be_bytes(b[15]),
    ]
}

/// Compresses one 64-byte block into `state`: sixteen rounds per loop iteration, so every ring
/// position is a constant.
fn compress(state: &mut [u32; 8], block: &[u8; 64]) {
    let mut w = load_words(block);
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
    for (i, k) in K.iter().enumerate() {
        if i > 0 {
            schedule(&mut w);
        }
        round!(a, b, c, d, e, f, g, h, k[0], w[0]);
        round!(h, a, b, c, d, e, f, g, k[1], w[1]);
        round!(g, h, a, b, c, d, e, f, k[2], w[2]);
        round!(f, g, h, a, b, c, d, e, k[3], w[3]);
        round!(e, f, g, h, a, b, c, d, k[4], w[4]);
        round!(d, e, f, g, h, a, b, c, k[5], w[5]);
        round!(c, d, e, f, g, h, a, b, k[6], w[6]);
        round!(b, c, d, e, f, g, h, a, k[7], w[7]);
        round!(a, b, c, d, e, f, g, h, k[8], w[8]);
        round!(h, a, b, c, d, e, f, g, k[9], w[9]);
        round!(g, h, a, b, c, d, e, f, k[10], w[10]);
        round!(f, g, h, a, b, c, d, e, k[11], w[11]);
        round!(e, f, g, h, a, b, c, d, k[12], w[12]);
        round!(d, e, f, g, h, a, b, c, k[13], w[13]);
        round!(c, d, e, f, g, h, a, b, k[14], w[14]);
        round!(b, c, d, e, f, g, h, a, k[15], w[15]);
    }
    for (s, v) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
        *s = s.wrapping_add(v);
    }
}

#[cfg(test)]
mod tests {
    use super::Sha256;
    use proptest::prelude::*;
    use sha2::Digest as _;

    fn hex(digest: &[u8]) -> String {
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn fips_180_4_examples() {
        // FIPS 180-4 / NIST "SHA256.pdf" examples: one block, two blocks, a million 'a'.
        assert_eq!(
            hex(&Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(&Sha256::digest(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        let mut hasher = Sha256::new();
        for _ in 0..1000 {
            hasher.update([b'a'; 1000]);
        }
        assert_eq!(
            hex(&hasher.finalize()),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
        assert_eq!(
            hex(&Sha256::digest(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    /// Every length across the padding boundaries (55/56/63/64 bytes and their multiples),
    /// in the style of NIST SHAVS "ShortMsg", against RustCrypto `sha2`.
    #[test]
    fn every_length_up_to_four_blocks_equals_sha2() {
        let data: Vec<u8> = (0..=256u32).map(|i| (i * 167 + 13) as u8).collect();
        for len in 0..=data.len() {
            let message = &data[..len];
            assert_eq!(
                Sha256::digest(message).as_slice(),
                sha2::Sha256::digest(message).as_slice(),
                "length {len}"
            );
        }
    }

    proptest! {
        /// Random messages of 0..10,000 bytes fed through the streaming API in three pieces
        /// split at random points: the digest equals `sha2`'s one-shot digest.
        #[test]
        fn streaming_equals_sha2(
            data in proptest::collection::vec(any::<u8>(), 0..10_000),
            split_a in any::<prop::sample::Index>(),
            split_b in any::<prop::sample::Index>(),
        ) {
            let (mut x, mut y) = (split_a.index(data.len() + 1), split_b.index(data.len() + 1));
            if x > y {
                core::mem::swap(&mut x, &mut y);
            }
            let mut hasher = Sha256::new();
            hasher.update(&data[..x]);
            hasher.update(&data[x..y]);
            hasher.update(&data[y..]);
            let expected = sha2::Sha256::digest(&data);
            let digest = hasher.finalize();
            prop_assert_eq!(digest.as_slice(), expected.as_slice());
        }
    }
}
