//! `iotsec-device run`: the device agent ([`iotsec_device::agent`]) on timers until Ctrl-C or
//! SIGTERM, one line per event on stdout (`--format json`: one JSON object per line, then
//! `{"exit": ...}`). Exit 0 when stopped, 1 when the fleet refused the device (enrollment
//! refused, decommissioned and wiped), 2 for bad input.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use iotsec_cli_contract::input::{InputKind, read_input, read_json};
use iotsec_cli_contract::json_fields::Fields;
use iotsec_cli_contract::{BadInput, Format, Outcome, Report};
use iotsec_device::agent::{
    Agent, AgentCommand, AgentConfig, AgentEvent, AgentExit, Bootstrap, DEFAULT_AK_HANDLE,
    DEFAULT_EK_HANDLE, FactoryImage, FirmwareConfig, Timers, TpmConfig,
};
use serde_json::json;
use zeroize::Zeroizing;

/// Arguments of `run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// State directory (created): key, certificate, A/B slots, counters. A restarted device
    /// resumes from it.
    #[arg(long)]
    state: PathBuf,
    /// The cloud, https://HOST:PORT (EST and the fleet API).
    #[arg(long)]
    cloud: String,
    /// The MQTT broker's TLS listener, HOST:PORT.
    #[arg(long)]
    broker: String,
    /// PEM file with the fleet CA chain (trust anchors for the cloud and the broker).
    #[arg(long)]
    ca: PathBuf,
    /// Firmware settings (JSON): trust_root (path of the pinned iotsec-ota root), vendor_id,
    /// class_id (UUIDs), trusted_root_version, slot_capacity, and factory {image (path),
    /// version, security_counter, sequence} for the first start; paths relative to the file.
    #[arg(long)]
    firmware: PathBuf,
    /// The device id (certificate CN) to enroll as; default: the bootstrap certificate's CN.
    #[arg(long)]
    id: Option<String>,
    /// EST label (/.well-known/est/LABEL).
    #[arg(long)]
    est_label: Option<String>,
    /// HTTP Basic bootstrap user.
    #[arg(long, requires = "bootstrap_password_file", conflicts_with_all = ["bootstrap_cert", "bootstrap_key"])]
    bootstrap_user: Option<String>,
    /// A file (mode 0600) holding the bootstrap password.
    #[arg(long, requires = "bootstrap_user")]
    bootstrap_password_file: Option<PathBuf>,
    /// Bootstrap certificate chain (PEM, leaf first).
    #[arg(long, requires = "bootstrap_key")]
    bootstrap_cert: Option<PathBuf>,
    /// Bootstrap private key (PKCS#8 PEM).
    #[arg(long, requires = "bootstrap_cert")]
    bootstrap_key: Option<PathBuf>,
    /// Telemetry period in seconds.
    #[arg(long, default_value_t = 10)]
    telemetry_secs: u64,
    /// Release channel and status poll period in seconds.
    #[arg(long, default_value_t = 60)]
    poll_secs: u64,
    /// Attestation period in seconds.
    #[arg(long, default_value_t = 300)]
    attest_secs: u64,
    /// Seconds one network exchange may take.
    #[arg(long, default_value_t = 15)]
    step_timeout_secs: u64,
    /// Attest with TPM 2.0 quotes instead of secure-element evidence: the TPM as a character
    /// device (`/dev/tpmrm0`), `unix:PATH` (swtpm `--server type=unixio`) or HOST:PORT (swtpm
    /// `--server type=tcp`). The agent measures the running firmware into SHA-256 PCR 23 and
    /// quotes it with the AK at --ak-handle.
    #[arg(long)]
    tpm: Option<String>,
    /// Persistent handle of the TPM attestation key (made with `tpm2_createak` under the EK and
    /// `tpm2_evictcontrol`), e.g. 0x81010002.
    #[arg(long, requires = "tpm")]
    ak_handle: Option<String>,
    /// Persistent handle of the TPM's EK (default 0x81010001): before its first quote the agent
    /// registers the AK beside it (the cloud's credential, activated by the TPM).
    #[arg(long, requires = "tpm")]
    ek_handle: Option<String>,
    /// Do not register the AK: for a cloud that binds it on first use
    /// (`serve --tpm-trust-on-first-use`).
    #[arg(long, requires = "tpm", conflicts_with = "ek_handle")]
    no_tpm_registration: bool,
}

