//! AK registration decisions without a TPM (`identity::registration`): which EKs are trusted
//! (allow-list digests, certificates recorded from swtpm's local CA), which AKs are refused,
//! what a pending registration stores, and how the returned secret is judged (subject,
//! expiry, constant-time digest, length). The TPM half is `swtpm_registration.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_attest::ErrorCode;
use iotsec_attest::identity::credential::OsRng;
use iotsec_attest::identity::ek_certificate::EkCertError;
use iotsec_attest::identity::registration::{
    DEFAULT_TTL_SECS, EkAcceptance, EkTrust, MAX_PUBLIC_LEN, PendingRegistration, Registrar,
    RegistrationError, RegistrationRequest, ek_digest, parse_allow_list,
};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

const EK_RSA: &[u8] = include_bytes!("data/registration-ek_rsa.pub");
const EK_RSA_CERT: &[u8] = include_bytes!("data/registration-ek_rsa.der");
const ROOT: &str = include_str!("data/registration-root.pem");
const ISSUER: &str = include_str!("data/registration-issuer.pem");
const EK_ECC: &[u8] = include_bytes!("data/swtpm-ek_ecc.pub");
const AK_ECC: &[u8] = include_bytes!("data/swtpm-ak_ecc.pub");
const AK_ECC_NAME: &[u8] = include_bytes!("data/swtpm-ak_ecc.name");
/// 2027-01-15, inside the recorded certificates' validity.
const NOW: u64 = 1_800_000_000;

fn der(pem: &str) -> Vec<u8> {
    iotsec_attest::identity::ek_certificate::pem_to_der(pem).unwrap()
}

fn allowing(eks: &[&[u8]]) -> EkTrust {
    EkTrust {
        allowed: eks.iter().map(|e| ek_digest(e)).collect(),
        ..EkTrust::default()
    }
}

fn chaining() -> EkTrust {
    EkTrust {
        roots: vec![der(ROOT)],
        intermediates: vec![der(ISSUER)],
        ..EkTrust::default()
    }
}

fn request<'a>(ek: &'a [u8], cert: Option<&'a [u8]>, ak: &'a [u8]) -> RegistrationRequest<'a> {
    RegistrationRequest {
        subject: "dev-1",
        ek_public: ek,
        ek_certificate: cert,
        ak_public: ak,
    }
}

fn refused(trust: &EkTrust, req: &RegistrationRequest<'_>) -> RegistrationError {
    Registrar::new(trust, DEFAULT_TTL_SECS)
        .challenge(req, &mut OsRng, NOW)
        .unwrap_err()
}

#[test]
fn the_allow_list_is_one_hex_sha256_per_line_and_anything_else_is_refused() {
    let a = "ab".repeat(32);
    let b = "CD".repeat(32);
    let text = format!("# factory batch 7\n{a}\n\n  {b}  \n");
    assert_eq!(
        parse_allow_list(&text).unwrap(),
        vec![[0xab; 32], [0xcd; 32]]
    );
    for (bad, line) in [
        (format!("{a}\n{}\n", &a[..62]), 2),
        (format!("{a}0\n"), 1),
        (format!("{a}\n# x\nsha256:{a}\n"), 3),
        (format!("{a} {a}\n"), 1),
        ("zz".repeat(32), 1),
    ] {
        let e = parse_allow_list(&bad).unwrap_err();
        assert_eq!(e, RegistrationError::AllowListLine { line }, "{bad}");
        assert_eq!(e.code(), "bad_allow_list");
    }
    assert_eq!(parse_allow_list("").unwrap(), Vec::<[u8; 32]>::new());
}

#[test]
fn the_ek_digest_is_sha256_of_the_tpm2b_public_as_sha256sum_prints_it() {
    // What `sha256sum registration-ek_rsa.pub` prints for the recorded file.
    assert_eq!(
        hex::encode(ek_digest(EK_RSA)),
        "bed9056a7777a230d5354ad853c913b0555b82087782bed1c2c40d58856e608a"
    );
    // The size prefix is part of it: the TPMT_PUBLIC alone is another digest.
    assert_ne!(ek_digest(&EK_RSA[2..]), ek_digest(EK_RSA));
}

