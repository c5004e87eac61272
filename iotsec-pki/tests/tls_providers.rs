//! The crate brings no TLS crypto provider of its own: an application's rustls (the default
//! aws-lc-rs provider, `ClientConfig::builder()`) works beside every cloud feature, and the EST
//! server speaks whatever key exchange the provider it is given offers: the X25519MLKEM768
//! hybrid (draft-ietf-tls-ecdhe-mlkem) to a client that offers it, X25519 to one that does not.
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
use std::net::TcpStream;
use std::sync::Arc;

use common::{acme_ca, csr_for, serve_in_background};
use iotsec_pki::KeyAlgorithm;
use iotsec_pki::ca_state::{CaState, read_pem};
use iotsec_pki::est_client::{EstClient, certs_of};
use iotsec_pki::est_service::{BindingPolicy, LabelPolicy};
use iotsec_pki::est_transport::bind_endpoint;
use iotsec_pki::tls_config::client_config;
use rustls::NamedGroup;
use rustls::crypto::CryptoProvider;
use rustls::crypto::aws_lc_rs::{default_provider, kx_group};
use rustls::pki_types::{CertificateDer, ServerName};

/// An EST server on 127.0.0.1 (HTTP Basic dev/s3cret) running on the process-default
/// provider; returns its port and the root certificate.
fn server(name: &str) -> (u16, CertificateDer<'static>) {
    let (_, state) = acme_ca(name);
    common::crypto_provider();
    let mut labels = HashMap::new();
    labels.insert(
        String::new(),
        LabelPolicy {
            basic: Some(("dev".into(), "s3cret".into())),
            binding: BindingPolicy::Off,
            ..Default::default()
        },
    );
    let ep = bind_endpoint(CaState::open(&state).unwrap(), "127.0.0.1:0", labels).unwrap();
    let root = read_pem(&state.join("root.pem"), "CERTIFICATE").unwrap();
    (serve_in_background(ep), CertificateDer::from(root))
}

/// A client provider offering only `groups`.
fn offering(groups: Vec<&'static dyn rustls::crypto::SupportedKxGroup>) -> Arc<CryptoProvider> {
    Arc::new(CryptoProvider {
        kx_groups: groups,
        ..default_provider()
    })
}

/// The key exchange group a handshake with the server on `port` settles on, and the status
/// line of a `GET /cacerts` over it.
fn negotiated(
    port: u16,
    root: &CertificateDer<'static>,
    p: Arc<CryptoProvider>,
) -> (NamedGroup, String) {
    let config = Arc::new(client_config(p, std::slice::from_ref(root), None).unwrap());
    let mut conn =
        rustls::ClientConnection::new(config, ServerName::try_from("127.0.0.1").unwrap()).unwrap();
    let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).unwrap();
    }
    let group = conn.negotiated_key_exchange_group().unwrap().name();
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    tls.write_all(
        b"GET /.well-known/est/cacerts HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut reply = Vec::new();
    let _ = tls.read_to_end(&mut reply);
    let text = String::from_utf8_lossy(&reply);
    (group, text.lines().next().unwrap_or_default().to_owned())
}

#[test]
fn a_post_quantum_client_gets_the_x25519mlkem768_hybrid() {
    let (port, root) = server("tls-pq");
    let pq_first = offering(vec![kx_group::X25519MLKEM768, kx_group::X25519]);
    assert_eq!(
        negotiated(port, &root, pq_first),
        (NamedGroup::X25519MLKEM768, "HTTP/1.1 200 OK".to_owned())
    );
}

#[test]
fn a_classic_only_client_still_enrolls_over_x25519() {
    let (port, root) = server("tls-classic");
    let classic = offering(vec![kx_group::X25519]);
    assert_eq!(
        negotiated(port, &root, classic.clone()),
        (NamedGroup::X25519, "HTTP/1.1 200 OK".to_owned())
    );
    let client = EstClient::new(
        &format!("https://127.0.0.1:{port}"),
        Arc::new(client_config(classic, &[root], None).unwrap()),
    )
    .unwrap();
    let reply = client
        .enroll(false, Some(("dev", "s3cret")), |_| {
            Ok(csr_for(KeyAlgorithm::P256, 7, "classic-device"))
        })
        .unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(certs_of(&reply).unwrap().len(), 1);
}

#[test]
fn an_application_on_rustls_default_provider_does_not_panic_beside_the_crate() {
    // What an application does with its own rustls: no provider named, none installed by
    // this crate. With two providers compiled in (the crate forcing ring), this panics.
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    assert!(
        config
            .crypto_provider()
            .kx_groups
            .iter()
            .any(|g| g.name() == NamedGroup::X25519MLKEM768)
    );
}
