//! An I/O error names what the tool was doing and with what (the EST server), in the one stderr
//! line of exit 2.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

#[test]
fn a_refused_connection_names_the_est_server_and_the_step() {
    let (dir, state) = common::acme_ca("device-io-errors");
    // A loopback port nobody listens on: bound, read, released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("https://127.0.0.1:{port}");
    let (code, stdout, stderr) = common::run(&[
        "enroll",
        "--est",
        &url,
        "--trust",
        state.join("root.pem").to_str().unwrap(),
        "--cn",
        "dev-1",
        "--key-out",
        dir.join("k.pem").to_str().unwrap(),
        "--cert-out",
        dir.join("c.pem").to_str().unwrap(),
    ]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(
        stderr,
        format!(
            "error: fetching the CA certificates (/cacerts) at {url}: I/O: Connection refused \
             (os error 111)\n"
        )
    );
}

#[test]
fn an_unreachable_tpm_is_named() {
    let (code, stdout, stderr) = common::run(&[
        "attest",
        "quote",
        "--tpm",
        "unix:/nonexistent/swtpm.sock",
        "--ak-handle",
        "0x81010002",
        "--nonce",
        "00",
        "--pcrs",
        "sha256:0",
        "--out",
        "q",
    ]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(
        stderr,
        "error: cannot reach the TPM at unix:/nonexistent/swtpm.sock: No such file or directory \
         (os error 2)\n"
    );
}

#[test]
fn endless_certificate_and_trust_files_end_at_their_cap() {
    // `/dev/zero` has no length: the reader stops one byte past the 1 MiB cap, before any
    // connection is attempted.
    let dir = std::env::temp_dir();
    let out = dir.join(format!("device-io-zero-{}.pem", std::process::id()));
    for (flag, args) in [
        (
            "--cert",
            [
                "reenroll",
                "--est",
                "https://127.0.0.1:1",
                "--trust",
                "/dev/null",
                "--cert",
                "/dev/zero",
                "--key",
                "/dev/null",
                "--cert-out",
            ],
        ),
        (
            "--trust",
            [
                "enroll",
                "--est",
                "https://127.0.0.1:1",
                "--trust",
                "/dev/zero",
                "--cn",
                "dev-1",
                "--key-out",
                "/dev/null",
                "--cert-out",
            ],
        ),
    ] {
        let args = [&args[..], &[out.to_str().unwrap()]].concat();
        let (code, stdout, stderr) = common::run(&args);
        assert_eq!((code, stdout.as_str()), (2, ""), "{flag}: {stderr}");
        assert_eq!(
            stderr,
            "error: reading certificate file /dev/zero: larger than the 1 MiB cap on \
             certificate files\n",
            "{flag}"
        );
        assert!(!out.exists(), "{flag}");
    }
}
