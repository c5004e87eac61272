//! The EST server driven by clients we did not write: curl + OpenSSL on loopback.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
mod peers;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{acme_ca, acme_ca_at, copy_ca_certs, serve_in_background, write_pem};
use iotsec_pki::authority::IssuedCertificate;
use iotsec_pki::ca_state::{CaState, add_intermediate, enable_devid};
use iotsec_pki::devid::{DevIdKind, DevIdProfile, DeviceIdentity};
use iotsec_pki::est_message::Base64Layout;
use iotsec_pki::est_service::{BindingPolicy, LabelPolicy};
use iotsec_pki::est_transport::{bind_endpoint, bind_endpoint_with};
use peers::{
    have, openssl, openssl_crl_text, openssl_csr, openssl_self_signed, openssl_serial,
    openssl_verify, run, verify_client, verify_with_crl,
};
use time::OffsetDateTime;

struct Server {
    dir: PathBuf,
    state: PathBuf,
    port: u16,
}

fn start(name: &str, labels: HashMap<String, LabelPolicy>) -> Server {
    let (dir, state) = acme_ca(name);
    common::crypto_provider();
    let ep = bind_endpoint(CaState::open(&state).unwrap(), "127.0.0.1:0", labels).unwrap();
    let port = serve_in_background(ep);
    copy_ca_certs(&state, &dir);
    Server { dir, state, port }
}

fn default_labels() -> HashMap<String, LabelPolicy> {
    let basic = LabelPolicy {
        basic: Some(("dev".into(), "s3cret".into())),
        client_cert_auth: true,
        binding: BindingPolicy::Optional,
        ..Default::default()
    };
    let mut m = HashMap::new();
    m.insert(String::new(), basic.clone());
    m.insert(
        "oneline".into(),
        LabelPolicy {
            layout: Base64Layout::OneLine,
            ..basic.clone()
        },
    );
    m.insert(
        "manual".into(),
        LabelPolicy {
            manual_approval: true,
            ..basic.clone()
        },
    );
    m.insert(
        "bound".into(),
        LabelPolicy {
            binding: BindingPolicy::Required,
            ..basic
        },
    );
    m
}

/// curl; returns (http status, body).
fn curl(dir: &Path, args: &[&str]) -> (u16, String, String) {
    let mut cmd = Command::new("curl");
    cmd.current_dir(dir)
        .args([
            "-sS",
            "--tlsv1.3",
            "--cacert",
            "root.pem",
            "-D",
            "headers.txt",
            "-o",
            "body.txt",
            "-w",
            "%{http_code}",
        ])
        .args(args);
    let (ok, out) = run(&mut cmd);
    assert!(ok, "curl failed: {out}");
    let body = std::fs::read_to_string(dir.join("body.txt")).unwrap_or_default();
    let headers = std::fs::read_to_string(dir.join("headers.txt")).unwrap_or_default();
    (out.trim().parse().unwrap(), body, headers)
}

/// HTTP Basic credentials of the default labels, as curl arguments.
const BASIC: &[&str] = &["-u", "dev:s3cret"];
/// The client certificate (with its chain) enrolled as `dev.pem`, as curl arguments.
const DEV_TLS: &[&str] = &["--cert", "devchain.pem", "--key", "dev.key"];

/// curl POSTs the file `body` as `content_type` with the credentials `auth` to `url`.
fn post(
    dir: &Path,
    auth: &[&str],
    content_type: &str,
    body: &Path,
    url: &str,
) -> (u16, String, String) {
    let data = format!("@{}", body.display());
    let mut args = auth.to_vec();
    args.extend_from_slice(&["-H", content_type, "--data-binary", &data, url]);
    curl(dir, &args)
}

/// curl POSTs the base64 PKCS#10 request in `csr` with the credentials `auth` to `url`.
fn enroll(dir: &Path, auth: &[&str], csr: &Path, url: &str) -> (u16, String, String) {
    post(dir, auth, P10, csr, url)
}

/// Writes the PEM file `cert` followed by `int` to `out`: a client certificate chain.
fn write_chain(dir: &Path, cert: &str, int: &str, out: &str) {
    let mut chain = std::fs::read_to_string(dir.join(cert)).unwrap();
    chain.push_str(&std::fs::read_to_string(dir.join(int)).unwrap());
    std::fs::write(dir.join(out), chain).unwrap();
}

/// The CA issues the DER CSR file `csr` of `dir` now.
fn issue_file(ca: &mut CaState, dir: &Path, csr: &str) -> IssuedCertificate {
    ca.issue_csr(
        &std::fs::read(dir.join(csr)).unwrap(),
        OffsetDateTime::now_utc(),
    )
    .unwrap()
}

/// A CA without a server (certificates copied beside) and a CSR `{csr}.csr.der` for
/// `CN={csr}-1`: (dir, state, CA).
fn ca_with_csr(name: &str, csr: &str) -> (PathBuf, PathBuf, CaState) {
    let (dir, state) = acme_ca(name);
    copy_ca_certs(&state, &dir);
    let ca = CaState::open(&state).unwrap();
    make_csr(&dir, csr, &format!("/CN={csr}-1"), &[]);
    (dir, state, ca)
}

