//! The output contract of `iotsec-cloud`: help and version exit 0, usage errors exit 2 with one
//! line on stderr, `--format json` prints one JSON document.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::run;

#[test]
fn help_and_version_exit_zero() {
    let (code, stdout, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("Usage: iotsec-cloud"));
    let (code, stdout, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout.trim(),
        concat!("iotsec-cloud ", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn bad_usage_exits_two_with_one_line() {
    for args in [
        &["--no-such-flag"][..],
        &["no-such-command"],
        &["info", "--format", "yaml"],
        &["info", "--format", "sarif"],
        &[],
    ] {
        let (code, stdout, stderr) = run(args);
        assert_eq!(code, 2, "{args:?}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("error:"), "{args:?}: {stderr}");
    }
}

#[test]
fn info_json_is_one_document() {
    let (code, stdout, stderr) = run(&["info", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["tool"], "iotsec-cloud");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    // The cloud binary composes all five crates, in workspace order, with their device builds.
    let crates: Vec<(&str, &str)> = v["crates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap(),
                c["device_build"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        crates,
        [
            ("iotsec-pki", "no_std + alloc (features = [\"alloc\"])"),
            ("iotsec-ota", "no_std, no alloc"),
            ("iotsec-sbom", "cloud and CI only (std)"),
            ("iotsec-mqtt-acl", "no_std + alloc"),
            ("iotsec-attest", "no_std + alloc"),
        ]
    );
}

#[test]
fn every_subcommand_keeps_the_help_and_usage_contract() {
    let bin = env!("CARGO_BIN_EXE_iotsec-cloud");
    let paths = iotsec_cli_contract::conformance::command_paths(bin, &[]);
    for known in [
        &["ota", "root", "init"][..],
        &["attest", "ekcert"][..],
        &["serve"][..],
        &["pki", "est-server"][..],
    ] {
        assert!(
            paths.iter().any(|p| p == known),
            "{known:?} not found in {paths:?}"
        );
    }
    let violations = iotsec_cli_contract::conformance::violations(bin);
    assert!(violations.is_empty(), "{violations:#?}");
}
