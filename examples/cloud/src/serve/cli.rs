//! `iotsec-cloud serve --state DIR ...`: reads the files the service needs, calls
//! [`super::start`], prints the bound address on stdout (one line; JSON with `--format json`)
//! and serves until Ctrl-C or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use iotsec_cli_contract::input::{InputKind, read_input};
use iotsec_cli_contract::{BadInput, Format, Outcome, Report};
use iotsec_pki::keys::secret_file::BasicCredentials;
use serde_json::json;
use zeroize::Zeroizing;

use iotsec_attest::identity::registration::{EkTrust, parse_allow_list};

use super::{BrokerConfig, DenyConfig, GateConfig, ServeConfig, TpmTrust};

/// Arguments of `serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// State directory made by `pki init` (the CA); the fleet registry goes to DIR/fleet.db.
    #[arg(long)]
    state: PathBuf,
    /// Address to listen on (port 0: any free port; the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// An extra EST label LABEL=INTERMEDIATE served by the named intermediate (made with
    /// `pki init --intermediate NAME`); repeatable.
    #[arg(long = "label")]
    labels: Vec<String>,
    /// A file (mode 0600) holding the bootstrap credential USER:PASS devices enroll with
    /// (HTTP Basic on simpleenroll).
    #[arg(long)]
    basic_auth_file: Option<PathBuf>,
    /// A certificate CN that may use /v1/admin (issued by the fleet CA); repeatable.
    #[arg(long = "operator")]
    operators: Vec<String>,
    /// The SBOM gate policy (TOML) releases must pass.
    #[arg(long)]
    gate_policy: PathBuf,
    /// The OSV advisory database (a directory of *.json files, or one file).
    #[arg(long)]
    advisories: PathBuf,
    /// The OTA trust root document devices pin (`ota root` output): release manifests must be
    /// signed by its release keys.
    #[arg(long)]
    ota_root: PathBuf,
    /// Factory firmware VERSION=IMAGE accepted in attestation besides published releases;
    /// repeatable.
    #[arg(long = "factory-firmware")]
    factory_firmware: Vec<String>,
    /// Seconds an attestation nonce stays redeemable.
    #[arg(long, default_value_t = super::DEFAULT_NONCE_TTL_SECS)]
    nonce_ttl_secs: u64,
    /// EK certificate authorities (PEM, one or more certificates per file; each is a trust
    /// anchor, root or intermediate): a TPM registers its AK beside an EK whose certificate
    /// chains to one of them. Repeatable. Excludes --tpm-trust-on-first-use.
    #[arg(long = "tpm-ek-ca")]
    tpm_ek_ca: Vec<PathBuf>,
    /// An allow-list of EKs: one hex SHA-256 of an EK's TPM2B_PUBLIC per line (`sha256sum
    /// ek.pub` of `tpm2_createek -u ek.pub`), `#` comments and blank lines skipped; a
    /// malformed line is refused. Excludes --tpm-trust-on-first-use.
    #[arg(long = "tpm-ek-allow")]
    tpm_ek_allow: Option<PathBuf>,
    /// Bind a device's TPM attestation key at its first accepted quote, with no EK check
    /// (nothing shows the key is in a TPM). Without this, --tpm-ek-ca or --tpm-ek-allow, TPM
    /// evidence is refused.
    #[arg(long, conflicts_with_all = ["tpm_ek_ca", "tpm_ek_allow"])]
    tpm_trust_on_first_use: bool,
    /// Seconds a TPM registration waits for the device's activated secret (default 120; only
    /// with --tpm-ek-ca or --tpm-ek-allow).
    #[arg(long)]
    tpm_registration_ttl_secs: Option<std::num::NonZeroU64>,
    /// Seconds before its certificate's notAfter at which a device should re-enroll.
    #[arg(long, default_value_t = super::DEFAULT_RENEW_BEFORE_SECS)]
    renew_before_secs: u64,
    /// The broker's posture feed (`plugin_opt_posture`, ending in .json), rewritten on every
    /// registry change.
    #[arg(long, requires = "broker_crl")]
    broker_posture: Option<PathBuf>,
    /// The broker listener's `crlfile` (PEM), rewritten on every revocation.
    #[arg(long, requires = "broker_posture")]
    broker_crl: Option<PathBuf>,
    /// The broker's pid: sent SIGHUP after the CRL file changed.
    #[arg(long, requires = "broker_crl")]
    broker_pid: Option<u32>,
    /// The broker's TLS listener to read the plugin's deny stream from (needs --deny-reader).
    #[arg(long, requires_all = ["broker_posture", "deny_reader"])]
    deny_broker: Option<SocketAddr>,
    /// The deny topic (`plugin_opt_deny_topic`).
    #[arg(long, default_value = "$iotsec/deny", requires = "deny_broker")]
    deny_topic: String,
    /// The operator CN the service reads the deny stream as (one of `plugin_opt_deny_readers`).
    #[arg(long, requires = "deny_broker")]
    deny_reader: Option<String>,
    /// Quarantine a device after this many denies on other devices' topics.
    /// At least 1: a threshold that never fires is refused, not ignored.
    #[arg(long, default_value_t = std::num::NonZeroU32::MIN.saturating_add(2), requires = "deny_broker")]
    deny_threshold: std::num::NonZeroU32,
}

fn bad(e: impl std::fmt::Display) -> BadInput {
    BadInput::new(e.to_string())
}

