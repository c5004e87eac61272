//! AK registration on arbitrary input (`iotsec_attest::identity::registration`, `ek_nv`): the
//! registration request a device sends (EK and AK public areas, EK certificate), the operator's
//! EK allow-list, and the NV responses of a faulty TPM bus. Never a panic; a challenge is only
//! issued for an EK on the allow-list and an AK with the attestation-key attributes, and its
//! pending registration names the AK it checked.
#![no_main]
use iotsec_attest::PublicArea;
use iotsec_attest::identity::credential::OsRng;
use iotsec_attest::identity::ek_nv::{parse_nv_read_public_response, parse_nv_read_response};
use iotsec_attest::identity::registration::{
    EkTrust, Registrar, RegistrationRequest, ak_registration_problems, ek_digest, parse_allow_list,
};
use libfuzzer_sys::fuzz_target;

/// Splits `data` after a big-endian u16 length: (that many bytes, the rest).
fn split(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let n = usize::from(u16::from_be_bytes([*data.first()?, *data.get(1)?]));
    let rest = data.get(2..)?;
    Some((rest.get(..n)?, rest.get(n..)?))
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = core::str::from_utf8(data)
        && let Ok(list) = parse_allow_list(text)
    {
        assert!(list.len() <= text.lines().count());
    }
    let _ = parse_nv_read_public_response(data);
    if let Ok(chunk) = parse_nv_read_response(data) {
        assert!(chunk.len() <= 512);
    }
    let Some((ek, rest)) = split(data) else {
        return;
    };
    let Some((ak, cert)) = split(rest) else {
        return;
    };
    // The EK offered is allowed: everything after the trust decision is reached.
    let trust = EkTrust {
        allowed: vec![ek_digest(ek)],
        ..EkTrust::default()
    };
    let request = RegistrationRequest {
        subject: "dev",
        ek_public: ek,
        ek_certificate: (!cert.is_empty()).then_some(cert),
        ak_public: ak,
    };
    if let Ok(c) = Registrar::new(&trust, 120).challenge(&request, &mut OsRng, 1_000) {
        let ak = PublicArea::parse_tpm2b(ak).expect("a challenged AK parses");
        assert!(ak_registration_problems(&ak).is_empty());
        assert_eq!(c.pending.ak_name, ak.name().as_bytes());
        assert_eq!(c.pending.ek_digest, ek_digest(ek));
        assert_eq!(c.pending.expires_at, 1_120);
        // The secret is fresh and random: a guessed one fails.
        assert!(c.pending.verify("dev", &[0; 32], 1_000).is_err());
    }
});