#[test]
fn an_allowed_ek_gets_a_credential_for_the_ak_and_the_pending_registration_holds_no_secret() {
    let trust = allowing(&[EK_ECC]);
    let c = Registrar::new(&trust, 120)
        .challenge(&request(EK_ECC, None, AK_ECC), &mut OsRng, NOW)
        .unwrap();
    assert_eq!(c.ek, EkAcceptance::AllowList);
    assert_eq!(c.pending.subject, "dev-1");
    assert_eq!(c.pending.ak_name, AK_ECC_NAME);
    assert_eq!(c.pending.ek_digest, ek_digest(EK_ECC));
    assert_eq!(c.pending.expires_at, NOW + 120);
    // ECC EK: TPM2B_ENCRYPTED_SECRET is a P-256 point (2 + 32 + 2 + 32); the ID object is a
    // SHA-256 HMAC (2 + 32) and the encrypted TPM2B of 32 bytes (2 + 32).
    assert_eq!(c.credential.encrypted_secret.len(), 68);
    assert_eq!(c.credential.id_object.len(), 68);
    // Fresh id and secret every time.
    let d = Registrar::new(&trust, 120)
        .challenge(&request(EK_ECC, None, AK_ECC), &mut OsRng, NOW)
        .unwrap();
    assert_ne!(c.pending.id, d.pending.id);
    assert_ne!(c.pending.secret_digest, d.pending.secret_digest);
    assert_ne!(c.credential, d.credential);
}

#[test]
fn an_ek_certificate_must_chain_to_a_configured_root() {
    let c = Registrar::new(&chaining(), 120)
        .challenge(&request(EK_RSA, Some(EK_RSA_CERT), AK_ECC), &mut OsRng, NOW)
        .unwrap();
    match &c.ek {
        EkAcceptance::Certificate(id) => assert_eq!(id.manufacturer, "id:00001014"),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.pending.ek_digest, ek_digest(EK_RSA));

    // Unknown CA: only the issuer's root is missing from the path.
    let unknown = EkTrust {
        roots: vec![der(ROOT)],
        ..EkTrust::default()
    };
    let e = refused(&unknown, &request(EK_RSA, Some(EK_RSA_CERT), AK_ECC));
    assert_eq!(e, RegistrationError::EkCertificate(EkCertError::Untrusted));
    assert_eq!(e.code(), "ek_certificate_refused");

    // The certificate of one EK offered with another EK.
    let e = refused(&chaining(), &request(EK_ECC, Some(EK_RSA_CERT), AK_ECC));
    assert_eq!(e, RegistrationError::EkCertificate(EkCertError::EkMismatch));

    // No certificate, not on the allow-list.
    let e = refused(&chaining(), &request(EK_RSA, None, AK_ECC));
    assert_eq!(e, RegistrationError::EkNotAllowed);
    assert_eq!(e.code(), "ek_not_allowed");
    let e = refused(&allowing(&[EK_RSA]), &request(EK_ECC, None, AK_ECC));
    assert_eq!(e, RegistrationError::EkNotAllowed);
    // A certificate is not checked when no root is configured: the allow-list decides.
    let e = refused(
        &allowing(&[EK_RSA]),
        &request(EK_ECC, Some(EK_RSA_CERT), AK_ECC),
    );
    assert_eq!(e, RegistrationError::EkNotAllowed);
    // Expired chain at the appraisal time (before notBefore here).
    let e = Registrar::new(&chaining(), 120)
        .challenge(
            &request(EK_RSA, Some(EK_RSA_CERT), AK_ECC),
            &mut OsRng,
            1_000,
        )
        .unwrap_err();
    assert!(
        matches!(
            e,
            RegistrationError::EkCertificate(EkCertError::NotYetValid { .. })
        ),
        "{e:?}"
    );
}

#[test]
fn nothing_configured_trusts_nothing() {
    let e = refused(&EkTrust::default(), &request(EK_ECC, None, AK_ECC));
    assert_eq!(e, RegistrationError::NoEkTrust);
    assert_eq!(e.code(), "no_ek_trust");
}

