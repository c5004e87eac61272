//! EST mounted in an axum application (`est::http`, feature `est-axum`) and served by
//! `est::http::serve`, driven by real clients on loopback: curl, and the rustls EST client.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
mod peers;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use axum::routing::get;
use axum::{Extension, Router};
use common::axum_server::AxumServer;
use common::{acme_ca, copy_ca_certs, csr_for};
use iotsec_pki::ca_state::CaState;
use iotsec_pki::est::http::{ServeLimits, TlsFacts, router};
use iotsec_pki::est_client::EstClient;
use iotsec_pki::est_message::{Base64Layout, encode_csr_body, parse_certs_only};
use iotsec_pki::est_service::{BindingPolicy, LabelPolicy};
use iotsec_pki::{DeviceKey, KeyAlgorithm};
use peers::{have, run};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use time::OffsetDateTime;

fn labels() -> HashMap<String, LabelPolicy> {
    let basic = LabelPolicy {
        basic: Some(("dev".into(), "s3cret".into())),
        client_cert_auth: true,
        ..Default::default()
    };
    let mut m = HashMap::new();
    m.insert(String::new(), basic.clone());
    m.insert(
        "bound".into(),
        LabelPolicy {
            binding: BindingPolicy::Required,
            ..basic
        },
    );
    m
}

/// An application route reading the request extension the server attaches.
async fn whoami(Extension(facts): Extension<TlsFacts>) -> String {
    format!(
        "peer={} cert={} exporter={}\n",
        facts.peer.map(|p| p.ip().to_string()).unwrap_or_default(),
        facts.client_cert.is_some(),
        facts.exporter.is_some()
    )
}

/// curl against `port`; returns (status, content type, body).
fn curl(dir: &Path, port: u16, args: &[&str], path: &str) -> (u16, String, String) {
    let mut cmd = Command::new("curl");
    cmd.current_dir(dir)
        .args(["-sS", "--tlsv1.3", "--cacert", "root.pem", "-o", "body.out"])
        .args(["-w", "%{http_code} %{content_type}"])
        .args(args)
        .arg(format!("https://127.0.0.1:{port}{path}"));
    let (ok, out) = run(&mut cmd);
    assert!(ok, "curl failed: {out}");
    let (status, content_type) = out.trim().split_once(' ').unwrap_or((out.trim(), ""));
    let body = std::fs::read_to_string(dir.join("body.out")).unwrap_or_default();
    (status.parse().unwrap(), content_type.to_owned(), body)
}

fn root_of(state: &Path) -> CertificateDer<'static> {
    CertificateDer::from(CaState::open(state).unwrap().authority.root_der().to_vec())
}

