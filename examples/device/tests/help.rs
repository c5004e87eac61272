//! `--help` is for people: the global `--format` is described once, in the top-level help, with
//! only the formats this binary prints (text, json: no SARIF, which only `iotsec-cloud sbom gate`
//! prints); a subcommand's help lists only its own options. Snapshots (insta,
//! `tests/snapshots/`) hold the exact text of the top level and of `enroll`; a change shows as a
//! diff to review (`INSTA_UPDATE=always` rewrites them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use iotsec_cli_contract::conformance::{command_paths, help, repeated_global_format};

const BIN: &str = env!("CARGO_BIN_EXE_iotsec-device");

#[test]
fn top_level_help_describes_the_format_once() {
    insta::assert_snapshot!("top_level", help(BIN, &[]));
}

#[test]
fn enroll_help_lists_only_its_own_options() {
    insta::assert_snapshot!("enroll", help(BIN, &["enroll".into()]));
}

#[test]
fn no_help_offers_sarif_or_repeats_the_global_format() {
    assert_eq!(repeated_global_format(BIN), Vec::<String>::new());
    let paths = command_paths(BIN, &[]);
    assert!(paths.len() > 8, "{paths:?}");
    for path in &paths {
        let text = help(BIN, path);
        assert!(!text.is_empty(), "{path:?}");
        assert!(!text.to_lowercase().contains("sarif"), "{path:?}: {text}");
    }
    // SARIF is not a value here: a usage error, as for any unknown value.
    let out = std::process::Command::new(BIN)
        .args(["info", "--format", "sarif"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: invalid value 'sarif' for '--format <FORMAT>'"),
        "{stderr}"
    );
}
