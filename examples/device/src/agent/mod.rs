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
//!    `devices/{id}/telemetry`, attestation (SE evidence, `iotsec_attest::se_evidence`), the
//!    release channel (`iotsec_ota::verify`, streaming install, trial boot, confirm or revert,
//!    report), renewal (RFC 7030 §4.2.2 `simplereenroll`) before expiry, and the status check
//!    that ends in a wipe when the cloud decommissioned the device.
//!
//! No thread per device: everything is async on the caller's runtime, and an idle agent holds
//! one TLS session to the broker and (while the HTTP pool keeps it) one to the cloud.
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

mod config;
mod error;
mod event;

pub use config::{AgentConfig, Bootstrap, FactoryImage, FirmwareConfig, Timers};
pub use error::AgentError;
pub use event::{AgentCommand, AgentEvent, AgentExit, UpdateResult};

use tokio::sync::mpsc::{Receiver, UnboundedSender};

/// One device. Build it with [`Agent::new`], run it with [`Agent::run`].
#[derive(Debug)]
pub struct Agent {
    config: AgentConfig,
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
        Ok(Agent { config })
    }

    /// Runs the device until [`AgentCommand::Stop`], the end of `commands`, or a wipe. Events go
    /// to `events` (a closed receiver is not an error: the agent goes on). Fails only when the
    /// device cannot start: the state directory is unusable or the first enrollment is refused.
    pub async fn run(
        self,
        mut commands: Receiver<AgentCommand>,
        events: UnboundedSender<AgentEvent>,
    ) -> Result<AgentExit, AgentError> {
        let _ = &self.config;
        let _ = events.send(AgentEvent::Error {
            code: "not_implemented".into(),
            message: "the agent skeleton does nothing yet".into(),
        });
        while let Some(command) = commands.recv().await {
            if command == AgentCommand::Stop {
                return Ok(AgentExit::Stopped);
            }
        }
        Ok(AgentExit::CommandsClosed)
    }
}
