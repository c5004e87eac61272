//! The devices: N device agents (`iotsec_device::agent`) as tokio tasks, each with its own
//! state directory, driven by commands so that every step is deterministic, and reporting
//! what happened as events. The events of all devices meet in one [`Hub`], tagged with the
//! device's index and the time they arrived, where the steps wait for them (bounded).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use iotsec_device::agent::{
    Agent, AgentCommand, AgentConfig, AgentEvent, Bootstrap, FactoryImage, FirmwareConfig,
};
use tokio::sync::mpsc;
use zeroize::Zeroizing;

use super::release;

/// What the demo asks a device to do.
#[derive(Debug, Clone)]
pub enum Cmd {
    /// Ask the cloud for a release and install it if offered.
    PollRelease,
    /// Attest (nonce, evidence, appraisal).
    Attest,
    /// Publish one telemetry message on its own topic.
    Publish,
    /// Publish to other devices' topics (a compromised device probing).
    Probe(Vec<String>),
    /// Verify and install this manifest and image (a replay attack).
    OfferManifest {
        /// The signed manifest.
        manifest: Vec<u8>,
        /// The image.
        image: Vec<u8>,
    },
    /// The next trial boot fails (the device must revert on its own).
    FaultNextTrialBoot,
    /// Measure a firmware digest other than the one it runs (attestation must fail).
    WrongMeasurement,
    /// Ask the cloud for its status (decommissioned devices wipe their keys).
    CheckStatus,
    /// Drop the broker connection and connect again.
    Reconnect,
}

/// How an update attempt ended on a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateResult {
    /// Confirmed.
    Confirmed,
    /// Reverted after a failed trial boot.
    Reverted,
    /// Refused (never installed).
    Refused,
}

/// What a device reports.
#[derive(Debug, Clone)]
pub enum Ev {
    /// Enrolled over EST.
    Enrolled,
    /// Connected to the broker.
    Connected,
    /// Attested: accepted or not, with the refusal code.
    Attested(bool, Option<String>),
    /// A PUBLISH was accepted by the broker.
    Published(String),
    /// A PUBLISH was refused by the broker.
    PublishRefused(String),
    /// An update attempt ended: version, result, code.
    Update(String, UpdateResult, Option<String>),
    /// The release channel offered nothing.
    NoRelease,
    /// Its keys are wiped.
    Wiped,
    /// The broker connection ended (or could not be made): why.
    Disconnected(String),
    /// An error: its code.
    Error(String),
    /// The agent ended.
    Exited(String),
    /// Anything else (booted, armed, subscribed, status, ...).
    Other,
}

/// One event of one device.
#[derive(Debug, Clone)]
pub struct Tagged {
    /// The device's index.
    pub device: usize,
    /// When it arrived.
    pub at: Instant,
    /// The event.
    pub event: Ev,
}

/// Where the events of all devices meet.
pub struct Hub {
    rx: mpsc::UnboundedReceiver<Tagged>,
    history: Vec<Tagged>,
}

impl Hub {
    /// A hub and the sender every device's forwarder gets a clone of.
    pub fn new() -> (Hub, mpsc::UnboundedSender<Tagged>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Hub {
                rx,
                history: Vec::new(),
            },
            tx,
        )
    }

    /// The position from which a step's waits look: every event that arrived so far
    /// belongs to earlier steps.
    pub fn mark(&mut self) -> usize {
        self.drain();
        self.history.len()
    }

    /// Waits until `count` events since `mark` satisfy `matches`, or `limit` passes; returns
    /// the matching events (fewer than `count` on timeout).
    pub async fn wait(
        &mut self,
        mark: usize,
        count: usize,
        limit: Duration,
        matches: impl Fn(&Tagged) -> bool,
    ) -> Vec<Tagged> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let found: Vec<Tagged> = self
                .history
                .iter()
                .skip(mark)
                .filter(|t| matches(t))
                .cloned()
                .collect();
            if found.len() >= count {
                return found;
            }
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(t)) => self.history.push(t),
                Ok(None) | Err(_) => return found,
            }
        }
    }

    /// Takes in what arrived so far without waiting.
    pub fn drain(&mut self) {
        while let Ok(t) = self.rx.try_recv() {
            self.history.push(t);
        }
    }

    /// The events since `mark` that satisfy `matches` (after a [`Hub::drain`]).
    pub fn since(&self, mark: usize, matches: impl Fn(&Tagged) -> bool) -> Vec<Tagged> {
        self.history
            .iter()
            .skip(mark)
            .filter(|t| matches(t))
            .cloned()
            .collect()
    }
}

