//! `iotsec-device run`: the agent on timers as a process. It enrolls, prints one JSON line per
//! event, and stops on SIGTERM with exit 0 and `{"exit":"stopped"}`; an `--ak-handle` that is
//! not a persistent handle and a readable bootstrap password file are bad input (exit 2).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::agent::Fleet;

/// The `run` arguments for device `id` of `fleet`, at its EST-only server.
fn run_args(fleet: &Fleet, id: &str) -> Vec<String> {
    fleet.run_args(id, &fleet.est_url)
}

#[test]
fn runs_on_timers_prints_json_lines_and_stops_on_sigterm() {
    let fleet = Fleet::new("agent-cli");
    let mut child = Command::new(env!("CARGO_BIN_EXE_iotsec-device"))
        .args(run_args(&fleet, "dev-cli"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines: Vec<serde_json::Value> = Vec::new();
    let start = Instant::now();
    // Until the first telemetry attempt after enrollment (no broker here: disconnected).
    while lines
        .iter()
        .filter(|l| l["event"] == "disconnected")
        .count()
        < 2
    {
        assert!(start.elapsed() < Duration::from_secs(30), "{lines:?}");
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            lines.push(serde_json::from_str(&line).unwrap());
        }
    }
    assert_eq!(
        lines[0],
        serde_json::json!({"event": "booted", "firmware": "1.0.0", "slot": "A"})
    );
    assert_eq!(lines[1]["event"], "enrolled");
    assert_eq!(lines[1]["id"], "dev-cli");
    // The EST-only server has no fleet API: attestation fails with its 404, and goes on.
    assert!(
        lines
            .iter()
            .any(|l| l["event"] == "error" && l["code"] == "http_404"),
        "{lines:?}"
    );
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = child.wait().unwrap();
    let rest: Vec<String> = rx.iter().collect();
    assert_eq!(status.code(), Some(0), "{rest:?}");
    assert_eq!(
        rest.last().map(String::as_str),
        Some(r#"{"exit":"stopped"}"#)
    );
    assert!(fleet.state_of("dev-cli").join("key.pem").exists());
}

#[test]
fn a_transient_ak_handle_and_a_readable_password_file_are_bad_input() {
    let fleet = Fleet::new("agent-cli-bad");
    let mut args = run_args(&fleet, "dev-bad");
    args.extend(["--tpm", "127.0.0.1:1", "--ak-handle", "0x80000001"].map(String::from));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, err) = common::run(&refs);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--ak-handle must be a persistent handle 0x81xxxxxx"),
        "{err}"
    );
    assert!(!fleet.state_of("dev-bad").exists());

    let args = run_args(&fleet, "dev-bad");
    std::fs::set_permissions(
        fleet.dir.join("bootstrap.pw"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, err) = common::run(&refs);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("chmod 600"), "{err}");
    assert!(!fleet.state_of("dev-bad").exists());
}
