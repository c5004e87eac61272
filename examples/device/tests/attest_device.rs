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

use iotsec_attest::PublicArea;
use iotsec_attest::appraisal::{QuoteEvidence, Tier, appraise_quote};
use iotsec_attest::pcr_file::SerializedPcrs;
use iotsec_attest::policy::AppraisalPolicy;
use iotsec_attest::ring_verifier::RingVerifier;
use swtpm::{Swtpm, peers_available};

#[test]
fn swtpm_device_quote_files_are_appraised_by_the_cloud() {
    if !peers_available("swtpm_device_quote_files_are_appraised_by_the_cloud") {
        return;
    }
    let tpm = Swtpm::start("device-cli");
    tpm.create_ek_ak("ecc");
    tpm.tool(
        "tpm2_evictcontrol",
        &["-C", "o", "-c", "ak_ecc.ctx", "0x81010002"],
    );
    let addr = format!("127.0.0.1:{}", tpm.port);
    let run = |pcrs: &str, nonce: &str| {
        Command::new(env!("CARGO_BIN_EXE_iotsec-device"))
            .current_dir(tpm.dir())
            .args([
                "--format",
                "json",
                "attest",
                "quote",
                "--tpm",
                &addr,
                "--ak-handle",
                "0x81010002",
            ])
            .args(["--nonce", nonce, "--pcrs", pcrs, "--out", "dev"])
            .output()
            .unwrap()
    };
    // 10 sha256 PCRs need two TPM2_PCR_Read calls.
    let out = run("sha256:0,1,2,3,4,5,6,7,8,9+sha384:0", "00c0ffee00c0ffee");
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
    let (ak, msg, sig, pcrs) = (
        tpm.read("dev.ak.pub"),
        tpm.read("dev.msg"),
        tpm.read("dev.sig"),
        tpm.read("dev.pcrs"),
    );
    let ak = PublicArea::parse_tpm2b(&ak).unwrap();
    let pcrs = SerializedPcrs::parse(&pcrs).unwrap();
    let a = appraise_quote(
        &RingVerifier,
        &AppraisalPolicy::default(),
        &QuoteEvidence {
            ak: &ak,
            message: &msg,
            signature: &sig,
            pcrs: &pcrs,
            event_log: None,
        },
        &[0, 0xc0, 0xff, 0xee, 0, 0xc0, 0xff, 0xee],
        None,
    );
    assert_eq!(a.status, Tier::Affirming, "{:#?}", a.claims);

    // Bad input: unknown bank, unreachable TPM.
    assert_eq!(run("md5:0", "00").status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_iotsec-device"))
        .args([
            "attest",
            "quote",
            "--tpm",
            "127.0.0.1:1",
            "--ak-handle",
            "0x81010002",
            "--nonce",
            "00",
            "--pcrs",
            "sha256:0",
            "--out",
            "x",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    tpm.tool("tpm2_evictcontrol", &["-C", "o", "-c", "0x81010002"]);
}
