//! The registrar against real TPMs (`identity::registration` with `device::activate` on swtpm):
//! the secret of a challenge for a TPM's own EK and AK comes back and verifies; a challenge
//! for TPM B's AK beside TPM A's EK is activated by neither TPM; an EK not on the allow-list
//! gets no challenge.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::swtpm::{Swtpm, peers_available};
use iotsec_attest::ErrorCode;
use iotsec_attest::device::activate::activate_credential;
use iotsec_attest::device::command::read_public;
use iotsec_attest::device::transport::SwtpmTcp;
use iotsec_attest::identity::credential::OsRng;
use iotsec_attest::identity::registration::{
    Challenge, EkTrust, Registrar, RegistrationError, RegistrationRequest, ek_digest,
};

const EK: u32 = 0x8101_0001;
const AK: u32 = 0x8101_0002;
const NOW: u64 = 1_000_000;

/// A TPM with its ECC EK and an AK under it, both persistent: (TPM, EK public, AK public).
fn provisioned(test: &str) -> (Swtpm, Vec<u8>, Vec<u8>) {
    let tpm = Swtpm::start(test);
    tpm.provision_persistent_ak(&format!("0x{AK:08x}"));
    tpm.tool(
        "tpm2_createek",
        &["-c", &format!("0x{EK:08x}"), "-G", "ecc"],
    );
    let mut link = SwtpmTcp::connect(("127.0.0.1", tpm.port)).unwrap();
    let mut public = |handle| {
        let mut buf = [0u8; 4096];
        read_public(&mut link, handle, &mut buf)
            .unwrap()
            .tpm2b_public
            .to_vec()
    };
    let (ek, ak) = (public(EK), public(AK));
    (tpm, ek, ak)
}

fn request<'a>(ek: &'a [u8], ak: &'a [u8]) -> RegistrationRequest<'a> {
    RegistrationRequest {
        subject: "dev-1",
        ek_public: ek,
        ek_certificate: None,
        ak_public: ak,
    }
}

fn activate(tpm: &Swtpm, c: &Challenge) -> Result<Vec<u8>, &'static str> {
    let mut link = SwtpmTcp::connect(("127.0.0.1", tpm.port)).unwrap();
    activate_credential(
        &mut link,
        EK,
        AK,
        &c.credential.id_object,
        &c.credential.encrypted_secret,
    )
    .map(|s| s.to_vec())
    .map_err(|e| e.code())
}

#[test]
fn only_the_tpm_holding_both_keys_returns_the_secret() {
    if !peers_available("only_the_tpm_holding_both_keys_returns_the_secret") {
        return;
    }
    let (tpm_a, ek_a, ak_a) = provisioned("registration-a");
    let (tpm_b, ek_b, ak_b) = provisioned("registration-b");
    let trust = EkTrust {
        allowed: vec![ek_digest(&ek_a)],
        ..EkTrust::default()
    };
    let registrar = Registrar::new(&trust, 120);
    // The honest device.
    let c = registrar
        .challenge(&request(&ek_a, &ak_a), &mut OsRng, NOW)
        .unwrap();
    let secret = activate(&tpm_a, &c).unwrap();
    assert_eq!(c.pending.verify("dev-1", &secret, NOW + 120), Ok(()));
    assert_eq!(
        c.pending.verify("dev-1", &secret, NOW + 121),
        Err(RegistrationError::Expired {
            expires_at: NOW + 120
        })
    );
    assert_eq!(
        c.pending.verify("dev-2", &secret, NOW),
        Err(RegistrationError::WrongSubject)
    );

    // TPM B's AK beside TPM A's EK: B cannot open the seed, A has no key with that Name.
    let c = registrar
        .challenge(&request(&ek_a, &ak_b), &mut OsRng, NOW)
        .unwrap();
    assert_eq!(activate(&tpm_a, &c), Err("credential_refused"));
    assert_eq!(activate(&tpm_b, &c), Err("credential_refused"));

    // TPM B's own EK is not on the list.
    let e = registrar
        .challenge(&request(&ek_b, &ak_b), &mut OsRng, NOW)
        .unwrap_err();
    assert_eq!(e, RegistrationError::EkNotAllowed);
}
