//! Every `iotsec-device` command in a README's `sh` block runs and keeps the contract (exit 0
//! or 1); see `iotsec_cli_contract::readme_commands` for the rules and the skip list.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use iotsec_cli_contract::readme_commands::run_all;

#[test]
fn readme_commands_of_iotsec_device_run() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("readme-device-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let fixtures = scratch.with_extension("fixtures");
    std::fs::create_dir_all(&fixtures).unwrap();
    let (ran, failures) = run_all(
        &manifest.join("../.."),
        Path::new(env!("CARGO_BIN_EXE_iotsec-device")),
        &fixtures,
        &scratch,
    );
    assert_eq!(failures, Vec::<String>::new());
    assert!(
        ran.iter()
            .any(|c| c.starts_with("iotsec-device completions zsh")),
        "{ran:#?}"
    );
    assert!(scratch.join("_iotsec-device").is_file());
}
