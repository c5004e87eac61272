//! Killing the CA process mid-issuance (SIGKILL) never leaves a duplicate serial, a lost
//! issuance record or a lost revocation: every state change the child reported as done is in
//! the database afterwards, and the database passes `PRAGMA integrity_check`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
mod peers;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::csr_for;
use iotsec_pki::KeyAlgorithm;
use iotsec_pki::ca_state::{CaSettings, CaState, init_state};
use iotsec_pki::store::{CertStore, SqliteStore, hex_upper};
use time::OffsetDateTime;

/// The child: issues and revokes in a loop, reporting each committed change on stdout.
#[test]
#[ignore = "run as a child process by killing_mid_issuance_loses_nothing"]
fn child_issue_and_revoke_loop() {
    let Ok(dir) = std::env::var("IOTSEC_PKI_CRASH_STATE") else {
        return;
    };
    let mut ca = CaState::open(std::path::Path::new(&dir)).unwrap();
    let csr = csr_for(KeyAlgorithm::P256, 9, "crash");
    let mut out = std::io::stdout();
    for i in 0u64.. {
        let c = ca.issue_csr(&csr, OffsetDateTime::now_utc()).unwrap();
        writeln!(out, "issued {}", hex_upper(&c.serial)).unwrap();
        if i % 2 == 0 {
            ca.revoke(&c.serial, 1, OffsetDateTime::now_utc()).unwrap();
            writeln!(out, "revoked {}", hex_upper(&c.serial)).unwrap();
        }
        out.flush().unwrap();
    }
}

#[test]
fn killing_mid_issuance_loses_nothing() {
    let dir = peers::scratch("crash").join("state");
    init_state(
        &dir,
        &CaSettings {
            organization: "Crash".into(),
            crl_url: "http://127.0.0.1/crl".into(),
            lifetime_secs: 3600,
        },
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    let mut issued = Vec::new();
    let mut revoked = Vec::new();
    for round in 0..3u64 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "child_issue_and_revoke_loop",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("IOTSEC_PKI_CRASH_STATE", &dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<String>>()
        });
        std::thread::sleep(Duration::from_millis(700 + 300 * round));
        child.kill().unwrap(); // SIGKILL: no destructors, no commit hooks
        child.wait().unwrap();
        for line in reader.join().unwrap() {
            if let Some(s) = line.strip_prefix("issued ") {
                issued.push(s.to_owned());
            } else if let Some(s) = line.strip_prefix("revoked ") {
                revoked.push(s.to_owned());
            }
        }
    }
    assert!(
        issued.len() >= 3,
        "child issued too little to prove anything: {}",
        issued.len()
    );
    let store = SqliteStore::open(&dir.join("pki.sqlite")).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let count = store.issued_count().unwrap();
    // Serials are the primary key: duplicates are impossible; every reported one is present.
    assert!(count >= issued.len() as u64);
    let unhex = |s: &str| {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect::<Vec<u8>>()
    };
    for s in &issued {
        assert!(
            store.issued(&unhex(s)).unwrap().is_some(),
            "lost issuance {s}"
        );
    }
    for s in &revoked {
        assert!(
            store.revocation(&unhex(s)).unwrap().is_some(),
            "lost revocation {s}"
        );
    }
    let unique: std::collections::HashSet<_> = issued.iter().collect();
    assert_eq!(unique.len(), issued.len(), "duplicate serial reported");
}
