//! Step 1's PKI (iotsec-pki): the fleet CA (offline root, online intermediate, as `pki init`
//! makes it) in `DIR/ca`, the broker's TLS server certificate for 127.0.0.1, the operator's
//! client certificate (CN `operator`: the cloud's admin API and the broker's deny stream), the
//! chain every peer trusts and the CRL the broker's listener checks (RFC 5280 section 5).

use std::path::{Path, PathBuf};

use iotsec_pki::ca_state::{CaSettings, CaState, init_state, to_pem};
use iotsec_pki::{CsrRequest, DeviceKey, KeyAlgorithm, build_csr};
use time::OffsetDateTime;

/// The operator identity (certificate CN, MQTT username of the deny-stream reader).
pub const OPERATOR: &str = "operator";

/// The files of the fleet PKI.
#[derive(Debug, Clone)]
pub struct FleetPki {
    /// The CA state directory (what `pki init` makes; the cloud issues from it).
    pub ca_dir: PathBuf,
    /// Intermediate then root, PEM: the trust anchor of the cloud, the broker and the devices.
    pub chain: PathBuf,
    /// The root certificate alone, PEM.
    pub root: PathBuf,
    /// The broker's server certificate followed by the intermediate, PEM.
    pub broker_cert: PathBuf,
    /// The broker's key, PKCS#8 PEM.
    pub broker_key: PathBuf,
    /// The operator's client certificate, PEM.
    pub operator_cert: PathBuf,
    /// The operator's key, PKCS#8 PEM.
    pub operator_key: PathBuf,
    /// The CRL of the issuing CA, PEM (the broker's `crlfile`).
    pub crl: PathBuf,
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// Creates the CA in `dir/ca` and the TLS files in `dir/tls`.
pub fn create(dir: &Path, now: OffsetDateTime) -> Result<FleetPki, String> {
    let ca_dir = dir.join("ca");
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).map_err(|e| format!("creating {}: {e}", tls.display()))?;
    init_state(
        &ca_dir,
        &CaSettings {
            organization: "iotsec demo fleet".into(),
            crl_url: "https://127.0.0.1/crl.der".into(),
            lifetime_secs: 24 * 3600,
        },
        now,
    )
    .map_err(|e| format!("CA: {e}"))?;
    let mut ca = CaState::open(&ca_dir).map_err(|e| format!("CA: {e}"))?;
    let pki = FleetPki {
        chain: tls.join("chain.pem"),
        root: tls.join("root.pem"),
        broker_cert: tls.join("broker.pem"),
        broker_key: tls.join("broker.key"),
        operator_cert: tls.join("operator.pem"),
        operator_key: tls.join("operator.key"),
        crl: tls.join("crl.pem"),
        ca_dir,
    };
    let pem = |label: &str, der: &[u8]| to_pem(label, der).map_err(|e| e.to_string());
    write(&pki.chain, &ca.chain_pem().map_err(|e| e.to_string())?)?;
    write(&pki.root, &pem("CERTIFICATE", ca.authority.root_der())?)?;
    let (cert, key) = ca
        .authority
        .issue_server_cert(&["127.0.0.1", "localhost"], now)
        .map_err(|e| format!("broker certificate: {e}"))?;
    write(
        &pki.broker_cert,
        &(pem("CERTIFICATE", &cert)? + &pem("CERTIFICATE", ca.authority.intermediate_der())?),
    )?;
    write(&pki.broker_key, &pem("PRIVATE KEY", &key)?)?;
    let key = DeviceKey::generate(KeyAlgorithm::P256, &mut rand_core::OsRng);
    let csr = build_csr(
        &key,
        &CsrRequest {
            common_name: OPERATOR,
            ..CsrRequest::default()
        },
    )
    .map_err(|e| format!("operator CSR: {e}"))?;
    let issued = ca
        .issue_csr(&csr, now)
        .map_err(|e| format!("operator certificate: {e}"))?;
    write(&pki.operator_cert, &pem("CERTIFICATE", &issued.der)?)?;
    let pkcs8 = key.to_pkcs8_der().map_err(|e| e.to_string())?;
    write(&pki.operator_key, &pem("PRIVATE KEY", &pkcs8)?)?;
    let crl = ca.crl(now).map_err(|e| format!("CRL: {e}"))?;
    write(&pki.crl, &pem("X509 CRL", &crl)?)?;
    Ok(pki)
}
