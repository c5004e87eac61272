//! `iotsec-device enroll` / `reenroll`: EST enrollment (RFC 7030) of this device's identity.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use iotsec_cli_contract::input::{InputKind, io_error, read_input};
use iotsec_cli_contract::{BadInput, Outcome, Report};
use iotsec_pki::channel_binding::challenge_password_for;
use iotsec_pki::est_client::{EstClient, certs_of};
use iotsec_pki::secret_file::BasicCredentials;
use iotsec_pki::{
    CsrRequest, DeviceKey, DeviceName, ExpectedLeaf, KeyAlgorithm, build_csr, check_issued_leaf,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;
use zeroize::Zeroizing;

/// Arguments of `enroll`.
#[derive(clap::Args, Debug)]
pub struct EnrollArgs {
    /// EST base URL, e.g. https://127.0.0.1:8443 (optionally /.well-known/est/LABEL).
    #[arg(long)]
    est: String,
    /// PEM file with the CA root to trust.
    #[arg(long)]
    trust: PathBuf,
    /// Subject common name (the device id).
    #[arg(long)]
    cn: String,
    /// subjectAltName dNSName entries.
    #[arg(long)]
    dns: Vec<String>,
    /// subjectAltName URI entries.
    #[arg(long)]
    uri: Vec<String>,
    /// HTTP Basic credentials USER:PASS. Visible to other local users in the process list:
    /// prefer --basic-auth-file.
    #[arg(long, conflicts_with = "basic_auth_file")]
    basic_auth: Option<String>,
    /// A file (mode 0600) holding the HTTP Basic credentials USER:PASS.
    #[arg(long)]
    basic_auth_file: Option<PathBuf>,
    /// Key algorithm: p256 or ed25519.
    #[arg(long, default_value = "p256")]
    key_alg: String,
    /// Put the RFC 9266 channel binding in challengePassword.
    #[arg(long)]
    bind: bool,
    /// Where to write the new private key (PKCS#8 PEM, mode 0600).
    #[arg(long)]
    key_out: PathBuf,
    /// Where to write the certificate chain (leaf, then intermediate).
    #[arg(long)]
    cert_out: PathBuf,
}

/// Arguments of `reenroll`.
#[derive(clap::Args, Debug)]
pub struct ReenrollArgs {
    /// EST base URL.
    #[arg(long)]
    est: String,
    /// PEM file with the CA root to trust.
    #[arg(long)]
    trust: PathBuf,
    /// Current certificate chain (PEM, leaf first).
    #[arg(long)]
    cert: PathBuf,
    /// Current private key (PKCS#8 PEM).
    #[arg(long)]
    key: PathBuf,
    /// Generate a new key (rekey) and write it here; otherwise the current key is renewed.
    #[arg(long)]
    rekey_out: Option<PathBuf>,
    /// Put the RFC 9266 channel binding in challengePassword.
    #[arg(long)]
    bind: bool,
    /// Where to write the new certificate chain.
    #[arg(long)]
    cert_out: PathBuf,
}

/// The DER of every `label` PEM block in `path`. The text and the blocks are zeroized when
/// dropped (they may be a private key).
fn pem_blocks(path: &Path, label: &str) -> Result<Vec<Zeroizing<Vec<u8>>>, BadInput> {
    let kind = if label == "CERTIFICATE" {
        InputKind::Certificate
    } else {
        InputKind::Key
    };
    let text = Zeroizing::new(String::from_utf8(read_input(path, kind)?).map_err(|e| {
        zeroize::Zeroize::zeroize(&mut e.into_bytes());
        io_error("reading", kind, path, "not UTF-8 text")
    })?);
    let mut out = Vec::new();
    let end = format!("-----END {label}-----");
    let mut rest = text.as_str();
    while let Some(start) = rest.find(&format!("-----BEGIN {label}-----")) {
        let tail = rest.get(start..).unwrap_or_default();
        let Some(stop) = tail.find(&end) else { break };
        let block = tail.get(..stop + end.len()).unwrap_or_default();
        let (_, der) = pem_rfc7468::decode_vec(block.as_bytes())
            .map_err(|e| BadInput::new(format!("{}: {e}", path.display())))?;
        out.push(Zeroizing::new(der));
        rest = tail.get(stop + end.len()..).unwrap_or_default();
    }
    if out.is_empty() {
        return Err(BadInput::new(format!(
            "{}: no {label} PEM block",
            path.display()
        )));
    }
    Ok(out)
}

/// The certificates (DER) of every CERTIFICATE block in `path`.
fn cert_blocks(path: &Path) -> Result<Vec<Vec<u8>>, BadInput> {
    Ok(pem_blocks(path, "CERTIFICATE")?
        .into_iter()
        .map(|mut der| core::mem::take(&mut *der))
        .collect())
}

/// Writes `key` as PKCS#8 PEM to `path`, mode 0600 even when `path` exists already with a wider
/// mode: the key goes to a temporary file created 0600 next to it, which is renamed over `path`.
fn write_key(path: &PathBuf, key: &DeviceKey) -> Result<(), BadInput> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let der = key.to_pkcs8_der().map_err(BadInput::new)?;
    let pem = Zeroizing::new(
        pem_rfc7468::encode_string("PRIVATE KEY", pem_rfc7468::LineEnding::LF, &der)
            .map_err(BadInput::new)?,
    );
    let mut tmp = path.clone().into_os_string();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let io = |e: std::io::Error| {
        BadInput::new(format!("writing the device key {}: {e}", path.display()))
    };
    // A leftover of an earlier run of this process id; create_new below never follows links.
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        _ => {}
    }
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(pem.as_bytes())?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    Ok(())
}

