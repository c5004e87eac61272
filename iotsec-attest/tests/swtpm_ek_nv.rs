//! The EK certificate read from NV by the crate's own commands (`identity::ek_nv`): the exact
//! bytes of TPM2_NV_ReadPublic and TPM2_NV_Read, the response checks, and on a swtpm
//! manufactured with EK certificates the same bytes `tpm2_nvread` reads, in several chunks; an
//! index the TPM does not have is `None`, not an error.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::swtpm::{Swtpm, peers_available};
use iotsec_attest::device::command::TpmCommandError;
use iotsec_attest::device::transport::SwtpmTcp;
use iotsec_attest::identity::ek_nv::{
    ECC_EK_CERTIFICATE_INDEX, NV_CHUNK, RSA_EK_CERTIFICATE_INDEX, nv_read_command,
    nv_read_public_command, parse_nv_read_public_response, parse_nv_read_response,
    read_ek_certificate, read_ek_certificate_into,
};

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

#[test]
fn nv_commands_are_marshalled_as_part_3_says() {
    let mut buf = [0u8; 64];
    assert_eq!(
        nv_read_public_command(RSA_EK_CERTIFICATE_INDEX, &mut buf).unwrap(),
        hex("8001 0000000e 00000169 01c00002").as_slice()
    );
    assert_eq!(
        nv_read_command(ECC_EK_CERTIFICATE_INDEX, 0x0200, 0x0123, &mut buf).unwrap(),
        hex(concat!(
            "8002 00000023 0000014e",         // TPM_ST_SESSIONS, size 35, TPM_CC_NV_Read
            "01c0000a 01c0000a",              // authHandle = nvIndex
            "00000009 40000009 0000 00 0000", // one empty password session
            "0123 0200",                      // size, offset
        ))
        .as_slice()
    );
    assert_eq!(
        nv_read_command(1, 0, 1, &mut [0u8; 20]),
        Err(TpmCommandError::TooLarge)
    );
}

#[test]
fn nv_responses_are_checked() {
    // TPM2B_NV_PUBLIC: index, SHA-256, attributes, empty policy, dataSize 0x04d2; a Name.
    let public = hex("0001 01c00002 000b 62072001 0000 04d2");
    let mut body = (public.len() as u16).to_be_bytes().to_vec();
    body.extend_from_slice(&public);
    body.extend_from_slice(&hex("0004 01c00002"));
    let mut r = hex("8001 00000000 00000000");
    r.extend_from_slice(&body);
    let len = r.len() as u32;
    r[2..6].copy_from_slice(&len.to_be_bytes());
    // The first two bytes of `public` are not part of TPMS_NV_PUBLIC: it is refused as it is.
    assert!(parse_nv_read_public_response(&r).is_err());
    let public = hex("01c00002 000b 62072001 0000 04d2");
    let mut r = hex("8001 00000000 00000000");
    r.extend_from_slice(&(public.len() as u16).to_be_bytes());
    r.extend_from_slice(&public);
    r.extend_from_slice(&hex("0004 01c00002"));
    let len = r.len() as u32;
    r[2..6].copy_from_slice(&len.to_be_bytes());
    assert_eq!(parse_nv_read_public_response(&r), Ok(0x04d2));
    r.push(0);
    r[5] += 1;
    assert!(matches!(
        parse_nv_read_public_response(&r),
        Err(TpmCommandError::Malformed(_))
    ));

    // NV_Read: parameterSize, TPM2B_MAX_NV_BUFFER, then the session acknowledgement.
    let ok = hex("8002 00000018 00000000 00000005 0003 aabbcc 0000 0100 00");
    assert_eq!(parse_nv_read_response(&ok), Ok(&[0xaa, 0xbb, 0xcc][..]));
    // More than one chunk declared: refused before it is read.
    let mut big = hex("8002 00000000 00000000");
    big.extend_from_slice(&((NV_CHUNK as u32 + 3).to_be_bytes()));
    big.extend_from_slice(&(NV_CHUNK + 1).to_be_bytes());
    big.extend_from_slice(&vec![0; usize::from(NV_CHUNK) + 1]);
    let len = big.len() as u32;
    big[2..6].copy_from_slice(&len.to_be_bytes());
    assert!(matches!(
        parse_nv_read_response(&big),
        Err(TpmCommandError::Malformed(_))
    ));
    // TPM_RC_NV_AUTHORIZATION: the TPM's refusal as it came.
    assert_eq!(
        parse_nv_read_response(&hex("8001 0000000a 00000149")),
        Err(TpmCommandError::ResponseCode(0x149))
    );
}

#[test]
fn the_certificates_of_a_manufactured_swtpm_read_as_tpm2_nvread_reads_them() {
    if !peers_available("the_certificates_of_a_manufactured_swtpm_read_as_tpm2_nvread_reads_them") {
        return;
    }
    let tpm = Swtpm::start_manufactured("ek-nv");
    // swtpm_setup stores the P-384 EK certificate at 0x01c00016.
    for (index, file) in [
        (RSA_EK_CERTIFICATE_INDEX, "rsa.der"),
        (0x01c0_0016, "ecc.der"),
    ] {
        tpm.tool(
            "tpm2_nvread",
            &[&format!("0x{index:08x}"), "-C", "o", "-o", file],
        );
    }
    let rsa = tpm.read("rsa.der");
    let ecc = tpm.read("ecc.der");
    // Two chunks, the second short: the loop and its offsets are exercised.
    assert!(rsa.len() > usize::from(NV_CHUNK), "{}", rsa.len());
    let mut link = SwtpmTcp::connect(("127.0.0.1", tpm.port)).unwrap();
    assert_eq!(
        read_ek_certificate(&mut link, RSA_EK_CERTIFICATE_INDEX).unwrap(),
        Some(rsa.clone())
    );
    assert_eq!(
        read_ek_certificate(&mut link, 0x01c0_0016).unwrap(),
        Some(ecc)
    );
    // No P-256 certificate on this TPM.
    assert_eq!(
        read_ek_certificate(&mut link, ECC_EK_CERTIFICATE_INDEX).unwrap(),
        None
    );
    // A buffer smaller than the certificate: refused, not cut.
    let mut small = vec![0u8; rsa.len() - 1];
    assert_eq!(
        read_ek_certificate_into(&mut link, RSA_EK_CERTIFICATE_INDEX, &mut small),
        Err(TpmCommandError::TooLarge)
    );
    drop(link);

    let plain = Swtpm::start("ek-nv-plain");
    let mut link = SwtpmTcp::connect(("127.0.0.1", plain.port)).unwrap();
    assert_eq!(
        read_ek_certificate(&mut link, RSA_EK_CERTIFICATE_INDEX).unwrap(),
        None
    );
}
