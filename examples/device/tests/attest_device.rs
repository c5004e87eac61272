//! `iotsec-device attest quote` against swtpm (our TPM command marshalling, no tpm2-tss), its
//! files appraised by the cloud library as tpm2-tools files would be.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../../../iotsec-attest/tests/common/swtpm.rs"]
mod swtpm;

use std::process::Command;

use iotsec_attest::appraise::Tier;
use iotsec_attest::appraise::policy::AppraisalPolicy;
use iotsec_attest::verify::ring::RingVerifier;
use swtpm::{Swtpm, peers_available};

/// `iotsec-device --format json attest quote --tpm TPM` with the AK at 0x81010002, writing
/// dev.* in the TPM's directory.
fn device_quote(dir: &std::path::Path, tpm: &str, pcrs: &str, nonce: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_iotsec-device"))
        .current_dir(dir)
        .args(["--format", "json", "attest", "quote", "--tpm", tpm])
        .args([
            "--ak-handle",
            "0x81010002",
            "--nonce",
            nonce,
            "--pcrs",
            pcrs,
            "--out",
            "dev",
        ])
        .output()
        .unwrap()
}

/// Appraises the dev.* files the device wrote, as the cloud would.
fn appraise_dev_files(tpm: &Swtpm, nonce: &[u8]) -> Tier {
    let a = swtpm::appraise_files(
        tpm,
        &RingVerifier,
        &AppraisalPolicy::default(),
        "dev.ak.pub",
        "dev",
        nonce,
        None,
    );
    assert!(
        a.claims.iter().all(|c| c.tier != Tier::Contraindicated),
        "{:#?}",
        a.claims
    );
    a.status
}

#[test]
fn swtpm_device_quote_files_are_appraised_by_the_cloud() {
    if !peers_available("swtpm_device_quote_files_are_appraised_by_the_cloud") {
        return;
    }
    let mut tpm = Swtpm::start("device-cli");
    tpm.create_ek_ak("ecc");
    tpm.tool(
        "tpm2_evictcontrol",
        &["-C", "o", "-c", "ak_ecc.ctx", "0x81010002"],
    );
    let addr = format!("127.0.0.1:{}", tpm.port);
    // 10 sha256 PCRs need two TPM2_PCR_Read calls.
    let out = device_quote(
        tpm.dir(),
        &addr,
        "sha256:0,1,2,3,4,5,6,7,8,9+sha384:0",
        "00c0ffee00c0ffee",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["pcr_count"], 11);
    assert_eq!(
        tpm.read("dev.ak.pub"),
        tpm.read("ak_ecc.pub"),
        "TPM2_ReadPublic gives the tpm2-tools file"
    );
    assert_eq!(
        appraise_dev_files(&tpm, &[0, 0xc0, 0xff, 0xee, 0, 0xc0, 0xff, 0xee]),
        Tier::Affirming
    );

    // Bad input: unknown bank, unreachable TPM, a device file that does not exist.
    assert_eq!(
        device_quote(tpm.dir(), &addr, "md5:0", "00").status.code(),
        Some(2)
    );
    for unreachable in [
        "127.0.0.1:1",
        "/dev/iotsec-no-such-tpm",
        "unix:/nonexistent/tpm.sock",
    ] {
        let out = device_quote(tpm.dir(), unreachable, "sha256:0", "00");
        assert_eq!(out.status.code(), Some(2), "{unreachable}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("cannot reach the TPM"), "{err}");
    }

    // The same TPM power-cycled onto a Unix socket (the stream transport /dev/tpmrm0 uses).
    tpm.power_off(true);
    let socket = tpm.power_on_unix();
    let out = device_quote(
        tpm.dir(),
        &format!("unix:{}", socket.display()),
        "sha256:0,7",
        "5eed",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(appraise_dev_files(&tpm, &[0x5e, 0xed]), Tier::Affirming);
}