/// A P-256 key `{name}.key` and its CSR `{name}.csr.der`; returns the base64 file `{name}.b64`.
fn make_csr(dir: &Path, name: &str, subj: &str, extra: &[&str]) -> PathBuf {
    let der = format!("{name}.csr.der");
    openssl_csr(dir, &format!("{name}.key"), &der, subj, extra);
    b64_file(dir, &der, &format!("{name}.b64"))
}

fn csr_with_key(dir: &Path, name: &str, key: &str, subj: &str, extra: &[&str]) -> PathBuf {
    let der = format!("{name}.csr.der");
    let mut args = vec![
        "req", "-new", "-key", key, "-subj", subj, "-outform", "DER", "-out", &der,
    ];
    args.extend_from_slice(extra);
    let (ok, out) = openssl(dir, &args);
    assert!(ok, "{out}");
    b64_file(dir, &der, &format!("{name}.b64"))
}

fn b64_file(dir: &Path, der: &str, out: &str) -> PathBuf {
    let (ok, o) = openssl(dir, &["base64", "-in", der, "-out", out]);
    assert!(ok, "{o}");
    dir.join(out)
}

/// Turns a certs-only base64 body into PEM certificates with `openssl pkcs7 -print_certs`.
fn p7_to_pem(dir: &Path, body: &str, out: &str) -> String {
    std::fs::write(dir.join("resp.b64"), body).unwrap();
    let (ok, o) = openssl(
        dir,
        &["base64", "-d", "-in", "resp.b64", "-out", "resp.der"],
    );
    assert!(ok, "{o}");
    let (ok, o) = openssl(
        dir,
        &[
            "pkcs7",
            "-inform",
            "DER",
            "-in",
            "resp.der",
            "-print_certs",
            "-out",
            out,
        ],
    );
    assert!(ok, "openssl pkcs7 rejected our body: {o}");
    std::fs::read_to_string(dir.join(out)).unwrap()
}

const P10: &str = "Content-Type: application/pkcs10";

