//! The EST server's transport: TCP + rustls (TLS 1.3) + HTTP/1.1 (parsed by `httparse`), one
//! thread per connection. Connections persist (RFC 9112 §9.3), so a device can fetch
//! `/cacerts`, `/csrattrs` and enroll over one TLS handshake, up to
//! [`MAX_REQUESTS_PER_CONNECTION`] requests and [`KEEP_ALIVE_IDLE`] between them; a client's
//! `Connection: close`, HTTP/1.0, or any request refused before it was read whole ends the
//! connection after the answer. Bodies are framed by Content-Length only (RFC 9112 §6.2; no
//! chunked bodies, so no smuggling) with hard caps. Decisions are made by [`EstService`].
//!
//! Slow clients are bounded as [`crate::est::admission`] describes: one deadline
//! ([`ServeLimits::deadline`]) covers the TLS handshake and the first request's head and body
//! (a client trickling a byte at a time is cut off), a new one each answer and the next
//! request; connections are admitted per address with a reserve for new addresses.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::{ServerConfig, ServerConnection};

use crate::device::channel_binding::{EXPORTER_LABEL, EXPORTER_LEN};
use crate::est::admission::{Admission, RefusalLog, ServeLimits};
use crate::est::service::{EstRequest, EstResponse, EstService, TlsFacts};

/// Hard cap on the request head.
pub const MAX_HEAD: usize = 16 * 1024;
/// Hard cap on a request body.
pub const MAX_BODY: usize = 64 * 1024;
/// Most requests served on one connection; the last one is answered with `Connection: close`.
pub const MAX_REQUESTS_PER_CONNECTION: usize = 32;
/// How long a persistent connection may wait for the whole next request before it is closed
/// (or [`ServeLimits::deadline`] if shorter).
pub const KEEP_ALIVE_IDLE: Duration = Duration::from_secs(5);
/// How long a whole request (head and body) may take to arrive in [`parse_request`]; the
/// servers use [`ServeLimits::deadline`].
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(30);

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

/// Serializes a response as HTTP/1.1 with Content-Length and `Connection: close`.
pub fn write_response(out: &mut impl Write, r: &EstResponse) -> std::io::Result<()> {
    write_response_with(out, r, false)
}

/// Serializes a response; `keep_alive` chooses `Connection: keep-alive` or `close`.
fn write_response_with(
    out: &mut impl Write,
    r: &EstResponse,
    keep_alive: bool,
) -> std::io::Result<()> {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Length: {}\r\nConnection: {connection}\r\n",
        r.status,
        reason(r.status),
        r.body.len()
    );
    for (k, v) in &r.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    // One write, so head and body leave in one TLS record (two small records wait on Nagle and
    // delayed ACKs); zeroized, as the body may hold a serverkeygen private key.
    let mut message = zeroize::Zeroizing::new(Vec::with_capacity(head.len() + r.body.len()));
    message.extend_from_slice(head.as_bytes());
    message.extend_from_slice(&r.body);
    out.write_all(&message)?;
    out.flush()
}

/// What one read from a connection produced.
enum Read1 {
    /// A whole request; `close` when the client asked to end the connection after it.
    Request { request: EstRequest, close: bool },
    /// A request refused before it was read whole (the connection's framing is lost).
    Reject(EstResponse),
    /// The client closed the connection between requests.
    Closed,
}

/// Whether the request asks to close the connection after it: HTTP/1.0, or a `Connection`
/// header listing `close` (RFC 9112 §9.3, §9.6).
fn wants_close(version: Option<u8>, headers: &[httparse::Header<'_>]) -> bool {
    version != Some(1)
        || headers.iter().any(|h| {
            h.name.eq_ignore_ascii_case("connection")
                && String::from_utf8_lossy(h.value)
                    .split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("close"))
        })
}

/// What [`parse_request`] made of the bytes a client sent.
#[derive(Debug)]
pub enum ParsedRequest {
    /// A whole request; `close` when the client asked to end the connection after it; `rest`
    /// holds the bytes that follow it (a pipelined next request).
    Request {
        /// The request.
        request: EstRequest,
        /// Whether the connection ends after the answer.
        close: bool,
        /// Bytes after the request.
        rest: Vec<u8>,
    },
    /// Refused before it was read whole (the answer the server sends, then it closes).
    Refused(EstResponse),
    /// Not a whole request yet.
    Incomplete,
}