fn write_chain(path: &PathBuf, certs: &[Vec<u8>]) -> Result<(), BadInput> {
    let mut s = String::new();
    for c in certs {
        s.push_str(
            &pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, c)
                .map_err(BadInput::new)?,
        );
    }
    std::fs::write(path, s).map_err(|e| {
        BadInput::new(format!(
            "writing the certificate chain {}: {e}",
            path.display()
        ))
    })
}

fn client(
    est: &str,
    trust: &Path,
    auth: Option<(Vec<Vec<u8>>, &DeviceKey)>,
) -> Result<EstClient, BadInput> {
    let roots: Vec<CertificateDer<'static>> = cert_blocks(trust)?
        .into_iter()
        .map(CertificateDer::from)
        .collect();
    let client_auth = match auth {
        Some((chain, key)) => {
            // rustls wants an owned key: it gets the one PKCS#8 buffer, moved out of its
            // Zeroizing (no copy). rustls drops it without zeroizing after parsing it.
            let mut der = key.to_pkcs8_der().map_err(BadInput::new)?;
            Some((
                chain.into_iter().map(CertificateDer::from).collect(),
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(core::mem::take(&mut *der))),
            ))
        }
        None => None,
    };
    let config = iotsec_pki::tls_config::client_config(tls_provider(), &roots, client_auth)
        .map_err(BadInput::new)?;
    EstClient::new(est, Arc::new(config)).map_err(BadInput::new)
}

/// An EST exchange that failed below HTTP (connection, TLS, I/O), naming the step and server.
fn est_failed(doing: &str, est: &str, e: impl std::fmt::Display) -> BadInput {
    BadInput::new(format!("{doing} at {est}: {e}"))
}

fn intermediate(client: &EstClient, est: &str) -> Result<Vec<Vec<u8>>, BadInput> {
    use der::Decode;
    // The non-self-issued certificates of /cacerts complete the chain the device presents.
    let cacerts = client
        .cacerts()
        .map_err(|e| est_failed("fetching the CA certificates (/cacerts)", est, e))?;
    Ok(cacerts
        .into_iter()
        .filter(|c| {
            x509_cert::Certificate::from_der(c)
                .map(|x| x.tbs_certificate.issuer != x.tbs_certificate.subject)
                .unwrap_or(false)
        })
        .collect())
}

/// Decides on the server's reply. A 200 whose leaf is not the certificate of `key` for the
/// `expected` names is a rejection (exit 1); nothing is written unless it is. On acceptance,
/// `write_key` runs first (the new key, if any), then the chain goes to `cert_out`.
fn outcome(
    reply: &iotsec_pki::est_client::HttpReply,
    key: &DeviceKey,
    expected: &ExpectedLeaf<'_>,
    write_key: impl FnOnce() -> Result<(), BadInput>,
    cert_out: &PathBuf,
    extra: Vec<Vec<u8>>,
) -> Result<Report, BadInput> {
    match reply.status {
        200 => {
            let mut certs = certs_of(reply).map_err(BadInput::new)?;
            let mismatch = match certs.first() {
                Some(leaf) => check_issued_leaf(leaf, key, expected)
                    .err()
                    .map(|e| e.to_string()),
                None => Some("the reply holds no certificate".into()),
            };
            if let Some(reason) = mismatch {
                return Ok(Report {
                    outcome: Outcome::Rejected,
                    text: format!("rejected: {reason}"),
                    json: json!({ "status": 200, "reason": reason }),
                });
            }
            certs.extend(extra);
            write_key()?;
            write_chain(cert_out, &certs)?;
            Ok(Report {
                outcome: Outcome::Accepted,
                text: format!(
                    "issued: certificate chain ({} certificates) written to {}",
                    certs.len(),
                    cert_out.display()
                ),
                json: json!({ "status": 200, "cert": cert_out.display().to_string() }),
            })
        }
        202 => Ok(Report {
            outcome: Outcome::Rejected,
            text: match reply.retry_after {
                Some(secs) => format!("pending: the CA holds the request; retry in {secs} s"),
                None => "pending: the CA holds the request; retry later".to_owned(),
            },
            json: json!({ "status": 202, "pending": true, "retry_after": reply.retry_after }),
        }),
        s => {
            let reason = String::from_utf8_lossy(&reply.body).trim().to_owned();
            Ok(Report {
                outcome: Outcome::Rejected,
                text: format!("rejected: the EST server answered HTTP {s}: {reason}"),
                json: json!({ "status": s, "reason": reason }),
            })
        }
    }
}

