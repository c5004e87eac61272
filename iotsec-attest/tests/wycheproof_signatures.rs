//! Both signature backends (RustCrypto, ring) and the raw ATECC608-style verifier against
//! Google Wycheproof vectors: every "valid" vector verifies, every "invalid" one is refused, and
//! the two backends agree.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_attest::TpmSignature;
use iotsec_attest::se_evidence::verify_raw_p256;
use iotsec_attest::tpm::algorithm::{EccCurve, HashAlg};
use iotsec_attest::tpm::public::{PublicArea, PublicKey};
use iotsec_attest::verify::aws_lc::{AwsLcVerifier, PreparedAk};
use iotsec_attest::verify::ring::RingVerifier;
use iotsec_attest::verify::{RustCryptoVerifier, SignatureVerifier};
use serde_json::Value;

mod shared_data;

/// A Wycheproof file from the shared data, `None` (skipped) when it is absent.
fn load(name: &str) -> Option<Value> {
    let path = shared_data::shared_data(&format!("wycheproof/{name}"))?;
    Some(serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap())
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn strip(v: &[u8]) -> &[u8] {
    let first = v.iter().position(|b| *b != 0).unwrap_or(v.len());
    &v[first..]
}

/// Runs every test; returns (valid accepted, invalid refused) counts.
fn check(expected: &str, results: &[bool], id: u64) {
    match expected {
        "valid" => assert!(
            results.iter().all(|r| *r),
            "tcId {id}: valid vector refused {results:?}"
        ),
        "invalid" => assert!(
            results.iter().all(|r| !*r),
            "tcId {id}: invalid vector accepted {results:?}"
        ),
        _ => assert!(
            results.windows(2).all(|w| w[0] == w[1]),
            "tcId {id}: backends disagree"
        ),
    }
}

#[test]
fn p256_p1363_vectors_through_tpm_and_raw_verifiers() {
    let Some(d) = load("ecdsa_secp256r1_sha256_p1363_test.json") else {
        return;
    };
    let mut n = 0;
    for g in d["testGroups"].as_array().unwrap() {
        let wx = unhex(g["publicKey"]["wx"].as_str().unwrap());
        let wy = unhex(g["publicKey"]["wy"].as_str().unwrap());
        let (x, y) = (strip(&wx), strip(&wy));
        if x.len() > 32 || y.len() > 32 {
            continue;
        }
        let key = PublicArea::bare(PublicKey::Ecc {
            curve: EccCurve::NistP256,
            x,
            y,
        });
        let mut raw_key = [0u8; 64];
        raw_key[32 - x.len()..32].copy_from_slice(x);
        raw_key[64 - y.len()..].copy_from_slice(y);
        for t in g["tests"].as_array().unwrap() {
            let msg = unhex(t["msg"].as_str().unwrap());
            let sig = unhex(t["sig"].as_str().unwrap());
            let mut results = Vec::new();
            if sig.len() == 64 {
                let s = TpmSignature::Ecdsa {
                    hash: HashAlg::Sha256,
                    r: &sig[..32],
                    s: &sig[32..],
                };
                results.push(RustCryptoVerifier.verify(&key, &msg, &s).is_ok());
                results.push(RingVerifier.verify(&key, &msg, &s).is_ok());
                results.push(AwsLcVerifier.verify(&key, &msg, &s).is_ok());
                // A key the provider refuses cannot be prepared: that is a refusal too.
                results.push(PreparedAk::new(&key).is_ok_and(|p| p.verify(&key, &msg, &s).is_ok()));
                let digest: [u8; 32] = HashAlg::Sha256
                    .digest(&[&msg])
                    .as_bytes()
                    .try_into()
                    .unwrap();
                results
                    .push(verify_raw_p256(&raw_key, &digest, sig[..].try_into().unwrap()).is_ok());
            } else {
                results.push(false);
            }
            check(
                t["result"].as_str().unwrap(),
                &results,
                t["tcId"].as_u64().unwrap(),
            );
            n += 1;
        }
    }
    assert!(n > 200, "only {n} vectors");
}

fn rsa_vectors(file: &str, pss: bool) {
    let Some(d) = load(file) else {
        return;
    };
    let mut n = 0;
    for g in d["testGroups"].as_array().unwrap() {
        let modulus = unhex(g["publicKey"]["modulus"].as_str().unwrap());
        let e = unhex(g["publicKey"]["publicExponent"].as_str().unwrap());
        let exponent = e.iter().fold(0u32, |a, b| (a << 8) | u32::from(*b));
        let m = strip(&modulus);
        let key = PublicArea::bare(PublicKey::Rsa {
            modulus: m,
            exponent,
            key_bits: (m.len() * 8) as u16,
        });
        for t in g["tests"].as_array().unwrap() {
            let msg = unhex(t["msg"].as_str().unwrap());
            let sig = unhex(t["sig"].as_str().unwrap());
            let s = if pss {
                TpmSignature::RsaPss {
                    hash: HashAlg::Sha256,
                    sig: &sig,
                }
            } else {
                TpmSignature::RsaSsa {
                    hash: HashAlg::Sha256,
                    sig: &sig,
                }
            };
            let (rc, ring, lc) = (
                RustCryptoVerifier.verify(&key, &msg, &s),
                RingVerifier.verify(&key, &msg, &s),
                AwsLcVerifier.verify(&key, &msg, &s),
            );
            // Same decision and the same reason: the RSA key checks are shared.
            assert_eq!(rc, ring, "tcId {}: backends disagree", t["tcId"]);
            assert_eq!(rc, lc, "tcId {}: aws-lc disagrees", t["tcId"]);
            let prepared = PreparedAk::new(&key).and_then(|p| p.verify(&key, &msg, &s));
            assert_eq!(
                rc, prepared,
                "tcId {}: prepared aws-lc disagrees",
                t["tcId"]
            );
            let results = [rc.is_ok(), ring.is_ok(), lc.is_ok(), prepared.is_ok()];
            check(
                t["result"].as_str().unwrap(),
                &results,
                t["tcId"].as_u64().unwrap(),
            );
            n += 1;
        }
    }
    assert!(n > 50, "only {n} vectors");
}

#[test]
fn rsassa_2048_vectors_both_backends() {
    rsa_vectors("rsa_signature_2048_sha256_test.json", false);
}

#[test]
fn rsapss_2048_vectors_both_backends() {
    rsa_vectors("rsa_pss_2048_sha256_mgf1_32_test.json", true);
}
