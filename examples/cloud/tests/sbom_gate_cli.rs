#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! `iotsec-cloud sbom gate` end to end: exit codes of the contract and exact findings.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::output;

const RUSTSEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/rustsec-osv/crates"
);

const SBOM: &str = r#"{"bomFormat":"CycloneDX","specVersion":"1.6","serialNumber":"urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79","version":1,
 "metadata":{"component":{"type":"firmware","name":"sensor-fw","version":"2.1.0","purl":"pkg:generic/acme/sensor-fw@2.1.0"}},
 "components":[
  {"type":"library","name":"smallvec","version":"1.6.0","purl":"pkg:cargo/smallvec@1.6.0"},
  {"type":"library","name":"time","version":"0.1.43","purl":"pkg:cargo/time@0.1.43"},
  {"type":"library","name":"serde","version":"1.0.200","purl":"pkg:cargo/serde@1.0.200"}]}"#;

const OPENVEX: &str = r#"{"@context":"https://openvex.dev/ns/v0.2.0","@id":"x","author":"acme","timestamp":"2026-01-01T00:00:00Z","version":1,
 "statements":[{"vulnerability":{"name":"CVE-2021-25900"},"products":[{"@id":"pkg:cargo/smallvec@1.6.0"}],
   "status":"not_affected","justification":"vulnerable_code_not_in_execute_path"}]}"#;

/// `iotsec-cloud --format FORMAT sbom gate` of the files `setup` wrote in `dir`.
fn gate(dir: &std::path::Path, format: &str) -> Command {
    gate_on(dir, format, "2026-01-15")
}

/// [`gate`] with expiry dates evaluated on `today`.
fn gate_on(dir: &std::path::Path, format: &str, today: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_iotsec-cloud"));
    cmd.args(["--format", format, "sbom", "gate", "--today", today])
        .arg("--sbom")
        .arg(dir.join("sbom.json"))
        .arg("--advisories")
        .arg(RUSTSEC)
        .arg("--policy")
        .arg(dir.join("policy.toml"));
    cmd
}

fn run(dir: &std::path::Path, extra: &[&str]) -> (i32, String, String) {
    output(gate(dir, "json").args(extra))
}

fn setup(name: &str, policy: &str) -> PathBuf {
    let dir = common::scratch(&format!("sbom-cli-{name}"));
    std::fs::write(dir.join("sbom.json"), SBOM).unwrap();
    std::fs::write(dir.join("policy.toml"), policy).unwrap();
    std::fs::write(dir.join("vex.json"), OPENVEX).unwrap();
    dir
}

