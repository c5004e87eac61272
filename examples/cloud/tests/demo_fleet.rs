#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! `iotsec-cloud demo` against the real peer: mosquitto 2.0 (Debian's) with the plugin this
//! test build compiles (`target/PROFILE/deps`), the cloud and 20 device agents on 127.0.0.1.
//! The table has the nine steps with their exact names and expected outcomes; every one must
//! pass; the broker is gone afterwards. With `CI=true` a missing mosquitto fails the test,
//! otherwise it skips loudly.

mod common;

use std::path::{Path, PathBuf};

use iotsec_test_support::peer;
use serde_json::Value;

/// The steps and their expected outcomes, as the table must show them (the demo's own list).
#[path = "../src/demo/step_names.rs"]
mod step_names;
use step_names::STEPS;

fn have_mosquitto(test: &str) -> bool {
    Path::new("/usr/sbin/mosquitto").is_file()
        || peer::find("mosquitto").is_some()
        || peer::missing(
            test,
            "mosquitto",
            "apt-get install mosquitto, or .ci/install.sh",
        )
}

/// Whether process `pid` still exists (and is not a zombie).
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.split_whitespace().nth(2).is_none_or(|s| s != "Z"))
}

fn names_and_expectations(doc: &Value) -> Vec<(String, String)> {
    doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["step"].as_str().unwrap().to_owned(),
                s["expected"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Each step's status, in order.
fn statuses(doc: &Value) -> Vec<&str> {
    doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect()
}

/// One fleet at a time: each runs a broker, the cloud and its devices, and several at once on a
/// 2-core machine only measure the machine's load.
static ONE_FLEET: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_fleet() -> std::sync::MutexGuard<'static, ()> {
    ONE_FLEET
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs `demo --format json --devices N --keep DIR`: (exit code, the document, stderr, DIR),
/// with the table's steps and expected outcomes checked.
fn demo(name: &str, devices: usize) -> (i32, Value, String, PathBuf) {
    let dir = common::scratch(name).join("state");
    let arg = dir.display().to_string();
    let n = devices.to_string();
    let (code, stdout, stderr) =
        common::run(&["--format", "json", "demo", "--devices", &n, "--keep", &arg]);
    let doc: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not one JSON document ({e}): {stdout}\n{stderr}"));
    let want: Vec<(String, String)> = STEPS
        .iter()
        .map(|(n, e)| ((*n).to_owned(), (*e).to_owned()))
        .collect();
    assert_eq!(names_and_expectations(&doc), want);
    (code, doc, stderr, dir)
}

#[test]
fn twenty_devices_walk_the_lifecycle_and_every_outcome_happens() {
    if !have_mosquitto("twenty_devices_walk_the_lifecycle_and_every_outcome_happens") {
        return;
    }
    let _fleet = one_fleet();
    let (code, doc, _, dir) = demo("demo-20", 20);
    for s in doc["steps"].as_array().unwrap() {
        assert_eq!(s["status"], "passed", "{s:#}");
    }
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["devices"], 20);
    let registry = &doc["steps"][8]["details"]["registry"];
    assert_eq!(registry["devices"], 20, "{registry}");
    assert_eq!(registry["decommissioned"], 1, "{registry}");
    assert_eq!(registry["revoked"], 2, "{registry}");
    // The broker it started is gone.
    let pid = std::fs::read_to_string(dir.join("broker/mosquitto.pid")).unwrap();
    assert!(!alive(pid.trim()), "mosquitto {pid} still runs");
}

#[test]
fn the_smallest_fleet_passes_on_a_tls_13_mtls_broker() {
    if !have_mosquitto("the_smallest_fleet_passes_on_a_tls_13_mtls_broker") {
        return;
    }
    let _fleet = one_fleet();
    let (code, doc, stderr, dir) = demo("demo-table", 10);
    let statuses = statuses(&doc);
    // Exit 0 exactly when every step passed; `not run` is never a pass.
    let all_passed = statuses.iter().all(|s| *s == "passed");
    assert!(all_passed, "{doc:#}");
    assert_eq!(code == 0, all_passed, "{doc:#}");
    assert_eq!(doc["ok"], all_passed);
    assert!(code == 0 || code == 1, "{code} {stderr}");
    for s in doc["steps"].as_array().unwrap() {
        assert_eq!(s["ok"], s["status"] == "passed", "{s:#}");
    }
    // The broker's TLS listener was checked in step 1 whatever else is missing.
    let step1 = &doc["steps"][0]["details"];
    assert_eq!(step1["broker_mtls"], true, "{step1}");
    assert_eq!(step1["broker_refuses_no_certificate"], true, "{step1}");
    let conf = std::fs::read_to_string(dir.join("broker/mosquitto.conf")).unwrap();
    for line in [
        "tls_version tlsv1.3",
        "require_certificate true",
        "use_identity_as_username true",
        "plugin_opt_deny_topic $iotsec/deny",
    ] {
        assert!(conf.lines().any(|l| l == line), "{line} missing:\n{conf}");
    }
    assert!(conf.lines().any(|l| l.starts_with("crlfile ")), "{conf}");
    let pid = std::fs::read_to_string(dir.join("broker/mosquitto.pid")).unwrap();
    assert!(!alive(pid.trim()), "mosquitto {pid} still runs");
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    for (args, prefix) in [
        (
            &["demo", "--broker", "/nonexistent/mosquitto"][..],
            "error: --broker /nonexistent/mosquitto: no such file",
        ),
        (
            &["demo", "--broker", "iotsec-no-such-broker"][..],
            "error: --broker iotsec-no-such-broker: not found",
        ),
        (
            &["demo", "--devices", "3"][..],
            "error: invalid value '3' for '--devices <N>'",
        ),
    ] {
        let (code, stdout, stderr) = common::run(args);
        assert_eq!(code, 2, "{args:?}: {stdout}{stderr}");
        assert!(stdout.is_empty(), "{stdout}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with(prefix), "{args:?}: {stderr}");
    }
    if have_mosquitto("usage_errors_exit_2_with_one_line") {
        let (code, _, stderr) = common::run(&["demo", "--plugin", "/nonexistent/plugin.so"]);
        assert_eq!(code, 2, "{stderr}");
        assert_eq!(
            stderr.trim_end(),
            "error: --plugin /nonexistent/plugin.so: no such file"
        );
    }
}

#[test]
fn ctrl_c_stops_the_walk_reports_it_and_leaves_no_broker() {
    if !have_mosquitto("ctrl_c_stops_the_walk_reports_it_and_leaves_no_broker") {
        return;
    }
    let _fleet = one_fleet();
    let dir = common::scratch("demo-ctrl-c").join("state");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_iotsec-cloud"))
        .args(["--format", "json", "demo", "--devices", "10", "--keep"])
        .arg(&dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (bounded) for the broker, then for the first device to be started.
    let pid_file = dir.join("broker/mosquitto.pid");
    let started = std::time::Instant::now();
    while !dir.join("devices").is_dir() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the demo started no device"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let broker = std::fs::read_to_string(&pid_file).unwrap();
    assert!(alive(broker.trim()), "mosquitto {broker} is not running");
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    // Bounded: a demo that ignored Ctrl-C is killed after a minute (and the test fails).
    let pid = child.id().to_string();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(60));
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status();
    });
    let out = child.wait_with_output().unwrap();
    let (code, stdout, stderr) = (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    let doc: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not one JSON document ({e}): {stdout}\n{stderr}"));
    assert_eq!(code, 1, "{doc:#}");
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["interrupted"], "interrupted (Ctrl-C)");
    let steps = doc["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 9);
    assert_eq!(steps[8]["status"], "not_run", "{doc:#}");
    assert_eq!(steps[8]["observed"], "interrupted (Ctrl-C)");
    assert!(!alive(broker.trim()), "mosquitto {broker} still runs");
}

#[test]
fn a_broker_that_does_not_start_fails_step_1_and_every_later_step_is_not_run() {
    if !have_mosquitto("a_broker_that_does_not_start_fails_step_1_and_every_later_step_is_not_run")
    {
        return;
    }
    // Not a mosquitto plugin: the broker refuses to start.
    let dir = common::scratch("demo-bad-plugin");
    let fake = dir.join("libnot_a_plugin.so");
    std::fs::write(&fake, b"not a shared object").unwrap();
    let (code, stdout, stderr) = common::run(&[
        "--format",
        "json",
        "demo",
        "--devices",
        "10",
        "--plugin",
        fake.to_str().unwrap(),
    ]);
    let doc: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not one JSON document ({e}): {stdout}\n{stderr}"));
    assert_eq!(code, 1, "{doc:#}");
    assert_eq!(doc["ok"], false);
    let statuses = statuses(&doc);
    assert_eq!(statuses, [&["failed"][..], &["not_run"; 8]].concat());
    let observed = doc["steps"][0]["observed"].as_str().unwrap();
    assert!(
        observed.starts_with("mosquitto exited (exit status: "),
        "{observed}"
    );
    assert_eq!(
        doc["steps"][1]["observed"],
        "no cloud: step 1 did not start it"
    );
    assert_eq!(
        doc["steps"][4]["observed"],
        "no devices: step 2 did not start them"
    );
}
