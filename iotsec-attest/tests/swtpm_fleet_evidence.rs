//! Fleet TPM evidence (`appraise::tpm_evidence`) made on a real swtpm with our own
//! TPM2_PCR_Reset, TPM2_PCR_Extend, TPM2_ReadPublic, TPM2_Quote and TPM2_PCR_Read: accepted for
//! a reference image, then refused with its code for each thing an attacker can change (the
//! AK binding, the nonce, the firmware PCR, a PCR value, the signature).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::swtpm::{Swtpm, peers_available};
use iotsec_attest::ErrorCode;
use iotsec_attest::PcrSelectionList;
use iotsec_attest::appraise::tpm_evidence::{
    AkBinding, FIRMWARE_PCR, TpmEvidence, TpmExpectations, appraise_tpm_evidence,
    firmware_pcr_value,
};
use iotsec_attest::device::command::{pcr_extend_sha256, pcr_reset, quote, read_pcrs, read_public};
use iotsec_attest::device::transport::SwtpmTcp;
use iotsec_attest::tpm::algorithm::HashAlg;
use iotsec_attest::tpm::pcr_file::serialize_pcrs;
use iotsec_attest::tpm::pcr_selection::PcrBankSelection;
use iotsec_attest::verify::RustCryptoVerifier;

const AK: u32 = 0x8101_0002;

/// Resets and extends the firmware PCR with `image`, then quotes it with `nonce`.
fn evidence(tpm: &Swtpm, image: &[u8; 32], nonce: &[u8]) -> Vec<u8> {
    let mut link = SwtpmTcp::connect(("127.0.0.1", tpm.port)).unwrap();
    pcr_reset(&mut link, FIRMWARE_PCR).unwrap();
    pcr_extend_sha256(&mut link, FIRMWARE_PCR, image).unwrap();
    let mut sel = PcrSelectionList::default();
    sel.push(PcrBankSelection::new(HashAlg::Sha256, &[FIRMWARE_PCR]).unwrap())
        .unwrap();
    let mut b1 = [0u8; 4096];
    let ak = read_public(&mut link, AK, &mut b1)
        .unwrap()
        .tpm2b_public
        .to_vec();
    let mut b2 = [0u8; 4096];
    let q = quote(&mut link, AK, nonce, &sel, &mut b2).unwrap();
    let (attest, signature) = (q.attest.to_vec(), q.signature.to_vec());
    let mut b3 = [0u8; 4096];
    let read = read_pcrs(&mut link, &sel, &mut b3).unwrap();
    let values: Vec<&[u8]> = read.digests().collect();
    // The TPM's PCR is one extend of the image digest from zero.
    assert_eq!(values, vec![&firmware_pcr_value(image)[..]]);
    let pcrs = serialize_pcrs(&sel, &values);
    TpmEvidence {
        ak_public: &ak,
        attest: &attest,
        signature: &signature,
        pcrs: &pcrs,
    }
    .encode()
    .unwrap()
}

fn provisioned(test: &str) -> Swtpm {
    let tpm = Swtpm::start(test);
    tpm.provision_persistent_ak("0x81010002");
    tpm
}

