//! Scaffolding of the `iotsec-cloud serve` tests: a fleet state directory (CA, OTA trust root,
//! factory image), the service as a real process on 127.0.0.1, an HTTPS/1.1 client over
//! TLS 1.3 with or without a client certificate (raw, so that tests can send truncated and
//! malformed requests), EST enrollment, SE evidence and signed releases.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64ct::{Base64, Encoding};
use iotsec_attest::identity::credential::OsRng;
use iotsec_attest::se_evidence::{MAX_EVIDENCE_LEN, produce_se_evidence};
use iotsec_ota::manifest_builder::{ComponentSpec, ManifestBuilder};
use iotsec_ota::signer::{Es256Key, Signer};
use iotsec_pki::est_message::{Base64Layout, encode_csr_body, parse_certs_only};
use iotsec_pki::{CsrRequest, DeviceKey, KeyAlgorithm, build_csr};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const OPERATOR: &str = "ops";
pub const BOOTSTRAP: &str = "boot:bootstrap-secret";
pub const FACTORY: &str = "1.0.0";
const DEMO_DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/demo-data");

/// The demo's images and trust root (the same file the demo compiles).
#[path = "../../src/demo/release_keys.rs"]
mod release_keys;
pub use release_keys::image;

/// A fresh scratch directory.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "iotsec-serve-{name}-{}-{}",
        std::process::id(),
        time::OffsetDateTime::now_utc().unix_timestamp_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fleet's files: CA state, OTA keys and trust root, factory image, bootstrap secret.
pub struct Fleet {
    pub dir: PathBuf,
    pub state: PathBuf,
    pub release_key: Es256Key,
    pub ca_roots: Vec<CertificateDer<'static>>,
    pub intermediate: CertificateDer<'static>,
}

impl Fleet {
    pub fn new(name: &str) -> Fleet {
        let dir = scratch(name);
        let state = dir.join("state");
        let out = Command::new(env!("CARGO_BIN_EXE_iotsec-cloud"))
            .args(["pki", "init", "--state", state.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let (_, release_key, doc) = release_keys::release_keys().unwrap();
        std::fs::write(dir.join("trust-root.cose"), doc).unwrap();
        std::fs::write(dir.join("factory.bin"), image(FACTORY)).unwrap();
        let secret = dir.join("bootstrap");
        std::fs::write(&secret, BOOTSTRAP).unwrap();
        set_mode_600(&secret);
        let root_pem =
            std::fs::read_to_string(iotsec_pki::state_dir::root_cert_file(&state)).unwrap();
        let ca_roots = pem_certs(&root_pem);
        let intermediate = pem_certs(
            &std::fs::read_to_string(iotsec_pki::state_dir::intermediate_cert_file(&state))
                .unwrap(),
        )
        .remove(0);
        Fleet {
            intermediate,
            dir,
            state,
            release_key,
            ca_roots,
        }
    }

    /// The arguments of `serve` for this fleet (plus `extra`).
    pub fn serve_args<S: AsRef<str>>(&self, extra: &[S]) -> Vec<String> {
        let p = |p: &Path| p.to_str().unwrap().to_owned();
        let mut args: Vec<String> = vec![
            "--format".into(),
            "json".into(),
            "serve".into(),
            "--state".into(),
            p(&self.state),
            "--basic-auth-file".into(),
            p(&self.dir.join("bootstrap")),
            "--operator".into(),
            OPERATOR.into(),
            "--gate-policy".into(),
            format!("{DEMO_DATA}/gate-policy.toml"),
            "--advisories".into(),
            format!("{DEMO_DATA}/advisories"),
            "--ota-root".into(),
            p(&self.dir.join("trust-root.cose")),
            "--factory-firmware".into(),
            format!("{FACTORY}={}", p(&self.dir.join("factory.bin"))),
        ];
        args.extend(extra.iter().map(|s| s.as_ref().to_owned()));
        args
    }

    /// Starts `iotsec-cloud serve` for this fleet.
    pub fn start<S: AsRef<str>>(&self, extra: &[S]) -> Cloud {
        let mut child = Command::new(env!("CARGO_BIN_EXE_iotsec-cloud"))
            .args(self.serve_args(extra))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("serve printed {line:?}: {e}"));
        let addr: SocketAddr = v["listening"].as_str().unwrap().parse().unwrap();
        assert_eq!(v["url"], format!("https://{addr}"));
        Cloud {
            child,
            addr,
            roots: self.ca_roots.clone(),
            intermediate: self.intermediate.clone(),
        }
    }

    /// The operator's identity, issued by the CA outside EST (EST refuses operator CNs).
    pub fn operator(&self) -> Identity {
        let mut ca = iotsec_pki::CaState::open(&self.state).unwrap();
        let (key, csr) = new_csr(OPERATOR);
        let issued = ca.issue_csr(&csr, time::OffsetDateTime::now_utc()).unwrap();
        Identity {
            cn: OPERATOR.to_owned(),
            key,
            chain: vec![CertificateDer::from(issued.der), self.intermediate.clone()],
            counter: 0,
        }
    }

    /// A release manifest for `version` over `image`, signed by the release key.
    pub fn manifest(&self, version: &str, counter: u64, image: &[u8]) -> Vec<u8> {
        ManifestBuilder::new(release_keys::VENDOR, release_keys::CLASS, version)
            .security_counter(counter)
            .sequence_number(counter)
            .component(ComponentSpec::from_image("app", image))
            .sign(&[&self.release_key as &dyn Signer])
            .unwrap()
    }
}

impl Drop for Fleet {
    /// The scratch directory goes with the fleet (its services, declared after it, are
    /// stopped first).
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(unix)]
fn set_mode_600(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Every certificate of a PEM text.
pub fn pem_certs(pem: &str) -> Vec<CertificateDer<'static>> {
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
        let end = rest[start..].find("-----END CERTIFICATE-----").unwrap() + start + 25;
        let (_, der) = pem_rfc7468::decode_vec(&rest.as_bytes()[start..end]).unwrap();
        out.push(CertificateDer::from(der));
        rest = &rest[end..];
    }
    out
}