/// Builds the configuration from the arguments (reads every file named).
pub fn config(args: &ServeArgs) -> Result<ServeConfig, BadInput> {
    // The library's I/O errors do not say which file: look for each CA's ca.txt first.
    if let Some(reason) = crate::pki::missing_ca(&args.state, None) {
        return Err(BadInput::new(format!(
            "--state {}: {reason}",
            args.state.display()
        )));
    }
    let policy_bytes = read_input(&args.gate_policy, InputKind::Policy)?;
    let policy_text = std::str::from_utf8(&policy_bytes).map_err(|_| {
        BadInput::new(format!(
            "--gate-policy {}: not UTF-8",
            args.gate_policy.display()
        ))
    })?;
    let policy = iotsec_sbom::Policy::from_toml(policy_text)
        .map_err(|e| BadInput::new(format!("--gate-policy {}: {e}", args.gate_policy.display())))?;
    let advisories = iotsec_sbom::advisory::load_advisory_dir(&args.advisories)
        .map_err(|e| BadInput::new(format!("--advisories {}: {e}", args.advisories.display())))?;
    let ota_root = std::fs::read(&args.ota_root)
        .map_err(|e| BadInput::new(format!("--ota-root {}: {e}", args.ota_root.display())))?;
    let mut factory = Vec::new();
    for spec in &args.factory_firmware {
        let (version, file) = spec
            .split_once('=')
            .ok_or_else(|| BadInput::new("--factory-firmware must be VERSION=IMAGE"))?;
        let (digest, _) = crate::ota::hash_file(std::path::Path::new(file))?;
        factory.push((version.to_owned(), digest));
    }
    let mut config = ServeConfig::new(
        args.state.clone(),
        GateConfig {
            policy,
            advisories: Arc::new(advisories),
        },
        ota_root,
        factory,
    );
    config.listen = args.listen;
    for spec in &args.labels {
        let (label, name) = spec
            .split_once('=')
            .ok_or_else(|| BadInput::new("--label must be LABEL=INTERMEDIATE"))?;
        if let Some(reason) = crate::pki::missing_ca(&args.state, Some(name)) {
            return Err(BadInput::new(format!("--label {spec}: {reason}")));
        }
        config.labels.push((label.to_owned(), name.to_owned()));
    }
    if let Some(path) = &args.basic_auth_file {
        let c = BasicCredentials::from_file(path).map_err(bad)?;
        config.bootstrap = Some((c.user().to_owned(), Zeroizing::new(c.password().to_owned())));
    }
    config.operators = args.operators.clone();
    config.nonce_ttl_secs = args.nonce_ttl_secs;
    config.renew_before_secs = args.renew_before_secs;
    if let (Some(posture), Some(crl)) = (&args.broker_posture, &args.broker_crl) {
        config.broker = Some(BrokerConfig {
            posture_file: posture.clone(),
            crl_file: crl.clone(),
            pid: args.broker_pid,
            deny: match (args.deny_broker, &args.deny_reader) {
                (Some(broker), Some(reader)) => Some(DenyConfig {
                    broker,
                    topic: args.deny_topic.clone(),
                    reader: reader.clone(),
                    threshold: args.deny_threshold.get(),
                }),
                _ => None,
            },
        });
    }
    config.tpm = tpm_trust(args)?;
    if let Some(ttl) = args.tpm_registration_ttl_secs {
        if !matches!(config.tpm, TpmTrust::Endorsed(_)) {
            return Err(BadInput::new(
                "--tpm-registration-ttl-secs needs --tpm-ek-ca or --tpm-ek-allow (no registration otherwise)",
            ));
        }
        config.tpm_registration_ttl_secs = ttl.get();
    }
    config.pins = crate::pki::env_pins()?;
    Ok(config)
}

/// The TPM trust the flags ask for: first use, an EK policy, or none (refuse).
fn tpm_trust(args: &ServeArgs) -> Result<TpmTrust, BadInput> {
    if args.tpm_trust_on_first_use {
        return Ok(TpmTrust::FirstUse);
    }
    let mut trust = EkTrust::default();
    for path in &args.tpm_ek_ca {
        let bytes = read_input(path, InputKind::Certificate)?;
        let certs = x509_cert::Certificate::load_pem_chain(&bytes)
            .map_err(|e| BadInput::new(format!("--tpm-ek-ca {}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(BadInput::new(format!(
                "--tpm-ek-ca {}: no certificate",
                path.display()
            )));
        }
        for cert in certs {
            trust.roots.push(
                der::Encode::to_der(&cert)
                    .map_err(|e| BadInput::new(format!("--tpm-ek-ca {}: {e}", path.display())))?,
            );
        }
    }
    if let Some(path) = &args.tpm_ek_allow {
        let bytes = read_input(path, InputKind::Policy)?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| BadInput::new(format!("--tpm-ek-allow {}: not UTF-8", path.display())))?;
        trust.allowed = parse_allow_list(text)
            .map_err(|e| BadInput::new(format!("--tpm-ek-allow {}: {e}", path.display())))?;
    }
    Ok(
        match trust.is_empty() && args.tpm_ek_ca.is_empty() && args.tpm_ek_allow.is_none() {
            true => TpmTrust::Refuse,
            false => TpmTrust::Endorsed(Arc::new(trust)),
        },
    )
}

/// Runs the service until Ctrl-C or SIGTERM.
pub fn run(args: ServeArgs, format: Format) -> Result<Report, BadInput> {
    let config = config(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(bad)?;
    runtime.block_on(async move {
        let cloud = super::start(config).await.map_err(bad)?;
        let addr = cloud.addr();
        let line = match format {
            Format::Json => {
                json!({ "listening": addr.to_string(), "url": cloud.url() }).to_string()
            }
            _ => format!("listening on {}", cloud.url()),
        };
        let mut out = std::io::stdout();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
        wait_for_stop().await;
        cloud.shutdown().await.map_err(bad)?;
        Ok(Report {
            outcome: Outcome::Accepted,
            text: format!("stopped serving on {addr}"),
            json: json!({ "stopped": addr.to_string() }),
        })
    })
}

async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