#[test]
fn curl_and_openssl_enroll_reenroll_and_are_refused_when_they_should_be() {
    if !have("curl") || !have("openssl") {
        return;
    }
    let s = start("est-curl", default_labels());
    let d = &s.dir;
    let base = format!("https://127.0.0.1:{}/.well-known/est", s.port);
    let simpleenroll = format!("{base}/simpleenroll");
    let manual = format!("{base}/manual/simpleenroll");
    let reenroll = format!("{base}/simplereenroll");

    // cacerts: parsed by openssl pkcs7, 64-column lines by default, one line on the label.
    let (st, body, headers) = curl(d, &[&format!("{base}/cacerts")]);
    assert_eq!(st, 200, "{body}");
    assert!(
        headers
            .to_ascii_lowercase()
            .contains("content-type: application/pkcs7-mime"),
        "{headers}"
    );
    assert!(
        headers.to_ascii_lowercase().contains("content-length:"),
        "{headers}"
    );
    assert!(body.lines().all(|l| l.len() <= 64) && body.ends_with('\n'));
    let pems = p7_to_pem(d, &body, "cacerts.pem");
    assert_eq!(pems.matches("BEGIN CERTIFICATE").count(), 2);
    assert!(
        pems.contains("Acme Root CA") && pems.contains("Acme Issuing CA"),
        "{pems}"
    );
    let (st, body, _) = curl(d, &[&format!("{base}/oneline/cacerts")]);
    assert_eq!(st, 200);
    assert_eq!(body.lines().count(), 1);

    // simpleenroll with Basic auth; the CSR asks for cA=TRUE and gets an end-entity cert.
    let csr = make_csr(
        d,
        "dev",
        "/CN=dev-0001",
        &[
            "-addext",
            "subjectAltName=DNS:dev-0001.devices.invalid",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
        ],
    );
    let (st, body, _) = enroll(d, BASIC, &csr, &simpleenroll);
    assert_eq!(st, 200, "{body}");
    p7_to_pem(d, &body, "dev.pem");
    let (ok, out) = verify_client(d, "int.pem", "dev.pem");
    assert!(ok, "{out}");
    let (_, text) = openssl(d, &["x509", "-in", "dev.pem", "-noout", "-text"]);
    assert!(
        text.contains("CA:FALSE") && !text.contains("CA:TRUE"),
        "{text}"
    );

    // Negatives: no auth -> 401 + WWW-Authenticate; wrong password -> 401; wrong type -> 415.
    let (st, _, headers) = enroll(d, &[], &csr, &simpleenroll);
    assert_eq!(st, 401);
    assert!(headers.contains("WWW-Authenticate: Basic"), "{headers}");
    let (st, _, _) = enroll(d, &["-u", "dev:wrong"], &csr, &simpleenroll);
    assert_eq!(st, 401);
    let (st, _, _) = post(d, BASIC, "Content-Type: text/plain", &csr, &simpleenroll);
    assert_eq!(st, 415);
    // A CSR with a broken signature -> 400.
    let mut der = std::fs::read(d.join("dev.csr.der")).unwrap();
    let pos = der.windows(8).position(|w| w == b"dev-0001").unwrap();
    der[pos] ^= 1;
    std::fs::write(d.join("bad.der"), &der).unwrap();
    let bad = b64_file(d, "bad.der", "bad.b64");
    let (st, body, _) = enroll(d, BASIC, &bad, &simpleenroll);
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("signature"), "{body}");

    // Manual approval label: 202 with an integer Retry-After.
    let (st, _, headers) = enroll(d, BASIC, &csr, &manual);
    assert_eq!(st, 202);
    let retry = headers
        .lines()
        .find_map(|l| l.strip_prefix("Retry-After: "))
        .unwrap();
    retry.trim().parse::<u32>().unwrap();
    // Retrying before approval: 202 again, still one queued request; after approval: issued.
    let (st, body, _) = enroll(d, BASIC, &csr, &manual);
    assert_eq!(st, 202);
    assert!(body.contains("request 1 "), "{body}");
    {
        use iotsec_pki::store::ApprovalStore;
        let mut ca = CaState::open(&s.state).unwrap();
        assert!(ca.store.approve_pending(1).unwrap());
    }
    let (st, body, _) = enroll(d, BASIC, &csr, &manual);
    assert_eq!(st, 200, "{body}");

    // Required channel binding: a plain password is refused.
    let (st, _, _) = enroll(d, BASIC, &csr, &format!("{base}/bound/simpleenroll"));
    assert_eq!(st, 400);

    // simplereenroll with the TLS client certificate: same subject+SAN, same key (renew).
    write_chain(d, "dev.pem", "int.pem", "devchain.pem");
    let same_san = ["-addext", "subjectAltName=DNS:dev-0001.devices.invalid"];
    let renew = csr_with_key(d, "renew", "dev.key", "/CN=dev-0001", &same_san);
    let (st, body, _) = enroll(d, DEV_TLS, &renew, &reenroll);
    assert_eq!(st, 200, "{body}");
    p7_to_pem(d, &body, "renewed.pem");
    // New key (rekey) is allowed too.
    let rekey = make_csr(d, "rekey", "/CN=dev-0001", &same_san);
    let (st, body, _) = enroll(d, DEV_TLS, &rekey, &reenroll);
    assert_eq!(st, 200, "{body}");
    // Changed subject -> refused; changed SAN -> refused; no client cert -> 401.
    let other = csr_with_key(d, "other", "dev.key", "/CN=dev-9999", &same_san);
    let (st, body, _) = enroll(d, DEV_TLS, &other, &reenroll);
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("subject"), "{body}");
    let other_san = csr_with_key(
        d,
        "othersan",
        "dev.key",
        "/CN=dev-0001",
        &["-addext", "subjectAltName=DNS:dev-0002.devices.invalid"],
    );
    let (st, _, _) = enroll(d, DEV_TLS, &other_san, &reenroll);
    assert_eq!(st, 400);
    let (st, _, _) = enroll(d, BASIC, &renew, &reenroll);
    assert_eq!(st, 401);

    // Revoke the client certificate: re-enroll is refused, and openssl -crl_check rejects it.
    let serial = openssl_serial(d, "dev.pem");
    let mut ca = CaState::open(&s.state).unwrap();
    assert!(ca.revoke(&serial, 1, OffsetDateTime::now_utc()).unwrap());
    let (st, body, _) = enroll(d, DEV_TLS, &renew, &reenroll);
    assert_eq!(st, 403, "{body}");
    assert!(body.contains("revoked"), "{body}");
    let crl = ca.crl(OffsetDateTime::now_utc()).unwrap();
    write_pem(d, "crl.pem", "X509 CRL", &crl);
    let (ok, out) = verify_with_crl(d, "int.pem", "crl.pem", "dev.pem");
    assert!(!ok && out.contains("certificate revoked"), "{out}");
    let (ok, out) = verify_with_crl(d, "int.pem", "crl.pem", "renewed.pem");
    assert!(ok, "renewed cert must stay valid: {out}");

    // serverkeygen (RFC 7030 §4.4): multipart with a PKCS#8 key and the certificate for it.
    let (st, body, headers) = enroll(d, BASIC, &csr, &format!("{base}/serverkeygen"));
    assert_eq!(st, 200, "{body}");
    assert!(headers.contains("multipart/mixed; boundary="), "{headers}");
    let parts: Vec<&str> = body.split("--iotsec-est-boundary").collect();
    let key_part = parts
        .iter()
        .find(|p| p.contains("application/pkcs8"))
        .unwrap();
    let cert_part = parts
        .iter()
        .find(|p| p.contains("smime-type=certs-only"))
        .unwrap();
    let payload = |p: &str| p.split_once("\r\n\r\n").unwrap().1.to_owned();
    std::fs::write(d.join("kg.key.b64"), payload(key_part)).unwrap();
    let (ok, o) = openssl(
        d,
        &["base64", "-d", "-in", "kg.key.b64", "-out", "kg.key.der"],
    );
    assert!(ok, "{o}");
    p7_to_pem(d, &payload(cert_part), "kg.pem");
    let (ok1, key_pub) = openssl(
        d,
        &["pkey", "-inform", "DER", "-in", "kg.key.der", "-pubout"],
    );
    let (ok2, cert_pub) = openssl(d, &["x509", "-in", "kg.pem", "-noout", "-pubkey"]);
    assert!(ok1 && ok2, "{key_pub} {cert_pub}");
    assert_eq!(
        key_pub, cert_pub,
        "returned key does not match the certificate"
    );
    let (_, text) = openssl(d, &["x509", "-in", "kg.pem", "-noout", "-subject"]);
    assert!(text.contains("dev-0001"), "{text}");
    let (st, _, _) = curl(d, &[&format!("{base}/nope")]);
    assert_eq!(st, 404);
    let (st, body, _) = curl(d, &[&format!("{base}/csrattrs")]);
    assert_eq!(st, 200, "{body}");
}