/// An EST client of `port`, presenting `client` (leaf + intermediate chain, key) if given.
fn est_client(
    state: &Path,
    port: u16,
    client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> EstClient {
    let config =
        iotsec_pki::tls_config::client_config(common::crypto_provider(), &[root_of(state)], client)
            .unwrap();
    EstClient::new(&format!("https://127.0.0.1:{port}"), Arc::new(config)).unwrap()
}

#[test]
fn curl_and_the_rustls_client_enroll_through_the_axum_router() {
    if !have("curl") {
        return;
    }
    let (dir, state) = acme_ca("est-axum-enroll");
    copy_ca_certs(&state, &dir);
    let server = AxumServer::start_with(&state, labels(), ServeLimits::default(), |service| {
        Router::new()
            .route("/whoami", get(whoami))
            .merge(router(service))
    });
    let port = server.port;
    // curl: HTTP Basic, the RFC 8951 base64 body.
    let csr = csr_for(KeyAlgorithm::P256, 3, "dev-axum-1");
    std::fs::write(
        dir.join("csr.b64"),
        encode_csr_body(&csr, Base64Layout::Lines64),
    )
    .unwrap();
    let (status, content_type, body) = curl(
        &dir,
        port,
        &[
            "-u",
            "dev:s3cret",
            "-H",
            "Content-Type: application/pkcs10",
            "--data-binary",
            "@csr.b64",
        ],
        "/.well-known/est/simpleenroll",
    );
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/pkcs7-mime; smime-type=certs-only")
    );
    let certs = parse_certs_only(body.as_bytes()).unwrap();
    assert_eq!(certs.len(), 1);
    assert_eq!(
        certs[0].tbs_certificate.subject.to_string(),
        "CN=dev-axum-1"
    );
    // The same answers as the service: a wrong password, a label, an unknown operation.
    let (status, _, _) = curl(
        &dir,
        port,
        &[
            "-u",
            "dev:wrong",
            "-H",
            "Content-Type: application/pkcs10",
            "--data-binary",
            "@csr.b64",
        ],
        "/.well-known/est/simpleenroll",
    );
    assert_eq!(status, 401);
    assert_eq!(
        curl(&dir, port, &[], "/.well-known/est/bound/cacerts").0,
        200
    );
    assert_eq!(curl(&dir, port, &[], "/.well-known/est/nosuchop").0, 404);
    assert_eq!(
        curl(&dir, port, &[], "/.well-known/est/nolabel/cacerts").0,
        404
    );
    let (status, content_type, _) = curl(&dir, port, &[], "/crl.der");
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/pkix-crl")
    );
    assert_eq!(curl(&dir, port, &[], "/crl/nosuchca.der").0, 404);
    assert_eq!(curl(&dir, port, &[], "/ocsp").0, 405);
    // The application's own route sees what the TLS layer knows.
    assert_eq!(
        curl(&dir, port, &[], "/whoami").2,
        "peer=127.0.0.1 cert=false exporter=true\n"
    );
    // The rustls client binds its CSR to the session (RFC 9266): the exporter reached the
    // service through the extension.
    let client = est_client(&state, port, None);
    let reply = client
        .enroll(false, Some(("dev", "s3cret")), |exporter| {
            let key = DeviceKey::from_secret_bytes(KeyAlgorithm::P256, &[4; 32]).unwrap();
            let pw = iotsec_pki::channel_binding::challenge_password_for(exporter);
            Ok(iotsec_pki::build_csr(
                &key,
                &iotsec_pki::CsrRequest {
                    common_name: "dev-axum-2",
                    challenge_password: Some(&pw),
                    ..Default::default()
                },
            )
            .unwrap())
        })
        .unwrap();
    assert_eq!(reply.status, 200);
    let reply = EstClient::new(
        &format!("https://127.0.0.1:{port}/.well-known/est/bound"),
        Arc::new(
            iotsec_pki::tls_config::client_config(
                common::crypto_provider(),
                &[root_of(&state)],
                None,
            )
            .unwrap(),
        ),
    )
    .unwrap()
    .enroll(false, Some(("dev", "s3cret")), |_| {
        Ok(csr_for(KeyAlgorithm::P256, 5, "dev-axum-3"))
    })
    .unwrap();
    assert_eq!(reply.status, 400, "label `bound` requires the binding");
    server.stop().unwrap();
}

/// A device certificate (leaf, intermediate) with its key, issued by the CA in `state`.
fn device_identity(
    state: &Path,
    seed: u8,
    cn: &str,
) -> (
    Vec<u8>,
    (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>),
) {
    let mut ca = CaState::open(state).unwrap();
    let issued = ca
        .issue_csr(
            &csr_for(KeyAlgorithm::P256, seed, cn),
            OffsetDateTime::now_utc(),
        )
        .unwrap();
    let key = DeviceKey::from_secret_bytes(KeyAlgorithm::P256, &[seed; 32]).unwrap();
    let chain = vec![
        CertificateDer::from(issued.der),
        CertificateDer::from(ca.authority.intermediate_der().to_vec()),
    ];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        key.to_pkcs8_der().unwrap().to_vec(),
    ));
    (issued.serial, (chain, key))
}

#[test]
fn a_revocation_refuses_new_handshakes_once_the_tls_configuration_is_swapped() {
    let (_dir, state) = acme_ca("est-axum-crl");
    let server = AxumServer::start(&state, labels(), ServeLimits::default());
    let (serial, revoked) = device_identity(&state, 11, "dev-revoked");
    let (_, kept) = device_identity(&state, 12, "dev-kept");
    let revoked = est_client(&state, server.port, Some(revoked));
    let kept = est_client(&state, server.port, Some(kept));
    assert_eq!(revoked.cacerts().unwrap().len(), 2);
    let mut operator = CaState::open(&state).unwrap();
    assert!(
        operator
            .revoke(&serial, 1, OffsetDateTime::now_utc())
            .unwrap()
    );
    // The configuration in the cell still has the old CRL: the handshake passes (the service
    // itself would refuse the certificate for re-enrollment).
    assert_eq!(revoked.cacerts().unwrap().len(), 2);
    server.refresh_tls();
    let refused = revoked.cacerts().unwrap_err();
    assert!(
        refused.to_string().contains("CertificateRevoked")
            || refused.to_string().to_lowercase().contains("revoked"),
        "{refused}"
    );
    assert_eq!(kept.cacerts().unwrap().len(), 2);
    server.stop().unwrap();
}

