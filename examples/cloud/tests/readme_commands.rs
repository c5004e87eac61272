//! Every `iotsec-cloud` command in a README's `sh` block runs and keeps the contract (exit 0
//! or 1, JSON where it says `--format json`), against the fixtures in `tests/data/readme/`; see
//! `iotsec_cli_contract::readme_commands` for the rules and the skip list.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use iotsec_cli_contract::readme_commands::run_all;

#[test]
fn readme_commands_of_iotsec_cloud_run() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let scratch =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("readme-cloud-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let (ran, failures) = run_all(
        &manifest.join("../.."),
        Path::new(env!("CARGO_BIN_EXE_iotsec-cloud")),
        &manifest.join("tests/data/readme"),
        &scratch,
    );
    assert_eq!(failures, Vec::<String>::new());
    // The tour of the top-level README, the ACL examples and completions/man at least.
    for expected in [
        "iotsec-cloud tour",
        "iotsec-cloud acl diff old.toml new.toml",
        "iotsec-cloud man --out man1",
    ] {
        assert!(
            ran.iter().any(|c| c.starts_with(expected)),
            "{expected} not run: {ran:#?}"
        );
    }
    assert!(scratch.join("man1/iotsec-cloud-pki-init.1").is_file());
}
