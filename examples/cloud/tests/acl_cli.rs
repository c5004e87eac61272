//! `iotsec-cloud acl ...` end to end: exit codes 0/1/2, JSON decision and trace, mosquitto
//! acl_file evaluation, lint, diff and import.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::PathBuf;

use common::run;

fn file(name: &str, body: &str) -> String {
    let dir = std::env::temp_dir().join(format!("iotsec-acl-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p: PathBuf = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.to_string_lossy().into_owned()
}

const POLICY: &str = r##"
[[rule]]
name = "own"
effect = "allow"
actions = ["publish", "subscribe", "receive"]
topics = ["devices/${client_id}/#"]

[[rule]]
name = "no-admin"
effect = "deny"
actions = ["publish"]
topics = ["devices/+/admin/#"]
"##;

/// `acl check --format json` of `client_id` doing `action` on `topic`; `extra` is added.
fn check(
    policy: &str,
    client_id: &str,
    action: &str,
    topic: &str,
    extra: &[&str],
) -> (i32, serde_json::Value, String) {
    let mut args = vec!["acl", "check", "--policy", policy, "--format", "json"];
    args.extend_from_slice(&[
        "--client-id",
        client_id,
        "--action",
        action,
        "--topic",
        topic,
    ]);
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = run(&args);
    let v = if stdout.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&stdout).unwrap()
    };
    (code, v, stderr)
}

#[test]
fn check_allows_denies_and_traces() {
    let p = file("policy.toml", POLICY);
    let (code, v, _) = check(&p, "dev1", "publish", "devices/dev1/t", &[]);
    assert_eq!(code, 0);
    assert_eq!(v["decision"], "allow");
    assert_eq!(v["reason"]["name"], "own");
    assert_eq!(v["trace"][0]["template"], "devices/${client_id}/#");

    let (code, v, _) = check(&p, "dev1", "publish", "devices/dev1/admin/x", &[]);
    assert_eq!(code, 1);
    assert_eq!(v["decision"], "deny");
    assert_eq!(v["reason"]["kind"], "denied_by");
    assert_eq!(v["trace"].as_array().unwrap().len(), 2);

    let (code, v, _) = check(&p, "dev1/x", "publish", "devices/dev1/x/t", &[]);
    assert_eq!(code, 1);
    assert_eq!(v["reason"]["kind"], "placeholder_unusable");
    assert_eq!(v["reason"]["problem"], "contains_level_separator");

    let (code, v, _) = check(&p, "dev1", "subscribe", "devices/#", &[]);
    assert_eq!(
        (code, v["reason"]["kind"].as_str()),
        (1, Some("filter_not_contained"))
    );
    let (code, _, _) = check(&p, "dev1", "subscribe", "devices/dev1/#", &[]);
    assert_eq!(code, 0);
    let (code, v, _) = check(
        &p,
        "dev1/x",
        "publish",
        "devices/dev1/x/t",
        &["--mode", "mosquitto"],
    );
    assert_eq!((code, v["decision"].as_str()), (0, Some("allow")));
}

/// `acl check [--policy POLICY] --client-id d --action ACTION --topic a`, `extra` added.
fn check_args<'a>(policy: Option<&'a str>, action: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["acl", "check"];
    if let Some(policy) = policy {
        args.extend_from_slice(&["--policy", policy]);
    }
    args.extend_from_slice(&["--client-id", "d", "--action", action, "--topic", "a"]);
    args.extend_from_slice(extra);
    args
}

#[test]
fn check_bad_input_exits_two_with_one_line() {
    let p = file("policy2.toml", POLICY);
    let bad_policy = file(
        "bad.toml",
        "[[rule]]\neffect = \"allow\"\nactions = [\"publish\"]\ntopics = [\"a/x${client_id}\"]\n",
    );
    for args in [
        check_args(Some(&p), "fly", &[]),
        check_args(Some(&p), "publish", &["--mode", "lax"]),
        check_args(Some("/nonexistent.toml"), "publish", &[]),
        check_args(Some(&bad_policy), "publish", &[]),
        check_args(None, "publish", &[]),
    ] {
        let (code, stdout, stderr) = run(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stdout.is_empty());
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    }
}

#[test]
fn check_mosquitto_acl_file() {
    let acl = file(
        "acl",
        "pattern readwrite devices/%c/#\nuser admin\ntopic read #\n",
    );
    let run_acl = |id: &str, topic: &str| {
        let (code, stdout, _) = run(&[
            "acl",
            "check",
            "--mosquitto-acl",
            &acl,
            "--client-id",
            id,
            "--action",
            "publish",
            "--topic",
            topic,
            "--format",
            "json",
        ]);
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        (code, v)
    };
    let (code, v) = run_acl("dev1/x", "devices/dev1/x/t");
    assert_eq!(code, 0, "mosquitto lets dev1/x in: {v}");
    assert_eq!(v["reason"]["why"], "pattern_allow");
    let (code, _) = run_acl("dev2", "devices/dev1/t");
    assert_eq!(code, 1);
}

/// The `kind` of each entry of a JSON array.
fn kinds_of(entries: &serde_json::Value) -> Vec<&str> {
    entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect()
}

