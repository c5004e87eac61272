//! The RustCrypto and `ring` backends take the same decision on every signature: SHA-1 and
//! SHA-256 signatures made by OpenSSL (RSASSA, RSAPSS, ECDSA P-256/P-384), their tampered
//! variants, and keys at the edges of what the backends accept. Refusing SHA-1 is the appraisal
//! policy's decision (`allow_sha1`), so both backends verify a genuine SHA-1 signature.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::swtpm::{Swtpm, appraise_files, peers_available};
use iotsec_attest::TpmSignature;
use iotsec_attest::appraise::policy::AppraisalPolicy;
use iotsec_attest::appraise::{Claim, Finding, Tier};
use iotsec_attest::error::VerifyError;
use iotsec_attest::identity::bare_key::BareKey;
use iotsec_attest::tpm::algorithm::HashAlg;
use iotsec_attest::tpm::public::{PublicArea, PublicKey};
use iotsec_attest::verify::aws_lc::{AwsLcVerifier, PreparedAk};
use iotsec_attest::verify::ring::RingVerifier;
use iotsec_attest::verify::{RustCryptoVerifier, SignatureVerifier};

use iotsec_test_support::openssl::available as openssl_available;

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("iotsec-diff-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
    fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&self.0)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.0.join(name)).unwrap()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// r and s of a DER ECDSA-Sig-Value (RFC 3279 §2.2.3), without the sign padding byte.
fn ecdsa_der_to_rs(der: &[u8]) -> (Vec<u8>, Vec<u8>) {
    assert_eq!(der[0], 0x30);
    let mut at = if der[1] & 0x80 != 0 {
        2 + usize::from(der[1] & 0x7f)
    } else {
        2
    };
    let mut int = || {
        assert_eq!(der[at], 0x02);
        let len = usize::from(der[at + 1]);
        let v = &der[at + 2..at + 2 + len];
        at += 2 + len;
        let first = v.iter().position(|b| *b != 0).unwrap_or(v.len());
        v[first..].to_vec()
    };
    let r = int();
    let s = int();
    (r, s)
}

/// Every backend's answer (RustCrypto, ring, aws-lc, aws-lc with the key prepared); they must be
/// equal, error included.
fn both(key: &PublicArea<'_>, msg: &[u8], sig: &TpmSignature<'_>) -> Result<(), VerifyError> {
    let rc = RustCryptoVerifier.verify(key, msg, sig);
    let mut others = vec![
        ("ring", RingVerifier.verify(key, msg, sig)),
        ("aws-lc", AwsLcVerifier.verify(key, msg, sig)),
    ];
    if let Ok(prepared) = PreparedAk::new(key) {
        others.push(("aws-lc prepared", prepared.verify(key, msg, sig)));
    }
    for (name, answer) in others {
        assert_eq!(
            rc,
            answer,
            "RustCrypto and {name} disagree on {:#06x}/{:?}",
            sig.scheme_id(),
            sig.hash()
        );
    }
    rc
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    RsaSsa,
    RsaPss,
    Ecdsa,
}

fn sig_of<'a>(
    kind: Kind,
    hash: HashAlg,
    raw: &'a [u8],
    rs: &'a (Vec<u8>, Vec<u8>),
) -> TpmSignature<'a> {
    match kind {
        Kind::RsaSsa => TpmSignature::RsaSsa { hash, sig: raw },
        Kind::RsaPss => TpmSignature::RsaPss { hash, sig: raw },
        Kind::Ecdsa => TpmSignature::Ecdsa {
            hash,
            r: &rs.0,
            s: &rs.1,
        },
    }
}

