//! `PreparedAk` (aws-lc, key parsed once) decides exactly as the per-call verifiers do, and the
//! prepared key is never used for a signature presented under another key: for each key type a
//! real swtpm AK with its quote and a second key with a valid signature (the first valid
//! Wycheproof vector, `tests/data/wycheproof`), substitutions and bit flips, with `RingVerifier` as the
//! oracle.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_attest::tpm::algorithm::{EccCurve, HashAlg};
use iotsec_attest::tpm::public::{PublicKey, Scheme};
use iotsec_attest::verify::SignatureVerifier;
use iotsec_attest::verify::aws_lc::PreparedAk;
use iotsec_attest::verify::ring::RingVerifier;
use iotsec_attest::{PublicArea, TpmSignature, VerifyError};
use proptest::prelude::*;
use serde_json::Value;

const DIR: &str = env!("CARGO_MANIFEST_DIR");

/// A key with one message it signed (TPMT_SIGNATURE bytes).
struct Signed {
    key: Key,
    msg: Vec<u8>,
    sig: Vec<u8>,
}

/// A TPM2B_PUBLIC from swtpm, or the coordinates of a bare key.
enum Key {
    Tpm(Vec<u8>),
    Ecc(Vec<u8>, Vec<u8>),
    Rsa(Vec<u8>),
}

impl Key {
    fn area(&self) -> PublicArea<'_> {
        match self {
            Key::Tpm(b) => PublicArea::parse_tpm2b(b).unwrap(),
            Key::Ecc(x, y) => PublicArea::bare(PublicKey::Ecc {
                curve: EccCurve::NistP256,
                x,
                y,
            }),
            Key::Rsa(n) => PublicArea::bare(PublicKey::Rsa {
                modulus: n,
                exponent: 65537,
                key_bits: 2048,
            }),
        }
    }
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}/{path}")).unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Without the sign byte(s) ASN.1 integers carry.
fn strip(v: Vec<u8>) -> Vec<u8> {
    let first = v.iter().position(|b| *b != 0).unwrap_or(v.len());
    v[first..].to_vec()
}

