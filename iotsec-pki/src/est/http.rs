//! EST (RFC 7030) in an axum application, and the TLS 1.3 accept loop it is served by.
//!
//! * [`router`]: the EST paths of RFC 7030 §3.2.2 (with and without a label), OCSP over HTTP
//!   (RFC 6960 Appendix A.1, `POST /ocsp`) and the CRL distribution points (RFC 5280
//!   §4.2.1.13), each answered exactly as [`EstService::handle`] and
//!   [`EstService::handle_crl_at`] decide (on tokio's blocking pool: a decision signs and writes
//!   to SQLite). An application `.merge()`s or `.nest()`s it into its own router.
//! * [`TlsFacts`]: what the TLS layer knows (verified client certificate, RFC 9266
//!   tls-exporter, peer address), attached by [`serve`] to every request as an extension; the
//!   application's handlers read it with `axum::Extension<TlsFacts>`.
//! * [`serve`]: TLS 1.3 (tokio-rustls) + HTTP/1.1 (hyper) with the bounds of [`ServeLimits`]
//!   ([`crate::est::admission`]): one deadline for handshake, request head and body, a
//!   per-address cap, a reserve for new addresses, a body cap (413; bodies are streamed to the
//!   application, which may set lower limits per route), and graceful shutdown. The
//!   TLS configuration is read from a [`TlsConfigCell`] at each handshake, so a configuration
//!   with a new CRL ([`TlsConfigCell::replace`]) applies to the next handshake.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::any;
use http_body_util::{BodyExt, Limited};
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::device::channel_binding::{EXPORTER_LABEL, EXPORTER_LEN};
use crate::est::admission::{Admission, Admitted, RefusalLog};
pub use crate::est::admission::{AdmissionRefusal, ServeLimits};
pub use crate::est::service::TlsFacts;
use crate::est::service::{EstRequest, EstResponse, EstService};

/// The TLS configuration new handshakes use, replaceable while the server runs (a configuration
/// with a new CRL, a renewed server certificate); a connection keeps the configuration it was
/// accepted with.
#[derive(Debug)]
pub struct TlsConfigCell {
    current: RwLock<Arc<ServerConfig>>,
}

impl TlsConfigCell {
    /// A cell holding `config`.
    pub fn new(config: Arc<ServerConfig>) -> Self {
        TlsConfigCell {
            current: RwLock::new(config),
        }
    }