#[test]
fn openssl_sha1_and_sha256_signatures_get_identical_decisions_from_both_backends() {
    let test = "openssl_sha1_and_sha256_signatures_get_identical_decisions_from_both_backends";
    if !openssl_available(test) {
        return;
    }
    let dir = Dir::new("openssl");
    std::fs::write(dir.0.join("msg"), b"TPMS_ATTEST stand-in signed by openssl").unwrap();
    let msg = dir.read("msg");
    let keys: [(&str, &[&str], &[Kind]); 3] = [
        (
            "rsa",
            &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            &[Kind::RsaSsa, Kind::RsaPss],
        ),
        (
            "p256",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            &[Kind::Ecdsa],
        ),
        (
            "p384",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
            &[Kind::Ecdsa],
        ),
    ];
    let mut checked = 0;
    for (name, genargs, kinds) in keys {
        let mut args = vec!["genpkey", "-out", "k.pem"];
        args.extend_from_slice(genargs);
        dir.openssl(&args);
        dir.openssl(&["pkey", "-in", "k.pem", "-pubout", "-out", "k.pub.pem"]);
        let bare = BareKey::from_pem(&String::from_utf8(dir.read("k.pub.pem")).unwrap()).unwrap();
        let key = bare.as_public_area();
        for &kind in kinds {
            for (hash, dgst, other) in [
                (HashAlg::Sha1, "-sha1", HashAlg::Sha256),
                (HashAlg::Sha256, "-sha256", HashAlg::Sha1),
            ] {
                let mut args = vec!["dgst", dgst, "-sign", "k.pem", "-out", "sig"];
                if matches!(kind, Kind::RsaPss) {
                    args.extend_from_slice(&[
                        "-sigopt",
                        "rsa_padding_mode:pss",
                        "-sigopt",
                        "rsa_pss_saltlen:digest",
                    ]);
                }
                args.push("msg");
                dir.openssl(&args);
                let raw = dir.read("sig");
                let rs = if matches!(kind, Kind::Ecdsa) {
                    ecdsa_der_to_rs(&raw)
                } else {
                    (Vec::new(), Vec::new())
                };
                let what = format!("{name} {kind:?} {hash:?}");
                // Genuine: both verify, SHA-1 included.
                assert_eq!(
                    both(&key, &msg, &sig_of(kind, hash, &raw, &rs)),
                    Ok(()),
                    "{what}"
                );
                // Labelled with the other hash: refused.
                assert_eq!(
                    both(&key, &msg, &sig_of(kind, other, &raw, &rs)),
                    Err(VerifyError::BadSignature),
                    "{what} relabelled"
                );
                // Altered message.
                let mut m2 = msg.clone();
                m2[0] ^= 1;
                assert_eq!(
                    both(&key, &m2, &sig_of(kind, hash, &raw, &rs)),
                    Err(VerifyError::BadSignature),
                    "{what} altered message"
                );
                // Altered signature (last byte of the RSA signature, of s for ECDSA).
                let mut raw2 = raw.clone();
                let mut rs2 = rs.clone();
                if matches!(kind, Kind::Ecdsa) {
                    *rs2.1.last_mut().unwrap() ^= 1;
                } else {
                    *raw2.last_mut().unwrap() ^= 1;
                }
                assert_eq!(
                    both(&key, &msg, &sig_of(kind, hash, &raw2, &rs2)),
                    Err(VerifyError::BadSignature),
                    "{what} altered signature"
                );
                // Truncated RSA signature.
                if !matches!(kind, Kind::Ecdsa) {
                    assert_eq!(
                        both(&key, &msg, &sig_of(kind, hash, &raw[1..], &rs)),
                        Err(VerifyError::BadSignature),
                        "{what} truncated"
                    );
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 8);
}

/// A 2048-bit odd modulus (top bit set) and 65537, for the key checks below.
fn modulus_2048() -> Vec<u8> {
    let mut m = vec![0xc5; 256];
    m[255] = 0x01;
    m
}

#[test]
fn rsa_keys_outside_the_shared_limits_are_refused_alike() {
    let sig = vec![0x11; 256];
    let cases: Vec<(&str, Vec<u8>, u32, VerifyError)> = vec![
        (
            "2047-bit modulus",
            {
                let mut m = modulus_2048();
                m[0] = 0x7f;
                m
            },
            65537,
            VerifyError::UnsupportedKey,
        ),
        (
            "1024-bit modulus",
            modulus_2048()[128..].to_vec(),
            65537,
            VerifyError::UnsupportedKey,
        ),
        (
            "4104-bit modulus",
            {
                let mut m = vec![0xc5; 513];
                m[512] = 0x01;
                m
            },
            65537,
            VerifyError::UnsupportedKey,
        ),
        (
            "leading zero byte",
            {
                let mut m = vec![0];
                m.extend(modulus_2048());
                m
            },
            65537,
            VerifyError::InvalidKey,
        ),
        (
            "even modulus",
            {
                let mut m = modulus_2048();
                m[255] = 0x02;
                m
            },
            65537,
            VerifyError::InvalidKey,
        ),
        ("exponent 1", modulus_2048(), 1, VerifyError::InvalidKey),
        (
            "even exponent",
            modulus_2048(),
            65538,
            VerifyError::InvalidKey,
        ),
        ("empty modulus", Vec::new(), 65537, VerifyError::InvalidKey),
    ];
    for (what, modulus, exponent, expected) in cases {
        let key = PublicArea::bare(PublicKey::Rsa {
            modulus: &modulus,
            exponent,
            key_bits: 2048,
        });
        for hash in [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha512] {
            for s in [
                TpmSignature::RsaSsa { hash, sig: &sig },
                TpmSignature::RsaPss { hash, sig: &sig },
            ] {
                assert_eq!(both(&key, b"m", &s), Err(expected), "{what} {s:?}");
            }
        }
    }
    // The same well-formed key gets past the checks to the signature itself.
    let m = modulus_2048();
    let key = PublicArea::bare(PublicKey::Rsa {
        modulus: &m,
        exponent: 65537,
        key_bits: 2048,
    });
    let s = TpmSignature::RsaSsa {
        hash: HashAlg::Sha1,
        sig: &sig,
    };
    assert_eq!(both(&key, b"m", &s), Err(VerifyError::BadSignature));
}

/// SHA-1 quotes from a real TPM (swtpm): with `allow_sha1` both backends affirm them, without it
/// both refuse them for the hash (the policy's decision), and a flipped bit is refused by both.
#[test]
fn swtpm_sha1_quotes_are_the_policys_call_on_both_backends() {
    let test = "swtpm_sha1_quotes_are_the_policys_call_on_both_backends";
    if !peers_available(test) {
        return;
    }
    let tpm = Swtpm::start("sha1diff");
    let nonce = [0x5a, 0x17, 0x5a, 0x17, 0x5a, 0x17, 0x5a, 0x17];
    let allow = AppraisalPolicy {
        allow_sha1: true,
        ..Default::default()
    };
    let refuse = AppraisalPolicy::default();
    for (alg, scheme) in [("ecc", "ecdsa"), ("rsa", "rsassa"), ("rsa", "rsapss")] {
        tpm.quote_with_new_ak(alg, "sha1", scheme, "sha256:0,7", "5a175a175a175a17");
        tpm.flush();
        let sig = tpm.read("q.sig");
        assert_eq!(TpmSignature::parse(&sig).unwrap().hash(), HashAlg::Sha1);
        let mut forged = sig.clone();
        *forged.last_mut().unwrap() ^= 1;
        tpm.write("f.sig", &forged);
        std::fs::copy(tpm.path("q.msg"), tpm.path("f.msg")).unwrap();
        std::fs::copy(tpm.path("q.pcrs"), tpm.path("f.pcrs")).unwrap();
        let prepared = common::prepare(&tpm.read("ak.pub"));
        for v in common::every_backend(&prepared) {
            let a = appraise_files(&tpm, v, &allow, "ak.pub", "q", &nonce, None);
            assert_eq!(a.status, Tier::Affirming, "{alg} {scheme}: {:#?}", a.claims);
            let a = appraise_files(&tpm, v, &refuse, "ak.pub", "q", &nonce, None);
            assert_eq!(a.status, Tier::Contraindicated);
            assert_eq!(
                a.claim(Claim::Signature).unwrap().findings,
                [Finding::SignatureHashRefused {
                    hash: HashAlg::Sha1
                }],
                "{alg} {scheme}"
            );
            let a = appraise_files(&tpm, v, &allow, "ak.pub", "f", &nonce, None);
            assert_eq!(
                a.claim(Claim::Signature).unwrap().findings,
                [Finding::SignatureInvalid {
                    reason: VerifyError::BadSignature.to_string()
                }],
                "{alg} {scheme} flipped bit"
            );
        }
    }
}