/// Sends `request` over TLS 1.3 and returns everything the server sends until it closes.
fn exchange(state: &Path, port: u16, request: &[u8]) -> String {
    let config =
        iotsec_pki::tls_config::client_config(common::crypto_provider(), &[root_of(state)], None)
            .unwrap();
    let sock = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("127.0.0.1").unwrap())
            .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    tls.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn status_line(response: &str) -> &str {
    response.lines().next().unwrap_or("")
}

#[test]
fn bodies_over_the_cap_are_refused_with_413() {
    let (_dir, state) = acme_ca("est-axum-413");
    let server = AxumServer::start(&state, labels(), ServeLimits::default().with_max_body(1024));
    let path = "/.well-known/est/simpleenroll";
    let declared = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/pkcs10\r\nContent-Length: 2000\r\n\r\n{}",
        "A".repeat(2000)
    );
    assert_eq!(
        status_line(&exchange(&state, server.port, declared.as_bytes())),
        "HTTP/1.1 413 Payload Too Large"
    );
    // A chunked body is counted as it arrives.
    let chunk = "A".repeat(800);
    let chunked = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/pkcs10\r\nTransfer-Encoding: chunked\r\n\r\n320\r\n{chunk}\r\n320\r\n{chunk}\r\n0\r\n\r\n"
    );
    assert_eq!(
        status_line(&exchange(&state, server.port, chunked.as_bytes())),
        "HTTP/1.1 413 Payload Too Large"
    );
    // Within the cap the service decides (here: not a CSR).
    let small = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Basic ZGV2OnMzY3JldA==\r\nContent-Type: application/pkcs10\r\nContent-Length: 4\r\n\r\nAAAA"
    );
    assert_eq!(
        status_line(&exchange(&state, server.port, small.as_bytes())),
        "HTTP/1.1 400 Bad Request"
    );
    server.stop().unwrap();
}

#[test]
fn malformed_requests_get_4xx() {
    let (_dir, state) = acme_ca("est-axum-malformed");
    let server = AxumServer::start(&state, labels(), ServeLimits::default());
    for (request, status) in [
        (&b"\x00\x01 garbage\r\n\r\n"[..], "HTTP/1.1 400 Bad Request"),
        (b"GET /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        (b"GET /.well-known/est/cacerts HTTP/9.9\r\nHost: x\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        (b"POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Basic ZGV2OnMzY3JldA==\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 415 Unsupported Media Type"),
        (b"DELETE /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "HTTP/1.1 405 Method Not Allowed"),
    ] {
        assert_eq!(
            status_line(&exchange(&state, server.port, request)),
            status,
            "{}",
            String::from_utf8_lossy(request)
        );
    }
    server.stop().unwrap();
}

/// Shutdown does not wait for idle keep-alive connections: they are closed at once, and the
/// server returns well before the deadline it would otherwise wait for.
#[test]
fn shutdown_closes_idle_connections_and_returns() {
    let (_dir, state) = acme_ca("est-axum-shutdown");
    let server = AxumServer::start(&state, labels(), ServeLimits::default());
    let config =
        iotsec_pki::tls_config::client_config(common::crypto_provider(), &[root_of(&state)], None)
            .unwrap();
    let sock = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("127.0.0.1").unwrap())
            .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    tls.write_all(b"GET /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 17];
    tls.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200 OK\r\n");
    // The connection is now idle (keep-alive).
    let started = std::time::Instant::now();
    server.stop().unwrap();
    let took = started.elapsed();
    assert!(
        took < ServeLimits::default().deadline / 2,
        "shutdown took {took:?}"
    );
    let mut rest = Vec::new();
    let _ = tls.read_to_end(&mut rest);
    let rest = String::from_utf8_lossy(&rest).to_ascii_lowercase();
    assert!(
        rest.contains("content-type: application/pkcs7-mime"),
        "{rest}"
    );
}