    /// The configuration the next handshake uses.
    pub fn current(&self) -> Arc<ServerConfig> {
        // A swap of one Arc cannot be left half done, so a poisoned lock still holds a whole
        // configuration.
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Makes `config` the one new handshakes use; returns the previous one.
    pub fn replace(&self, config: Arc<ServerConfig>) -> Arc<ServerConfig> {
        let mut guard = self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        std::mem::replace(&mut *guard, config)
    }
}

/// A TLS 1.3 configuration for serving `service`: presents `certified` (e.g.
/// [`crate::est::transport::issue_server_identity`]), accepts client certificates chaining to
/// the service's root, checked against the current CRL of each of its CAs (signed again when a
/// revocation was added), refuses those of intermediates the root revoked, and lets clients
/// without a certificate in (HTTP Basic may authenticate them). After a revocation,
/// [`TlsConfigCell::replace`] with a new one makes the next handshakes refuse the certificate.
/// Uses the process-default crypto provider.
pub fn server_config_for(
    service: &EstService,
    certified: Arc<rustls::sign::CertifiedKey>,
) -> Result<Arc<ServerConfig>, crate::ca::error::CaError> {
    use rustls::pki_types::{CertificateDer, CertificateRevocationListDer};
    let trust = service.client_trust(time::OffsetDateTime::now_utc())?;
    let revoked: Vec<&[u8]> = trust.revoked_issuers.iter().map(Vec::as_slice).collect();
    let config = crate::est::tls_config::server_config_presenting(
        crate::est::tls_config::process_provider()?,
        certified,
        &[CertificateDer::from(trust.root)],
        trust
            .crls
            .into_iter()
            .map(CertificateRevocationListDer::from)
            .collect(),
        &revoked,
        crate::est::tls_config::ClientAuth::Optional,
    )?;
    Ok(Arc::new(config))
}

/// The largest request body the EST router reads (413 above it); [`serve`] bounds every
/// request body by [`ServeLimits::max_body`] as well.
pub const MAX_EST_BODY: usize = crate::est::transport::MAX_BODY;

/// The EST, OCSP and CRL routes over `service`:
///
/// * `/.well-known/est/{operation}` and `/.well-known/est/{label}/{operation}` (RFC 7030 §3.2.2),
/// * `POST /ocsp`,
/// * `GET /crl.der`, `GET /crl/{NAME}.der` / `.crl` ([`crate::est::service::crl_name`]), and
///   each path of [`EstService::crl_paths`] (a CA's CRL URL, the root's CRL) that is a plain
///   path (letters, digits, `-._~/`).
///
/// Every answer, including 404 for an unknown label or operation, is the service's. axum's
/// `merge` refuses (panics on) overlapping routes: an application keeps its own paths off these
/// (the CRL URLs of its CAs included).
pub fn router(service: Arc<EstService>) -> Router {
    let mut crl_routes: Vec<String> = vec!["/crl.der".into(), "/crl/{file}".into()];
    for path in service.crl_paths() {
        let plain = path.len() > 1
            && path.starts_with('/')
            && !path.contains("//")
            && path
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~/".contains(&b));
        // One segment under /crl/ is already routed to the same decision.
        let under_crl = path
            .strip_prefix("/crl/")
            .is_some_and(|rest| !rest.contains('/'));
        let taken = path == "/ocsp" || path.starts_with("/.well-known/est/") || under_crl;
        if plain && !taken && !crl_routes.contains(&path) {
            crl_routes.push(path);
        }
    }
    let mut r = Router::new()
        .route("/.well-known/est/{operation}", any(est))
        .route("/.well-known/est/{label}/{operation}", any(est))
        .route("/ocsp", any(est));
    for path in &crl_routes {
        r = r.route(path, any(crl));
    }
    r.with_state(service)
}

async fn est(State(service): State<Arc<EstService>>, req: Request) -> Response {
    // The shell reads the clock; the decision takes it.
    decide(req, move |request, facts| {
        service.handle(request, facts, time::OffsetDateTime::now_utc())
    })
    .await
}

async fn crl(State(service): State<Arc<EstService>>, req: Request) -> Response {
    decide(req, move |request, _| {
        service.handle_crl_at(request, time::OffsetDateTime::now_utc())
    })
    .await
}

/// Reduces `req` to an [`EstRequest`], runs `decision` on the blocking pool and turns its
/// answer into an HTTP response.
async fn decide(
    req: Request,
    decision: impl FnOnce(&EstRequest, &TlsFacts) -> EstResponse + Send + 'static,
) -> Response {
    let (parts, body) = req.into_parts();
    let facts = parts
        .extensions
        .get::<TlsFacts>()
        .cloned()
        .unwrap_or_default();
    let header_text = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_owned())
    };
    let body = match Limited::new(body, MAX_EST_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if over_length_limit(&*e) => {
            return plain(StatusCode::PAYLOAD_TOO_LARGE, "body too large");
        }
        Err(_) => return plain(StatusCode::BAD_REQUEST, "truncated body"),
    };
    let request = EstRequest {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        content_type: header_text(header::CONTENT_TYPE),
        authorization: header_text(header::AUTHORIZATION),
        body: body.to_vec(),
    };
    match tokio::task::spawn_blocking(move || decision(&request, &facts)).await {
        Ok(answer) => into_response(answer),
        Err(_) => plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
    }
}

fn plain(status: StatusCode, text: &str) -> Response {
    let mut r = Response::new(Body::from(format!("{text}\n")));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn into_response(mut answer: EstResponse) -> Response {
    let Ok(status) = StatusCode::from_u16(answer.status) else {
        return plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
    };
    // Moved, not copied: the buffer of a serverkeygen answer holds a private key.
    let mut r = Response::new(Body::from(std::mem::take(&mut *answer.body)));
    *r.status_mut() = status;
    for (name, value) in &answer.headers {
        let Ok(value) = HeaderValue::from_str(value) else {
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
        };
        r.headers_mut().append(*name, value);
    }
    r
}

/// Serves `app` over TLS 1.3 on `listener` until `shutdown` completes, taking each handshake's
/// configuration from `tls`, within `limits`; every request carries the connection's
/// [`TlsFacts`] as an extension. A request body reaches `app` as it arrives, bounded by
/// [`ServeLimits::max_body`] (a larger Content-Length is answered 413 before `app` sees it; a
/// larger chunked body fails to read with `http_body_util::LengthLimitError`, which axum's
/// extractors answer with 413). On shutdown it stops accepting, closes idle connections, lets
/// each busy one finish the request in flight (within [`ServeLimits::deadline`], after which
/// they are dropped) and returns.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<TlsConfigCell>,
    app: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let admission = Admission::new(&limits);
    let mut refusals = RefusalLog::new();
    let limits = Arc::new(limits);
    let (stop, stopped) = watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        let (sock, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of descriptors or a connection reset before it was accepted: the
                // listener itself is fine; pause so a full table can drain.
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let admitted = match admission.try_admit(peer.ip()) {
            Ok(admitted) => admitted,
            Err(refusal) => {
                refusals.refused(peer, refusal);
                continue;
            }
        };
        connections.spawn(connection(
            sock,
            peer,
            tls.current(),
            app.clone(),
            limits.clone(),
            stopped.clone(),
            admitted,
        ));
    }
    let _ = stop.send(true);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.deadline, drain).await.is_err() {
        connections.abort_all();
    }
    Ok(())
}

