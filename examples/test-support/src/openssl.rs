//! The `openssl` command line as a peer: runs it in a directory and reports what it said.

use std::path::Path;
use std::process::Command;

/// `openssl args...` run in `dir`: (succeeded, stdout followed by stderr).
pub fn run(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs (check with peer::require first)");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Whether the openssl CLI is here; a missing one skips the test or, with `CI=true`, fails it.
pub fn available(test: &str) -> bool {
    crate::peer::runs("openssl", "version")
        || crate::peer::missing(test, "the openssl CLI", "apt-get install openssl")
}

/// `openssl req -new` with a fresh P-256 key written to `key` and the CSR to `csr` (both in
/// `dir`), subject `subj`; `extra` is appended (e.g. `-outform DER`). Panics if openssl fails.
pub fn csr(dir: &Path, key: &str, csr: &str, subj: &str, extra: &[&str]) {
    let mut args = vec![
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        key,
        "-out",
        csr,
        "-subj",
        subj,
    ];
    args.extend_from_slice(extra);
    let (ok, out) = run(dir, &args);
    assert!(ok, "openssl req failed: {out}");
}
