//! Real peers: a missing one skips the test with a loud line on a developer machine and fails
//! it with `CI=true`, where `.ci/install.sh` installs every peer.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Whether this run is CI (`CI=true`), where a missing peer is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The answer to a missing peer: panics with `CI=true`, otherwise prints `SKIPPING test: what
/// (how to install)` and returns false.
pub fn missing(test: &str, what: &str, install: &str) -> bool {
    assert!(
        !in_ci(),
        "{test}: CI=true and {what} is missing ({install})"
    );
    eprintln!("\n*** SKIPPING {test}: {what} is not installed ({install}) ***\n");
    false
}

/// The path of `program` on `PATH`, if it is there.
pub fn find(program: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|p| p.join(program))
        .find(|p| p.is_file())
}

/// The path of `program` in the workspace's Python venv (`target/venv/bin`, where
/// `.ci/install.sh` puts the PyPI peers) or else on `PATH`. `workspace` is the workspace root.
pub fn find_in_venv(workspace: &Path, program: &str) -> Option<PathBuf> {
    let venv = workspace.join("target/venv/bin").join(program);
    if venv.is_file() {
        return Some(venv);
    }
    find(program)
}

/// Whether every program of `programs` is on `PATH`; if not, [`missing`] decides (skip, or
/// fail with `CI=true`) and names all the absent ones.
pub fn require(test: &str, programs: &[&str], install: &str) -> bool {
    let absent: Vec<&str> = programs
        .iter()
        .copied()
        .filter(|p| find(p).is_none())
        .collect();
    absent.is_empty() || missing(test, &absent.join(", "), install)
}

/// Whether `program` runs (`program flag` exits, whatever its status): for peers found by
/// running rather than by path, such as a shell builtin or a wrapper script.
pub fn runs(program: &str, flag: &str) -> bool {
    Command::new(program)
        .arg(flag)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_program_every_system_has_and_not_an_invented_one() {
        assert!(find("sh").is_some());
        assert!(find("iotsec-no-such-peer").is_none());
        assert!(runs("sh", "-c"));
        assert!(!runs("iotsec-no-such-peer", "--version"));
    }

    #[test]
    fn a_missing_peer_skips_outside_ci_and_fails_in_ci() {
        let outcome =
            std::panic::catch_unwind(|| require("t", &["sh", "iotsec-no-such-peer"], "nowhere"));
        match outcome {
            Ok(available) => {
                assert!(!in_ci());
                assert!(!available);
            }
            Err(_) => assert!(in_ci()),
        }
        assert!(require("t", &["sh"], "nowhere"));
    }
}
