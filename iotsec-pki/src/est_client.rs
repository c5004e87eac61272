//! A minimal EST client (RFC 7030 §4) over rustls TLS 1.3 for std devices and gateways: one
//! request per connection, HTTP/1.1 with Content-Length, responses parsed by `httparse`.
//! The CSR is built after the handshake so it can carry the RFC 9266 channel binding.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use crate::ca_error::CaError;
use crate::channel_binding::{EXPORTER_LABEL, EXPORTER_LEN};
use crate::est_message::{Base64Layout, encode_csr_body, parse_certs_only};

/// Hard cap on a response.
pub const MAX_RESPONSE: usize = 256 * 1024;

/// An HTTP response from the EST server.
#[derive(Debug, Clone)]
pub struct HttpReply {
    /// Status code.
    pub status: u16,
    /// Retry-After seconds, if sent.
    pub retry_after: Option<u32>,
    /// Body.
    pub body: Vec<u8>,
}

/// An EST server endpoint.
pub struct EstClient {
    config: Arc<ClientConfig>,
    host: String,
    port: u16,
    prefix: String,
}

fn io(e: impl core::fmt::Display) -> CaError {
    CaError::State(format!("EST client: {e}"))
}

impl EstClient {
    /// A client for `url` (`https://HOST:PORT[/.well-known/est[/LABEL]]`) with a TLS config.
    pub fn new(url: &str, config: Arc<ClientConfig>) -> Result<Self, CaError> {
        let rest = url
            .strip_prefix("https://")
            .ok_or_else(|| io("URL must start with https://"))?;
        let (authority, path) = rest
            .split_once('/')
            .map(|(a, p)| (a, format!("/{p}")))
            .unwrap_or((rest, String::new()));
        let (host, port) = authority
            .rsplit_once(':')
            .ok_or_else(|| io("URL needs HOST:PORT"))?;
        let port = port.parse().map_err(|_| io("bad port"))?;
        let prefix = if path.is_empty() || path == "/" {
            "/.well-known/est".to_owned()
        } else {
            path.trim_end_matches('/').to_owned()
        };
        Ok(Self {
            config,
            host: host.to_owned(),
            port,
            prefix,
        })
    }

    /// Sends one request; `body` is built from the session's tls-exporter value.
    pub fn send(
        &self,
        method: &str,
        operation: &str,
        basic: Option<(&str, &str)>,
        body: impl FnOnce(&[u8; EXPORTER_LEN]) -> Result<Option<Vec<u8>>, CaError>,
    ) -> Result<HttpReply, CaError> {
        let sock = TcpStream::connect((self.host.as_str(), self.port))?;
        sock.set_read_timeout(Some(Duration::from_secs(30)))?;
        let name = ServerName::try_from(self.host.clone()).map_err(io)?;
        let conn = ClientConnection::new(self.config.clone(), name).map_err(io)?;
        let mut tls = StreamOwned::new(conn, sock);
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock)?;
        }
        let mut exporter = [0u8; EXPORTER_LEN];
        tls.conn
            .export_keying_material(&mut exporter, EXPORTER_LABEL, None)
            .map_err(io)?;
        let payload = body(&exporter)?;
        let mut head = format!(
            "{method} {}/{operation} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.prefix, self.host
        );
        if let Some((u, p)) = basic {
            let cred = <base64ct::Base64 as base64ct::Encoding>::encode_string(
                format!("{u}:{p}").as_bytes(),
            );
            head.push_str(&format!("Authorization: Basic {cred}\r\n"));
        }
        let payload = payload.unwrap_or_default();
        if method == "POST" {
            head.push_str("Content-Type: application/pkcs10\r\n");
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", payload.len()));
        tls.write_all(head.as_bytes())?;
        tls.write_all(&payload)?;
        tls.flush()?;
        let mut raw = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match tls.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => raw.extend_from_slice(chunk.get(..n).unwrap_or_default()),
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(e.into()),
            }
            if raw.len() > MAX_RESPONSE {
                return Err(io("response too large"));
            }
        }
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut headers);
        let head_len = match resp.parse(&raw).map_err(io)? {
            httparse::Status::Complete(n) => n,
            httparse::Status::Partial => return Err(io("truncated response")),
        };
        let mut length = None;
        let mut retry_after = None;
        for h in resp.headers.iter() {
            let v = String::from_utf8_lossy(h.value).trim().to_owned();
            if h.name.eq_ignore_ascii_case("content-length") {
                length = v.parse::<usize>().ok();
            } else if h.name.eq_ignore_ascii_case("retry-after") {
                retry_after = v.parse().ok();
            }
        }
        let body = raw.get(head_len..).unwrap_or_default();
        let body = match length {
            Some(n) => body
                .get(..n)
                .ok_or_else(|| io("body shorter than Content-Length"))?,
            None => body,
        };
        Ok(HttpReply {
            status: resp.code.unwrap_or(0),
            retry_after,
            body: body.to_vec(),
        })
    }

    /// `GET /cacerts`: the CA certificates (DER).
    pub fn cacerts(&self) -> Result<Vec<Vec<u8>>, CaError> {
        let r = self.send("GET", "cacerts", None, |_| Ok(None))?;
        certs_of(&r)
    }

    /// `POST /simpleenroll` or `/simplereenroll` with a CSR built from the exporter value.
    pub fn enroll(
        &self,
        reenroll: bool,
        basic: Option<(&str, &str)>,
        make_csr: impl FnOnce(&[u8; EXPORTER_LEN]) -> Result<Vec<u8>, CaError>,
    ) -> Result<HttpReply, CaError> {
        let op = if reenroll {
            "simplereenroll"
        } else {
            "simpleenroll"
        };
        self.send("POST", op, basic, |x| {
            Ok(Some(
                encode_csr_body(&make_csr(x)?, Base64Layout::Lines64).into_bytes(),
            ))
        })
    }
}

/// The certificates (DER) of a 200 certs-only reply.
pub fn certs_of(r: &HttpReply) -> Result<Vec<Vec<u8>>, CaError> {
    use der::Encode;
    if r.status != 200 {
        return Err(io(format!(
            "HTTP {}: {}",
            r.status,
            String::from_utf8_lossy(&r.body).trim()
        )));
    }
    parse_certs_only(&r.body)?
        .iter()
        .map(|c| c.to_der().map_err(CaError::MalformedCsr))
        .collect()
}
