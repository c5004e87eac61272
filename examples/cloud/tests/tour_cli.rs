#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! `iotsec-cloud tour` end to end: every step's verdict, the exact advisory that blocks firmware
//! 1.1.0, the typed reasons the staged attacks are refused with, `--keep DIR`, and text mode.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Runs `tour --format json` with `extra`: (exit code, the document).
fn tour_json(extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["tour"];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = common::run(&[&["--format", "json"][..], &args].concat());
    let doc = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not one JSON document ({e}): {stdout}\n{stderr}"));
    (code, doc)
}

fn step<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == name)
        .unwrap_or_else(|| panic!("no step {name}: {doc}"))
}

#[test]
fn every_step_gives_its_verdict_and_every_attack_is_refused() {
    let started = Instant::now();
    let (code, doc) = tour_json(&[]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["ok"], true);
    let names: Vec<&str> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "identity",
            "attestation",
            "authorization",
            "deploy_gate",
            "update"
        ]
    );
    for s in doc["steps"].as_array().unwrap() {
        assert_eq!(s["ok"], true, "{s:#}");
    }
    // Without --keep the state directory is gone afterwards.
    assert_eq!(doc["kept"], false);
    assert!(!Path::new(doc["state"].as_str().unwrap()).exists());
}

#[test]
fn identity_attestation_and_authorization_compose() {
    let (code, doc) = tour_json(&[]);
    assert_eq!(code, 0, "{doc:#}");
    let identity = step(&doc, "identity");
    assert_eq!(identity["subject"], "CN=dev-0042");
    assert_eq!(identity["serial"].as_str().unwrap().len() % 2, 0);
    assert!(identity["not_after"].as_str().unwrap().ends_with('Z'));
    let attestation = step(&doc, "attestation");
    assert_eq!(attestation["counter"], 1);
    assert_eq!(attestation["nonce"].as_str().unwrap().len(), 64);
    // The ACL decisions for the enrolled id, with the reasons that decided them.
    let checks: Vec<(String, String, String, String)> = step(&doc, "authorization")["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let f = |k: &str| c[k].as_str().unwrap().to_owned();
            (f("action"), f("topic"), f("decision"), f("reason"))
        })
        .collect();
    let row = |a: &str, t: &str, d: &str, r: &str| (a.into(), t.into(), d.into(), r.into());
    assert_eq!(
        checks,
        [
            row(
                "publish",
                "devices/dev-0042/telemetry",
                "allow",
                "allowed_by"
            ),
            row(
                "publish",
                "devices/dev-0007/telemetry",
                "deny",
                "no_matching_rule"
            ),
            row(
                "subscribe",
                "devices/+/cmd/#",
                "deny",
                "filter_not_contained"
            ),
        ]
    );
}

#[test]
fn the_gate_blocks_1_1_0_on_its_advisory_and_1_1_1_is_installed() {
    let (code, doc) = tour_json(&[]);
    assert_eq!(code, 0, "{doc:#}");
    let gate = step(&doc, "deploy_gate");
    let releases = gate["releases"].as_array().unwrap();
    assert_eq!(releases.len(), 2);
    assert_eq!(releases[0]["version"], "1.1.0");
    assert_eq!(releases[0]["verdict"], "fail");
    assert_eq!(
        releases[0]["blocked_by"],
        serde_json::json!(["DEMO-2026-0001"])
    );
    assert_eq!(
        releases[0]["findings"][0]["component"],
        "pkg:cargo/demo-tls@0.9.2"
    );
    assert_eq!(releases[1]["version"], "1.1.1");
    assert_eq!(releases[1]["verdict"], "pass");
    assert_eq!(releases[1]["findings"], serde_json::json!([]));
    assert_eq!(gate["released"], "1.1.1");
    let update = step(&doc, "update");
    assert_eq!(update["version"], "1.1.1");
    assert_eq!(update["installed_slot"], "B");
    assert_eq!(update["confirmed_slot"], "B");
    assert_eq!(update["security_counter"], 2);
}

#[test]
fn attacks_are_refused_with_their_typed_reasons() {
    let (code, doc) = tour_json(&[]);
    assert_eq!(code, 0, "{doc:#}");
    let attacks: Vec<(&str, &str, bool, &str, &str)> = doc["attacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["attack"].as_str().unwrap(),
                a["step"].as_str().unwrap(),
                a["refused"].as_bool().unwrap(),
                a["kind"].as_str().unwrap(),
                a["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        attacks,
        [
            (
                "evidence_replay",
                "attestation",
                true,
                "nonce_mismatch",
                "nonce does not match the challenge"
            ),
            (
                "nonce_reuse",
                "attestation",
                true,
                "already_used",
                "nonce was already used"
            ),
            (
                "ota_rollback",
                "update",
                true,
                "rollback",
                "rollback: security counter 1 is below the stored 2"
            ),
        ]
    );
}

#[test]
fn keep_leaves_the_ca_state_and_refuses_to_reuse_it() {
    let dir = common::scratch("tour-keep").join("state");
    let arg = dir.display().to_string();
    let (code, doc) = tour_json(&["--keep", &arg]);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["kept"], true);
    assert_eq!(doc["state"], arg.as_str());
    for file in [
        "ca/ca.txt",
        "ca/root.pem",
        "ca/intermediate.pem",
        "ca/intermediate.key.pem",
        "ca/offline/root.key.pem",
        "ca/pki.sqlite",
        "dev-0042.pem",
        "trust-root.cose",
        "manifest-1.1.1.cose",
    ] {
        assert!(dir.join(file).is_file(), "{file} missing in {arg}");
    }
    let cert = std::fs::read_to_string(dir.join("dev-0042.pem")).unwrap();
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"), "{cert}");
    // A second run into the same directory is a usage error: one line on stderr, exit 2.
    let (code, stdout, stderr) = common::run(&["tour", "--keep", &arg]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: --keep"), "{stderr}");
}

#[test]
fn text_mode_prints_one_line_per_step_then_the_attacks() {
    let (code, stdout, stderr) = common::run(&["tour"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("1 identity       ok   CN=dev-0042 serial "),
        "{stdout}"
    );
    for (i, name) in ["attestation", "authorization", "deploy_gate", "update"]
        .iter()
        .enumerate()
    {
        let prefix = format!("{} {name:<14} ok ", i + 2);
        assert!(lines[i + 1].starts_with(&prefix), "{stdout}");
    }
    assert!(
        lines[3].contains("firmware 1.1.0 blocked by DEMO-2026-0001"),
        "{stdout}"
    );
    assert!(
        lines[5].starts_with("attack evidence_replay  refused  nonce_mismatch: "),
        "{stdout}"
    );
    assert_eq!(
        lines[6], "attack nonce_reuse      refused  already_used: nonce was already used",
        "{stdout}"
    );
    assert!(
        lines[7].starts_with("attack ota_rollback     refused  rollback: "),
        "{stdout}"
    );
    assert_eq!(lines[8], "every step gave the expected verdict");
    assert_eq!(lines.len(), 9, "{stdout}");
}
