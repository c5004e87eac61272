//! `iotsec-cloud serve` on the command line: flags it does not act on (the EST-only server's)
//! and unusable configurations are refused with exit 2 and one line on stderr, before anything
//! listens.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod serve_support;

use std::process::Command;

use serve_support::Fleet;

/// Runs `iotsec-cloud ARGS`: (exit code, stderr).
fn run(args: &[String]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_iotsec-cloud"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn flags_it_does_not_act_on_and_bad_configurations_exit_two_with_one_line() {
    let fleet = Fleet::new("cli");
    let with = |extra: &[&str]| fleet.serve_args(extra);
    for old in [
        &["--est", "127.0.0.1:0"][..],
        &["--basic-auth", "u:p"][..],
        &["--require-binding"][..],
        &["--crl-http", "127.0.0.1:0"][..],
        &["--one-line"][..],
        &["--reload-check-ms", "5"][..],
        &["--root-crl", "root.crl"][..],
    ] {
        let (code, stderr) = run(&with(old));
        assert_eq!(code, 2, "{old:?}: {stderr}");
        assert!(stderr.contains(old[0]), "{old:?}: {stderr}");
    }
    let missing = fleet.dir.join("nothing-here");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            {
                let mut a = with(&[]);
                a[4] = missing.display().to_string();
                a
            },
            "nothing-here/ca.txt: No such file",
        ),
        (
            with(&[
                "--broker-posture",
                "posture.toml",
                "--broker-crl",
                "crl.pem",
            ]),
            "must end in .json",
        ),
        (with(&["--deny-broker", "127.0.0.1:1883"]), "--deny-reader"),
        (
            with(&[
                "--deny-broker",
                "127.0.0.1:1883",
                "--deny-reader",
                "cloud-deny",
                "--deny-threshold",
                "0",
            ]),
            "--deny-threshold",
        ),
        (with(&["--factory-firmware", "1.0.0"]), "VERSION=IMAGE"),
        (with(&["--label", "nolabel"]), "LABEL=INTERMEDIATE"),
        (
            with(&["--label", "x=nonexistent"]),
            "--label x=nonexistent: no intermediate \"nonexistent\"",
        ),
        (
            with(&["--listen", "192.0.2.1:1"]),
            "listening on 192.0.2.1:1",
        ),
    ];
    for (args, needle) in cases {
        let (code, stderr) = run(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    }
}
