//! `iotsec-cloud pki est-server --reserved-name NAME --reissue-window SECONDS`: each flag
//! takes effect over TLS (curl), and a value the server cannot act on is refused before it
//! listens (exit 2, one line on stderr).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use common::{free_port, have, openssl, openssl_csr, p, pki, run, scratch, wait_until};

/// A CA in a scratch directory `name` (None without curl and openssl).
fn init_ca(name: &str) -> Option<(PathBuf, String)> {
    if !have(&["curl", "openssl"]) {
        return None;
    }
    let dir = scratch(name);
    let state = p(&dir, "state");
    let (code, out) = pki("init", &state, &[]);
    assert_eq!(code, 0, "{out}");
    Some((dir, state))
}

/// `pki est-server` on `port` with HTTP Basic dev:pw and `extra`.
fn serve(state: &str, port: u16, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_iotsec-cloud"))
        .args(["pki", "est-server", "--state", state, "--est"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["--basic-auth", "dev:pw"])
        .args(extra)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// A running server and what a test asks it.
struct Server {
    child: Child,
    dir: PathBuf,
    url: String,
    root: String,
}

impl Server {
    fn start(dir: &Path, state: &str, extra: &[&str]) -> Self {
        let port = free_port();
        let server = Server {
            child: serve(state, port, extra),
            dir: dir.to_path_buf(),
            url: format!("https://127.0.0.1:{port}/.well-known/est"),
            root: format!("{state}/root.pem"),
        };
        assert!(
            wait_until(|| server.curl(&[&format!("{}/cacerts", server.url)], "/dev/null") == "200"),
            "the server never answered /cacerts"
        );
        server
    }

    /// curl with `args`, the body written to `out`: the HTTP status.
    fn curl(&self, args: &[&str], out: &str) -> String {
        let output = Command::new("curl")
            .current_dir(&self.dir)
            .args(["-sS", "--cacert", &self.root])
            .args(args)
            .args(["-o", out, "-w", "%{http_code}"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// simpleenroll of the base64 CSR in `csr_b64`: (status, body).
    fn enroll(&self, csr_b64: &str, out: &str) -> (String, Vec<u8>) {
        let status = self.curl(
            &[
                "-u",
                "dev:pw",
                "-H",
                "Content-Type: application/pkcs10",
                "--data-binary",
                &format!("@{csr_b64}"),
                &format!("{}/simpleenroll", self.url),
            ],
            out,
        );
        (
            status,
            std::fs::read(self.dir.join(out)).unwrap_or_default(),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A base64 CSR for `/CN=cn` in `dir` as `name.b64`.
fn csr(dir: &Path, name: &str, cn: &str) -> String {
    let der = format!("{name}.der");
    openssl_csr(
        dir,
        &format!("{name}.key"),
        &der,
        &format!("/CN={cn}"),
        &["-outform", "DER"],
    );
    let b64 = format!("{name}.b64");
    let (ok, out) = openssl(dir, &["base64", "-in", &der, "-out", &b64]);
    assert!(ok, "{out}");
    b64
}

#[test]
fn a_reserved_name_is_refused_in_any_case_and_others_enroll() {
    let Some((dir, state)) = init_ca("est-flags-reserved") else {
        return;
    };
    let ops = csr(&dir, "ops", "OPS");
    let mqtt = csr(&dir, "mqtt", "mqtt-deny");
    let dev = csr(&dir, "dev", "dev-1");
    let server = Server::start(
        &dir,
        &state,
        &["--reserved-name", "ops", "--reserved-name", "mqtt-deny"],
    );
    let (ops_status, ops_body) = server.enroll(&ops, "ops.out");
    assert_eq!(ops_status, "403");
    assert!(
        String::from_utf8_lossy(&ops_body).contains("reserved"),
        "{}",
        String::from_utf8_lossy(&ops_body)
    );
    assert_eq!(server.enroll(&mqtt, "mqtt.out").0, "403");
    assert_eq!(server.enroll(&dev, "dev.out").0, "200");
    drop(server);
    // Without the flag the same names enroll: the refusal above was the flag's.
    let server = Server::start(&dir, &state, &[]);
    assert_eq!(server.enroll(&ops, "ops2.out").0, "200");
}

#[test]
fn the_reissue_window_answers_again_by_default_and_issues_anew_at_zero() {
    let Some((dir, state)) = init_ca("est-flags-window") else {
        return;
    };
    let dev = csr(&dir, "dev", "dev-1");
    let server = Server::start(&dir, &state, &[]);
    let (s1, first) = server.enroll(&dev, "a.out");
    let (s2, again) = server.enroll(&dev, "b.out");
    assert_eq!((s1.as_str(), s2.as_str()), ("200", "200"));
    assert_eq!(
        first, again,
        "the default window answers with the same certificate"
    );
    drop(server);
    let server = Server::start(&dir, &state, &["--reissue-window", "0"]);
    let (s3, third) = server.enroll(&dev, "c.out");
    let (s4, fourth) = server.enroll(&dev, "d.out");
    assert_eq!((s3.as_str(), s4.as_str()), ("200", "200"));
    assert_ne!(
        third, fourth,
        "--reissue-window 0 issues every request anew"
    );
    assert_ne!(first, third);
}

#[test]
fn values_the_server_cannot_act_on_are_refused_before_it_listens() {
    let dir = scratch("est-flags-refused");
    let state = p(&dir, "state");
    let (code, out) = pki("init", &state, &[]);
    assert_eq!(code, 0, "{out}");
    let port = free_port().to_string();
    let addr = format!("127.0.0.1:{port}");
    for extra in [
        &["--reserved-name", " "][..],
        &["--reserved-name", ""],
        &["--reissue-window", "-1"],
        &["--reissue-window", "ten"],
        &["--reissue-window", "18446744073709551616"],
    ] {
        let (code, stdout, stderr) = run(&[
            &["pki", "est-server", "--state", &state, "--est", &addr][..],
            extra,
        ]
        .concat());
        assert_eq!(code, 2, "{extra:?}: {stdout}{stderr}");
        assert!(!stderr.trim().is_empty(), "{extra:?}: no reason given");
    }
    let (code, _, stderr) = run(&[
        "pki",
        "est-server",
        "--state",
        &state,
        "--est",
        &addr,
        "--reserved-name",
        "",
    ]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr.trim().lines().count(),
        1,
        "one line of reason: {stderr}"
    );
    assert!(stderr.contains("--reserved-name"), "{stderr}");
}
