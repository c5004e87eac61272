//! `iotsec-cloud attest eventlog` on logs with banks this verifier cannot hash (SM3): a log with
//! no bank it can hash is unverifiable (exit 1, the skipped banks listed), never "intact"; a
//! log with such a bank beside a SHA-2 bank is checked in the SHA-2 bank and names the skipped
//! one. Exact output, text and JSON.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::PathBuf;
use std::process::Command;

use iotsec_attest::tpm::algorithm::HashAlg;
use iotsec_attest::tpm::event_log::{EV_EFI_ACTION, EV_SEPARATOR, EventLogWriter};

const SM3_256: u16 = 0x0012;

/// Rewrites every SHA-256 algorithm ID of a crypto-agile log (header and events) to SM3_256,
/// which has the same digest size: the log a TPM with only an SM3 bank would give.
fn sha256_bank_to_sm3(mut log: Vec<u8>) -> Vec<u8> {
    let le16 = |b: &[u8], at: usize| u16::from_le_bytes([b[at], b[at + 1]]);
    let le32 = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let (sha256, sm3) = (HashAlg::Sha256.id(), SM3_256);
    // TCG_PCClientPCREvent (32 bytes), then the Spec ID event's fixed part (28 bytes).
    let n = le32(&log, 56) as usize;
    let mut sizes = Vec::new();
    for i in 0..n {
        let at = 60 + 4 * i;
        sizes.push((le16(&log, at), usize::from(le16(&log, at + 2))));
        if le16(&log, at) == sha256 {
            log[at..at + 2].copy_from_slice(&sm3.to_le_bytes());
        }
    }
    let mut at = 60 + 4 * n + 1 + usize::from(log[60 + 4 * n]);
    while at < log.len() {
        let count = le32(&log, at + 8) as usize;
        at += 12;
        for _ in 0..count {
            let alg = le16(&log, at);
            let size = sizes.iter().find(|(a, _)| *a == alg).unwrap().1;
            if alg == sha256 {
                log[at..at + 2].copy_from_slice(&sm3.to_le_bytes());
            }
            at += 2 + size;
        }
        at += 4 + le32(&log, at) as usize;
    }
    assert_eq!(at, log.len());
    log
}

fn log_with(banks: &[HashAlg], altered: bool) -> Vec<u8> {
    let mut w = EventLogWriter::new(banks);
    w.event(8, EV_EFI_ACTION, b"Exit Boot Services Invocation");
    if altered {
        let digests: Vec<_> = banks.iter().map(|b| b.digest(&[&[0u8; 4]])).collect();
        let refs: Vec<&[u8]> = digests.iter().map(|d| d.as_bytes()).collect();
        w.event_with_digests(8, EV_SEPARATOR, &refs, &[0, 0, 0, 1]);
    } else {
        w.event(8, EV_SEPARATOR, &[0; 4]);
    }
    w.finish()
}

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// (exit code, stdout) of `attest eventlog` on `log` in `format`.
fn eventlog(dir: &Dir, name: &str, log: &[u8], format: &str) -> (i32, String) {
    let path = dir.0.join(name);
    std::fs::write(&path, log).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_iotsec-cloud"))
        .args(["--format", format, "attest", "eventlog", "--log"])
        .arg(&path)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

use iotsec_test_support::hex::encode as hex;

#[test]
fn eventlog_with_no_hashable_bank_is_unverifiable_and_lists_the_skipped_banks() {
    let dir = Dir(std::env::temp_dir().join(format!("iotsec-cli-eventlog-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    // Altered data too: with nothing checkable, not even that can be seen.
    for altered in [false, true] {
        let sm3 = sha256_bank_to_sm3(log_with(&[HashAlg::Sha256], altered));
        let (code, out) = eventlog(&dir, "sm3.log", &sm3, "json");
        assert_eq!(code, 1, "{out}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&out).unwrap(),
            serde_json::json!({
                "intact": false,
                "unverifiable": true,
                "events": 2,
                "skipped_banks": ["0x0012"],
                "error": "event log has no bank this verifier can hash: nothing could be checked",
                "code": "no_supported_bank",
            })
        );
        let (code, out) = eventlog(&dir, "sm3.log", &sm3, "text");
        assert_eq!(code, 1);
        assert_eq!(
            out,
            "event log UNVERIFIABLE: event log has no bank this verifier can hash: nothing could \
             be checked\n  skipped banks: 0x0012\n"
        );
    }
}

#[test]
fn eventlog_checks_the_sha2_bank_beside_an_sm3_bank_and_names_the_skipped_one() {
    let dir =
        Dir(std::env::temp_dir().join(format!("iotsec-cli-eventlog2-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let banks = [HashAlg::Sha384, HashAlg::Sha256];
    let mixed = sha256_bank_to_sm3(log_with(&banks, false));
    let mut pcr8 = vec![0u8; 48];
    for data in [&b"Exit Boot Services Invocation"[..], &[0; 4]] {
        let d = HashAlg::Sha384.digest(&[data]);
        pcr8 = HashAlg::Sha384
            .digest(&[&pcr8, d.as_bytes()])
            .as_bytes()
            .to_vec();
    }
    let (code, out) = eventlog(&dir, "mixed.log", &mixed, "json");
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap(),
        serde_json::json!({
            "intact": true,
            "events": 2,
            "pcrs": { "sha384": { "8": hex(&pcr8) } },
            "skipped_banks": ["0x0012"],
        })
    );
    let (code, out) = eventlog(&dir, "mixed.log", &mixed, "text");
    assert_eq!(code, 0);
    assert_eq!(
        out,
        format!(
            "event log: 2 events\n  sha384:8  {}\n  skipped banks: 0x0012\n",
            hex(&pcr8)
        )
    );
    // Altered data is still caught in the bank that can be checked.
    let altered = sha256_bank_to_sm3(log_with(&banks, true));
    let (code, out) = eventlog(&dir, "altered.log", &altered, "json");
    assert_eq!(code, 1, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["intact"], false);
    assert_eq!(
        json["error"],
        "event 2 (type 0x4, PCR 8): Sha384 digest is not the hash of its data"
    );
}