/// Resolves when the connection's deadline passes while armed (`None` = disarmed: the
/// application is deciding).
async fn deadline_passed(mut deadline: watch::Receiver<Option<Instant>>) {
    loop {
        let current = *deadline.borrow_and_update();
        match current {
            Some(at) => {
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {
                        if *deadline.borrow() == Some(at) {
                            return;
                        }
                    }
                    changed = deadline.changed() => if changed.is_err() {
                        std::future::pending::<()>().await;
                    },
                }
            }
            None => {
                if deadline.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}

async fn connection(
    sock: TcpStream,
    peer: SocketAddr,
    config: Arc<ServerConfig>,
    app: Router,
    limits: Arc<ServeLimits>,
    mut stopped: watch::Receiver<bool>,
    admitted: Admitted,
) {
    let _admitted = admitted;
    let (deadline, deadline_rx) = watch::channel(Some(Instant::now() + limits.deadline));
    let watchdog = deadline_passed(deadline_rx);
    tokio::pin!(watchdog);
    let handshake = tokio_rustls::TlsAcceptor::from(config).accept(sock);
    let stream = tokio::select! {
        done = handshake => match done {
            Ok(stream) => stream,
            Err(_) => return,
        },
        () = &mut watchdog => return,
        _ = stopped.changed() => return,
    };
    let facts = {
        let (_, conn) = stream.get_ref();
        let mut exporter = [0u8; EXPORTER_LEN];
        TlsFacts {
            client_cert: conn
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.to_vec()),
            exporter: conn
                .export_keying_material(&mut exporter, EXPORTER_LABEL, None)
                .is_ok()
                .then_some(exporter),
            peer: Some(peer),
        }
    };
    let deadline = Arc::new(deadline);
    let served = Arc::new(AtomicUsize::new(0));
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let (app, facts, limits, deadline, served) = (
            app.clone(),
            facts.clone(),
            limits.clone(),
            deadline.clone(),
            served.clone(),
        );
        async move {
            let n = served.fetch_add(1, Ordering::AcqRel) + 1;
            let mut response = answer(req, app, facts, &limits, &deadline).await;
            if n >= limits.max_requests_per_connection {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            deadline.send_replace(Some(Instant::now() + limits.deadline));
            Ok::<_, Infallible>(response)
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .max_buf_size(crate::est::transport::MAX_HEAD)
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
    tokio::pin!(conn);
    let mut stopping = *stopped.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            () = &mut watchdog => return,
            changed = stopped.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// A request body as the application reads it: at most [`ServeLimits::max_body`] bytes (more
/// is a `LengthLimitError`, which axum's extractors answer with 413), read under the
/// connection's deadline, which is lifted once the body has been read to its end: from then on
/// the time is the application's, not the client's.
struct RequestBody {
    inner: Limited<hyper::body::Incoming>,
    deadline: Arc<watch::Sender<Option<Instant>>>,
}

impl hyper::body::Body for RequestBody {
    type Data = axum::body::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let frame = std::pin::Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(frame, std::task::Poll::Ready(None)) {
            this.deadline.send_replace(None);
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// Lets `app` answer `req` with the connection's [`TlsFacts`] attached and its body bounded by
/// `limits.max_body` (a larger declared Content-Length is answered 413 at once).
async fn answer(
    req: hyper::Request<hyper::body::Incoming>,
    app: Router,
    facts: TlsFacts,
    limits: &ServeLimits,
    deadline: &Arc<watch::Sender<Option<Instant>>>,
) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body as u64) {
        let mut r = plain(StatusCode::PAYLOAD_TOO_LARGE, "body too large");
        // The unread body would be taken for the next request.
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return r;
    }
    let (parts, body) = req.into_parts();
    if hyper::body::Body::is_end_stream(&body) {
        // No body: the request is in whole.
        deadline.send_replace(None);
    }
    let body = RequestBody {
        inner: Limited::new(body, limits.max_body),
        deadline: deadline.clone(),
    };
    let mut req = Request::from_parts(parts, Body::new(body));
    req.extensions_mut().insert(facts);
    let mut response = match tower_call(app, req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    if deadline.borrow().is_some() {
        // The application answered without reading the body to its end (a refusal, 413): the
        // rest would be taken for the next request, so the connection ends here.
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Whether `e` or one of its sources is a body over its length limit.
fn over_length_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(e);
    while let Some(e) = current {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        current = e.source();
    }
    false
}

async fn tower_call(mut app: Router, req: Request) -> Result<Response, Infallible> {
    use tower::Service;
    app.call(req).await
}
