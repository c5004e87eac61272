//! An I/O error names the file (or address) and what the tool was doing with it, in the one
//! stderr line of exit 2.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::process::Command;

use common::{output, scratch};

/// `iotsec-cloud` with `args` in `dir`, which must exit 2: its stderr.
fn refused(dir: &std::path::Path, args: &[&str]) -> String {
    let (code, stdout, stderr) = output(
        Command::new(env!("CARGO_BIN_EXE_iotsec-cloud"))
            .current_dir(dir)
            .args(args),
    );
    assert_eq!((code, stdout.as_str()), (2, ""), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    stderr
}

#[test]
fn serve_and_pki_name_the_missing_ca_label_and_file() {
    let dir = scratch("io-serve");
    let (code, _, stderr) =
        common::run(&["pki", "init", "--state", dir.join("st").to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let serve = ["pki", "est-server", "--state", "st", "--est", "127.0.0.1:0"];
    assert_eq!(
        refused(&dir, &[&serve[..], &["--label", "x=nonexistent"]].concat()),
        "error: --label x=nonexistent: no intermediate \"nonexistent\" in st: reading \
         st/intermediates/nonexistent/ca.txt: No such file or directory (os error 2) (add it \
         with `pki init --state st --intermediate nonexistent`)\n"
    );
    assert_eq!(
        refused(
            &dir,
            &[
                "pki",
                "est-server",
                "--state",
                "nost",
                "--est",
                "127.0.0.1:0"
            ]
        ),
        "error: --state nost: no CA in nost: reading nost/ca.txt: No such file or directory \
         (os error 2) (make one with `pki init --state nost`)\n"
    );
    assert_eq!(
        refused(
            &dir,
            &[
                &serve[..],
                &["--crl-http", "127.0.0.1:0", "--root-crl", "root.crl"]
            ]
            .concat()
        ),
        "error: reading the root CRL (--root-crl) root.crl: No such file or directory (os error 2)\n"
    );
    assert_eq!(
        refused(
            &dir,
            &["pki", "est-server", "--state", "st", "--est", "192.0.2.1:1"]
        ),
        "error: --est 192.0.2.1:1: cannot listen: Cannot assign requested address (os error 99)\n"
    );
    // Every pki command names the CA it did not find, and the file it looked for.
    assert_eq!(
        refused(&dir, &["pki", "rotate", "--state", "nost"]),
        "error: --state nost: no CA in nost: reading nost/ca.txt: No such file or directory \
         (os error 2) (make one with `pki init --state nost`)\n"
    );
    assert_eq!(
        refused(
            &dir,
            &[
                "pki",
                "crl",
                "--state",
                "st",
                "--intermediate",
                "lab",
                "--out",
                "c"
            ]
        ),
        "error: --intermediate lab: no intermediate \"lab\" in st: reading \
         st/intermediates/lab/ca.txt: No such file or directory (os error 2) (add it with `pki \
         init --state st --intermediate lab`)\n"
    );
    assert_eq!(
        refused(&dir, &["pki", "init", "--state", "/proc/iotsec-ca"]),
        "error: creating the CA in /proc/iotsec-ca: I/O: No such file or directory (os error 2)\n"
    );
    assert_eq!(
        refused(
            &dir,
            &["pki", "crl", "--state", "st", "--out", "none/crl.der"]
        ),
        "error: writing the CRL none/crl.der: No such file or directory (os error 2)\n"
    );
}

#[test]
fn pki_issue_names_the_missing_certificate_request() {
    let dir = scratch("io-issue");
    let (code, _, stderr) =
        common::run(&["pki", "init", "--state", dir.join("st").to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        refused(
            &dir,
            &["pki", "issue", "--state", "st", "--csr", "missing.csr"]
        ),
        "error: reading certificate request missing.csr: No such file or directory\n"
    );
}
