//! `iotsec-device enroll` / `reenroll`: EST enrollment (RFC 7030) of this device's identity.

use std::path::PathBuf;
use std::sync::Arc;

use iotsec_cli_contract::{BadInput, Outcome, Report};
use iotsec_pki::channel_binding::challenge_password_for;
use iotsec_pki::est_client::{EstClient, certs_of};
use iotsec_pki::{CsrRequest, DeviceKey, DeviceName, KeyAlgorithm, build_csr};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;

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
    /// HTTP Basic credentials USER:PASS.
    #[arg(long)]
    basic_auth: Option<String>,
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

fn pem_blocks(path: &PathBuf, label: &str) -> Result<Vec<Vec<u8>>, BadInput> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| BadInput::new(format!("{}: {e}", path.display())))?;
    let mut out = Vec::new();
    let end = format!("-----END {label}-----");
    let mut rest = text.as_str();
    while let Some(start) = rest.find(&format!("-----BEGIN {label}-----")) {
        let tail = rest.get(start..).unwrap_or_default();
        let Some(stop) = tail.find(&end) else { break };
        let block = tail.get(..stop + end.len()).unwrap_or_default();
        let (_, der) = pem_rfc7468::decode_vec(block.as_bytes())
            .map_err(|e| BadInput::new(format!("{}: {e}", path.display())))?;
        out.push(der);
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

fn write_key(path: &PathBuf, key: &DeviceKey) -> Result<(), BadInput> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let der = key.to_pkcs8_der().map_err(BadInput::new)?;
    let pem = zeroize::Zeroizing::new(
        pem_rfc7468::encode_string("PRIVATE KEY", pem_rfc7468::LineEnding::LF, &der)
            .map_err(BadInput::new)?,
    );
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(pem.as_bytes()))
        .map_err(BadInput::new)
}

fn write_chain(path: &PathBuf, certs: &[Vec<u8>]) -> Result<(), BadInput> {
    let mut s = String::new();
    for c in certs {
        s.push_str(
            &pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, c)
                .map_err(BadInput::new)?,
        );
    }
    std::fs::write(path, s).map_err(BadInput::new)
}

fn client(
    est: &str,
    trust: &PathBuf,
    auth: Option<(Vec<Vec<u8>>, &DeviceKey)>,
) -> Result<EstClient, BadInput> {
    let roots: Vec<CertificateDer<'static>> = pem_blocks(trust, "CERTIFICATE")?
        .into_iter()
        .map(CertificateDer::from)
        .collect();
    let client_auth = match auth {
        Some((chain, key)) => Some((
            chain.into_iter().map(CertificateDer::from).collect(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                key.to_pkcs8_der().map_err(BadInput::new)?.to_vec(),
            )),
        )),
        None => None,
    };
    let config =
        iotsec_pki::tls_config::client_config(&roots, client_auth).map_err(BadInput::new)?;
    EstClient::new(est, Arc::new(config)).map_err(BadInput::new)
}

fn intermediate(client: &EstClient) -> Result<Vec<Vec<u8>>, BadInput> {
    use der::Decode;
    // The non-self-issued certificates of /cacerts complete the chain the device presents.
    let cacerts = client.cacerts().map_err(BadInput::new)?;
    Ok(cacerts
        .into_iter()
        .filter(|c| {
            x509_cert::Certificate::from_der(c)
                .map(|x| x.tbs_certificate.issuer != x.tbs_certificate.subject)
                .unwrap_or(false)
        })
        .collect())
}

fn outcome(
    reply: &iotsec_pki::est_client::HttpReply,
    cert_out: &PathBuf,
    extra: Vec<Vec<u8>>,
) -> Result<Report, BadInput> {
    match reply.status {
        200 => {
            let mut certs = certs_of(reply).map_err(BadInput::new)?;
            certs.extend(extra);
            write_chain(cert_out, &certs)?;
            Ok(Report::from_json(
                Outcome::Accepted,
                json!({ "status": 200, "cert": cert_out.display().to_string() }),
            ))
        }
        202 => Ok(Report::from_json(
            Outcome::Rejected,
            json!({ "status": 202, "pending": true, "retry_after": reply.retry_after }),
        )),
        s => Ok(Report::from_json(
            Outcome::Rejected,
            json!({ "status": s, "reason": String::from_utf8_lossy(&reply.body).trim() }),
        )),
    }
}

/// `enroll`: new key, CSR, POST /simpleenroll.
pub fn enroll(a: EnrollArgs) -> Result<Report, BadInput> {
    let alg = match a.key_alg.as_str() {
        "p256" => KeyAlgorithm::P256,
        "ed25519" => KeyAlgorithm::Ed25519,
        _ => return Err(BadInput::new("--key-alg must be p256 or ed25519")),
    };
    let basic = match &a.basic_auth {
        Some(s) => Some(
            s.split_once(':')
                .ok_or_else(|| BadInput::new("--basic-auth must be USER:PASS"))?,
        ),
        None => None,
    };
    let key = DeviceKey::generate(alg, &mut rand_core::OsRng);
    let c = client(&a.est, &a.trust, None)?;
    let chain_tail = intermediate(&c)?;
    let mut names: Vec<DeviceName<'_>> = a.dns.iter().map(|d| DeviceName::Dns(d)).collect();
    names.extend(a.uri.iter().map(|u| DeviceName::Uri(u)));
    let reply = c
        .enroll(false, basic, |x| {
            let pw = a.bind.then(|| challenge_password_for(x));
            Ok(build_csr(
                &key,
                &CsrRequest {
                    common_name: &a.cn,
                    organization: None,
                    device_names: &names,
                    challenge_password: pw.as_deref(),
                },
            )?)
        })
        .map_err(BadInput::new)?;
    if reply.status == 200 {
        write_key(&a.key_out, &key)?;
    }
    outcome(&reply, &a.cert_out, chain_tail)
}

/// `reenroll`: present the current certificate over mTLS and renew (or rekey) it.
pub fn reenroll(a: ReenrollArgs) -> Result<Report, BadInput> {
    use der::Decode;
    let chain = pem_blocks(&a.cert, "CERTIFICATE")?;
    let key_der = pem_blocks(&a.key, "PRIVATE KEY")?;
    let key = DeviceKey::from_pkcs8_der(key_der.first().map(Vec::as_slice).unwrap_or_default())
        .map_err(BadInput::new)?;
    let leaf =
        x509_cert::Certificate::from_der(chain.first().map(Vec::as_slice).unwrap_or_default())
            .map_err(BadInput::new)?;
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
        .map_err(BadInput::new)?;
    if let (200, Some(path), Some(k)) = (reply.status, &a.rekey_out, &new_key) {
        write_key(path, k)?;
    }
    outcome(&reply, &a.cert_out, chain.into_iter().skip(1).collect())
}