/// Parses one request from `bytes` exactly as the server reads it from a connection (the
/// sans-IO entry point of the HTTP layer; fuzzed as `pki_http_request`).
pub fn parse_request(bytes: &[u8]) -> ParsedRequest {
    let mut reader = bytes;
    let mut carry = Vec::new();
    let framing = Framing {
        deadline: Instant::now() + REQUEST_DEADLINE,
        max_body: MAX_BODY,
    };
    match read_request(&mut reader, &mut carry, framing) {
        Ok(Read1::Request { request, close }) => {
            carry.extend_from_slice(reader);
            ParsedRequest::Request {
                request,
                close,
                rest: carry,
            }
        }
        Ok(Read1::Reject(r)) => ParsedRequest::Refused(r),
        Ok(Read1::Closed) | Err(_) => ParsedRequest::Incomplete,
    }
}

/// When a request must be in whole, and how large its body may be.
#[derive(Debug, Clone, Copy)]
struct Framing {
    deadline: Instant,
    max_body: usize,
}

/// Reads one request. `carry` holds bytes already received past the previous request (a
/// pipelining client) and, on return, those past this one.
fn read_request(
    stream: &mut impl Read,
    carry: &mut Vec<u8>,
    framing: Framing,
) -> std::io::Result<Read1> {
    let late = || Instant::now() > framing.deadline;
    let mut buf = std::mem::take(carry);
    let mut chunk = [0u8; 4096];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(head_len)) => {
                let mut out = EstRequest {
                    method: req.method.unwrap_or("").to_owned(),
                    path: req
                        .path
                        .unwrap_or("")
                        .split('?')
                        .next()
                        .unwrap_or("")
                        .to_owned(),
                    ..Default::default()
                };
                let mut length: Option<usize> = None;
                for h in req.headers.iter() {
                    let value = String::from_utf8_lossy(h.value).trim().to_owned();
                    if h.name.eq_ignore_ascii_case("content-type") {
                        out.content_type = Some(value);
                    } else if h.name.eq_ignore_ascii_case("authorization") {
                        out.authorization = Some(value);
                    } else if h.name.eq_ignore_ascii_case("content-length") {
                        match value.parse::<usize>() {
                            Ok(n) if length.is_none() || length == Some(n) => length = Some(n),
                            _ => return Ok(Read1::Reject(text(400, "bad Content-Length"))),
                        }
                    } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                        // Chunked bodies are not accepted: one framing only (no smuggling).
                        return Ok(Read1::Reject(text(411, "Content-Length required")));
                    }
                }
                let close = wants_close(req.version, req.headers);
                let length = length.unwrap_or(0);
                if length > framing.max_body {
                    return Ok(Read1::Reject(text(413, "body too large")));
                }
                let mut body = buf.get(head_len..).unwrap_or_default().to_vec();
                while body.len() < length {
                    let n = match stream.read(&mut chunk) {
                        Ok(n) => n,
                        Err(e) if is_timeout(&e) => {
                            return Ok(Read1::Reject(text(408, "request took too long")));
                        }
                        Err(e) => return Err(e),
                    };
                    if n == 0 {
                        return Ok(Read1::Reject(text(400, "truncated body")));
                    }
                    if late() {
                        return Ok(Read1::Reject(text(408, "request took too long")));
                    }
                    body.extend_from_slice(chunk.get(..n).unwrap_or_default());
                }
                *carry = body.split_off(length);
                out.body = body;
                return Ok(Read1::Request {
                    request: out,
                    close,
                });
            }
            Ok(httparse::Status::Partial) => {}
            Err(_) => return Ok(Read1::Reject(text(400, "malformed HTTP request"))),
        }
        if buf.len() > MAX_HEAD {
            return Ok(Read1::Reject(text(400, "request head too large")));
        }
        let n = match stream.read(&mut chunk) {
            Ok(n) => n,
            // The deadline passed while part of a request was in: say so before closing.
            Err(e) if is_timeout(&e) && !buf.is_empty() => {
                return Ok(Read1::Reject(text(408, "request took too long")));
            }
            Err(e) => return Err(e),
        };
        if n == 0 {
            if buf.is_empty() {
                return Ok(Read1::Closed);
            }
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if late() {
            return Ok(Read1::Reject(text(408, "request took too long")));
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    )
}