fn bad(e: impl std::fmt::Display) -> BadInput {
    BadInput::new(e)
}

/// Reads `--firmware`.
fn firmware(path: &Path) -> Result<FirmwareConfig, BadInput> {
    let value = read_json(path, InputKind::DeviceState)?;
    let f = Fields::new(&value, "firmware");
    f.only(&[
        "trust_root",
        "vendor_id",
        "class_id",
        "trusted_root_version",
        "slot_capacity",
        "factory",
    ])?;
    let base = path.parent().unwrap_or(Path::new("."));
    let factory = match value.get("factory") {
        None => None,
        Some(factory) => {
            let g = Fields::new(factory, "factory");
            g.only(&["image", "version", "security_counter", "sequence"])?;
            Some(FactoryImage {
                version: g.text("version")?.to_owned(),
                image: read_input(&base.join(g.text("image")?), InputKind::Image)?,
                security_counter: g.number("security_counter")?,
                sequence: g.number("sequence")?,
            })
        }
    };
    Ok(FirmwareConfig {
        trust_root: read_input(&base.join(f.text("trust_root")?), InputKind::SignedDocument)?,
        vendor_id: f.uuid("vendor_id")?,
        class_id: f.uuid("class_id")?,
        trusted_root_version: f.number("trusted_root_version")?,
        slot_capacity: f.number("slot_capacity")?,
        factory,
    })
}

fn pem_certs(path: &Path) -> Result<Vec<Vec<u8>>, BadInput> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let pem = read_input(path, InputKind::Key)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(bad(format!("{}: no CERTIFICATE PEM block", path.display())));
    }
    Ok(certs)
}

fn bootstrap(a: &RunArgs) -> Result<Bootstrap, BadInput> {
    match (
        &a.bootstrap_user,
        &a.bootstrap_password_file,
        &a.bootstrap_cert,
        &a.bootstrap_key,
    ) {
        (Some(user), Some(file), None, None) => {
            if user.contains(':') {
                return Err(bad(
                    "--bootstrap-user cannot contain ':' (RFC 7617 section 2)",
                ));
            }
            let password = iotsec_pki::secret_file::read_secret_file(file, "bootstrap password")
                .map_err(bad)?;
            Ok(Bootstrap::Basic {
                user: user.clone(),
                password,
            })
        }
        (None, None, Some(cert), Some(key)) => {
            use rustls::pki_types::PrivateKeyDer;
            use rustls::pki_types::pem::PemObject;
            let chain = pem_certs(cert)?;
            let pem =
                iotsec_pki::secret_file::read_secret_file(key, "bootstrap key").map_err(bad)?;
            let key_der = match PrivateKeyDer::from_pem_slice(pem.as_bytes())
                .map_err(|e| bad(format!("{}: {e}", key.display())))?
            {
                PrivateKeyDer::Pkcs8(k) => Zeroizing::new(k.secret_pkcs8_der().to_vec()),
                _ => return Err(bad(format!("{}: not a PKCS#8 key", key.display()))),
            };
            Ok(Bootstrap::Certificate {
                chain,
                key_pkcs8: key_der,
            })
        }
        _ => Err(bad(
            "pass --bootstrap-user with --bootstrap-password-file, or --bootstrap-cert with --bootstrap-key",
        )),
    }
}

/// `--tpm` and `--ak-handle`.
fn tpm(a: &RunArgs) -> Result<Option<TpmConfig>, BadInput> {
    let Some(tpm) = &a.tpm else {
        return Ok(None);
    };
    if tpm.is_empty() {
        return Err(bad(
            "--tpm must name a TPM (/dev/..., unix:PATH or HOST:PORT)",
        ));
    }
    let ak_handle = persistent_handle("--ak-handle", a.ak_handle.as_deref(), DEFAULT_AK_HANDLE)?;
    let ek_handle = match a.no_tpm_registration {
        true => None,
        false => Some(persistent_handle(
            "--ek-handle",
            a.ek_handle.as_deref(),
            DEFAULT_EK_HANDLE,
        )?),
    };
    Ok(Some(TpmConfig {
        tpm: tpm.clone(),
        ak_handle,
        ek_handle,
    }))
}

