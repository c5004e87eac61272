//! The device agent: one device of a fleet as one tokio task.
//!
//! Lifecycle (each step reported as an [`AgentEvent`]):
//! 1. boot selection over the A/B slots (`iotsec_ota::trial_boot`; an unconfirmed trial from
//!    before a restart reverts here);
//! 2. enrollment over EST (RFC 7030 §4.2.1 `simpleenroll`, HTTP Basic or a bootstrap
//!    certificate), or resumption from the state directory;
//! 3. MQTT 5 over mutual TLS 1.3 to the broker with the EST-issued certificate (client id =
//!    username = certificate CN);
//! 4. then, on [`AgentCommand`]s (the demo) or timers (the CLI): telemetry on
//!    `devices/{id}/telemetry`, attestation (SE evidence, `iotsec_attest::se_evidence`, or
//!    with [`Agent::with_tpm`] a TPM quote, `iotsec_attest::appraise::tpm_evidence`), the
//!    release channel (`iotsec_ota::verify`, streaming install, trial boot, confirm or revert,
//!    report), renewal (RFC 7030 §4.2.2 `simplereenroll`) before expiry, and the status check
//!    that ends in a wipe when the cloud decommissioned the device.
//!
//! No thread per device: everything is async on the caller's runtime (slot writes go to tokio's
//! blocking pool while an image streams in), and an idle agent holds one TLS session, to the
//! broker; its HTTPS connection to the cloud closes [`AgentConfig::http_keep_alive`] (2 s by
//! default) after a step. Agents of one process should share one crypto provider
//! ([`AgentConfig::tls_provider`]).
//!
//! ```no_run
//! # async fn demo(config: iotsec_device::agent::AgentConfig) -> Result<(), iotsec_device::agent::AgentError> {
//! use iotsec_device::agent::{Agent, AgentCommand};
//! let (commands, rx) = tokio::sync::mpsc::channel(8);
//! let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
//! let device = tokio::spawn(Agent::new(config)?.run(rx, tx));
//! commands.send(AgentCommand::Attest).await.ok();
//! commands.send(AgentCommand::Publish).await.ok();
//! commands.send(AgentCommand::Stop).await.ok();
//! while let Some(event) = events.recv().await {
//!     println!("{event:?}");
//! }
//! let _exit = device.await;
//! # Ok(()) }
//! ```

mod broker;
mod cloud;
mod config;
mod device;
mod enroll;
mod error;
mod event;
mod firmware;
mod state;
mod tpm;

pub use config::{
    AgentConfig, Bootstrap, DEFAULT_HTTP_KEEP_ALIVE, FactoryImage, FirmwareConfig, Timers,
};
pub use error::AgentError;
pub use event::{AgentCommand, AgentEvent, AgentExit, UpdateResult};
pub use tpm::{
    DEFAULT_AK_HANDLE, DEFAULT_EK_HANDLE, TpmConfig, measure_and_quote, open_tpm,
    quote_firmware_pcr,
};

use std::time::Duration;

use tokio::sync::mpsc::{Receiver, UnboundedSender};

use device::Device;

/// One device. Build it with [`Agent::new`], run it with [`Agent::run`].
#[derive(Debug)]
pub struct Agent {
    config: AgentConfig,
    tpm: Option<TpmConfig>,
}

