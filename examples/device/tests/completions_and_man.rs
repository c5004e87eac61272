//! `completions SHELL` and `man --out DIR` of `iotsec-device` (the same code as
//! `iotsec-cloud`'s, see its test for the details): bash completes, one page per command.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use iotsec_cli_contract::conformance::{bash_completes, expected_man_pages};

const BIN: &str = env!("CARGO_BIN_EXE_iotsec-device");

#[test]
fn bash_completes_and_man_writes_every_page() {
    match bash_completes(BIN, &["en"]) {
        Some(words) => assert_eq!(words, ["enroll"]),
        None => {
            assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "bash missing");
            eprintln!("SKIPPING: bash not available");
        }
    }
    if let Some(words) = bash_completes(BIN, &["--format", ""]) {
        assert_eq!(words, ["text", "json"]);
    }
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("device-man-{}", std::process::id()));
    let (code, _, stderr) = common::run(&["man", "--out", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let mut written: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    written.sort();
    assert_eq!(written, expected_man_pages(BIN));
    assert!(written.contains(&"iotsec-device-enroll.1".to_owned()));
}
