//! Persistent EST connections (RFC 9112 §9.3) with real clients on loopback: curl reuses one TLS
//! connection for several EST requests, `openssl s_client` pipelines requests, and the server
//! closes when asked, after its per-connection cap, and after a request it could not frame.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
mod peers;

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::{acme_ca, copy_ca_certs, serve_in_background};
use iotsec_pki::ca_state::CaState;
use iotsec_pki::est_service::LabelPolicy;
use iotsec_pki::est_transport::{MAX_REQUESTS_PER_CONNECTION, bind_endpoint};
use peers::{have, run};

/// An EST server with the default label; returns (scratch dir with root.pem, port).
fn start(name: &str) -> (PathBuf, u16) {
    let (dir, state) = acme_ca(name);
    let mut labels = HashMap::new();
    labels.insert(String::new(), LabelPolicy::default());
    common::crypto_provider();
    let ep = bind_endpoint(CaState::open(&state).unwrap(), "127.0.0.1:0", labels).unwrap();
    let port = serve_in_background(ep);
    copy_ca_certs(&state, &dir);
    (dir, port)
}

/// curl fetches `paths` in one invocation; returns "status new-connections" per transfer.
fn curl_many(dir: &PathBuf, port: u16, extra: &[&str], paths: &[&str]) -> Vec<String> {
    let mut cmd = Command::new("curl");
    cmd.current_dir(dir)
        .args(["-sS", "--tlsv1.3", "--cacert", "root.pem"]);
    cmd.args(extra);
    for path in paths {
        cmd.args(["-o", "/dev/null", "-w", "%{http_code} %{num_connects}\\n"])
            .arg(format!("https://127.0.0.1:{port}/.well-known/est/{path}"));
    }
    let (ok, out) = run(&mut cmd);
    assert!(ok, "curl failed: {out}");
    out.lines().map(str::to_owned).collect()
}

/// Sends `requests` in one write over TLS 1.3 with `openssl s_client`, which keeps reading
/// until the server closes; returns the status line and Connection header of each response.
fn pipelined(dir: &PathBuf, port: u16, requests: &str) -> Vec<(String, String)> {
    let mut child = Command::new("openssl")
        .current_dir(dir)
        .args([
            "s_client", "-quiet", "-ign_eof", "-tls1_3", "-CAfile", "root.pem",
        ])
        .args(["-connect", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(requests.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut responses = Vec::new();
    // Bodies (base64 with LF line ends, plain text) never hold "HTTP/1.1 " or "Connection: ".
    for line in text.lines().map(|l| l.trim_end_matches('\r')) {
        if line.starts_with("HTTP/1.1 ") {
            responses.push((line.to_owned(), String::new()));
        } else if let Some(v) = line.strip_prefix("Connection: ")
            && let Some(last) = responses.last_mut()
        {
            last.1 = v.to_owned();
        }
    }
    responses
}

fn get(path: &str, extra_header: &str) -> String {
    format!("GET /.well-known/est/{path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra_header}\r\n")
}

#[test]
fn curl_reuses_one_tls_connection_for_several_est_requests() {
    if !have("curl") {
        return;
    }
    let (dir, port) = start("est-keepalive-curl");
    assert_eq!(
        curl_many(&dir, port, &[], &["cacerts", "csrattrs", "cacerts"]),
        ["200 1", "200 0", "200 0"],
        "the 2nd and 3rd transfers must need no new connection"
    );
    // A client that asks to close gets a fresh connection per request.
    assert_eq!(
        curl_many(
            &dir,
            port,
            &["-H", "Connection: close"],
            &["cacerts", "csrattrs"]
        ),
        ["200 1", "200 1"]
    );
}

#[test]
fn pipelined_requests_are_answered_in_order_and_close_ends_the_connection() {
    if !have("openssl") {
        return;
    }
    let (dir, port) = start("est-keepalive-pipeline");
    let ok = |c: &str| ("HTTP/1.1 200 OK".to_owned(), c.to_owned());
    // Three requests in one TLS record: the bytes past each request are kept for the next.
    let requests =
        get("cacerts", "") + &get("nope", "") + &get("csrattrs", "Connection: close\r\n");
    assert_eq!(
        pipelined(&dir, port, &requests),
        [
            ok("keep-alive"),
            ("HTTP/1.1 404 Not Found".to_owned(), "keep-alive".to_owned()),
            ok("close"),
        ]
    );
    // A request after `Connection: close` is never answered.
    let requests = get("cacerts", "Connection: close\r\n") + &get("cacerts", "");
    assert_eq!(pipelined(&dir, port, &requests), [ok("close")]);
    // HTTP/1.0 closes after one answer.
    let requests = "GET /.well-known/est/cacerts HTTP/1.0\r\n\r\n".to_owned() + &get("cacerts", "");
    assert_eq!(pipelined(&dir, port, &requests), [ok("close")]);
}

#[test]
fn the_connection_closes_after_its_cap_and_after_a_request_it_cannot_frame() {
    if !have("openssl") {
        return;
    }
    let (dir, port) = start("est-keepalive-cap");
    let requests: String = (0..MAX_REQUESTS_PER_CONNECTION + 3)
        .map(|_| get("csrattrs", ""))
        .collect();
    let answers = pipelined(&dir, port, &requests);
    assert_eq!(answers.len(), MAX_REQUESTS_PER_CONNECTION);
    assert!(
        answers[..MAX_REQUESTS_PER_CONNECTION - 1]
            .iter()
            .all(|(status, c)| status == "HTTP/1.1 200 OK" && c == "keep-alive"),
        "{answers:?}"
    );
    assert_eq!(
        answers[MAX_REQUESTS_PER_CONNECTION - 1],
        ("HTTP/1.1 200 OK".to_owned(), "close".to_owned())
    );
    // A chunked body cannot be framed without smuggling risk: 411, then the connection ends
    // (the chunk bytes are never read as a request).
    let requests = "POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_owned()
        + &get("cacerts", "");
    assert_eq!(
        pipelined(&dir, port, &requests),
        [(
            "HTTP/1.1 411 Length Required".to_owned(),
            "close".to_owned()
        )]
    );
}