/// The first group's key and its first valid test of a Wycheproof file (an excerpt kept in the
/// crate, so this test runs from a published package too).
fn wycheproof(file: &str) -> (Value, Value) {
    let path = format!("{DIR}/tests/data/wycheproof/{file}");
    let d: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let g = d["testGroups"][0].clone();
    let t = g["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["result"] == "valid")
        .unwrap()
        .clone();
    (g, t)
}

/// TPMT_SIGNATURE: sigAlg, hash, then the scheme's fields (TPM 2.0 Part 2 §11.3.4).
fn tpmt_signature(alg: u16, parts: &[&[u8]]) -> Vec<u8> {
    let mut out = [alg.to_be_bytes(), HashAlg::Sha256.id().to_be_bytes()].concat();
    for p in parts {
        out.extend_from_slice(&(p.len() as u16).to_be_bytes());
        out.extend_from_slice(p);
    }
    out
}

/// [swtpm ecc, wycheproof P-256, swtpm rsa, wycheproof RSA-2048].
fn fixtures() -> [Signed; 4] {
    let tpm = |k: &str| Signed {
        key: Key::Tpm(read(&format!("tests/data/swtpm-ak_{k}.pub"))),
        msg: read(&format!("tests/data/swtpm-q_{k}.msg")),
        sig: read(&format!("tests/data/swtpm-q_{k}.sig")),
    };
    let (g, t) = wycheproof("ecdsa_secp256r1_sha256_p1363_test.json");
    let sig = unhex(t["sig"].as_str().unwrap());
    let ecc = Signed {
        key: Key::Ecc(
            strip(unhex(g["publicKey"]["wx"].as_str().unwrap())),
            strip(unhex(g["publicKey"]["wy"].as_str().unwrap())),
        ),
        msg: unhex(t["msg"].as_str().unwrap()),
        sig: tpmt_signature(0x0018, &[&sig[..32], &sig[32..]]),
    };
    let (g, t) = wycheproof("rsa_signature_2048_sha256_test.json");
    assert_eq!(g["publicKey"]["publicExponent"], "010001");
    let rsa = Signed {
        key: Key::Rsa(strip(unhex(g["publicKey"]["modulus"].as_str().unwrap()))),
        msg: unhex(t["msg"].as_str().unwrap()),
        sig: tpmt_signature(0x0014, &[&unhex(t["sig"].as_str().unwrap())]),
    };
    [tpm("ecc"), ecc, tpm("rsa"), rsa]
}

fn verify(v: &dyn SignatureVerifier, key: &Key, msg: &[u8], sig: &[u8]) -> Result<(), VerifyError> {
    let sig = TpmSignature::parse(sig).unwrap();
    v.verify(&key.area(), msg, &sig)
}

fn prepare(key: &Key) -> PreparedAk {
    PreparedAk::new(&key.area()).unwrap()
}

#[test]
fn every_fixture_is_a_valid_signature_under_its_own_key_only() {
    let f = fixtures();
    for (i, a) in f.iter().enumerate() {
        for (j, b) in f.iter().enumerate() {
            let expected = if i == j {
                Ok(())
            } else if i / 2 == j / 2 {
                Err(VerifyError::BadSignature)
            } else {
                Err(VerifyError::SchemeKeyMismatch {
                    scheme: TpmSignature::parse(&b.sig).unwrap().scheme_id(),
                })
            };
            assert_eq!(
                verify(&RingVerifier, &a.key, &b.msg, &b.sig),
                expected,
                "{i} {j}"
            );
        }
    }
}

#[test]
fn a_prepared_ak_verifies_its_quotes_and_refuses_substituted_keys() {
    let f = fixtures();
    for (a, b) in [(&f[0], &f[1]), (&f[2], &f[3])] {
        let p = prepare(&a.key);
        assert_eq!(verify(&p, &a.key, &a.msg, &a.sig), Ok(()));
        // Another key's genuine signature: verified with that key (the per-call path).
        assert_eq!(verify(&p, &b.key, &b.msg, &b.sig), Ok(()));
        // A's quote presented as B's: the prepared key A must not answer for B.
        assert_eq!(
            verify(&p, &b.key, &a.msg, &a.sig),
            Err(VerifyError::BadSignature)
        );
        // B's signature presented as A's.
        assert_eq!(
            verify(&p, &a.key, &b.msg, &b.sig),
            Err(VerifyError::BadSignature)
        );
    }
    // Across key types: an RSA quote given to a prepared ECC key is verified as RSA.
    assert_eq!(
        verify(&prepare(&f[0].key), &f[2].key, &f[2].msg, &f[2].sig),
        Ok(())
    );
    assert_eq!(
        verify(&prepare(&f[2].key), &f[0].key, &f[0].msg, &f[0].sig),
        Ok(())
    );
}

#[test]
fn keys_no_provider_can_use_are_refused_when_prepared() {
    let f = fixtures();
    let rsa = f[2].key.area();
    let PublicKey::Rsa {
        modulus, exponent, ..
    } = rsa.key
    else {
        panic!("not RSA")
    };
    // 1024 bits: below every backend's floor.
    let short = PublicArea::bare(PublicKey::Rsa {
        modulus: &modulus[..128],
        exponent,
        key_bits: 1024,
    });
    assert_eq!(
        PreparedAk::new(&short).unwrap_err(),
        VerifyError::UnsupportedKey
    );
    // A point that is not on the curve.
    let Key::Ecc(x, y) = &f[1].key else {
        panic!("not ECC")
    };
    let mut off_curve = y.clone();
    *off_curve.last_mut().unwrap() ^= 1;
    let bad = PublicArea::bare(PublicKey::Ecc {
        curve: EccCurve::NistP256,
        x,
        y: &off_curve,
    });
    assert_eq!(PreparedAk::new(&bad).unwrap_err(), VerifyError::InvalidKey);
    assert!(PreparedAk::new(&f[1].key.area()).unwrap().is_parsed());
}

#[test]
fn an_ak_declaring_a_scheme_no_provider_has_is_verified_per_call() {
    let f = fixtures();
    // The swtpm ECC AK made to declare ECDSA with SHA-1: nothing to parse once; its SHA-256
    // quote no longer matches the declared scheme but the verifier (not the policy) still
    // answers on the signature alone, as the per-call verifiers do.
    let mut ecc = f[0].key.area();
    ecc.scheme = Scheme {
        scheme: ecc.scheme.scheme,
        hash: Some(HashAlg::Sha1.id()),
    };
    let p = PreparedAk::new(&ecc).unwrap();
    assert!(!p.is_parsed());
    let sig = TpmSignature::parse(&f[0].sig).unwrap();
    assert_eq!(p.verify(&ecc, &f[0].msg, &sig), Ok(()));
    assert_eq!(
        p.verify(&ecc, &f[1].msg, &sig),
        Err(VerifyError::BadSignature)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Any key (of the four), any signed message (of the four), any single bit flipped in the message or
    /// the signature (or none): the prepared key of any AK answers exactly as ring does.
    #[test]
    fn prepared_answers_as_ring_does(
        prepared in 0usize..4,
        key in 0usize..4,
        quote in 0usize..4,
        flip in proptest::option::of((any::<bool>(), any::<prop::sample::Index>(), 0u8..8)),
    ) {
        let f = fixtures();
        let p = prepare(&f[prepared].key);
        let mut msg = f[quote].msg.clone();
        let mut sig = f[quote].sig.clone();
        if let Some((in_sig, at, bit)) = flip {
            // Flip inside the signature's value (after its 6- or 8-byte header), or the message
            // (Wycheproof's first valid message is empty: nothing to flip).
            let target = if in_sig { &mut sig } else { &mut msg };
            let start = if in_sig { 8 } else { 0 };
            if target.len() > start {
                let i = start + at.index(target.len() - start);
                target[i] ^= 1 << bit;
            }
        }
        let Ok(parsed) = TpmSignature::parse(&sig) else {
            return Ok(());
        };
        let ak = f[key].key.area();
        prop_assert_eq!(p.verify(&ak, &msg, &parsed), RingVerifier.verify(&ak, &msg, &parsed));
        if flip.is_none() && key == quote {
            prop_assert_eq!(p.verify(&ak, &msg, &parsed), Ok(()));
        }
    }
}
