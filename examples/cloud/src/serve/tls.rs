//! The TLS 1.3 accept loop (tokio-rustls + hyper HTTP/1.1): one deadline for the handshake,
//! the verified client certificate and the RFC 9266 tls-exporter handed to the handlers as a
//! request extension ([`PeerTls`]). Request bodies are capped by the router.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioIo;
use rustls::ServerConfig;
use tower::ServiceExt;

/// Deadline for the TLS handshake.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);
/// Deadline for a request head after the handshake or the previous response.
const HEADER_DEADLINE: Duration = Duration::from_secs(10);
/// Most connections served at once.
const MAX_CONNECTIONS: usize = 4096;

/// What the TLS layer knows about a request's connection.
#[derive(Debug, Clone)]
pub struct PeerTls {
    /// The client's end-entity certificate (DER), verified by rustls against the fleet root.
    pub client_cert: Option<Arc<Vec<u8>>>,
    /// The session's RFC 9266 tls-exporter value.
    pub exporter: Option<[u8; 32]>,
    /// The peer's address.
    pub peer: SocketAddr,
}

/// Serves `router` on `listener` until `stop` turns true.
pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: Arc<Mutex<Arc<ServerConfig>>>,
    router: Router,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let (tcp, peer) = tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors or a reset before accept: keep serving.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue;
        };
        let config = match tls.lock() {
            Ok(c) => c.clone(),
            Err(_) => return Err(std::io::Error::other("TLS configuration lock poisoned")),
        };
        let router = router.clone();
        connections.spawn(async move {
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            let Ok(Ok(stream)) =
                tokio::time::timeout(HANDSHAKE_DEADLINE, acceptor.accept(tcp)).await
            else {
                return;
            };
            let (_, conn) = stream.get_ref();
            let client_cert = conn
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| Arc::new(c.as_ref().to_vec()));
            let mut exporter = [0u8; 32];
            let exporter = conn
                .export_keying_material(&mut exporter, b"EXPORTER-Channel-Binding", None)
                .ok()
                .map(|e| *e);
            let facts = PeerTls {
                client_cert,
                exporter,
                peer,
            };
            let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
                req.extensions_mut().insert(facts.clone());
                router.clone().oneshot(req.map(axum::body::Body::new))
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_DEADLINE)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(slot);
        });
    }
    connections.shutdown().await;
    Ok(())
}
