//! The four signature backends decide alike on arbitrary signatures, messages and keys:
//! RustCrypto, ring, aws-lc per call and aws-lc with the key prepared once (`PreparedAk`). Same
//! answer, and for the fixed AKs the same error (with an input key, a point off the curve is
//! `InvalidKey` to RustCrypto and `BadSignature` to the C providers, which do not say which);
//! a prepared key never answers for another key.
//!
//! Input layout: `flags (1) | sig_len (u16 BE) | sig | rest`. flags bit 0 picks the swtpm RSA AK
//! (else the ECC AK) of iotsec-attest/benches/data; with bit 1 the key comes from the input
//! instead: `rest = key_len (u16 BE) | key | msg`, an ECC P-256 key as `x || y` halves (bit 0
//! clear) or an RSA modulus with exponent 65537 (bit 0 set); otherwise `rest` is the message.
//! Bit 2 prepares the fixed AK while verifying under the input's key (substitution).
//!
//! Speed: the fixed AKs are parsed and prepared once per process (statics), not per input, and
//! an input key is at most 512 bytes (a 4096-bit RSA modulus, the largest a TPM makes): a
//! larger modulus only made each input slower (an RSA verification costs the cube of the
//! modulus length) without reaching other code.
#![no_main]

use std::sync::OnceLock;

use iotsec_attest::tpm::algorithm::EccCurve;
use iotsec_attest::tpm::public::PublicKey;
use iotsec_attest::verify::aws_lc::{AwsLcVerifier, PreparedAk};
use iotsec_attest::verify::ring::RingVerifier;
use iotsec_attest::verify::{RustCryptoVerifier, SignatureVerifier};
use iotsec_attest::{PublicArea, TpmSignature};
use libfuzzer_sys::fuzz_target;

const AK_ECC: &[u8] = include_bytes!("../../iotsec-attest/benches/data/ak_ecc.pub");
const AK_RSA: &[u8] = include_bytes!("../../iotsec-attest/benches/data/ak_rsa.pub");

/// Longest input key: a 4096-bit RSA modulus (an ECC key is two halves of at most 66 bytes).
const MAX_KEY_LEN: usize = 512;

/// A fixed AK, parsed and prepared once.
struct Fixed {
    area: PublicArea<'static>,
    prepared: Option<PreparedAk>,
}

fn fixed(rsa: bool) -> &'static Fixed {
    static FIXED: OnceLock<[Fixed; 2]> = OnceLock::new();
    let both = FIXED.get_or_init(|| {
        [AK_ECC, AK_RSA].map(|bytes| {
            let Ok(area) = PublicArea::parse_tpm2b(bytes) else {
                panic!("the fixed AK no longer parses");
            };
            Fixed {
                area,
                prepared: PreparedAk::new(&area).ok(),
            }
        })
    });
    &both[usize::from(rsa)]
}

fn split(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = data.split_first_chunk::<2>()?;
    let len = usize::from(u16::from_be_bytes(*len));
    (rest.len() >= len).then(|| rest.split_at(len))
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Some((sig, rest)) = split(rest) else {
        return;
    };
    let Ok(signature) = TpmSignature::parse(sig) else {
        return;
    };
    let rsa = flags & 1 != 0;
    let fixed_ak = fixed(rsa);
    let (key, msg) = if flags & 2 != 0 {
        let Some((key, msg)) = split(rest) else {
            return;
        };
        if key.len() > MAX_KEY_LEN {
            return;
        }
        let area = if rsa {
            PublicArea::bare(PublicKey::Rsa {
                modulus: key,
                exponent: 65537,
                key_bits: (key.len() * 8) as u16,
            })
        } else {
            let (x, y) = key.split_at(key.len() / 2);
            PublicArea::bare(PublicKey::Ecc {
                curve: EccCurve::NistP256,
                x,
                y,
            })
        };
        (area, msg)
    } else {
        (fixed_ak.area, rest)
    };
    let fixed_key = flags & 2 == 0;
    let expected = RustCryptoVerifier.verify(&key, msg, &signature);
    let same = |name: &str, answer: Result<(), iotsec_attest::VerifyError>| {
        if fixed_key {
            assert_eq!(answer, expected, "{name}");
        } else {
            assert_eq!(
                answer.is_ok(),
                expected.is_ok(),
                "{name}: {answer:?} vs {expected:?}"
            );
        }
    };
    same("ring", RingVerifier.verify(&key, msg, &signature));
    same("aws-lc", AwsLcVerifier.verify(&key, msg, &signature));
    // The fixed AK's prepared key is made once; an input key is prepared per input.
    if fixed_key || flags & 4 != 0 {
        if let Some(prepared) = &fixed_ak.prepared {
            same("prepared", prepared.verify(&key, msg, &signature));
        }
    } else if let Ok(prepared) = PreparedAk::new(&key) {
        same("prepared", prepared.verify(&key, msg, &signature));
    }
});