/// The socket, read and written only until `deadline`: each read or write waits at most the
/// time left, so a client trickling bytes cannot stretch a handshake or a request.
struct DeadlineIo<'a> {
    sock: &'a mut TcpStream,
    deadline: Instant,
}

impl DeadlineIo<'_> {
    fn time_left(&self) -> std::io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        Ok(left)
    }
}

impl Read for DeadlineIo<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.time_left()?;
        self.sock.set_read_timeout(Some(left))?;
        self.sock.read(buf)
    }
}

impl Write for DeadlineIo<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let left = self.time_left()?;
        self.sock.set_write_timeout(Some(left))?;
        self.sock.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.sock.flush()
    }
}

fn text(status: u16, msg: &str) -> EstResponse {
    EstResponse {
        status,
        headers: vec![("Content-Type", "text/plain; charset=utf-8".into())],
        body: format!("{msg}\n").into_bytes().into(),
    }
}

/// Serves one TLS connection within [`ServeLimits::default`].
pub fn serve_connection(
    sock: TcpStream,
    config: Arc<ServerConfig>,
    service: &EstService,
) -> std::io::Result<()> {
    serve_connection_deciding(
        sock,
        config,
        &ServeLimits::default(),
        Instant::now(),
        &|request, facts| service.handle(request, facts, time::OffsetDateTime::now_utc()),
    )
}

/// Serves one TLS connection accepted at `accepted`; `decide` answers each request (a
/// reloading server gives each request the service current when it arrives).
fn serve_connection_deciding(
    mut sock: TcpStream,
    config: Arc<ServerConfig>,
    limits: &ServeLimits,
    accepted: Instant,
    decide: &dyn Fn(&EstRequest, &TlsFacts) -> EstResponse,
) -> std::io::Result<()> {
    let mut deadline = accepted + limits.deadline;
    let peer = sock.peer_addr().ok();
    let mut conn = ServerConnection::new(config).map_err(std::io::Error::other)?;
    while conn.is_handshaking() {
        conn.complete_io(&mut DeadlineIo {
            sock: &mut sock,
            deadline,
        })?;
    }
    let mut facts = TlsFacts {
        client_cert: conn
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.to_vec()),
        exporter: None,
        peer,
    };
    let mut exporter = [0u8; EXPORTER_LEN];
    if conn
        .export_keying_material(&mut exporter, EXPORTER_LABEL, None)
        .is_ok()
    {
        facts.exporter = Some(exporter);
    }
    let mut carry = Vec::new();
    let max_requests = limits.max_requests_per_connection.max(1);
    for served in 1..=max_requests {
        let mut io = DeadlineIo {
            sock: &mut sock,
            deadline,
        };
        let framing = Framing {
            deadline,
            max_body: limits.max_body,
        };
        let read = match read_request(
            &mut rustls::Stream::new(&mut conn, &mut io),
            &mut carry,
            framing,
        ) {
            Ok(read) => read,
            // The first request must arrive; a later one may time out or be cut: that only
            // ends the connection.
            Err(e) if served == 1 => return Err(e),
            Err(_) => break,
        };
        let (response, keep_alive) = match read {
            Read1::Request { request, close } => {
                (decide(&request, &facts), !close && served < max_requests)
            }
            Read1::Reject(r) => (r, false),
            Read1::Closed => break,
        };
        // A new deadline for sending the answer and reading the next request whole.
        deadline = Instant::now() + limits.deadline.min(KEEP_ALIVE_IDLE);
        let mut io = DeadlineIo {
            sock: &mut sock,
            deadline,
        };
        write_response_with(
            &mut rustls::Stream::new(&mut conn, &mut io),
            &response,
            keep_alive,
        )?;
        if !keep_alive {
            break;
        }
    }
    conn.send_close_notify();
    let _ = conn.complete_io(&mut DeadlineIo {
        sock: &mut sock,
        deadline: Instant::now() + Duration::from_secs(1),
    });
    Ok(())
}

/// Upper bound on connections served at once by [`serve`] (and, separately, by
/// [`serve_crl`]); further connections are closed at once (a flood cannot exhaust threads or
/// memory).
pub const MAX_CONNECTIONS: usize = 512;