fn code(input: &[u8], nonce: &[u8], ak: AkBinding<'_>, refs: &[[u8; 32]]) -> &'static str {
    match appraise_tpm_evidence(
        input,
        &TpmExpectations {
            nonce,
            ak,
            firmware_references: refs,
            verifier: &RustCryptoVerifier,
        },
    ) {
        Ok(_) => "accepted",
        Err(e) => e.code(),
    }
}

#[test]
fn fleet_evidence_from_swtpm_is_accepted_and_each_tampering_refused() {
    if !peers_available("fleet_evidence_from_swtpm_is_accepted_and_each_tampering_refused") {
        return;
    }
    let tpm = provisioned("fleet-evidence");
    let (factory, release) = ([0x11u8; 32], [0x22u8; 32]);
    let refs = [factory, release];
    let nonce = [0x5au8; 32];
    let ev = evidence(&tpm, &release, &nonce);

    // First use: accepted, the firmware is the second reference, the AK Name is SHA-256 based.
    let accepted = appraise_tpm_evidence(
        &ev,
        &TpmExpectations {
            nonce: &nonce,
            ak: AkBinding::FirstUse,
            firmware_references: &refs,
            verifier: &RustCryptoVerifier,
        },
    )
    .unwrap();
    assert_eq!(accepted.firmware, 1);
    assert_eq!(accepted.firmware_pcr, firmware_pcr_value(&release));
    assert_eq!(accepted.ak_name.len(), 34);
    assert_eq!(&accepted.ak_name[..2], &[0x00, 0x0b]);
    let name = accepted.ak_name.clone();

    // The binding: the registered AK passes, another Name or another device's AK does not.
    assert_eq!(
        code(&ev, &nonce, AkBinding::Registered(&name), &refs),
        "accepted"
    );
    let mut other = name.clone();
    other[33] ^= 1;
    assert_eq!(
        code(&ev, &nonce, AkBinding::Registered(&other), &refs),
        "ak_not_registered"
    );
    assert_eq!(
        code(&ev, &nonce, AkBinding::OtherDevice, &refs),
        "ak_bound_to_other_device"
    );
    // Another nonce, a firmware not among the references.
    assert_eq!(
        code(&ev, &[0x5b; 32], AkBinding::FirstUse, &refs),
        "nonce_mismatch"
    );
    assert_eq!(
        code(&ev, &nonce, AkBinding::FirstUse, &[factory]),
        "unknown_firmware"
    );
    // The PCR value in the evidence changed to a reference value: pcrDigest no longer matches.
    let parsed = TpmEvidence::parse(&ev).unwrap();
    let mut sel = PcrSelectionList::default();
    sel.push(PcrBankSelection::new(HashAlg::Sha256, &[FIRMWARE_PCR]).unwrap())
        .unwrap();
    let pcrs = serialize_pcrs(&sel, &[&firmware_pcr_value(&factory)[..]]);
    let forged = TpmEvidence {
        pcrs: &pcrs,
        ..parsed
    }
    .encode()
    .unwrap();
    assert_eq!(
        code(&forged, &nonce, AkBinding::FirstUse, &refs),
        "pcr_digest_mismatch"
    );
    // One bit of the signed message flipped: the signature fails.
    let mut attest = parsed.attest.to_vec();
    let last = attest.len() - 1;
    attest[last] ^= 1;
    let forged = TpmEvidence {
        attest: &attest,
        ..parsed
    }
    .encode()
    .unwrap();
    assert_eq!(
        code(&forged, &nonce, AkBinding::FirstUse, &refs),
        "bad_signature"
    );
    // The PCR measured with a wrong image: refused although everything is signed.
    let wrong = evidence(&tpm, &[0x33; 32], &nonce);
    assert_eq!(
        code(&wrong, &nonce, AkBinding::Registered(&name), &refs),
        "unknown_firmware"
    );
}

#[test]
fn pcr_extend_and_reset_commands_are_marshalled_as_part_3_says() {
    use iotsec_attest::device::command::{pcr_extend_sha256_command, pcr_reset_command};
    let mut buf = [0u8; 128];
    let cmd = pcr_extend_sha256_command(23, &[0xab; 32], &mut buf).unwrap();
    let mut want = hex::decode(concat!(
        "8002", "00000041", "00000182", // TPM_ST_SESSIONS, size 65, TPM_CC_PCR_Extend
        "00000017", // pcrHandle: PCR 23
        "00000009", "40000009", "0000", "00", "0000", // one password session, empty
        "00000001", "000b", // TPML_DIGEST_VALUES: 1 x SHA-256
    ))
    .unwrap();
    want.extend_from_slice(&[0xab; 32]);
    assert_eq!(cmd, want.as_slice());
    let mut buf = [0u8; 64];
    let cmd = pcr_reset_command(16, &mut buf).unwrap();
    assert_eq!(
        hex::encode(cmd),
        concat!(
            "8002", "0000001b", "0000013d", "00000010", "00000009", "40000009", "0000", "00",
            "0000"
        )
    );
    // A buffer one byte short is refused, not overrun.
    let mut short = [0u8; 64];
    assert!(pcr_extend_sha256_command(23, &[0; 32], &mut short).is_err());
}