/// What every device agent is given.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// The cloud's base URL.
    pub cloud: String,
    /// The broker's port on 127.0.0.1.
    pub broker_port: u16,
    /// The fleet chain (trust anchor for the cloud and the broker), PEM.
    pub ca: PathBuf,
    /// The OTA trust root the devices pin at the factory (COSE).
    pub trust_root: Vec<u8>,
    /// The EST bootstrap user.
    pub bootstrap_user: String,
    /// The EST bootstrap password.
    pub bootstrap_password: String,
    /// Where device `i` keeps its state: `devices/ID`.
    pub devices_dir: PathBuf,
}

impl FleetConfig {
    /// The agent configuration of device `id`: command-driven (no timers), the factory image
    /// 1.0.0 in slot A, the OTA trust root pinned.
    fn agent(&self, id: &str, anchors: &[Vec<u8>]) -> AgentConfig {
        AgentConfig {
            state_dir: self.devices_dir.join(id),
            cloud_url: self.cloud.clone(),
            est_label: None,
            broker: format!("127.0.0.1:{}", self.broker_port),
            trust_anchors: anchors.to_vec(),
            device_id: Some(id.to_owned()),
            bootstrap: Bootstrap::Basic {
                user: self.bootstrap_user.clone(),
                password: Zeroizing::new(self.bootstrap_password.clone()),
            },
            firmware: FirmwareConfig {
                trust_root: self.trust_root.clone(),
                vendor_id: release::VENDOR,
                class_id: release::CLASS,
                trusted_root_version: 1,
                slot_capacity: 1 << 20,
                factory: Some(FactoryImage {
                    version: release::FACTORY.to_owned(),
                    image: release::image(release::FACTORY),
                    security_counter: release::FACTORY_COUNTER,
                    sequence: release::FACTORY_SEQUENCE,
                }),
            },
            timers: None,
            tls_provider: None,
            step_timeout: STEP_TIMEOUT,
            http_keep_alive: HTTP_KEEP_ALIVE,
        }
    }
}

/// How long one network exchange of a device may take: long enough that a fleet enrolling at
/// once does not time out waiting in the cloud's queue and enroll twice.
const STEP_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a device keeps its HTTPS connection between steps: the steps follow each other
/// within seconds, so one TLS handshake serves most of a device's lifecycle (under the
/// cloud's idle limit, [`crate::serve::ServeLimits::deadline`]).
const HTTP_KEEP_ALIVE: Duration = Duration::from_secs(25);

/// The certificates of a PEM file, DER.
fn pem_certificates(path: &Path) -> Result<Vec<Vec<u8>>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .map(|c| {
            c.map(|c| c.to_vec())
                .map_err(|e| format!("{}: {e}", path.display()))
        })
        .collect()
}

/// The demo's view of an agent event.
fn event_of(event: AgentEvent) -> Ev {
    match event {
        AgentEvent::Enrolled { .. } => Ev::Enrolled,
        AgentEvent::Connected { .. } => Ev::Connected,
        AgentEvent::Disconnected { reason } => Ev::Disconnected(reason),
        AgentEvent::Attested { accepted, code, .. } => Ev::Attested(accepted, code),
        AgentEvent::Published { topic } => Ev::Published(topic),
        AgentEvent::PublishRefused { topic, .. } => Ev::PublishRefused(topic),
        AgentEvent::NoRelease => Ev::NoRelease,
        AgentEvent::Update {
            version,
            result,
            code,
        } => Ev::Update(
            version,
            match result {
                iotsec_fleet_api::UpdateResult::Confirmed => UpdateResult::Confirmed,
                iotsec_fleet_api::UpdateResult::Reverted => UpdateResult::Reverted,
                iotsec_fleet_api::UpdateResult::Refused => UpdateResult::Refused,
            },
            code,
        ),
        AgentEvent::Wiped => Ev::Wiped,
        AgentEvent::Error { code, .. } => Ev::Error(code),
        _ => Ev::Other,
    }
}

