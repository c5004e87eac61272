//! Scaffolding shared by the `iotsec-cloud` integration tests: running the binary, scratch
//! directories, and the real peers (OpenSSL, curl) that check what it wrote.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use iotsec_test_support::peer;

/// Runs `cmd`: (exit code, stdout, stderr).
pub fn output(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
    (
        out.status.code().unwrap(),
        text(out.stdout),
        text(out.stderr),
    )
}

/// Runs `iotsec-cloud` with `args`: (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    output(Command::new(env!("CARGO_BIN_EXE_iotsec-cloud")).args(args))
}

/// Runs `iotsec-cloud` with owned `args`.
pub fn run_owned(args: &[String]) -> (i32, String, String) {
    output(Command::new(env!("CARGO_BIN_EXE_iotsec-cloud")).args(args))
}

/// Runs `iotsec-cloud --format json` with `args`: (exit code, stdout followed by stderr).
pub fn cloud_json(args: &[&str]) -> (i32, String) {
    let (code, mut out, err) = output(
        Command::new(env!("CARGO_BIN_EXE_iotsec-cloud"))
            .args(["--format", "json"])
            .args(args),
    );
    out.push_str(&err);
    (code, out)
}

/// An empty scratch directory `name` under the target dir.
pub fn scratch(name: &str) -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The path of `name` in `dir`, as a string argument.
pub fn p(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

/// True if every peer in `programs` runs; otherwise skips (developer machine) or panics
/// (`CI=true`).
pub fn have(programs: &[&str]) -> bool {
    programs.iter().all(|program| {
        let flag = if *program == "openssl" {
            "version"
        } else {
            "--version"
        };
        peer::runs(program, flag) || peer::missing("iotsec-cloud test", program, ".ci/install.sh")
    })
}

/// `openssl req -new` with a fresh P-256 key (`key`) and the CSR (`csr`) in `dir`.
#[allow(unused_imports)]
pub use iotsec_test_support::openssl::csr as openssl_csr;
/// `openssl` with `args`, run in `dir`: (status ok, stdout followed by stderr).
#[allow(unused_imports)]
pub use iotsec_test_support::openssl::run as openssl;

/// Runs `iotsec-cloud --format json pki COMMAND --state STATE ARGS`: (exit code, stdout
/// followed by stderr).
pub fn pki(command: &str, state: &str, args: &[&str]) -> (i32, String) {
    cloud_json(&[&["pki", command, "--state", state], args].concat())
}

/// A free loopback port: bound, read, released.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Calls `up` every 100 ms, at most 50 times, until it returns true; returns whether it did.
pub fn wait_until(mut up: impl FnMut() -> bool) -> bool {
    for _ in 0..50 {
        if up() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    false
}

pub mod softhsm;

/// curl in `dir` trusting `state/root.pem` with `args`: the HTTP status (`000`: no answer,
/// e.g. a refused handshake); the body is written to `out`.
pub fn curl_in(dir: &Path, args: &[&str], out: &str) -> String {
    let o = Command::new("curl")
        .current_dir(dir)
        .args([
            "-sS",
            "--cacert",
            "state/root.pem",
            "-o",
            out,
            "-w",
            "%{http_code}",
        ])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The path of the one CRL distribution point URI of `leaf` (`http://127.0.0.1:8080PATH`).
pub fn dp_path(dir: &Path, leaf: &str) -> String {
    let (ok, ext) = openssl(
        dir,
        &[
            "x509",
            "-in",
            leaf,
            "-noout",
            "-ext",
            "crlDistributionPoints",
        ],
    );
    assert!(ok, "{ext}");
    let uris: Vec<&str> = ext
        .lines()
        .filter_map(|l| l.trim().strip_prefix("URI:"))
        .collect();
    assert_eq!(uris.len(), 1, "{ext}");
    uris[0]
        .strip_prefix("http://127.0.0.1:8080")
        .unwrap_or_else(|| panic!("{ext}"))
        .to_owned()
}

/// `openssl verify -CAfile ROOT -untrusted INTERMEDIATE -purpose sslclient LEAF` in `dir`
/// (paths relative to it) must print `LEAF: OK`.
pub fn assert_chain_verifies(dir: &Path, root: &str, intermediate: &str, leaf: &str) {
    let (ok, out) = openssl(
        dir,
        &[
            "verify",
            "-CAfile",
            root,
            "-untrusted",
            intermediate,
            "-purpose",
            "sslclient",
            leaf,
        ],
    );
    assert!(ok && out.contains(&format!("{leaf}: OK")), "{out}");
}
