//! `--help` is for people: the global `--format` is described once, in the top-level help, with
//! the formats this binary prints; a subcommand's help lists only its own options. Snapshots
//! (insta, `tests/snapshots/`) hold the exact text of the top level and of `pki init`; a change
//! shows as a diff to review (`INSTA_UPDATE=always` rewrites them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use iotsec_cli_contract::conformance::{command_paths, help, repeated_global_format};

const BIN: &str = env!("CARGO_BIN_EXE_iotsec-cloud");

#[test]
fn top_level_help_describes_the_format_once() {
    insta::assert_snapshot!("top_level", help(BIN, &[]));
}

#[test]
fn pki_init_help_lists_only_its_own_options() {
    insta::assert_snapshot!("pki_init", help(BIN, &["pki".into(), "init".into()]));
}

#[test]
fn no_subcommand_help_repeats_the_global_format() {
    assert!(command_paths(BIN, &[]).len() > 20);
    assert_eq!(repeated_global_format(BIN), Vec::<String>::new());
    // ...and every subcommand still takes it, before or after its name.
    let json_info = |args: &[&str]| {
        let out = std::process::Command::new(BIN).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        out.stdout
    };
    let before = json_info(&["--format", "json", "info"]);
    assert!(before.starts_with(b"{"));
    assert_eq!(before, json_info(&["info", "--format", "json"]));
}