/// `enroll`: new key, CSR, POST /simpleenroll.
pub fn enroll(a: EnrollArgs) -> Result<Report, BadInput> {
    let alg = match a.key_alg.as_str() {
        "p256" => KeyAlgorithm::P256,
        "ed25519" => KeyAlgorithm::Ed25519,
        _ => return Err(BadInput::new("--key-alg must be p256 or ed25519")),
    };
    let credentials = match (&a.basic_auth, &a.basic_auth_file) {
        (Some(s), _) => Some(BasicCredentials::parse(Zeroizing::new(s.clone()))),
        (None, Some(path)) => Some(BasicCredentials::from_file(path)),
        (None, None) => None,
    }
    .transpose()
    .map_err(|e| BadInput::new(e.to_string()))?;
    let basic = credentials.as_ref().map(|c| (c.user(), c.password()));
    let key = DeviceKey::generate(alg, &mut rand_core::OsRng);
    let c = client(&a.est, &a.trust, None)?;
    let chain_tail = intermediate(&c, &a.est)?;
    let mut names: Vec<DeviceName<'_>> = a.dns.iter().map(|d| DeviceName::Dns(d)).collect();
    names.extend(a.uri.iter().map(|u| DeviceName::Uri(u)));
    let request = CsrRequest {
        common_name: &a.cn,
        organization: None,
        device_names: &names,
        challenge_password: None,
    };
    let reply = c
        .enroll(false, basic, |x| {
            let pw = a.bind.then(|| challenge_password_for(x));
            Ok(build_csr(
                &key,
                &CsrRequest {
                    challenge_password: pw.as_deref(),
                    ..request
                },
            )?)
        })
        .map_err(|e| est_failed("enrolling (/simpleenroll)", &a.est, e))?;
    outcome(
        &reply,
        &key,
        &ExpectedLeaf::Requested(&request),
        || write_key(&a.key_out, &key),
        &a.cert_out,
        chain_tail,
    )
}

/// `reenroll`: present the current certificate over mTLS and renew (or rekey) it.
pub fn reenroll(a: ReenrollArgs) -> Result<Report, BadInput> {
    use der::Decode;
    let chain = cert_blocks(&a.cert)?;
    let key_der = pem_blocks(&a.key, "PRIVATE KEY")?;
    let key = DeviceKey::from_pkcs8_der(key_der.first().map(|d| d.as_slice()).unwrap_or_default())
        .map_err(BadInput::new)?;
    let current = chain.first().cloned().unwrap_or_default();
    let leaf = x509_cert::Certificate::from_der(&current).map_err(BadInput::new)?;
    let new_key = a
        .rekey_out
        .as_ref()
        .map(|_| DeviceKey::generate(key.algorithm(), &mut rand_core::OsRng));
    let c = client(&a.est, &a.trust, Some((chain.clone(), &key)))?;
    let reply = c
        .enroll(true, None, |x| {
            let pw = a.bind.then(|| challenge_password_for(x));
            Ok(iotsec_pki::csr::build_renewal_csr(
                new_key.as_ref().unwrap_or(&key),
                &leaf,
                pw.as_deref(),
            )?)
        })
        .map_err(|e| est_failed("re-enrolling (/simplereenroll)", &a.est, e))?;
    let write_new_key = || match (&a.rekey_out, &new_key) {
        (Some(path), Some(k)) => write_key(path, k),
        _ => Ok(()),
    };
    outcome(
        &reply,
        new_key.as_ref().unwrap_or(&key),
        &ExpectedLeaf::SameAs(&current),
        write_new_key,
        &a.cert_out,
        chain.into_iter().skip(1).collect(),
    )
}

/// The device's TLS provider: aws-lc-rs, offering the X25519MLKEM768 hybrid first (X25519 and
/// P-256 for servers without it); the crate takes it as an argument and picks none itself.
fn tls_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(iotsec_pki::tls_provider::hybrid_first())
}