/// A running `iotsec-cloud serve`.
pub struct Cloud {
    pub child: Child,
    pub addr: SocketAddr,
    pub roots: Vec<CertificateDer<'static>>,
    pub intermediate: CertificateDer<'static>,
}

impl Drop for Cloud {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client identity: key and certificate chain.
pub struct Identity {
    pub cn: String,
    pub key: DeviceKey,
    pub chain: Vec<CertificateDer<'static>>,
    pub counter: u64,
}

impl Identity {
    pub fn serial_hex(&self) -> String {
        use der::Decode;
        let cert = x509_cert::Certificate::from_der(self.chain[0].as_ref()).unwrap();
        iotsec_pki::store::hex_upper(cert.tbs_certificate.serial_number.as_bytes())
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} {:?}: {e}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
    /// The `code` of an ApiError answer.
    pub fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_owned()
    }
}

impl Cloud {
    fn tls(&self, who: Option<&Identity>) -> Arc<rustls::ClientConfig> {
        let provider = iotsec_pki::tls_config::process_provider().unwrap_or_else(|_| {
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
            iotsec_pki::tls_config::process_provider().unwrap()
        });
        let client = who.map(|id| {
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                id.key.to_pkcs8_der().unwrap().to_vec(),
            ));
            (id.chain.clone(), key)
        });
        Arc::new(iotsec_pki::tls_config::client_config(provider, &self.roots, client).unwrap())
    }

    /// Sends `head` (request line and headers, without the final CRLF) and `body` raw, then
    /// reads the answer until the server closes.
    pub async fn raw(&self, who: Option<&Identity>, head: &str, body: &[u8]) -> Answer {
        self.raw_with(who, head, body, false).await
    }

    /// [`Cloud::raw`], closing the sending half after `body` when `close` (a body cut short).
    pub async fn raw_with(
        &self,
        who: Option<&Identity>,
        head: &str,
        body: &[u8],
        close: bool,
    ) -> Answer {
        let tcp = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let connector = tokio_rustls::TlsConnector::from(self.tls(who));
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        let mut req = head.as_bytes().to_vec();
        req.extend_from_slice(b"\r\n");
        req.extend_from_slice(body);
        tls.write_all(&req).await.unwrap();
        tls.flush().await.unwrap();
        if close {
            let _ = tls.shutdown().await;
        }
        let mut out = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(30), tls.read_to_end(&mut out)).await;
        match read {
            Err(_) => panic!("no answer within 30 s"),
            // A connection the server refused or cut: no answer (status 0).
            Ok(Err(e)) => eprintln!("connection ended: {e}"),
            Ok(Ok(_)) => {}
        }
        parse_answer(&out)
    }

    /// A request with a Content-Length body.
    pub async fn request(
        &self,
        who: Option<&Identity>,
        method: &str,
        path: &str,
        content_type: &str,
        extra_headers: &str,
        body: &[u8],
    ) -> Answer {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra_headers}",
            body.len()
        );
        self.raw(who, &head, body).await
    }

    pub async fn get(&self, who: Option<&Identity>, path: &str) -> Answer {
        self.request(who, "GET", path, "application/json", "", b"")
            .await
    }

    /// An operator's rollout command (`{"action": ...}`).
    pub async fn rollout(&self, ops: &Identity, command: &serde_json::Value) -> Answer {
        self.post_json(Some(ops), "/v1/admin/rollout", command)
            .await
    }

    /// A POST without a body (revoke, decommission, the attestation nonce).
    pub async fn post_empty(&self, who: Option<&Identity>, path: &str) -> Answer {
        self.request(who, "POST", path, "application/json", "", b"")
            .await
    }

    pub async fn post_json(
        &self,
        who: Option<&Identity>,
        path: &str,
        body: &serde_json::Value,
    ) -> Answer {
        let bytes = serde_json::to_vec(body).unwrap();
        self.request(who, "POST", path, "application/json", "", &bytes)
            .await
    }

    /// A CSR body for `cn` with a fresh key.
    fn csr(cn: &str) -> (DeviceKey, String) {
        let (key, csr) = new_csr(cn);
        (key, encode_csr_body(&csr, Base64Layout::Lines64))
    }

    /// EST simpleenroll of `cn` with the bootstrap credential: the answer.
    pub async fn try_enroll(&self, cn: &str) -> Answer {
        self.try_enroll_with(cn).await.1
    }

    async fn try_enroll_with(&self, cn: &str) -> (DeviceKey, Answer) {
        let (key, body) = Self::csr(cn);
        let auth = format!(
            "Authorization: Basic {}\r\n",
            Base64::encode_string(BOOTSTRAP.as_bytes())
        );
        let a = self
            .request(
                None,
                "POST",
                "/.well-known/est/simpleenroll",
                "application/pkcs10",
                &auth,
                body.as_bytes(),
            )
            .await;
        (key, a)
    }

    /// EST simplereenroll by `who` with its own certificate (same CN, new key).
    pub async fn reenroll(&self, who: &Identity) -> Answer {
        let (_, body) = Self::csr(&who.cn);
        self.request(
            Some(who),
            "POST",
            "/.well-known/est/simplereenroll",
            "application/pkcs10",
            "",
            body.as_bytes(),
        )
        .await
    }

    /// Enrolls `cn` with the bootstrap credential (EST simpleenroll).
    pub async fn enroll(&self, cn: &str) -> Identity {
        let (key, a) = self.try_enroll_with(cn).await;
        assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
        let certs = parse_certs_only(&a.body).unwrap();
        let mut chain: Vec<CertificateDer<'static>> = certs
            .iter()
            .map(|c| CertificateDer::from(der::Encode::to_der(c).unwrap()))
            .collect();
        if chain.len() == 1 {
            chain.push(self.intermediate.clone());
        }
        Identity {
            cn: cn.to_owned(),
            key,
            chain,
            counter: 0,
        }
    }

    /// Asks for a nonce and answers it with SE evidence over `firmware` (the image's digest).
    pub async fn attest(&self, who: &mut Identity, firmware: &[u8]) -> Answer {
        let n = self.post_empty(Some(who), "/v1/device/attest/nonce").await;
        assert_eq!(n.status, 200, "{n:?}");
        let nonce_hex = n.json()["nonce"].as_str().unwrap().to_owned();
        let evidence = evidence(who, &hex::decode(&nonce_hex).unwrap(), firmware);
        self.post_json(
            Some(who),
            "/v1/device/attest/evidence",
            &serde_json::json!({
                "nonce": nonce_hex,
                "format": "se",
                "evidence": Base64::encode_string(&evidence),
            }),
        )
        .await
    }
}