/// The agent's command for a demo command.
fn command_of(cmd: Cmd) -> AgentCommand {
    match cmd {
        Cmd::PollRelease => AgentCommand::PollRelease,
        Cmd::Attest => AgentCommand::Attest,
        Cmd::Publish => AgentCommand::Publish,
        Cmd::Probe(topics) => AgentCommand::Probe { topics },
        Cmd::OfferManifest { manifest, image } => AgentCommand::OfferManifest { manifest, image },
        Cmd::FaultNextTrialBoot => AgentCommand::FailNextTrialBoot,
        Cmd::WrongMeasurement => AgentCommand::WrongMeasurement,
        Cmd::CheckStatus => AgentCommand::CheckStatus,
        Cmd::Reconnect => AgentCommand::Reconnect,
    }
}

/// The id of device `index` (certificate CN, MQTT client id).
pub fn device_id(index: usize) -> String {
    format!("dev-{:04}", index + 1)
}

/// The running devices.
pub struct Fleet {
    commands: Vec<mpsc::Sender<AgentCommand>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The devices' ids, by index.
    pub ids: Vec<String>,
    /// When each device was started.
    pub started: Vec<Instant>,
}

impl Fleet {
    /// Starts `n` device agents.
    pub fn spawn(
        n: usize,
        config: &FleetConfig,
        events: &mpsc::UnboundedSender<Tagged>,
    ) -> Result<Fleet, String> {
        let anchors = pem_certificates(&config.ca)?;
        let mut fleet = Fleet {
            commands: Vec::with_capacity(n),
            tasks: Vec::with_capacity(2 * n),
            ids: Vec::with_capacity(n),
            started: Vec::with_capacity(n),
        };
        for index in 0..n {
            let id = device_id(index);
            let agent = Agent::new(config.agent(&id, &anchors))
                .map_err(|e| format!("device {id}: {e} ({})", e.code()))?;
            let (commands, command_rx) = mpsc::channel(16);
            let (event_tx, mut event_rx) = mpsc::unbounded_channel();
            let hub = events.clone();
            fleet.tasks.push(tokio::spawn(async move {
                while let Some(event) = event_rx.recv().await {
                    let tagged = Tagged {
                        device: index,
                        at: Instant::now(),
                        event: event_of(event),
                    };
                    if hub.send(tagged).is_err() {
                        break;
                    }
                }
            }));
            let hub = events.clone();
            fleet.tasks.push(tokio::spawn(async move {
                let exit = match agent.run(command_rx, event_tx).await {
                    Ok(exit) => format!("{exit:?}"),
                    Err(e) => e.code().to_owned(),
                };
                let _ = hub.send(Tagged {
                    device: index,
                    at: Instant::now(),
                    event: Ev::Exited(exit),
                });
            }));
            fleet.commands.push(commands);
            fleet.ids.push(id);
            fleet.started.push(Instant::now());
        }
        Ok(fleet)
    }

    /// Sends `cmd` to device `index`; false if it is gone.
    pub async fn send(&self, index: usize, cmd: Cmd) -> bool {
        match self.commands.get(index) {
            Some(tx) => tx.send(command_of(cmd)).await.is_ok(),
            None => false,
        }
    }

    /// Sends `cmd` to each device of `indices`.
    pub async fn send_all(&self, indices: &[usize], cmd: &Cmd) -> usize {
        let mut sent = 0;
        for &i in indices {
            sent += usize::from(self.send(i, cmd.clone()).await);
        }
        sent
    }

    /// Stops every device: Stop to each (bounded), then the tasks that did not end in time
    /// are aborted.
    pub async fn stop(self) {
        for tx in &self.commands {
            let _ =
                tokio::time::timeout(Duration::from_millis(200), tx.send(AgentCommand::Stop)).await;
        }
        drop(self.commands);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        for task in self.tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                abort.abort();
            }
        }
    }
}
