//! `iotsec-device run`: the agent on timers as a process. It enrolls, prints one JSON line per
//! event, and stops on SIGTERM with exit 0 and `{"exit":"stopped"}`; `--tpm` and a readable
//! bootstrap password file are bad input (exit 2).
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

use common::agent::{BOOTSTRAP_PASSWORD, BOOTSTRAP_USER, Fleet, closed_port, factory_image};

/// The `run` arguments for device `id` of `fleet`.
fn run_args(fleet: &Fleet, id: &str) -> Vec<String> {
    let dir = &fleet.dir;
    std::fs::write(dir.join("root.cbor"), &fleet.trust_root).unwrap();
    std::fs::write(dir.join("factory.bin"), factory_image()).unwrap();
    std::fs::write(
        dir.join("firmware.json"),
        serde_json::json!({
            "trust_root": "root.cbor",
            "vendor_id": "6b6b6b6b-6b6b-6b6b-6b6b-6b6b6b6b6b6b",
            "class_id": "6c6c6c6c-6c6c-6c6c-6c6c-6c6c6c6c6c6c",
            "trusted_root_version": 1,
            "slot_capacity": 1_000_000,
            "factory": {"image": "factory.bin", "version": "1.0.0", "security_counter": 1, "sequence": 1}
        })
        .to_string(),
    )
    .unwrap();
    let password = dir.join("bootstrap.pw");
    std::fs::write(&password, format!("{BOOTSTRAP_PASSWORD}\n")).unwrap();
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o600)).unwrap();
    let p = |name: &str| dir.join(name).display().to_string();
    [
        "--format",
        "json",
        "run",
        "--state",
        &fleet.state_of(id).display().to_string(),
        "--cloud",
        &fleet.est_url,
        "--broker",
        &closed_port(),
        "--ca",
        &fleet.ca_state.join("root.pem").display().to_string(),
        "--firmware",
        &p("firmware.json"),
        "--id",
        id,
        "--bootstrap-user",
        BOOTSTRAP_USER,
        "--bootstrap-password-file",
        &p("bootstrap.pw"),
        "--telemetry-secs",
        "1",
        "--poll-secs",
        "1",
        "--step-timeout-secs",
        "5",
    ]
    .map(str::to_owned)
    .to_vec()
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
fn tpm_and_a_readable_password_file_are_bad_input() {
    let fleet = Fleet::new("agent-cli-bad");
    let mut args = run_args(&fleet, "dev-bad");
    args.push("--tpm".into());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, err) = common::run(&refs);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--tpm"), "{err}");

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