/// A counted set of connection slots: a connection runs only while it holds one.
#[derive(Debug, Clone)]
pub struct ConnectionSlots {
    active: Arc<std::sync::atomic::AtomicUsize>,
    limit: usize,
}

/// A held slot; dropping it frees the slot.
#[derive(Debug)]
pub struct ConnectionSlot {
    active: Arc<std::sync::atomic::AtomicUsize>,
}

impl ConnectionSlots {
    /// At most `limit` slots held at once.
    pub fn new(limit: usize) -> Self {
        ConnectionSlots {
            active: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            limit,
        }
    }

    /// A slot, or `None` when all are held.
    pub fn try_acquire(&self) -> Option<ConnectionSlot> {
        use std::sync::atomic::Ordering;
        let mut current = self.active.load(Ordering::Acquire);
        loop {
            if current >= self.limit {
                return None;
            }
            match self.active.compare_exchange_weak(
                current,
                current + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    return Some(ConnectionSlot {
                        active: self.active.clone(),
                    });
                }
                Err(now) => current = now,
            }
        }
    }

    /// How many slots are held.
    pub fn held(&self) -> usize {
        self.active.load(std::sync::atomic::Ordering::Acquire)
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.active
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// The TLS configuration a new connection's handshake uses, as of now.
pub type CurrentConfig = dyn Fn() -> Arc<ServerConfig> + Send + Sync;
/// The service that decides the next request, as of now.
pub type CurrentService = dyn Fn() -> Arc<EstService> + Send + Sync;

/// Accepts connections forever, one thread each, within [`ServeLimits::default`].
pub fn serve(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    service: Arc<EstService>,
) -> std::io::Result<()> {
    serve_limited(listener, config, service, ServeLimits::default())
}

/// [`serve`] within `limits`.
pub fn serve_limited(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    service: Arc<EstService>,
    limits: ServeLimits,
) -> std::io::Result<()> {
    serve_current_limited(
        listener,
        Arc::new(move || config.clone()),
        Arc::new(move || service.clone()),
        limits,
    )
}

/// [`serve`] taking, for each handshake, the configuration `config` gives then and, for each
/// request, the service `service` gives then (a server that reloads its state,
/// [`crate::est::reload`]).
pub fn serve_current(
    listener: TcpListener,
    config: Arc<CurrentConfig>,
    service: Arc<CurrentService>,
) -> std::io::Result<()> {
    serve_current_limited(listener, config, service, ServeLimits::default())
}

/// [`serve_current`] within `limits`.
pub fn serve_current_limited(
    listener: TcpListener,
    config: Arc<CurrentConfig>,
    service: Arc<CurrentService>,
    limits: ServeLimits,
) -> std::io::Result<()> {
    let admission = Admission::new(&limits);
    let mut refusals = RefusalLog::new();
    let limits = Arc::new(limits);
    for sock in listener.incoming() {
        let accepted = Instant::now();
        let Ok(sock) = sock else { continue };
        let Ok(peer) = sock.peer_addr() else { continue };
        let admitted = match admission.try_admit(peer.ip()) {
            Ok(admitted) => admitted,
            Err(refusal) => {
                refusals.refused(peer, refusal);
                continue;
            }
        };
        let (config, service, limits) = (config.clone(), service.clone(), limits.clone());
        std::thread::spawn(move || {
            // Taken here, not on the accepting thread: a reload it triggers delays only this
            // connection.
            let config = config();
            let _ =
                serve_connection_deciding(sock, config, &limits, accepted, &|request, facts| {
                    service().handle(request, facts, time::OffsetDateTime::now_utc())
                });
            drop(admitted);
        });
    }
    Ok(())
}

pub use crate::est::service::crl_name;

/// Serves the CRL over plain HTTP (RFC 5280 §4.2.1.13 distribution points are `http` URIs;
/// the CRL is signed, so no TLS is needed): `GET PATH` gets the CRL of the CA whose CRL URL
/// has PATH (after a rotation the old and the new key each have their own,
/// [`EstService::ca_for_crl_path`]); other paths as [`crl_name`] says (any path ending in
/// `.crl` or `.der` gets the default CA's CRL; `/crl/NAME.der` or `/crl/NAME.crl` the CRL of
/// the intermediate NAME, 404 if there is none), one request per connection, at most
/// [`MAX_CONNECTIONS`] at once, 10 s per read or write. A root CRL the service publishes
/// ([`EstService::with_root_crl`]) is served at its own path first.
pub fn serve_crl(listener: TcpListener, service: Arc<EstService>) -> std::io::Result<()> {
    serve_crl_current(listener, Arc::new(move || service.clone()))
}

/// [`serve_crl`] answering each request from the service `service` gives then.
pub fn serve_crl_current(
    listener: TcpListener,
    service: Arc<CurrentService>,
) -> std::io::Result<()> {
    let slots = ConnectionSlots::new(MAX_CONNECTIONS);
    for sock in listener.incoming() {
        let Ok(mut sock) = sock else { continue };
        let Some(slot) = slots.try_acquire() else {
            drop(sock);
            continue;
        };
        let service = service.clone();
        std::thread::spawn(move || {
            let _ = sock.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = sock.set_write_timeout(Some(Duration::from_secs(10)));
            let framing = Framing {
                deadline: Instant::now() + Duration::from_secs(10),
                max_body: MAX_BODY,
            };
            let response = match read_request(&mut sock, &mut Vec::new(), framing) {
                Ok(Read1::Request { request, .. }) => {
                    service().handle_crl_at(&request, time::OffsetDateTime::now_utc())
                }
                Ok(Read1::Reject(r)) => r,
                Ok(Read1::Closed) | Err(_) => return,
            };
            let _ = write_response(&mut sock, &response);
            drop(slot);
        });
    }
    Ok(())
}

/// A bound, configured EST server ready for [`serve`].
pub struct EstEndpoint {
    /// The listening socket.
    pub listener: TcpListener,
    /// TLS 1.3 configuration (server certificate issued by the CA at startup).
    pub config: Arc<ServerConfig>,
    /// The decisions.
    pub service: Arc<EstService>,
}

/// Binds `addr`, issues the server's own TLS certificate from the CA (for `127.0.0.1` and
/// `localhost`), and trusts client certificates chaining to the root, with the current CRL.
pub fn bind_endpoint(
    ca: crate::ca::state::CaState,
    addr: &str,
    labels: std::collections::HashMap<String, crate::est::service::LabelPolicy>,
) -> Result<EstEndpoint, crate::ca::error::CaError> {
    bind_endpoint_with(ca, Vec::new(), addr, labels)
}

/// [`bind_endpoint`] with more issuing intermediates (name, CA) under the same root, for labels
/// that name them; the TLS layer checks client certificates against every intermediate's CRL.
/// A label naming a CA that is not given is refused here.
pub fn bind_endpoint_with(
    ca: crate::ca::state::CaState,
    intermediates: Vec<(String, crate::ca::state::CaState)>,
    addr: &str,
    labels: std::collections::HashMap<String, crate::est::service::LabelPolicy>,
) -> Result<EstEndpoint, crate::ca::error::CaError> {
    let certified = Arc::new(issue_server_identity(&ca)?);
    let (config, service) = assemble_generation(ca, intermediates, labels, certified)?;
    let listener = TcpListener::bind(addr)?;
    Ok(EstEndpoint {
        listener,
        config,
        service: Arc::new(service),
    })
}

/// The server's own TLS certificate, issued by `ca` for `127.0.0.1` and `localhost`, with
/// its key, as rustls holds them.
pub fn issue_server_identity(
    ca: &crate::ca::state::CaState,
) -> Result<rustls::sign::CertifiedKey, crate::ca::error::CaError> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let (cert, key) = ca
        .authority
        .issue_server_cert(&["127.0.0.1", "localhost"], time::OffsetDateTime::now_utc())?;
    let chain = vec![
        CertificateDer::from(cert),
        CertificateDer::from(ca.authority.intermediate_der().to_vec()),
    ];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.to_vec()));
    crate::est::tls_config::server_certified_key(
        &*crate::est::tls_config::process_provider()?,
        chain,
        key,
    )
}