#[test]
fn lint_diff_and_import() {
    let p = file(
        "lint.toml",
        r##"
[[rule]]
name = "wide"
effect = "allow"
actions = ["publish"]
topics = ["+/${client_id}/#"]
[[rule]]
name = "sys"
effect = "allow"
actions = ["receive"]
topics = ["$SYS/#"]
[[rule]]
name = "pointless-deny"
effect = "deny"
actions = ["receive"]
topics = ["nowhere/#"]
"##,
    );
    let (code, stdout, _) = run(&["acl", "lint", "--policy", &p, "--format", "json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let kinds = kinds_of(&v["findings"]);
    for k in [
        "wildcard_escalation",
        "reaches_reserved",
        "ineffective_deny",
    ] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    let clean = file("clean.toml", POLICY);
    let (code, _, _) = run(&["acl", "lint", "--policy", &clean]);
    assert_eq!(code, 0);

    let newer = file(
        "newer.toml",
        &POLICY.replace("devices/+/admin/#", "devices/+/admin/secret"),
    );
    let (code, stdout, _) = run(&["acl", "diff", &clean, &newer, "--format", "json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(v["lost"].as_array().unwrap().is_empty());
    let gained = v["gained"].as_array().unwrap();
    assert!(
        gained
            .iter()
            .any(|c| c["action"] == "publish" && c["topic"] == "devices/c1/admin"),
        "{v}"
    );
    let (code, _, _) = run(&["acl", "diff", &clean, &clean]);
    assert_eq!(code, 0);

    let acl = file(
        "import.acl",
        "user alice\ntopic readwrite x/#\npattern deny x/%c/secret\npattern write d/dev-%c\n",
    );
    let (code, stdout, _) = run(&[
        "acl",
        "import",
        "--from",
        "mosquitto",
        &acl,
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let kinds = kinds_of(&v["notes"]);
    assert!(
        kinds.contains(&"user_allow_no_longer_beats_pattern_deny"),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"mid_level_placeholder_dropped"),
        "{kinds:?}"
    );
    let (code, stdout, _) = run(&["acl", "import", "--from", "mosquitto", &acl]);
    assert_eq!(code, 0);
    assert!(stdout.contains("x/${client_id}/secret"), "{stdout}");

    let aws = file(
        "aws.json",
        r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:eu-west-1:1:client/${iot:Certificate.Subject.CommonName}"},
        {"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"arn:aws:iot:eu-west-1:1:topic/things/${iot:ClientId}/*"},
        {"Effect":"Deny","Action":"iot:Publish","Resource":"arn:aws:iot:eu-west-1:1:topic/things/${iot:ClientId}/admin"}]}"#,
    );
    let (code, stdout, stderr) = run(&["acl", "import", "--from", "aws", &aws, "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["policy"]["identity_binding"], "cert_cn");
    assert!(stdout.contains("\"things/${client_id}/+/#\""), "{stdout}");
}

/// `acl check --mosquitto-acl ACL` of dev1 publishing to devices/dev1/t, `extra` added.
fn check_mosquitto(acl: &str, extra: &[&str]) -> (i32, String, String) {
    let mut a = vec![
        "acl",
        "check",
        "--mosquitto-acl",
        acl,
        "--client-id",
        "dev1",
        "--action",
        "publish",
        "--topic",
        "devices/dev1/t",
    ];
    a.extend_from_slice(extra);
    run(&a)
}

#[test]
fn mosquitto_acl_in_strict_mode_decides_on_the_imported_policy() {
    let acl = file("acl-modes", "pattern readwrite devices/%c/#\n");
    let args = |extra: &[&'static str]| {
        let mut a = vec!["--format", "json"];
        a.extend_from_slice(extra);
        a
    };
    let check_acl = |extra: &[&str]| {
        let (code, stdout, stderr) = check_mosquitto(&acl, extra);
        (
            code,
            serde_json::from_str(&stdout).unwrap_or_default(),
            stderr,
        )
    };
    let (code, v, _): (i32, serde_json::Value, String) = check_acl(&args(&[]));
    assert_eq!((code, v["mode"].as_str()), (0, Some("mosquitto")), "{v}");
    let (code, v, _) = check_acl(&args(&["--mode", "strict"]));
    assert_eq!((code, v["mode"].as_str()), (0, Some("strict")), "{v}");
    assert_eq!(v["reason"]["kind"], "allowed_by", "{v}");
    // The posture flags now count: a quarantined device loses the allow.
    let (code, v, _) = check_acl(&args(&["--mode", "narrow", "--quarantined"]));
    assert_eq!(code, 1, "{v}");
    // Malformed values are refused in every mode.
    for bad in [
        &["--mode", "strict", "--firmware", "not-semver"][..],
        &["--mode", "strict", "--attr", "no-equals"],
        &["--mode", "strict", "--qos", "3"],
    ] {
        let (code, _, stderr) = check_acl(&args(bad));
        assert_eq!(code, 2, "{bad:?}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    }
}

#[test]
fn mosquitto_mode_refuses_the_flags_mosquitto_does_not_use() {
    let acl = file("acl-flags", "pattern readwrite devices/%c/#\n");
    for (flag, value) in [
        ("--quarantined", None),
        ("--attestation-age", Some("5")),
        ("--firmware", Some("1.0.0")),
        ("--firmware", Some("not-semver")),
        ("--cert-cn", Some("dev1")),
        ("--attr", Some("site=x")),
        ("--qos", Some("1")),
    ] {
        let mut a = vec![flag];
        a.extend(value);
        let (code, stdout, stderr) = check_mosquitto(&acl, &a);
        assert_eq!((code, stdout.as_str()), (2, ""), "{flag}: {stderr}");
        assert!(
            stderr.starts_with(&format!(
                "error: {flag} cannot be used with --mosquitto-acl in mosquitto mode"
            )),
            "{stderr}"
        );
    }
}