#[test]
fn vulnerable_sbom_fails_with_exit_1_and_exact_findings() {
    let dir = setup("fail", "max_severity = \"medium\"\n");
    let (code, stdout, stderr) = run(&dir, &["--verbose"]);
    assert_eq!(code, 1, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["verdict"], "fail");
    let findings: Vec<(String, String, String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_owned(),
                f["component"].as_str().unwrap().to_owned(),
                f["version"].as_str().unwrap().to_owned(),
                f["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        findings,
        vec![
            (
                "RUSTSEC-2021-0003".into(),
                "pkg:cargo/smallvec@1.6.0".into(),
                "1.6.0".into(),
                "affected".into()
            ),
            (
                "RUSTSEC-2020-0071".into(),
                "pkg:cargo/time@0.1.43".into(),
                "0.1.43".into(),
                "affected".into()
            ),
        ]
    );
    assert_eq!(
        v["findings"][0]["aliases"],
        serde_json::json!(["CVE-2021-25900", "GHSA-43w2-9j62-hq99"])
    );
    assert_eq!(v["findings"][0]["severity"]["score"], 9.8);
    assert_eq!(v["findings"][1]["decision"], "warn");
    assert_eq!(v["binding"]["sbom_sha256"].as_str().unwrap().len(), 64);
    assert!(stderr.contains("advisories loaded"), "{stderr}");
}

#[test]
fn vex_turns_the_verdict_into_warn_and_writes_cyclonedx_vex() {
    let dir = setup("vex", "");
    let vex = dir.join("vex.json");
    let out = dir.join("out.cdx.json");
    let (code, stdout, stderr) = run(
        &dir,
        &[
            "--vex",
            vex.to_str().unwrap(),
            "--vex-out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["verdict"], "warn");
    assert_eq!(v["suppressed"][0]["id"], "RUSTSEC-2021-0003");
    assert_eq!(
        v["suppressed"][0]["suppressed_by"]["justification"],
        "vulnerable_code_not_in_execute_path"
    );
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(
        written["vulnerabilities"][0]["analysis"]["state"],
        "not_affected"
    );
    assert_eq!(
        written["vulnerabilities"][0]["analysis"]["justification"],
        "code_not_reachable"
    );
    // The written VEX is itself valid input.
    let reread = iotsec_sbom::vex::parse_vex(&std::fs::read(&out).unwrap(), "out").unwrap();
    assert_eq!(reread[0].vulnerability, "RUSTSEC-2021-0003");
}

#[test]
fn format_sarif_prints_a_sarif_2_1_0_log() {
    let dir = setup("sarif", "");
    let (code, stdout, _) = output(&mut gate(&dir, "sarif"));
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    assert_eq!(v["runs"][0]["results"][0]["ruleId"], "RUSTSEC-2021-0003");
    assert_eq!(v["runs"][0]["results"][0]["level"], "error");
    assert_eq!(v["runs"][0]["results"][1]["level"], "warning");
}

#[test]
fn sarif_has_one_spelling() {
    // `--format sarif` is the only one: the never-released `--output-format` is unknown.
    let dir = setup("sarif-spelling", "");
    for value in ["sarif", "report"] {
        let (code, stdout, stderr) = run(&dir, &["--output-format", value]);
        assert_eq!(code, 2, "{stderr}");
        assert_eq!(stdout, "");
        assert_eq!(
            stderr.trim_end(),
            "error: unexpected argument '--output-format' found",
            "{value}"
        );
    }
}

#[test]
fn bad_inputs_exit_2_with_one_line() {
    let dir = setup("bad", "max_severty = \"high\"\n");
    let (code, stdout, stderr) = run(&dir, &[]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("policy"), "{stderr}");
    std::fs::write(dir.join("policy.toml"), "").unwrap();
    std::fs::write(
        dir.join("sbom.json"),
        "{\"bomFormat\":\"CycloneDX\",\"specVersion\":\"9.9\"}",
    )
    .unwrap();
    let (code, _, stderr) = run(&dir, &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("specVersion"), "{stderr}");
}

#[test]
fn malformed_vex_expiry_and_today_exit_2_with_one_line() {
    let dir = setup("bad-expiry", "");
    let vex = OPENVEX.replace(
        r#""status":"not_affected""#,
        r#""expires":"31/12/2026","status":"not_affected""#,
    );
    std::fs::write(dir.join("vex.json"), vex).unwrap();
    let vex_path = dir.join("vex.json");
    let (code, stdout, stderr) = output(gate(&dir, "json").arg("--vex").arg(&vex_path));
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stdout, "");
    let errors: Vec<_> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(
        errors,
        [format!(
            "error: VEX {} statement 0: expires \"31/12/2026\" is not a date (YYYY-MM-DD or RFC 3339 date-time)",
            vex_path.display()
        )],
        "{stderr}"
    );
    // `--today` must be a real day, not just the shape of one.
    let (code, stdout, stderr) = output(&mut gate_on(&dir, "json", "2026-02-30"));
    assert_eq!((code, stdout.as_str()), (2, ""), "{stderr}");
    let errors: Vec<_> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors, ["error: --today \"2026-02-30\" is not YYYY-MM-DD"]);
}

#[test]
fn cross_check_runs_on_small_sboms_and_is_skipped_with_a_note_above_the_size_limit() {
    let dir = setup("cross-check", "");
    std::fs::write(
        dir.join("sbom.json"),
        SBOM.replace("\"specVersion\":\"1.6\"", "\"specVersion\":\"1.5\""),
    )
    .unwrap();
    let (code, stdout, stderr) = run(&dir, &[]);
    assert_eq!(code, 1, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["cross_check"]["status"], "passed");
    assert_eq!(v["findings"].as_array().unwrap().len(), 2);

    let (code, stdout, stderr) = run(&dir, &["--cross-check-max-bytes", "100", "--verbose"]);
    assert_eq!(code, 1, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["cross_check"]["status"], "skipped");
    assert!(
        v["cross_check"]["reason"]
            .as_str()
            .unwrap()
            .contains("over --cross-check-max-bytes 100"),
        "{v}"
    );
    assert!(stderr.contains("cross-check skipped"), "{stderr}");
    assert_eq!(v["findings"].as_array().unwrap().len(), 2);

    let (_, stdout, _) = run(&dir, &["--no-cross-check"]);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["cross_check"]["status"], "disabled");

    // The 1.6 document is beyond what cyclonedx-bom reads: said so, not silently passed.
    std::fs::write(dir.join("sbom.json"), SBOM).unwrap();
    let (_, stdout, _) = run(&dir, &[]);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["cross_check"]["status"], "not-applicable");
}