#[test]
fn an_ak_that_is_not_a_restricted_signing_key_is_refused_before_any_credential() {
    // The EK itself: restricted, but a decryption key.
    let e = refused(&allowing(&[EK_ECC]), &request(EK_ECC, None, EK_ECC));
    match &e {
        RegistrationError::AkAttributes(p) => {
            assert_eq!(p, &vec!["sign", "decrypt (must be clear)"])
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.code(), "ak_attributes");
    // The AK with fixedTPM cleared (a duplicable key): bit 1 of objectAttributes.
    let mut ak = AK_ECC.to_vec();
    ak[9] &= !0x02;
    let e = refused(&allowing(&[EK_ECC]), &request(EK_ECC, None, &ak));
    assert_eq!(e, RegistrationError::AkAttributes(vec!["fixedTPM"]));
    // The AK used as the EK: not a storage key, so no credential.
    let e = refused(&allowing(&[AK_ECC]), &request(AK_ECC, None, AK_ECC));
    assert_eq!(e.code(), "ek_unusable");
}

#[test]
fn malformed_and_oversized_inputs_are_bad_input() {
    let trust = allowing(&[EK_ECC]);
    let e = refused(&trust, &request(b"\x00\x05garbage", None, AK_ECC));
    assert!(
        matches!(
            e,
            RegistrationError::Malformed {
                field: "ek_public",
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.code(), "malformed");
    let e = refused(&trust, &request(EK_ECC, None, &AK_ECC[..AK_ECC.len() - 1]));
    assert!(
        matches!(
            e,
            RegistrationError::Malformed {
                field: "ak_public",
                ..
            }
        ),
        "{e:?}"
    );
    let big = vec![0u8; MAX_PUBLIC_LEN + 1];
    let e = refused(&trust, &request(EK_ECC, None, &big));
    assert_eq!(
        e,
        RegistrationError::TooLarge {
            field: "ak_public",
            len: MAX_PUBLIC_LEN + 1,
            cap: MAX_PUBLIC_LEN
        }
    );
    assert_eq!(e.code(), "too_large");
    let cert = vec![0x30; 4097];
    let e = refused(&trust, &request(EK_ECC, Some(&cert), AK_ECC));
    assert!(
        matches!(
            e,
            RegistrationError::TooLarge {
                field: "ek_certificate",
                ..
            }
        ),
        "{e:?}"
    );
}

fn pending(secret: &[u8; 32]) -> PendingRegistration {
    PendingRegistration {
        id: [7; 16],
        subject: "dev-1".into(),
        ak_name: AK_ECC_NAME.to_vec(),
        ek_digest: [1; 32],
        secret_digest: Sha256::digest(secret).into(),
        expires_at: NOW,
    }
}

#[test]
fn the_secret_is_checked_for_subject_expiry_length_and_value() {
    let secret = [0x5a; 32];
    let p = pending(&secret);
    assert_eq!(p.verify("dev-1", &secret, NOW), Ok(()));
    assert_eq!(p.verify("dev-1", &secret, NOW - 100), Ok(()));
    let cases = [
        (p.verify("dev-1", &secret, NOW + 1), "registration_expired"),
        (p.verify("dev-2", &secret, NOW), "registration_not_yours"),
        (p.verify("dev-1", &[0x5b; 32], NOW), "secret_mismatch"),
        (p.verify("dev-1", &secret[..31], NOW), "bad_secret"),
        (p.verify("dev-1", &[0x5a; 33], NOW), "bad_secret"),
        (p.verify("dev-1", &[], NOW), "bad_secret"),
    ];
    for (got, code) in cases {
        assert_eq!(got.unwrap_err().code(), code);
    }
}

proptest! {
    #[test]
    fn only_the_sealed_secret_passes(secret in proptest::array::uniform32(any::<u8>()),
                                     other in proptest::array::uniform32(any::<u8>())) {
        let p = pending(&secret);
        prop_assert!(p.verify("dev-1", &secret, NOW).is_ok());
        if other != secret {
            prop_assert_eq!(p.verify("dev-1", &other, NOW), Err(RegistrationError::SecretMismatch));
        }
    }

    #[test]
    fn allow_list_parsing_is_total(text in "[0-9a-fA-F# \n]{0,300}") {
        if let Ok(list) = parse_allow_list(&text) {
            let lines = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).count();
            prop_assert_eq!(list.len(), lines);
        }
    }
}
