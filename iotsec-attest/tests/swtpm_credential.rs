//! MakeCredential proven on a real TPM: `tpm2_activatecredential` on swtpm recovers the secret
//! from our blob for an RSA EK and an ECC EK, and refuses a blob made for another AK's Name.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::swtpm::{Swtpm, peers_available};
use iotsec_attest::PublicArea;
use iotsec_attest::identity::credential::{CredentialError, make_credential};
use rand_core::OsRng;

fn activate(tpm: &Swtpm, kind: &str, blob: &str) -> Option<Vec<u8>> {
    let ok = |o: std::process::Output| {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    ok(tpm.tool_unchecked(
        "tpm2_startauthsession",
        &["--policy-session", "-S", "session.ctx"],
    ));
    ok(tpm.tool_unchecked("tpm2_policysecret", &["-S", "session.ctx", "-c", "e"]));
    let out = tpm.tool_unchecked(
        "tpm2_activatecredential",
        &[
            "-c",
            &format!("ak_{kind}.ctx"),
            "-C",
            &format!("ek_{kind}.ctx"),
            "-i",
            blob,
            "-o",
            "activated.out",
            "-P",
            "session:session.ctx",
        ],
    );
    let _ = tpm.tool_unchecked("tpm2_flushcontext", &["session.ctx"]);
    tpm.flush();
    if out.status.success() {
        Some(tpm.read("activated.out"))
    } else {
        None
    }
}

#[test]
fn swtpm_activates_our_credentials_for_rsa_and_ecc_eks() {
    if !peers_available("swtpm_activates_our_credentials_for_rsa_and_ecc_eks") {
        return;
    }
    let tpm = Swtpm::start("credential");
    for kind in ["rsa", "ecc"] {
        tpm.create_ek_ak(kind);
        let ek_bytes = tpm.read(&format!("ek_{kind}.pub"));
        let ek = PublicArea::parse_tpm2b(&ek_bytes).unwrap();
        let ak_name = tpm.read(&format!("ak_{kind}.name"));
        let secret: Vec<u8> = (0..32u8).map(|i| i ^ 0xa5).collect();
        let blob = make_credential(&ek, &ak_name, &secret, &mut OsRng).unwrap();
        tpm.write("cred.blob", &blob.to_tpm2_tools());
        assert_eq!(
            activate(&tpm, kind, "cred.blob"),
            Some(secret.clone()),
            "{kind} EK"
        );

        // A credential bound to another AK Name does not activate for this AK.
        let mut other = ak_name.clone();
        other[10] ^= 1;
        let wrong = make_credential(&ek, &other, &secret, &mut OsRng).unwrap();
        tpm.write("wrong.blob", &wrong.to_tpm2_tools());
        assert_eq!(
            activate(&tpm, kind, "wrong.blob"),
            None,
            "{kind}: blob for another AK activated"
        );
    }
}

#[test]
fn make_credential_refuses_keys_a_tpm_would_not_activate_with() {
    let ak = include_bytes!("data/swtpm-ak_ecc.pub");
    let ak = PublicArea::parse_tpm2b(ak).unwrap();
    assert_eq!(
        make_credential(&ak, &[0, 0x0b], b"s", &mut OsRng),
        Err(CredentialError::NotAStorageKey)
    );
    let ek = include_bytes!("data/swtpm-ek_rsa.pub");
    let ek = PublicArea::parse_tpm2b(ek).unwrap();
    assert_eq!(
        make_credential(&ek, &[0, 0x0b], &[7; 33], &mut OsRng),
        Err(CredentialError::SecretLength { len: 33, max: 32 })
    );
    let blob = make_credential(&ek, &[0, 0x0b], &[7; 32], &mut OsRng).unwrap();
    let file = blob.to_tpm2_tools();
    assert_eq!(&file[..8], &[0xba, 0xdc, 0xc0, 0xde, 0, 0, 0, 1]);
    // TPM2B_ID_OBJECT: 2+32 HMAC, 2+32 encIdentity; TPM2B_ENCRYPTED_SECRET: 256-byte OAEP.
    assert_eq!(u16::from_be_bytes([file[8], file[9]]), 68);
    assert_eq!(u16::from_be_bytes([file[78], file[79]]), 256);
    assert_eq!(file.len(), 80 + 256);
}
