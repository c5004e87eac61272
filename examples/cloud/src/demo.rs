//! `iotsec-cloud demo`: the fleet's security lifecycle, live on 127.0.0.1. It starts the fleet
//! CA (iotsec-pki), the cloud service as an in-process task, Debian's mosquitto with our plugin
//! on a TLS 1.3 mutual-TLS listener, and N device agents as tokio tasks, then walks nine steps
//! and checks each expected outcome: CA and TLS; enrollment; attestation gating access (a
//! device with a wrong measurement is quarantined); the SBOM gate blocking a release with a
//! known-vulnerable component; a staged rollout halted by a canary's failed trial boot and
//! resumed with a fixed release; a replayed manifest refused everywhere; a probing device
//! quarantined from the broker's deny stream; a revoked device cut off; a decommissioned device
//! wiping its keys.
//!
//! Exit 0 only if every expected outcome happened, 1 otherwise (a step that could not run is
//! a failure), 2 for usage (no mosquitto, no plugin, a `--keep` directory in use). Every
//! process and task it starts is stopped at the end, on failure and on Ctrl-C / SIGTERM.

mod broker;
mod cloud;
mod fleet;
mod operator;
mod pki;
mod progress;
mod release;
pub(crate) mod release_keys;
mod report;
mod step_names;
mod steps;

use std::path::{Path, PathBuf};
use std::time::Instant;

use iotsec_cli_contract::{BadInput, Report};
use time::OffsetDateTime;

/// Arguments of `demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Number of device agents (each a tokio task with its own keys and connections).
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(steps::MIN_DEVICES..=10_000))]
    devices: u32,
    /// The mosquitto program: a name looked up in /usr/sbin, /usr/local/sbin and PATH, or a
    /// path.
    #[arg(long, value_name = "PROGRAM", default_value = "mosquitto")]
    broker: String,
    /// The iotsec mosquitto plugin (default: libiotsec_mosquitto_plugin.so next to this
    /// binary, as `cargo build -p iotsec-mosquitto-plugin` leaves it).
    #[arg(long, value_name = "PATH")]
    plugin: Option<PathBuf>,
    /// Keep the state (CA, broker configuration and log, cloud database, device state) in DIR
    /// instead of a temporary directory that is removed afterwards.
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> Result<Report, BadInput> {
    let broker = broker::find_broker(&args.broker)?;
    let plugin = broker::find_plugin(args.plugin.as_deref())?;
    let dir = state_dir(args.keep.as_deref(), "demo")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| BadInput::new(format!("cannot start the async runtime: {e}")))?;
    let started = Instant::now();
    let devices = usize::try_from(args.devices).unwrap_or(usize::MAX);
    let (outcomes, interrupted) = runtime.block_on(steps::walk(steps::Setup {
        dir: dir.clone(),
        devices,
        broker,
        plugin,
        now: OffsetDateTime::now_utc(),
    }));
    // Tasks still running (agents that ignored Stop) end with the runtime.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    let state = dir.display().to_string();
    let report = report::report(
        &outcomes,
        &report::Run {
            devices,
            state: &state,
            kept: args.keep.is_some(),
            elapsed: started.elapsed(),
            interrupted,
        },
    );
    if args.keep.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(report)
}

/// The state directory of `command` (`demo`, `tour`): `--keep DIR` (created; must not hold a
/// CA yet), else a fresh directory under the system temporary directory.
pub fn state_dir(keep: Option<&Path>, command: &str) -> Result<PathBuf, BadInput> {
    let dir = match keep {
        Some(dir) => {
            if dir.join("ca").exists() {
                return Err(BadInput::new(format!(
                    "--keep {}: already holds a {command} CA (ca/); give an empty or new directory",
                    dir.display()
                )));
            }
            dir.to_path_buf()
        }
        None => {
            let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
            std::env::temp_dir().join(format!("iotsec-{command}-{}-{nanos}", std::process::id()))
        }
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| BadInput::new(format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir)
}
