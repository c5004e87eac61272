//! The devices: N device agents (`iotsec_device::agent`) as tokio tasks, each with its own
//! state directory, driven by commands so that every step is deterministic, and reporting
//! what happened as events. The events of all devices meet in one [`Hub`], tagged with the
//! device's index and the time they arrived, where the steps wait for them (bounded).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

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
    /// Stop.
    Stop,
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
    /// Nothing offered.
    NoOffer,
}

/// What a device reports.
#[derive(Debug, Clone)]
pub enum Ev {
    /// Enrolled over EST; the certificate serial.
    Enrolled(String),
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
    /// Its keys are wiped.
    Wiped,
    /// The broker connection ended (or could not be made): why.
    Disconnected(String),
    /// An error: code and message.
    Error(String, String),
    /// The agent ended.
    Exited(String),
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

    /// The position from which a step's waits look (events before it belong to earlier steps).
    pub fn mark(&self) -> usize {
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

/// The id of device `index` (certificate CN, MQTT client id).
pub fn device_id(index: usize) -> String {
    format!("dev-{:04}", index + 1)
}

/// The running devices.
pub struct Fleet {
    commands: Vec<mpsc::Sender<Cmd>>,
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
        let _ = (n, config, events);
        Err("the device agent (iotsec_device::agent) is not part of this build yet".into())
    }

    /// How many devices.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Sends `cmd` to device `index`; false if it is gone.
    pub async fn send(&self, index: usize, cmd: Cmd) -> bool {
        match self.commands.get(index) {
            Some(tx) => tx.send(cmd).await.is_ok(),
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

    /// Stops every device (bounded: a device that does not take the command is dropped).
    pub async fn stop(self) {
        for tx in &self.commands {
            let _ = tokio::time::timeout(Duration::from_millis(200), tx.send(Cmd::Stop)).await;
        }
    }
}
