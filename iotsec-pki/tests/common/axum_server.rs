//! The EST router served by `est::http::serve` on a tokio runtime of its own, for tests that
//! drive it with blocking clients; stopped (gracefully) on drop.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use iotsec_pki::EstService;
use iotsec_pki::ca_state::CaState;
use iotsec_pki::est::http::{ServeLimits, TlsConfigCell, router, serve, server_config_for};
use iotsec_pki::est_service::LabelPolicy;
use iotsec_pki::est_transport::issue_server_identity;
use rustls::sign::CertifiedKey;

/// A running server.
pub struct AxumServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The TLS configuration new handshakes use.
    pub tls: Arc<TlsConfigCell>,
    /// The decisions.
    pub service: Arc<EstService>,
    /// The server's TLS identity (for a new configuration).
    pub certified: Arc<CertifiedKey>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl AxumServer {
    /// Serves `app` (plus the EST router) for the CA in `state` with `labels` within `limits`.
    pub fn start_with(
        state: &Path,
        labels: HashMap<String, LabelPolicy>,
        limits: ServeLimits,
        app: impl FnOnce(Arc<EstService>) -> axum::Router,
    ) -> Self {
        crate::common::crypto_provider();
        let ca = CaState::open(state).unwrap();
        let certified = Arc::new(issue_server_identity(&ca).unwrap());
        let service = Arc::new(EstService::new(ca, labels));
        let tls = Arc::new(TlsConfigCell::new(
            server_config_for(&service, certified.clone()).unwrap(),
        ));
        let app = app(service.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let cell = tls.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                serve(listener, cell, app, limits, async {
                    let _ = stopped.await;
                })
                .await
            })
        });
        AxumServer {
            port,
            tls,
            service,
            certified,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Serves the EST router alone.
    pub fn start(state: &Path, labels: HashMap<String, LabelPolicy>, limits: ServeLimits) -> Self {
        Self::start_with(state, labels, limits, router)
    }

    /// Swaps in a TLS configuration with the CRLs as they are now.
    pub fn refresh_tls(&self) {
        self.tls
            .replace(server_config_for(&self.service, self.certified.clone()).unwrap());
    }

    /// Stops the server and waits for it to return.
    pub fn stop(mut self) -> std::io::Result<()> {
        self.stop_now()
    }

    fn stop_now(&mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(t) => t.join().unwrap(),
            None => Ok(()),
        }
    }
}

impl Drop for AxumServer {
    fn drop(&mut self) {
        let _ = self.stop_now();
    }
}
