//! `completions SHELL` prints a script the shell loads and completes with (real bash, as a
//! user pressing TAB), `man --out DIR` writes one page per command that `man` renders.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use iotsec_cli_contract::conformance::{bash_completes, expected_man_pages};

const BIN: &str = env!("CARGO_BIN_EXE_iotsec-cloud");

#[test]
fn bash_completes_commands_options_and_values() {
    if !common::have(&["bash"]) {
        return;
    }
    let completes = |words: &[&str]| bash_completes(BIN, words).unwrap();
    assert_eq!(completes(&["pki", "i"]), ["init", "issue"]);
    assert_eq!(completes(&["pki", "init", "--st"]), ["--state"]);
    assert_eq!(completes(&["--format", ""]), ["text", "json", "sarif"]);
    // The global option completes after a subcommand too.
    assert_eq!(completes(&["sbom", "gate", "--form"]), ["--format"]);
    assert_eq!(completes(&["completions", "f"]), ["fish"]);
}

#[test]
fn every_shell_gets_a_script_and_json_is_refused() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let (code, script, stderr) = common::run(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {stderr}");
        assert!(script.contains("iotsec-cloud"), "{shell}");
        assert!(script.contains("format"), "{shell}");
    }
    let (code, stdout, stderr) = common::run(&["--format", "json", "completions", "bash"]);
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (
            2,
            "",
            "error: completions prints a shell script: leave out --format\n"
        )
    );
}

#[test]
fn man_writes_one_page_per_command_that_man_renders() {
    let dir = common::scratch("man-pages");
    let out = dir.join("man1");
    let (code, stdout, stderr) = common::run(&["man", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let mut written: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    written.sort();
    let expected = expected_man_pages(BIN);
    assert!(expected.len() > 20, "{expected:?}");
    assert_eq!(written, expected);
    assert_eq!(
        stdout,
        format!(
            "{} man pages written to {} (for example: man -l {}/iotsec-cloud.1)\n",
            expected.len(),
            out.display(),
            out.display()
        )
    );
    // The global option is described on the top-level page only.
    let page = |name: &str| std::fs::read_to_string(out.join(name)).unwrap();
    assert!(page("iotsec-cloud.1").contains("SARIF 2.1.0 log of findings"));
    assert!(!page("iotsec-cloud-pki-init.1").contains("format"));
    assert!(page("iotsec-cloud-pki-init.1").contains("\\-\\-state"));
    // A real `man` renders it.
    if common::have(&["man"]) {
        let rendered = std::process::Command::new("man")
            .env("MANWIDTH", "80")
            .args(["-l", out.join("iotsec-cloud-pki-init.1").to_str().unwrap()])
            .output()
            .unwrap();
        // Bold and underline come as overstrikes (`X\x08X`) when stdout is not a terminal.
        let mut text = String::new();
        for c in String::from_utf8_lossy(&rendered.stdout).chars() {
            if c == '\x08' {
                text.pop();
            } else {
                text.push(c);
            }
        }
        assert!(rendered.status.success(), "{rendered:?}");
        let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            words.contains("NAME iotsec-cloud-pki-init - Creates an offline root"),
            "{words}"
        );
        assert!(
            words.contains("OPTIONS --state <STATE> State directory"),
            "{words}"
        );
    }
    // An unwritable place is named.
    let (code, _, stderr) = common::run(&["man", "--out", "/proc/iotsec-man"]);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("error: creating man page directory /proc/iotsec-man: "),
        "{stderr}"
    );
}