/// A persistent handle `0x81xxxxxx` given to `flag`, or `default`.
fn persistent_handle(flag: &str, text: Option<&str>, default: u32) -> Result<u32, BadInput> {
    let Some(text) = text else {
        return Ok(default);
    };
    let hex = text.strip_prefix("0x").ok_or_else(|| {
        bad(format!(
            "{flag} must be a hex handle such as 0x{default:08x}"
        ))
    })?;
    u32::from_str_radix(hex, 16)
        .ok()
        .filter(|h| h >> 24 == 0x81)
        .ok_or_else(|| bad(format!("{flag} must be a persistent handle 0x81xxxxxx")))
}

fn config(a: &RunArgs) -> Result<AgentConfig, BadInput> {
    let secs = |n: u64, flag: &str| {
        if n == 0 {
            Err(bad(format!("{flag} must be at least 1")))
        } else {
            Ok(Duration::from_secs(n))
        }
    };
    Ok(AgentConfig {
        state_dir: a.state.clone(),
        cloud_url: a.cloud.clone(),
        est_label: a.est_label.clone(),
        broker: a.broker.clone(),
        trust_anchors: pem_certs(&a.ca)?,
        device_id: a.id.clone(),
        bootstrap: bootstrap(a)?,
        firmware: firmware(&a.firmware)?,
        timers: Some(Timers {
            telemetry: secs(a.telemetry_secs, "--telemetry-secs")?,
            poll: secs(a.poll_secs, "--poll-secs")?,
            attest: secs(a.attest_secs, "--attest-secs")?,
        }),
        tls_provider: Some(Arc::new(iotsec_pki::tls_provider::hybrid_first())),
        step_timeout: secs(a.step_timeout_secs, "--step-timeout-secs")?,
        http_keep_alive: iotsec_device::agent::DEFAULT_HTTP_KEEP_ALIVE,
    })
}

/// One line for people.
fn text_of(event: &AgentEvent) -> String {
    match serde_json::to_value(event) {
        Ok(serde_json::Value::Object(mut fields)) => {
            let name = fields
                .remove("event")
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let rest: Vec<String> = fields
                .into_iter()
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => format!("{k}={s}"),
                    other => format!("{k}={other}"),
                })
                .collect();
            format!("{name} {}", rest.join(" ")).trim_end().to_owned()
        }
        _ => format!("{event:?}"),
    }
}

/// `run`.
pub fn run(a: RunArgs, format: Format) -> Result<Report, BadInput> {
    let config = config(&a)?;
    let mut agent = Agent::new(config).map_err(bad)?;
    if let Some(tpm) = tpm(&a)? {
        agent = agent.with_tpm(tpm);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| bad(format!("starting the runtime: {e}")))?;
    let ended = runtime.block_on(async move {
        let (commands, rx) = tokio::sync::mpsc::channel(4);
        let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
        let device = tokio::spawn(agent.run(rx, tx));
        let printer = tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                let line = match format {
                    Format::Json => serde_json::to_string(&event).unwrap_or_default(),
                    _ => text_of(&event),
                };
                println!("{line}");
            }
        });
        let stop = async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
            }
        };
        let mut device = device;
        let ended = tokio::select! {
            ended = &mut device => ended,
            () = stop => {
                // The agent finishes its current step, then stops.
                let _ = commands.send(AgentCommand::Stop).await;
                device.await
            }
        };
        drop(commands);
        let _ = printer.await;
        ended
    });
    ended_report(ended)
}

type Ended = Result<Result<AgentExit, iotsec_device::agent::AgentError>, tokio::task::JoinError>;

fn ended_report(ended: Ended) -> Result<Report, BadInput> {
    let exit = match ended {
        Err(e) => return Err(bad(format!("the agent task failed: {e}"))),
        Ok(Err(e)) if e.is_bad_input() => return Err(bad(e)),
        Ok(Err(e)) => {
            return Ok(Report {
                outcome: Outcome::Rejected,
                text: format!("refused: {e}"),
                json: json!({ "exit": "error", "code": e.code(), "message": e.to_string() }),
            });
        }
        Ok(Ok(exit)) => exit,
    };
    Ok(Report {
        outcome: if exit == AgentExit::Wiped {
            Outcome::Rejected
        } else {
            Outcome::Accepted
        },
        text: format!("exit: {exit:?}"),
        json: json!({ "exit": exit }),
    })
}
