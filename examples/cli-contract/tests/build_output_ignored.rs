//! Build output never shows up as new files: every directory a package builds in (one per
//! `Cargo.toml`, members or not: fuzz/, examples/firmware-verify) has its `target/` ignored by
//! git, and no tracked file is ignored by the same rules.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `git` with `args` in the repository: (exit status 0, stdout).
fn git(args: &[&str]) -> (bool, String) {
    let out = Command::new("git")
        .current_dir(repository())
        .args(args)
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(128), "git {args:?}: {out:?}");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Whether git and a checkout are here; skips loudly (fails with `CI=true`) when not.
fn have_checkout() -> bool {
    let found = Command::new("git")
        .current_dir(repository())
        .args(["rev-parse", "--is-inside-work-tree"])
        .output();
    if matches!(&found, Ok(out) if out.status.success()) {
        return true;
    }
    assert_ne!(
        std::env::var("CI").as_deref(),
        Ok("true"),
        "git or the git checkout missing with CI=true: {found:?}"
    );
    eprintln!("SKIPPING: not a git checkout or no git: {found:?}");
    false
}

#[test]
fn every_package_build_directory_is_ignored() {
    if !have_checkout() {
        return;
    }
    let (_, manifests) = git(&["ls-files", "--", "Cargo.toml", "*/Cargo.toml"]);
    let packages: Vec<&str> = manifests
        .lines()
        .map(|m| m.trim_end_matches("Cargo.toml").trim_end_matches('/'))
        .collect();
    assert!(
        packages.contains(&"examples/firmware-verify"),
        "{packages:?}"
    );
    assert!(packages.contains(&"fuzz"), "{packages:?}");
    let mut not_ignored = Vec::new();
    for package in &packages {
        let dir = if package.is_empty() { "." } else { package };
        // The directory itself: git cannot look past a worktree's `target` symlink.
        let path = format!("{dir}/target");
        if !git(&["check-ignore", "-q", "--no-index", &path]).0 {
            not_ignored.push(path);
        }
    }
    assert_eq!(
        not_ignored,
        Vec::<String>::new(),
        "build output git would add"
    );
}

#[test]
fn no_tracked_file_matches_the_ignore_rules() {
    if !have_checkout() {
        return;
    }
    let (_, ignored) = git(&["ls-files", "--cached", "--ignored", "--exclude-standard"]);
    assert_eq!(ignored, "", "tracked files the ignore rules would hide");
}