#[test]
fn tls12_is_refused() {
    if !have("curl") {
        return;
    }
    let s = start("est-tls12", default_labels());
    let mut cmd = Command::new("curl");
    cmd.current_dir(&s.dir).args([
        "-sS",
        "--tls-max",
        "1.2",
        "--cacert",
        "root.pem",
        &format!("https://127.0.0.1:{}/.well-known/est/cacerts", s.port),
    ]);
    let (ok, out) = run(&mut cmd);
    assert!(!ok, "TLS 1.2 handshake succeeded: {out}");
}

/// RFC 9266: the exporter value our server checks equals the one OpenSSL exports for the same
/// session (`openssl s_client -keymatexport EXPORTER-Channel-Binding -keymatexportlen 32`):
/// a CSR carrying OpenSSL's value is accepted on a label that requires binding; a CSR carrying
/// another session's value is refused.
#[test]
fn channel_binding_matches_openssl_keymatexport() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::Stdio;
    if !have("openssl") {
        return;
    }
    let s = start("est-binding", default_labels());
    let session = |tamper: bool| -> String {
        let mut child = Command::new("openssl")
            .current_dir(&s.dir)
            .args([
                "s_client",
                "-connect",
                &format!("127.0.0.1:{}", s.port),
                "-tls1_3",
                "-CAfile",
                "root.pem",
                "-keymatexport",
                "EXPORTER-Channel-Binding",
                "-keymatexportlen",
                "32",
                "-ign_eof",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = BufReader::new(child.stdout.take().unwrap());
        let mut hex = String::new();
        let mut line = String::new();
        while err.read_line(&mut line).unwrap() > 0 {
            if let Some(h) = line.trim().strip_prefix("Keying material: ") {
                hex = h.to_owned();
                break;
            }
            line.clear();
        }
        assert!(!hex.is_empty(), "openssl did not print keying material");
        let mut exporter = [0u8; 32];
        for (i, b) in exporter.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
        }
        if tamper {
            exporter[0] ^= 1;
        }
        let key =
            iotsec_pki::DeviceKey::from_secret_bytes(iotsec_pki::KeyAlgorithm::P256, &[11u8; 32])
                .unwrap();
        let pw = iotsec_pki::channel_binding::challenge_password_for(&exporter);
        let csr = iotsec_pki::build_csr(
            &key,
            &iotsec_pki::CsrRequest {
                common_name: "bound-1",
                challenge_password: Some(&pw),
                ..Default::default()
            },
        )
        .unwrap();
        let body = iotsec_pki::est_message::encode_csr_body(&csr, Base64Layout::Lines64);
        let auth = <base64ct::Base64 as base64ct::Encoding>::encode_string(b"dev:s3cret");
        let req = format!(
            "POST /.well-known/est/bound/simpleenroll HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {auth}\r\nContent-Type: application/pkcs10\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        err.read_to_string(&mut out).unwrap();
        drop(stdin);
        let out = out
            .split_once("HTTP/1.1")
            .map(|(_, r)| format!("HTTP/1.1{r}"))
            .unwrap_or(out);
        let _ = child.wait();
        out
    };
    let good = session(false);
    assert!(good.starts_with("HTTP/1.1 200"), "{good}");
    let bad = session(true);
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
    assert!(bad.contains("channel binding"), "{bad}");
}

/// strongSwan's `pki --estca`/`--est` (its own TLS 1.3 stack) enrolls and re-enrolls against a
/// label with one-line base64; with 64-column lines its PKCS#7 decoder fails, which is why the
/// layout is a per-label setting.
#[test]
fn strongswan_pki_enrolls_and_reenrolls() {
    if !have("pki") || !have("openssl") {
        return;
    }
    let mut labels = default_labels();
    let one = LabelPolicy {
        layout: Base64Layout::OneLine,
        ..labels[""].clone()
    };
    labels.insert(String::new(), one);
    let s = start("est-strongswan", labels);
    let d = &s.dir;
    // strongSwan 5.9 caps its own TLS at 1.2 unless told otherwise.
    std::fs::write(
        d.join("strongswan.conf"),
        "libtls {\n  version_max = 1.3\n}\n",
    )
    .unwrap();
    let url = format!("https://127.0.0.1:{}", s.port);
    let pki = |args: &[&str]| {
        run(Command::new("pki")
            .current_dir(d)
            .env("STRONGSWAN_CONF", d.join("strongswan.conf"))
            .args(args))
    };
    let (ok, out) = pki(&[
        "--estca",
        "--url",
        &url,
        "--cacert",
        "root.pem",
        "--outform",
        "pem",
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("Sub CA cert is trusted"), "{out}");
    // `pki --est` sends the DER CSR `csr` with the credentials `auth`.
    let est = |csr: &str, auth: &[&str]| {
        let mut args = vec![
            "--est", "--url", &url, "--cacert", "root.pem", "--cacert", "int.pem", "--in", csr,
        ];
        args.extend_from_slice(auth);
        args.extend_from_slice(&["--outform", "pem"]);
        pki(&args)
    };
    let san = ["-addext", "subjectAltName=DNS:ss-1.devices.invalid"];
    make_csr(d, "ss", "/CN=ss-1", &san);
    let (ok, out) = est("ss.csr.der", &["--userpass", "dev:s3cret"]);
    assert!(ok, "{out}");
    assert!(out.contains("Issued certificate is trusted"), "{out}");
    let pem_start = out.find("-----BEGIN CERTIFICATE-----").unwrap();
    let pem_end =
        out.find("-----END CERTIFICATE-----").unwrap() + "-----END CERTIFICATE-----\n".len();
    std::fs::write(d.join("ss.pem"), &out[pem_start..pem_end]).unwrap();
    csr_with_key(d, "ss2", "ss.key", "/CN=ss-1", &san);
    let (ok, out) = est("ss2.csr.der", &["--cert", "ss.pem", "--key", "ss.key"]);
    assert!(ok, "{out}");
    assert!(out.contains("Issued certificate \"CN=ss-1\""), "{out}");
}

/// pkilint (RFC 5280 linter) finds no warning or error in issued certificates, CA certificates
/// and CRLs.
#[test]
fn pkilint_accepts_certificates_and_crls() {
    if !have("lint_pkix_cert") || !have("openssl") {
        return;
    }
    let s = start("est-pkilint", default_labels());
    let d = &s.dir;
    let mut ca = CaState::open(&s.state).unwrap();
    // DNS SAN only: pkilint 0.x flags every `urn:` URI (even RFC 9039 `urn:dev:mac:...`) as
    // invalid URI syntax, although RFC 3986 admits them; see the crate README.
    make_csr(
        d,
        "p",
        "/CN=p-1",
        &["-addext", "subjectAltName=DNS:p-1.devices.invalid"],
    );
    let cert = issue_file(&mut ca, d, "p.csr.der");
    std::fs::write(d.join("p.der"), &cert.der).unwrap();
    ca.revoke(&cert.serial, 4, OffsetDateTime::now_utc())
        .unwrap();
    std::fs::write(
        d.join("crl.der"),
        ca.crl(OffsetDateTime::now_utc()).unwrap(),
    )
    .unwrap();
    for f in ["p.der", "root.pem", "int.pem"] {
        let (ok, out) = run(Command::new("lint_pkix_cert")
            .current_dir(d)
            .args(["lint", "-s", "WARNING", f]));
        assert!(ok && out.trim().is_empty(), "pkilint on {f}: {out}");
    }
    let (ok, out) = run(Command::new("lint_crl").current_dir(d).args([
        "lint", "-t", "CRL", "-p", "PKIX", "-s", "WARNING", "crl.der",
    ]));
    assert!(ok && out.trim().is_empty(), "pkilint on CRL: {out}");
}

/// The TLS layer itself (rustls verifier built by `tls_config::server_config` with the CRL)
/// refuses a revoked client certificate during the handshake.
#[test]
fn revoked_client_certificate_fails_the_tls_handshake() {
    if !have("curl") || !have("openssl") {
        return;
    }
    let (dir, state, mut ca) = ca_with_csr("est-tls-crl", "r");
    let good = issue_file(&mut ca, &dir, "r.csr.der");
    let bad = issue_file(&mut ca, &dir, "r.csr.der");
    ca.revoke(&bad.serial, 1, OffsetDateTime::now_utc())
        .unwrap();
    let int = std::fs::read_to_string(state.join("intermediate.pem")).unwrap();
    for (name, c) in [("good.pem", &good), ("bad.pem", &bad)] {
        let pem = iotsec_pki::ca_state::to_pem("CERTIFICATE", &c.der).unwrap() + &int;
        std::fs::write(dir.join(name), pem).unwrap();
    }
    common::crypto_provider();
    let port = serve_in_background(bind_endpoint(ca, "127.0.0.1:0", default_labels()).unwrap());
    let url = format!("https://127.0.0.1:{port}/.well-known/est/cacerts");
    let (st, _, _) = curl(&dir, &["--cert", "good.pem", "--key", "r.key", &url]);
    assert_eq!(st, 200);
    let mut cmd = Command::new("curl");
    cmd.current_dir(&dir).args([
        "-sS",
        "--cacert",
        "root.pem",
        "--cert",
        "bad.pem",
        "--key",
        "r.key",
        "-o",
        "/dev/null",
        &url,
    ]);
    let (ok, out) = run(&mut cmd);
    assert!(
        !ok,
        "revoked client certificate completed the handshake: {out}"
    );
}

/// `openssl ocsp` asks our responder (RFC 6960 over HTTPS POST): good, then revoked with the
/// reason after revocation, with a verified signature and an echoed nonce.
#[test]
fn openssl_ocsp_sees_good_then_revoked() {
    if !have("openssl") {
        return;
    }
    let s = start("est-ocsp", default_labels());
    let d = &s.dir;
    let mut ca = CaState::open(&s.state).unwrap();
    make_csr(d, "o", "/CN=o-1", &[]);
    let cert = issue_file(&mut ca, d, "o.csr.der");
    write_pem(d, "o.pem", "CERTIFICATE", &cert.der);
    let url = format!("https://127.0.0.1:{}/ocsp", s.port);
    // `openssl ocsp` about `cert` issued by `issuer`; `extra` is added.
    let ocsp = |issuer: &str, cert: &str, extra: &[&str]| {
        let mut args = vec![
            "ocsp",
            "-issuer",
            issuer,
            "-cert",
            cert,
            "-url",
            &url,
            "-CAfile",
            "root.pem",
            "-verify_other",
            "int.pem",
        ];
        args.extend_from_slice(extra);
        openssl(d, &args)
    };
    let ask = || ocsp("int.pem", "o.pem", &["-resp_text"]);
    let (ok, out) = ask();
    assert!(ok, "{out}");
    assert!(out.contains("Response verify OK"), "{out}");
    assert!(out.contains("o.pem: good"), "{out}");
    assert!(out.contains("OCSP Nonce"), "{out}");
    ca.revoke(&cert.serial, 1, OffsetDateTime::now_utc())
        .unwrap();
    let (ok, out) = ask();
    assert!(ok, "{out}");
    assert!(out.contains("o.pem: revoked"), "{out}");
    assert!(out.contains("keyCompromise"), "{out}");
    // A certificate of another CA: unknown.
    openssl_self_signed(d, "x");
    let (_, out) = ocsp("x.pem", "x.pem", &[]);
    assert!(out.contains("x.pem: unknown"), "{out}");
}

/// The CRL distribution point over plain HTTP: curl fetches a CRL that OpenSSL verifies; after a
/// revocation the next fetch lists the serial (the cache is invalidated by the revocation).
#[test]
fn crl_is_published_over_http_and_refreshed_on_revocation() {
    if !have("curl") || !have("openssl") {
        return;
    }
    let (dir, state, mut ca) = ca_with_csr("crl-http", "c");
    let cert = issue_file(&mut ca, &dir, "c.csr.der");
    common::crypto_provider();
    let ep = bind_endpoint(
        CaState::open(&state).unwrap(),
        "127.0.0.1:0",
        default_labels(),
    )
    .unwrap();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/crl.der",
        l.local_addr().unwrap().port()
    );
    let service = ep.service.clone();
    std::thread::spawn(move || iotsec_pki::est_transport::serve_crl(l, service));
    let fetch = |name: &str| {
        let (ok, out) = run(Command::new("curl")
            .current_dir(&dir)
            .args(["-sS", "-f", "-o", name, &url]));
        assert!(ok, "{out}");
        let (ok, text) = openssl_crl_text(&dir, "DER", name, "int.pem");
        assert!(ok, "{text}");
        assert!(text.to_ascii_lowercase().contains("verify ok"), "{text}");
        text
    };
    let serial_hex: String = cert.serial.iter().map(|b| format!("{b:02X}")).collect();
    assert!(!fetch("a.crl").contains(&serial_hex));
    ca.revoke(&cert.serial, 5, OffsetDateTime::now_utc())
        .unwrap();
    let text = fetch("b.crl");
    assert!(text.contains(&serial_hex), "{text}");
    assert!(text.contains("Cessation Of Operation"), "{text}");
}

/// Labels select the issuing CA: two intermediates under one root, label "a" on the default
/// intermediate and label "b" on intermediate "line-b". `cacerts` returns each label's chain,
/// enrollment at "b" is signed by "line-b" (OpenSSL verifies it with that chain and refuses it
/// with the other), each intermediate signs its own CRL, and a certificate from label "a" is
/// refused for re-enrollment at label "b" (and accepted at "a").
#[test]
fn labels_select_their_intermediate() {
    if !have("curl") || !have("openssl") {
        return;
    }
    let now = OffsetDateTime::now_utc();
    let (dir, state) = acme_ca_at("est-two-cas", now);
    let d = &dir;
    add_intermediate(&state, "line-b", "http://127.0.0.1/crl/line-b.der", now).unwrap();
    assert!(
        add_intermediate(&state, "line-b", "http://127.0.0.1/x.der", now).is_err(),
        "an intermediate name is created once"
    );
    // A name that would leave `intermediates/` is refused before anything is written.
    let entries = |d: &Path| std::fs::read_dir(d).unwrap().count();
    let (beside, inside) = (entries(state.parent().unwrap()), entries(&state));
    assert_eq!(
        add_intermediate(&state, "../evil", "http://127.0.0.1/x.der", now)
            .unwrap_err()
            .to_string(),
        "CA state: intermediate name \"../evil\" must be 1..=64 of [A-Za-z0-9_-]"
    );
    assert_eq!(
        (entries(state.parent().unwrap()), entries(&state)),
        (beside, inside)
    );
    assert!(!state.join("evil").exists() && !state.parent().unwrap().join("evil").exists());
    let basic = LabelPolicy {
        basic: Some(("dev".into(), "s3cret".into())),
        client_cert_auth: true,
        ..Default::default()
    };
    let mut labels = HashMap::new();
    labels.insert("a".to_owned(), basic.clone());
    labels.insert(
        "b".to_owned(),
        LabelPolicy {
            ca: "line-b".into(),
            ..basic.clone()
        },
    );
    // A label naming a CA that is not loaded is refused at startup.
    let mut bad = labels.clone();
    bad.insert(
        "c".to_owned(),
        LabelPolicy {
            ca: "nope".into(),
            ..basic
        },
    );
    common::crypto_provider();
    assert!(
        bind_endpoint_with(
            CaState::open(&state).unwrap(),
            Vec::new(),
            "127.0.0.1:0",
            bad
        )
        .is_err()
    );
    common::crypto_provider();
    let ep = bind_endpoint_with(
        CaState::open(&state).unwrap(),
        vec![(
            "line-b".into(),
            CaState::open_intermediate(&state, "line-b").unwrap(),
        )],
        "127.0.0.1:0",
        labels,
    )
    .unwrap();
    let service = ep.service.clone();
    let port = serve_in_background(ep);
    std::fs::copy(state.join("root.pem"), d.join("root.pem")).unwrap();
    let base = format!("https://127.0.0.1:{port}/.well-known/est");

    // cacerts per label: the same root, different intermediates.
    let (st, body, _) = curl(d, &[&format!("{base}/a/cacerts")]);
    assert_eq!(st, 200, "{body}");
    let chain_a = p7_to_pem(d, &body, "chain-a.pem");
    let (st, body, _) = curl(d, &[&format!("{base}/b/cacerts")]);
    assert_eq!(st, 200, "{body}");
    let chain_b = p7_to_pem(d, &body, "chain-b.pem");
    assert!(
        chain_a.contains("subject=O = Acme, CN = Acme Issuing CA\n"),
        "{chain_a}"
    );
    assert!(chain_b.contains("CN = Acme Issuing CA line-b"), "{chain_b}");
    assert_eq!(chain_b.matches("BEGIN CERTIFICATE").count(), 2);
    std::fs::write(
        d.join("int-a.pem"),
        std::fs::read_to_string(state.join("intermediate.pem")).unwrap(),
    )
    .unwrap();
    std::fs::write(
        d.join("int-b.pem"),
        std::fs::read_to_string(state.join("intermediates/line-b/intermediate.pem")).unwrap(),
    )
    .unwrap();

    // Enroll one device under each label.
    let mut enrolled = Vec::new();
    for label in ["a", "b"] {
        let csr = make_csr(
            d,
            label,
            &format!("/CN=dev-{label}"),
            &[
                "-addext",
                &format!("subjectAltName=DNS:dev-{label}.devices.invalid"),
            ],
        );
        let (st, body, _) = enroll(d, BASIC, &csr, &format!("{base}/{label}/simpleenroll"));
        assert_eq!(st, 200, "{body}");
        p7_to_pem(d, &body, &format!("{label}.pem"));
        enrolled.push(format!("{label}.pem"));
    }
    let verify = |cert: &str, int: &str| verify_client(d, int, cert);
    assert!(verify("a.pem", "int-a.pem").0);
    assert!(
        verify("b.pem", "int-b.pem").0,
        "{}",
        verify("b.pem", "int-b.pem").1
    );
    assert!(
        !verify("b.pem", "int-a.pem").0,
        "label b's cert chains to intermediate a"
    );
    assert!(
        !verify("a.pem", "int-b.pem").0,
        "label a's cert chains to intermediate b"
    );
    let (_, text) = openssl(
        d,
        &[
            "x509",
            "-in",
            "b.pem",
            "-noout",
            "-issuer",
            "-ext",
            "crlDistributionPoints",
        ],
    );
    assert!(text.contains("CN = Acme Issuing CA line-b"), "{text}");
    assert!(
        text.contains("URI:http://127.0.0.1/crl/line-b.der"),
        "{text}"
    );

    // Re-enroll: a's certificate at label b is refused (403), at label a it renews.
    write_chain(d, "a.pem", "int-a.pem", "a-chain.pem");
    let renew = csr_with_key(
        d,
        "a-renew",
        "a.key",
        "/CN=dev-a",
        &["-addext", "subjectAltName=DNS:dev-a.devices.invalid"],
    );
    let reenroll = |label: &str| {
        enroll(
            d,
            &["--cert", "a-chain.pem", "--key", "a.key"],
            &renew,
            &format!("{base}/{label}/simplereenroll"),
        )
    };
    let (st, body, _) = reenroll("b");
    assert_eq!(st, 403, "label b renewed label a's certificate: {body}");
    let (st, body, _) = reenroll("a");
    assert_eq!(st, 200, "{body}");

    // Each intermediate signs its own CRL; a revocation at b shows only in b's CRL.
    let mut ca_b = CaState::open_intermediate(&state, "line-b").unwrap();
    let serial = openssl_serial(d, "b.pem");
    assert!(ca_b.revoke(&serial, 1, OffsetDateTime::now_utc()).unwrap());
    for (name, int, revoked) in [("", "int-a.pem", false), ("line-b", "int-b.pem", true)] {
        let crl = service.current_crl_of(name).unwrap();
        let file = format!("crl-{}.der", if name.is_empty() { "a" } else { "b" });
        std::fs::write(d.join(&file), crl).unwrap();
        let (ok, text) = openssl_crl_text(d, "DER", &file, int);
        assert!(
            ok && text.to_ascii_lowercase().contains("verify ok"),
            "{text}"
        );
        assert_eq!(text.contains("Key Compromise"), revoked, "{text}");
    }
    // -CRLfile wants PEM.
    let (ok, o) = openssl(
        d,
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            "crl-b.der",
            "-out",
            "crl-b.pem",
        ],
    );
    assert!(ok, "{o}");
    let (ok, out) = verify_with_crl(d, "int-b.pem", "crl-b.pem", "b.pem");
    assert!(!ok && out.contains("certificate revoked"), "{out}");

    // OCSP at the one endpoint: each intermediate answers, and signs, for its own certificates.
    let url = format!("https://127.0.0.1:{port}/ocsp");
    for (cert, int, status) in [
        ("a.pem", "int-a.pem", "good"),
        ("b.pem", "int-b.pem", "revoked"),
    ] {
        let (ok, out) = openssl(
            d,
            &[
                "ocsp",
                "-issuer",
                int,
                "-cert",
                cert,
                "-url",
                &url,
                "-CAfile",
                "root.pem",
                "-verify_other",
                int,
            ],
        );
        assert!(ok, "{out}");
        assert!(out.contains("Response verify OK"), "{out}");
        assert!(out.contains(&format!("{cert}: {status}")), "{out}");
    }
}

