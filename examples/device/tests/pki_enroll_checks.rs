//! `iotsec-device enroll` checks the certificate an EST server returns before it writes
//! anything: a server (here a rogue one, signing with our real CA) that answers 200 with a
//! certificate for another key or another CN is a rejection (exit 1) and leaves no key or
//! certificate file; an honest answer writes the key 0600 even over an existing 0644 file.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use common::run_json_text as device;
use iotsec_pki::ca_state::{CaState, read_pem};
use iotsec_pki::csr_check::{VerifiedCsr, verify_csr};
use iotsec_pki::est_message::{Base64Layout, decode_base64_body, encode_certs_only_body};
use iotsec_pki::tls_config::{ClientAuth, server_config};
use iotsec_pki::{CsrRequest, DeviceKey, DeviceName, KeyAlgorithm, build_csr};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A CSR of a key that is not the device's, for CN=`cn`.
fn stranger_csr(cn: &str) -> VerifiedCsr {
    let key = DeviceKey::from_secret_bytes(KeyAlgorithm::P256, &[5; 32]).unwrap();
    let names = [DeviceName::Dns("dev-7.devices.invalid")];
    let der = build_csr(
        &key,
        &CsrRequest {
            common_name: cn,
            organization: None,
            device_names: &names,
            challenge_password: None,
        },
    )
    .unwrap();
    verify_csr(&der).unwrap()
}

/// Answers one EST request. The label in the path decides what `simpleenroll` issues:
/// `otherkey` (the requested names, a stranger's key), `othercn` (our key, CN=dev-8), anything
/// else (what was asked).
fn answer(ca: &mut CaState, cacerts: &str, path: &str, body: &[u8]) -> (u16, String) {
    if path.ends_with("/cacerts") {
        return (200, cacerts.to_owned());
    }
    let mut csr = verify_csr(&decode_base64_body(body).unwrap()).unwrap();
    if path.contains("/otherkey/") {
        let other = stranger_csr("dev-7");
        csr.spki_der = other.spki_der;
        csr.public_key = other.public_key;
    } else if path.contains("/othercn/") {
        let other = stranger_csr("dev-8");
        csr.subject = other.subject;
        csr.subject_der = other.subject_der;
    }
    let cert = ca
        .issue_verified(&csr, time::OffsetDateTime::now_utc())
        .unwrap();
    (
        200,
        encode_certs_only_body(&[&cert.der], Base64Layout::Lines64).unwrap(),
    )
}

/// Starts the rogue EST server (TLS 1.3 with a server certificate from the CA in `state`) and
/// returns its base URL.
fn rogue_server(state: &Path) -> String {
    let mut ca = CaState::open(state).unwrap();
    let root = read_pem(&state.join("root.pem"), "CERTIFICATE").unwrap();
    let inter = read_pem(&state.join("intermediate.pem"), "CERTIFICATE").unwrap();
    let now = time::OffsetDateTime::now_utc();
    let (server_cert, server_key) = ca.authority.issue_server_cert(&["127.0.0.1"], now).unwrap();
    let config = server_config(
        std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
        vec![
            CertificateDer::from(server_cert),
            CertificateDer::from(inter.clone()),
        ],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.to_vec())),
        &[CertificateDer::from(root.clone())],
        Vec::new(),
        ClientAuth::Optional,
    )
    .unwrap();
    let config = Arc::new(config);
    let cacerts = encode_certs_only_body(&[&inter, &root], Base64Layout::Lines64).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    std::thread::spawn(move || {
        for sock in listener.incoming() {
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, sock.unwrap());
            let mut raw = Vec::new();
            let mut chunk = [0u8; 4096];
            let head_end = loop {
                if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                    break i + 4;
                }
                let n = tls.read(&mut chunk).unwrap();
                assert!(n > 0, "request cut short");
                raw.extend_from_slice(&chunk[..n]);
            };
            let head = String::from_utf8(raw[..head_end].to_vec()).unwrap();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            while raw.len() < head_end + length {
                let n = tls.read(&mut chunk).unwrap();
                raw.extend_from_slice(&chunk[..n]);
            }
            let path = head.split(' ').nth(1).unwrap().to_owned();
            let (status, body) = answer(&mut ca, &cacerts, &path, &raw[head_end..]);
            let reply = format!(
                "HTTP/1.1 {status} OK\r\nContent-Type: application/pkcs7-mime; \
                 smime-type=certs-only\r\nContent-Transfer-Encoding: base64\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            tls.write_all(reply.as_bytes()).unwrap();
            tls.conn.send_close_notify();
            tls.flush().unwrap();
        }
    });
    url
}

#[test]
fn enroll_checks_the_issued_certificate_before_writing_anything() {
    let (dir, state) = common::acme_ca("device-enroll-checks");
    let url = rogue_server(&state);
    let trust = state.join("root.pem").display().to_string();
    let enroll = |label: &str, key_out: &Path, cert_out: &Path| {
        let est = format!("{url}/.well-known/est/{label}");
        let (key_out, cert_out) = (
            key_out.display().to_string(),
            cert_out.display().to_string(),
        );
        device(&[
            "enroll",
            "--est",
            &est,
            "--trust",
            &trust,
            "--cn",
            "dev-7",
            "--dns",
            "dev-7.devices.invalid",
            "--key-out",
            &key_out,
            "--cert-out",
            &cert_out,
        ])
    };
    let (key, cert) = (dir.join("k.pem"), dir.join("c.pem"));

    // A certificate for another key: rejected (exit 1), nothing written.
    let (code, out) = enroll("otherkey", &key, &cert);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("\"reason\":\"the issued certificate certifies another key\""),
        "{out}"
    );
    assert!(!key.exists() && !cert.exists());
    // Our key, but CN=dev-8: rejected, nothing written.
    let (code, out) = enroll("othercn", &key, &cert);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(r#"the issued certificate's CN is [\"dev-8\"], not \"dev-7\""#),
        "{out}"
    );
    assert!(!key.exists() && !cert.exists());

    // An honest answer over an existing world-readable key file: the key ends 0600.
    std::fs::write(&key, "old").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, out) = enroll("honest", &key, &cert);
    assert_eq!(code, 0, "{out}");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let pem = std::fs::read_to_string(&key).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
    assert_eq!(
        std::fs::read_to_string(&cert)
            .unwrap()
            .matches("BEGIN CERTIFICATE")
            .count(),
        2
    );
    // No temporary file is left next to the key.
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
