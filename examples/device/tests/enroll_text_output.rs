//! `--format text` (the default) of `enroll` is one short line for people; JSON only with
//! `--format json`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::run;
use iotsec_pki::est_service::LabelPolicy;

#[test]
fn enroll_answers_in_lines_for_people() {
    let (dir, state) = common::acme_ca("device-enroll-text");
    let url = common::est_server(
        &state,
        LabelPolicy {
            basic: Some(("dev".into(), "pw".into())),
            client_cert_auth: true,
            ..Default::default()
        },
    );
    let trust = state.join("root.pem").display().to_string();
    let (key, cert) = (dir.join("k.pem"), dir.join("c.pem"));
    let enroll = |auth: &str, format: &[&str]| {
        let mut args = vec![
            "enroll",
            "--est",
            &url,
            "--trust",
            &trust,
            "--cn",
            "dev-1",
            "--basic-auth",
            auth,
            "--key-out",
            key.to_str().unwrap(),
            "--cert-out",
            cert.to_str().unwrap(),
        ];
        args.extend_from_slice(format);
        run(&args)
    };

    let (code, stdout, stderr) = enroll("dev:pw", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        format!(
            "issued: certificate chain (2 certificates) written to {}\n",
            cert.display()
        )
    );
    let (code, stdout, _) = enroll("dev:wrong", &[]);
    assert_eq!(code, 1);
    assert!(
        stdout.starts_with("rejected: the EST server answered HTTP 401"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let (code, stdout, _) = enroll("dev:wrong", &["--format", "json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["status"], 401);
}