/// IEEE 802.1AR over EST: the default CA issues IDevIDs (manufacturing), label "ldev" is served
/// by an LDevID intermediate. A device presenting its IDevID over mTLS gets an LDevID carrying
/// the IDevID's serialNumber and hardwareModuleName (from the IDevID, not the CSR), signed by
/// the "ldev" intermediate with the short lifetime; HTTP Basic alone is refused (403).
#[test]
fn devid_label_issues_ldevids_from_the_idevid() {
    if !have("curl") || !have("openssl") {
        return;
    }
    let now = OffsetDateTime::now_utc();
    let (dir, state) = acme_ca_at("est-devid", now);
    let d = &dir;
    let hw_type: der::oid::ObjectIdentifier = "1.3.6.1.4.1.32473.1.7".parse().unwrap();
    enable_devid(
        &state,
        &DevIdProfile {
            hw_type,
            kind: DevIdKind::Initial,
        },
    )
    .unwrap();
    let sub = add_intermediate(&state, "ldev", "http://127.0.0.1/crl/ldev.der", now).unwrap();
    enable_devid(
        &sub,
        &DevIdProfile {
            hw_type,
            kind: DevIdKind::Local,
        },
    )
    .unwrap();
    copy_ca_certs(&state, d);
    std::fs::copy(sub.join("intermediate.pem"), d.join("int-ldev.pem")).unwrap();

    // Manufacturing: the IDevID.
    make_csr(d, "idev", "/CN=dev-1", &[]);
    let idevid = CaState::open(&state)
        .unwrap()
        .issue_devid(
            &std::fs::read(d.join("idev.csr.der")).unwrap(),
            &DeviceIdentity::from_serial("SN-77"),
            now,
        )
        .unwrap();
    let mut chain = iotsec_pki::ca_state::to_pem("CERTIFICATE", &idevid.der).unwrap();
    chain.push_str(&std::fs::read_to_string(d.join("int.pem")).unwrap());
    std::fs::write(d.join("idev-chain.pem"), chain).unwrap();

    let mut labels = HashMap::new();
    labels.insert(
        "ldev".to_owned(),
        LabelPolicy {
            basic: Some(("dev".into(), "s3cret".into())),
            client_cert_auth: true,
            ca: "ldev".into(),
            ..Default::default()
        },
    );
    common::crypto_provider();
    let ep = bind_endpoint_with(
        CaState::open(&state).unwrap(),
        vec![(
            "ldev".into(),
            CaState::open_intermediate(&state, "ldev").unwrap(),
        )],
        "127.0.0.1:0",
        labels,
    )
    .unwrap();
    let port = serve_in_background(ep);
    let url = format!("https://127.0.0.1:{port}/.well-known/est/ldev/simpleenroll");

    // The CSR tries its own serial; the LDevID gets the IDevID's.
    let csr = make_csr(
        d,
        "ldev",
        "/CN=dev-1/serialNumber=EVIL",
        &["-addext", "subjectAltName=DNS:dev-1.devices.invalid"],
    );
    let (st, body, _) = enroll(d, BASIC, &csr, &url);
    assert_eq!(st, 403, "a DevID label issued without an IDevID: {body}");
    let (st, body, _) = enroll(
        d,
        &["--cert", "idev-chain.pem", "--key", "idev.key"],
        &csr,
        &url,
    );
    assert_eq!(st, 200, "{body}");
    p7_to_pem(d, &body, "ldevid.pem");
    let (ok, text) = openssl(d, &["x509", "-in", "ldevid.pem", "-noout", "-text"]);
    assert!(ok, "{text}");
    assert!(text.contains("CN = dev-1, serialNumber = SN-77"), "{text}");
    assert!(!text.contains("EVIL"), "{text}");
    assert!(text.contains("othername: 1.3.6.1.5.5.7.8.4::"), "{text}");
    assert!(text.contains("DNS:dev-1.devices.invalid"), "{text}");
    assert!(text.contains("Acme Issuing CA ldev"), "{text}");
    assert!(
        !text.contains("9999"),
        "an LDevID must be short-lived: {text}"
    );
    let (ok, out) = openssl_verify(d, "int-ldev.pem", &[], "ldevid.pem");
    assert!(ok, "{out}");
}