/// `iotsec-cloud --format json sbom gate` with `sbom` and `policy` as given, `extra` added.
fn gate_files(sbom: &str, policy: &str, extra: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_iotsec-cloud"));
    cmd.args(["--format", "json", "sbom", "gate", "--today", "2026-01-15"])
        .args(["--sbom", sbom, "--policy", policy, "--advisories", RUSTSEC])
        .args(extra);
    output(&mut cmd)
}

#[test]
fn errors_are_one_line_and_notes_need_verbose() {
    let dir = setup("quiet", "");
    let (code, _, stderr) = run(&dir, &[]);
    assert_eq!((code, stderr.as_str()), (1, ""));
    let (_, _, stderr) = run(&dir, &["--verbose"]);
    assert!(stderr.contains("sbom: 3 components"), "{stderr}");
    // An error after the SBOM and the advisories are loaded is still the only line.
    std::fs::write(dir.join("bad-vex.json"), "{").unwrap();
    let bad_vex = dir.join("bad-vex.json").display().to_string();
    let (code, stdout, stderr) = run(&dir, &["--vex", &bad_vex]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    // A limit for a cross-check that is turned off would be ignored: refused.
    let (code, _, stderr) = run(&dir, &["--no-cross-check", "--cross-check-max-bytes", "5"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--cross-check-max-bytes"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn endless_huge_and_hostile_inputs_end_quickly_with_one_bounded_line() {
    let dir = setup("bounded", "");
    let sbom = dir.join("sbom.json").display().to_string();
    let policy = dir.join("policy.toml").display().to_string();
    // A 200 MB policy (sparse: nothing is written) is refused by its length, unread.
    let huge = dir.join("huge.toml");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(200_000_000)
        .unwrap();
    let huge = huge.display().to_string();
    let cases = [
        (
            gate_files(&sbom, "/dev/zero", &[]),
            "error: reading policy file /dev/zero: larger than the 1 MiB cap on policy files"
                .to_owned(),
        ),
        (
            gate_files(&sbom, &huge, &[]),
            format!("error: reading policy file {huge}: larger than the 1 MiB cap on policy files"),
        ),
        (
            gate_files("/dev/zero", &policy, &[]),
            "error: reading SBOM file /dev/zero: larger than the 64 MiB cap on SBOM files"
                .to_owned(),
        ),
        (
            gate_files(&sbom, &policy, &["--vex", "/dev/zero"]),
            "error: reading VEX file /dev/zero: larger than the 64 MiB cap on VEX files".to_owned(),
        ),
        (
            gate_files(&sbom, "/nonexistent/policy.toml", &[]),
            "error: reading policy file /nonexistent/policy.toml: No such file or directory"
                .to_owned(),
        ),
    ];
    for ((code, stdout, stderr), want) in cases {
        assert_eq!((code, stdout.as_str()), (2, ""), "{stderr}");
        assert_eq!(stderr.trim_end(), want);
    }
    // A policy cannot write terminal escape sequences through the error it causes, and a
    // long line in it is cut.
    let hostile = dir.join("hostile.toml");
    std::fs::write(
        &hostile,
        format!("\x1b]0;owned\x07\x1b[2J = 1 {}\n", "x".repeat(100_000)),
    )
    .unwrap();
    let (code, _, stderr) = gate_files(&sbom, &hostile.display().to_string(), &[]);
    assert_eq!(code, 2);
    assert!(
        !stderr.contains('\x1b') && !stderr.contains('\x07'),
        "{stderr:?}"
    );
    assert!(stderr.contains(r"\u{1b}"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1);
    assert!(stderr.len() < 600, "{} bytes", stderr.len());
}
