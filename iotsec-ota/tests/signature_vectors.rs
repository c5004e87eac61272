//! The signature layer against RFC 8032 §7.1 test vectors and every Wycheproof case for
//! Ed25519 and ECDSA P-256/SHA-256 in the raw r||s (IEEE P1363) form COSE uses.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod shared_data;

use iotsec_ota::Algorithm;
use iotsec_ota::signer::{Ed25519Key, Signer};

const RFC8032: &[(&str, &str, &str, &str)] = &[
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
];

#[test]
fn rfc8032_vectors_sign_and_verify() {
    for (secret, public, message, signature) in RFC8032 {
        let seed: [u8; 32] = hex::decode(secret).unwrap().try_into().unwrap();
        let key = Ed25519Key::from_seed(&seed);
        assert_eq!(key.public_key(), hex::decode(public).unwrap());
        let message = hex::decode(message).unwrap();
        assert_eq!(key.sign(&message).unwrap(), hex::decode(signature).unwrap());
        let public = hex::decode(public).unwrap();
        let mut signature = hex::decode(signature).unwrap();
        assert_eq!(
            Algorithm::EdDsa.verify(&public, &message, &signature),
            Ok(())
        );
        signature[10] ^= 1;
        assert!(
            Algorithm::EdDsa
                .verify(&public, &message, &signature)
                .is_err()
        );
    }
}

/// A Wycheproof file from the shared data, `None` (skipped) when it is absent.
fn wycheproof(name: &str) -> Option<serde_json::Value> {
    let path = shared_data::shared_data(&format!("wycheproof/{name}"))?;
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Some(serde_json::from_str(&text).unwrap())
}

/// (valid accepted, invalid refused), `None` when the vectors are absent.
fn run_wycheproof(name: &str, algorithm: Algorithm, key_field: &str) -> Option<(usize, usize)> {
    let doc = wycheproof(name)?;
    let (mut valid, mut invalid) = (0, 0);
    for group in doc["testGroups"].as_array().unwrap() {
        let public = hex::decode(group["publicKey"][key_field].as_str().unwrap()).unwrap();
        for test in group["tests"].as_array().unwrap() {
            let id = test["tcId"].as_u64().unwrap();
            let message = hex::decode(test["msg"].as_str().unwrap()).unwrap();
            let signature = hex::decode(test["sig"].as_str().unwrap()).unwrap();
            let outcome = algorithm.verify(&public, &message, &signature);
            match test["result"].as_str().unwrap() {
                "valid" => {
                    assert_eq!(outcome, Ok(()), "{name} tcId {id} must verify");
                    valid += 1;
                }
                "invalid" => {
                    assert!(outcome.is_err(), "{name} tcId {id} must be rejected");
                    invalid += 1;
                }
                other => panic!("{name} tcId {id}: unexpected result {other}"),
            }
        }
    }
    Some((valid, invalid))
}

#[test]
fn wycheproof_ed25519_every_case() {
    let Some(counts) = run_wycheproof("ed25519_test.json", Algorithm::EdDsa, "pk") else {
        return;
    };
    assert_eq!(counts, (88, 63));
}

#[test]
fn wycheproof_ecdsa_p256_sha256_p1363_every_case() {
    let Some(counts) = run_wycheproof(
        "ecdsa_secp256r1_sha256_p1363_test.json",
        Algorithm::Es256,
        "uncompressed",
    ) else {
        return;
    };
    assert_eq!(counts, (173, 89));
}
