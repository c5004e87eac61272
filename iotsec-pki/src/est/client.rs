//! A minimal EST client (RFC 7030 §4) over rustls TLS 1.3 for std devices and gateways: one
//! request per connection, HTTP/1.1 with Content-Length, responses parsed by `httparse`.
//! The CSR is built after the handshake so it can carry the RFC 9266 channel binding.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use crate::ca::error::CaError;
use crate::device::channel_binding::{EXPORTER_LABEL, EXPORTER_LEN};
use crate::device::est_message::{Base64Layout, encode_csr_body, parse_certs_only};

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

/// Parses a whole HTTP/1.1 response (RFC 9112) as the server sent it on a connection it then
/// closed. The body is framed by `Content-Length`, which must be a single unsigned integer (or
/// the same value repeated) and must match the bytes received exactly; without it, the body runs
/// to the end of the connection, which is trusted only after a TLS close_notify
/// (`closed_cleanly`): otherwise an attacker on the path could truncate it.
pub fn parse_http_reply(raw: &[u8], closed_cleanly: bool) -> Result<HttpReply, CaError> {
    let bad = |msg: &str| io(format!("response: {msg}"));
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    let head_len = match resp.parse(raw) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err(bad("truncated head")),
        Err(e) => return Err(bad(&e.to_string())),
    };
    let mut length: Option<usize> = None;
    let mut retry_after = None;
    for h in resp.headers.iter() {
        let v = String::from_utf8_lossy(h.value).trim().to_owned();
        if h.name.eq_ignore_ascii_case("content-length") {
            match v.parse::<usize>() {
                Ok(n) if length.is_none() || length == Some(n) => length = Some(n),
                _ => return Err(bad("bad Content-Length")),
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(bad("Transfer-Encoding is not supported"));
        } else if h.name.eq_ignore_ascii_case("retry-after") {
            retry_after = v.parse().ok();
        }
    }
    let body = raw.get(head_len..).unwrap_or_default();
    let body = match length {
        Some(n) if body.len() == n => body,
        Some(n) if body.len() < n => return Err(bad("body shorter than Content-Length")),
        Some(_) => return Err(bad("bytes after the Content-Length body")),
        None if closed_cleanly => body,
        None => return Err(bad("connection ended without close_notify (truncated?)")),
    };
    Ok(HttpReply {
        status: resp.code.unwrap_or(0),
        retry_after,
        body: body.to_vec(),
    })
}

/// An EST server endpoint.
pub struct EstClient {
    config: Arc<ClientConfig>,
    host: String,
    port: u16,
    prefix: String,
}

fn io(e: impl core::fmt::Display) -> CaError {
    CaError::EstClientIo {
        reason: e.to_string(),
    }
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
        let closed_cleanly = loop {
            match tls.read(&mut chunk) {
                // rustls returns 0 only after the server's close_notify.
                Ok(0) => break true,
                Ok(n) => raw.extend_from_slice(chunk.get(..n).unwrap_or_default()),
                // The TCP connection ended without close_notify: the reply may be truncated.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break false,
                Err(e) => return Err(e.into()),
            }
            if raw.len() > MAX_RESPONSE {
                return Err(io("response too large"));
            }
        };
        parse_http_reply(&raw, closed_cleanly)
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
        .map(|c| c.to_der().map_err(CaError::Encoding))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn reply(raw: &str, clean: bool) -> Result<(u16, Vec<u8>), String> {
        parse_http_reply(raw.as_bytes(), clean)
            .map(|r| (r.status, r.body))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn bodies_are_framed_exactly_and_truncation_is_refused() {
        let ok = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
        assert_eq!(reply(ok, true), Ok((200, b"abc".to_vec())));
        // With Content-Length the TLS close need not be clean: the length proves the end.
        assert_eq!(reply(ok, false), Ok((200, b"abc".to_vec())));
        let twice = "HTTP/1.1 202 Accepted\r\nContent-Length: 1\r\nContent-Length: 1\r\nRetry-After: 7\r\n\r\nx";
        let r = parse_http_reply(twice.as_bytes(), true).unwrap();
        assert_eq!(
            (r.status, r.retry_after, r.body),
            (202, Some(7), b"x".to_vec())
        );
        let cases = [
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabc",
                true,
                "body shorter than Content-Length",
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabc",
                true,
                "bytes after the Content-Length body",
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\nabc",
                true,
                "bad Content-Length",
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc",
                true,
                "bad Content-Length",
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                true,
                "Transfer-Encoding is not supported",
            ),
            (
                "HTTP/1.1 200 OK\r\n\r\nabc",
                false,
                "connection ended without close_notify (truncated?)",
            ),
            ("HTTP/1.1 200 OK\r\nContent-Le", true, "truncated head"),
        ];
        for (raw, clean, why) in cases {
            assert_eq!(
                reply(raw, clean),
                Err(format!("EST client: response: {why}")),
                "{raw:?}"
            );
        }
        // Without Content-Length, a clean close ends the body.
        assert_eq!(
            reply("HTTP/1.1 200 OK\r\n\r\nabc", true),
            Ok((200, b"abc".to_vec()))
        );
    }
}