/// A fresh P-256 key and a CSR (DER) for `cn`.
pub fn new_csr(cn: &str) -> (DeviceKey, Vec<u8>) {
    let key = DeviceKey::generate(KeyAlgorithm::P256, &mut OsRng);
    let csr = build_csr(
        &key,
        &CsrRequest {
            common_name: cn,
            ..CsrRequest::default()
        },
    )
    .unwrap();
    (key, csr)
}

/// SE evidence by `who` for `nonce` over the image `firmware`.
pub fn evidence(who: &mut Identity, nonce: &[u8], firmware: &[u8]) -> Vec<u8> {
    let DeviceKey::P256(signer) = &mut who.key else {
        panic!("not P-256")
    };
    who.counter += 1;
    let device_id: [u8; 32] = Sha256::digest(who.cn.as_bytes()).into();
    let measurement: [u8; 32] = Sha256::digest(firmware).into();
    let mut out = [0u8; MAX_EVIDENCE_LEN];
    let n = produce_se_evidence(
        signer,
        nonce,
        &device_id,
        &measurement,
        who.counter,
        &mut out,
    )
    .unwrap();
    out[..n].to_vec()
}

fn parse_answer(bytes: &[u8]) -> Answer {
    if bytes.is_empty() {
        // The server closed without an answer.
        return Answer {
            status: 0,
            headers: Vec::new(),
            body: Vec::new(),
        };
    }
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer: {:?}", String::from_utf8_lossy(bytes)));
    let head = std::str::from_utf8(&bytes[..split]).unwrap();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = bytes[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
        rest = &rest[eol + 4 + size..];
    }
}

/// The JSON body of a release upload.
pub fn publish_body(fleet: &Fleet, version: &str, image: &[u8], sbom: &[u8]) -> serde_json::Value {
    serde_json::json!({
        "version": version,
        "manifest": Base64::encode_string(&fleet.manifest(version, 2, image)),
        "image": Base64::encode_string(image),
        "sbom": Base64::encode_string(sbom),
    })
}

/// The demo SBOM of `version` (1.1.0 fails the gate, 1.1.1 passes).
pub fn sbom(version: &str) -> Vec<u8> {
    std::fs::read(format!("{DEMO_DATA}/fw-{version}.cdx.json")).unwrap()
}