impl Agent {
    /// Checks the configuration (no network): a usable cloud URL and broker address, at least
    /// one trust anchor. The state directory is opened by [`Agent::run`].
    pub fn new(config: AgentConfig) -> Result<Agent, AgentError> {
        let bad = |reason: &str| AgentError::BadConfig {
            reason: reason.to_owned(),
        };
        if !config.cloud_url.starts_with("https://") {
            return Err(bad("the cloud URL must be https://HOST:PORT"));
        }
        if config.broker.rsplit_once(':').is_none() {
            return Err(bad("the broker must be HOST:PORT"));
        }
        if config.trust_anchors.is_empty() {
            return Err(bad("no trust anchor (the fleet CA chain)"));
        }
        if config.step_timeout.is_zero() {
            return Err(bad("the step timeout must not be zero"));
        }
        if let Some(t) = config.timers
            && [t.telemetry, t.poll, t.attest]
                .iter()
                .any(Duration::is_zero)
        {
            return Err(bad("timer periods must not be zero"));
        }
        if let Some(label) = &config.est_label
            && (label.is_empty() || !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        {
            return Err(bad("the EST label must be letters, digits and '-'"));
        }
        Ok(Agent { config, tpm: None })
    }

    /// Attests with TPM quotes of `tpm` instead of secure-element evidence (see
    /// [`TpmConfig`]; the TPM is first used at the first attestation).
    pub fn with_tpm(mut self, tpm: TpmConfig) -> Agent {
        self.tpm = Some(tpm);
        self
    }

    /// Runs the device until [`AgentCommand::Stop`], the end of `commands`, or a wipe.
    ///
    /// Start: [`AgentEvent::Booted`]; [`AgentEvent::Enrolled`] (first start; transient
    /// failures are retried up to 5 times with backoff, each reported as [`AgentEvent::Error`])
    /// or [`AgentEvent::Resumed`]; [`AgentEvent::Update`] when an update's trial ended at this
    /// boot; [`AgentEvent::Connected`] or [`AgentEvent::Disconnected`] (not fatal). Then each
    /// command's events (see [`AgentCommand`]), or, with [`AgentConfig::timers`], the timers'.
    /// A step that fails sends [`AgentEvent::Error`] and the agent goes on; a 403
    /// `decommissioned` from the cloud wipes the device like a decommissioned status.
    ///
    /// Events go to `events`; a dropped receiver is not an error. Fails only when the device
    /// cannot start: an unusable state directory or configuration, or a refused enrollment.
    pub async fn run(
        self,
        mut commands: Receiver<AgentCommand>,
        events: UnboundedSender<AgentEvent>,
    ) -> Result<AgentExit, AgentError> {
        let timers = self.config.timers;
        let mut device = Device::start(self.config, self.tpm, events).await?;
        let mut ticks = timers.map(|t| {
            let every = |period: Duration| {
                let mut i = tokio::time::interval(period);
                i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                i
            };
            [every(t.attest), every(t.telemetry), every(t.poll)]
        });
        loop {
            let step = tokio::select! {
                biased;
                command = commands.recv() => match command {
                    None => {
                        device.broker.disconnect().await;
                        return Ok(AgentExit::CommandsClosed);
                    }
                    Some(command) => device.command(command).await,
                },
                down = device.broker.idle() => {
                    device.emit(AgentEvent::Disconnected { reason: down.0 });
                    Ok(None)
                }
                which = next_tick(ticks.as_mut()) => device.timer(which).await,
            };
            match step {
                Ok(None) => {}
                Ok(Some(exit)) => return Ok(exit),
                Err(e) if e.is_decommissioned() => return device.wipe().await,
                Err(e) => device.emit(e.to_event()),
            }
        }
    }
}

/// Which timer fired: 0 attest, 1 telemetry, 2 poll. Never resolves without timers.
async fn next_tick(ticks: Option<&mut [tokio::time::Interval; 3]>) -> usize {
    let Some([attest, telemetry, poll]) = ticks else {
        return std::future::pending().await;
    };
    tokio::select! {
        biased;
        _ = attest.tick() => 0,
        _ = telemetry.tick() => 1,
        _ = poll.tick() => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    fn config() -> AgentConfig {
        let mut config = AgentConfig::new(
            std::env::temp_dir().join("iotsec-agent-never-created"),
            "https://127.0.0.1:8443",
            "127.0.0.1:8883",
            vec![vec![0x30, 0x00]],
            Bootstrap::Basic {
                user: "u".into(),
                password: Zeroizing::new("p".into()),
            },
            FirmwareConfig {
                trust_root: Vec::new(),
                vendor_id: [0; 16],
                class_id: [0; 16],
                trusted_root_version: 1,
                slot_capacity: 1,
                factory: None,
            },
        );
        config.device_id = Some("dev-1".into());
        config
    }

    fn refused(change: impl FnOnce(&mut AgentConfig)) -> String {
        let mut c = config();
        change(&mut c);
        match Agent::new(c) {
            Ok(_) => "accepted".into(),
            Err(e) => format!("{}: {e}", e.code()),
        }
    }

    #[test]
    fn unusable_configurations_are_refused_before_any_io() {
        assert_eq!(refused(|_| {}), "accepted");
        assert_eq!(
            refused(|c| c.cloud_url = "http://127.0.0.1:80".into()),
            "bad_config: bad configuration: the cloud URL must be https://HOST:PORT"
        );
        assert_eq!(
            refused(|c| c.broker = "localhost".into()),
            "bad_config: bad configuration: the broker must be HOST:PORT"
        );
        assert_eq!(
            refused(|c| c.trust_anchors.clear()),
            "bad_config: bad configuration: no trust anchor (the fleet CA chain)"
        );
        assert_eq!(
            refused(|c| c.step_timeout = Duration::ZERO),
            "bad_config: bad configuration: the step timeout must not be zero"
        );
        assert_eq!(
            refused(|c| {
                c.timers = Some(Timers {
                    telemetry: Duration::from_secs(1),
                    poll: Duration::ZERO,
                    attest: Duration::from_secs(1),
                })
            }),
            "bad_config: bad configuration: timer periods must not be zero"
        );
        assert_eq!(
            refused(|c| c.est_label = Some("../admin".into())),
            "bad_config: bad configuration: the EST label must be letters, digits and '-'"
        );
        assert!(!config().state_dir.exists());
    }
}