/// One consistent serving state: the TLS configuration (client certificates checked against
/// the root of `ca` and a CRL signed now by every CA; those of a CA the root revoked refused)
/// and the EST service over the same CAs.
/// Refused if an intermediate has another root or a label names a CA that is not given.
pub fn assemble_generation(
    mut ca: crate::ca::state::CaState,
    mut intermediates: Vec<(String, crate::ca::state::CaState)>,
    labels: std::collections::HashMap<String, crate::est::service::LabelPolicy>,
    certified: Arc<rustls::sign::CertifiedKey>,
) -> Result<(Arc<ServerConfig>, EstService), crate::ca::error::CaError> {
    use rustls::pki_types::{CertificateDer, CertificateRevocationListDer};
    let now = time::OffsetDateTime::now_utc();
    let root = CertificateDer::from(ca.authority.root_der().to_vec());
    let mut crls = vec![CertificateRevocationListDer::from(ca.crl(now)?)];
    for (_, other) in intermediates.iter_mut() {
        if other.authority.root_der() != ca.authority.root_der() {
            return Err(crate::ca::error::CaError::MixedRoots);
        }
        crls.push(CertificateRevocationListDer::from(other.crl(now)?));
    }
    // The root's revocation of an intermediate refuses its certificates at the handshake.
    let revoked_issuers: Vec<&[u8]> = std::iter::once(&ca)
        .chain(intermediates.iter().map(|(_, c)| c))
        .filter(|c| c.revoked_by_root())
        .map(|c| c.authority.intermediate_der())
        .collect();
    let config = crate::est::tls_config::server_config_presenting(
        crate::est::tls_config::process_provider()?,
        certified,
        &[root],
        crls,
        &revoked_issuers,
        crate::est::tls_config::ClientAuth::Optional,
    )?;
    let mut service = EstService::new(ca, labels);
    for (name, other) in intermediates {
        service = service.with_intermediate(name, other);
    }
    let missing = service.labels_without_ca();
    if !missing.is_empty() {
        return Err(crate::ca::error::CaError::LabelsWithoutCa { labels: missing });
    }
    Ok((Arc::new(config), service))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn requests_parse_with_their_framing_and_pipelined_rest() {
        let two = b"POST /.well-known/est/simpleenroll HTTP/1.1\r\nContent-Length: 3\r\nContent-Type: application/pkcs10\r\n\r\nabcGET /x HTTP/1.1\r\n\r\n";
        let ParsedRequest::Request {
            request,
            close,
            rest,
        } = parse_request(two)
        else {
            panic!("not a request");
        };
        assert_eq!(
            (
                request.method.as_str(),
                request.path.as_str(),
                request.body.as_slice(),
                close
            ),
            ("POST", "/.well-known/est/simpleenroll", &b"abc"[..], false)
        );
        assert_eq!(rest, b"GET /x HTTP/1.1\r\n\r\n");
        let ParsedRequest::Request { close, .. } = parse_request(b"GET / HTTP/1.0\r\n\r\n") else {
            panic!("not a request");
        };
        assert!(close);
        for (bytes, status) in [
            (
                &b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
                411,
            ),
            (
                b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                400,
            ),
            (b"GET / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", 413),
            (b"\x00\x01 garbage\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", 400),
        ] {
            match parse_request(bytes) {
                ParsedRequest::Refused(r) => assert_eq!(r.status, status, "{bytes:?}"),
                other => panic!("{bytes:?}: {other:?}"),
            }
        }
        assert!(matches!(
            parse_request(b"GET / HTTP/1.1\r\nHost"),
            ParsedRequest::Incomplete
        ));
    }

    #[test]
    fn connection_slots_are_bounded_and_freed_on_drop() {
        let slots = ConnectionSlots::new(2);
        let a = slots.try_acquire().unwrap();
        let b = slots.try_acquire().unwrap();
        assert!(slots.try_acquire().is_none());
        assert_eq!(slots.held(), 2);
        drop(a);
        let c = slots.try_acquire().unwrap();
        assert!(slots.try_acquire().is_none());
        drop((b, c));
        assert_eq!(slots.held(), 0);
    }

    #[test]
    fn crl_paths_name_their_ca() {
        let cases = [
            ("/crl.der", Some("")),
            ("/ca.crl", Some("")),
            ("/crl/ldev.der", Some("ldev")),
            ("/crl/ldev.crl", Some("ldev")),
            ("/crl/.der", None),
            ("/crl/a/b.der", None),
            ("/crl/ldev.pem", None),
            ("/", None),
        ];
        for (path, name) in cases {
            assert_eq!(crl_name(path), name, "{path}");
        }
    }
}
