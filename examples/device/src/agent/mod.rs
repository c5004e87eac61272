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
//! No thread per device: everything is async on the caller's runtime (slot writes go to tokio's
//! blocking pool while an image streams in), and an idle agent holds one TLS session, to the
//! broker; its HTTPS connection to the cloud closes 2 s after a step. Agents of one process
//! should share one crypto provider ([`AgentConfig::tls_provider`]).
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
mod error;
mod event;
mod firmware;
mod state;

pub use config::{AgentConfig, Bootstrap, FactoryImage, FirmwareConfig, Timers};
pub use error::AgentError;
pub use event::{AgentCommand, AgentEvent, AgentExit, UpdateResult};

use std::sync::Arc;
use std::time::Duration;

use base64ct::{Base64, Encoding};
use iotsec_fleet_api::{DeviceReport, Evidence, EvidenceFormat, UpdateOutcome};
use iotsec_pki::{CsrRequest, DeviceKey, ExpectedLeaf, KeyAlgorithm, build_csr, check_issued_leaf};
use sha2::Digest;
use tokio::sync::mpsc::{Receiver, UnboundedSender};
use zeroize::Zeroizing;

use broker::{Ack, Broker, Down};
use cloud::{Cloud, tls_config};
use firmware::Firmware;
use state::{Identity, LeafFacts, StateDir};

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
        Ok(Agent { config })
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
        let mut device = Device::start(self.config, events).await?;
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
                Err(e) if e.code() == "decommissioned" => return device.wipe().await,
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

/// Seconds since the epoch (the device's clock, trusted for manifest expiry and renewal).
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A running device.
struct Device {
    config: AgentConfig,
    provider: Arc<rustls::crypto::CryptoProvider>,
    state: StateDir,
    firmware: Firmware,
    identity: Identity,
    cloud: Cloud,
    broker: Broker,
    wrong_measurement: bool,
    telemetry_seq: u64,
    events: UnboundedSender<AgentEvent>,
}

/// The non-self-issued certificates of `/cacerts`: the intermediates that complete the chain
/// the device presents.
fn intermediates(cacerts: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    use der::Decode;
    cacerts
        .into_iter()
        .filter(|c| {
            x509_cert::Certificate::from_der(c)
                .map(|x| x.tbs_certificate.issuer != x.tbs_certificate.subject)
                .unwrap_or(false)
        })
        .collect()
}

impl Device {
    fn emit(&self, event: AgentEvent) {
        let _ = self.events.send(event);
    }

    async fn start(
        config: AgentConfig,
        events: UnboundedSender<AgentEvent>,
    ) -> Result<Device, AgentError> {
        let provider = config
            .tls_provider
            .clone()
            .or_else(|| rustls::crypto::CryptoProvider::get_default().cloned())
            .ok_or_else(|| AgentError::BadConfig {
                reason: "no rustls crypto provider: configure one or install a process default"
                    .into(),
            })?;
        let state = StateDir::open(&config.state_dir)?;
        let (slots, firmware_config) = (state.slots(), config.firmware.clone());
        let (firmware, boot_outcome) =
            tokio::task::spawn_blocking(move || Firmware::open(slots, firmware_config))
                .await
                .map_err(|e| AgentError::SlotStore(std::io::Error::other(e.to_string())))??;
        let emit = |event| {
            let _ = events.send(event);
        };
        emit(AgentEvent::Booted {
            firmware: firmware.version(),
            slot: format!("{:?}", firmware.running()),
        });
        let identity = match state.identity()? {
            Some(identity) => {
                if let Some(id) = &config.device_id
                    && *id != identity.leaf.cn
                {
                    return Err(AgentError::BadConfig {
                        reason: format!(
                            "the state directory holds device {:?}, not {id:?}",
                            identity.leaf.cn
                        ),
                    });
                }
                emit(AgentEvent::Resumed {
                    id: identity.leaf.cn.clone(),
                    serial: identity.leaf.serial.clone(),
                });
                identity
            }
            None => {
                let identity = enroll_with_retries(&config, &provider, &state, &events).await?;
                emit(AgentEvent::Enrolled {
                    id: identity.leaf.cn.clone(),
                    serial: identity.leaf.serial.clone(),
                });
                identity
            }
        };
        let device_tls = tls_config(&provider, &config.trust_anchors, Some(auth_of(&identity)?))?;
        let cloud = Cloud::new(
            &config.cloud_url,
            config.est_label.as_deref(),
            device_tls.clone(),
            config.step_timeout,
        )?;
        let broker = Broker::new(
            &config.broker,
            &identity.leaf.cn,
            Arc::new(device_tls),
            config.step_timeout,
        )
        .map_err(|reason| AgentError::BadConfig { reason })?;
        let mut device = Device {
            config,
            provider,
            state,
            firmware,
            identity,
            cloud,
            broker,
            wrong_measurement: false,
            telemetry_seq: 0,
            events,
        };
        if let Some(outcome) = boot_outcome
            && let Err(e) = device.finish_update(outcome).await
        {
            device.emit(e.to_event());
        }
        device.connect().await;
        Ok(device)
    }

    /// (Re)connects to the broker: [`AgentEvent::Connected`] or [`AgentEvent::Disconnected`].
    async fn connect(&mut self) -> bool {
        match self.broker.connect().await {
            Ok(()) => {
                self.emit(AgentEvent::Connected {
                    broker: self.broker.addr().to_owned(),
                });
                true
            }
            Err(Down(reason)) => {
                self.emit(AgentEvent::Disconnected { reason });
                false
            }
        }
    }

    /// Connects first if no session is up; false (after [`AgentEvent::Disconnected`]) when
    /// that fails.
    async fn ensure_connected(&mut self) -> bool {
        self.broker.is_connected() || self.connect().await
    }

    async fn command(&mut self, command: AgentCommand) -> Result<Option<AgentExit>, AgentError> {
        match command {
            AgentCommand::Publish => self.publish_telemetry().await?,
            AgentCommand::Attest => {
                let event = self.attest().await?;
                self.emit(event);
            }
            AgentCommand::PollRelease => self.poll_release().await?,
            AgentCommand::OfferManifest { manifest, image } => {
                self.offer(&manifest, image).await?;
            }
            AgentCommand::FailNextTrialBoot => {
                self.firmware.fail_next_trial = true;
                self.emit(AgentEvent::Armed {
                    fault: "fail_next_trial_boot".into(),
                });
            }
            AgentCommand::WrongMeasurement => {
                self.wrong_measurement = true;
                self.emit(AgentEvent::Armed {
                    fault: "wrong_measurement".into(),
                });
            }
            AgentCommand::Probe { topics } => self.probe(&topics).await,
            AgentCommand::Reconnect => {
                self.connect().await;
            }
            AgentCommand::Renew => self.renew().await?,
            AgentCommand::CheckStatus => {
                if self.check_status().await? {
                    return self.wipe().await.map(Some);
                }
            }
            AgentCommand::Stop => {
                self.broker.disconnect().await;
                return Ok(Some(AgentExit::Stopped));
            }
        }
        Ok(None)
    }

    /// The timer-driven steps: attestation, telemetry, and the poll (release channel, then
    /// status with renewal before expiry).
    async fn timer(&mut self, which: usize) -> Result<Option<AgentExit>, AgentError> {
        match which {
            0 => {
                let event = self.attest().await?;
                self.emit(event);
            }
            1 => self.publish_telemetry().await?,
            _ => {
                let released = self.poll_release().await;
                if let Err(e) = released {
                    if e.code() == "decommissioned" {
                        return Err(e);
                    }
                    self.emit(e.to_event());
                }
                if self.check_status().await? {
                    return self.wipe().await.map(Some);
                }
            }
        }
        Ok(None)
    }

    async fn publish_telemetry(&mut self) -> Result<(), AgentError> {
        if !self.ensure_connected().await {
            return Ok(());
        }
        self.telemetry_seq += 1;
        let topic = format!("devices/{}/telemetry", self.identity.leaf.cn);
        let payload = serde_json::json!({
            "seq": self.telemetry_seq,
            "firmware": self.firmware.version(),
            "time": unix_now(),
        })
        .to_string()
        .into_bytes();
        self.publish(topic, payload).await;
        Ok(())
    }

    async fn publish(&mut self, topic: String, payload: Vec<u8>) {
        let event = match self.broker.publish(&topic, payload).await {
            Ok(Ack::Granted) => AgentEvent::Published { topic },
            Ok(Ack::Refused(reason_code)) => AgentEvent::PublishRefused { topic, reason_code },
            Err(Down(reason)) => AgentEvent::Disconnected { reason },
        };
        self.emit(event);
    }

    async fn probe(&mut self, topics: &[String]) {
        for topic in topics {
            if !self.ensure_connected().await {
                return;
            }
            let event = match self.broker.subscribe(topic).await {
                Ok(Ack::Granted) => AgentEvent::Subscribed {
                    topic: topic.clone(),
                },
                Ok(Ack::Refused(reason_code)) => AgentEvent::SubscribeRefused {
                    topic: topic.clone(),
                    reason_code,
                },
                Err(Down(reason)) => AgentEvent::Disconnected { reason },
            };
            self.emit(event);
            if !self.ensure_connected().await {
                return;
            }
            self.publish(topic.clone(), b"probe".to_vec()).await;
        }
    }

    /// SE evidence (`iotsec_attest::se_evidence`) for a fresh nonce, signed by the enrolled
    /// P-256 key: device id = SHA-256 of the CN, measurement = the running slot's digest,
    /// counter = the persisted attestation counter.
    async fn attest(&mut self) -> Result<AgentEvent, AgentError> {
        use iotsec_attest::se_evidence::{MAX_EVIDENCE_LEN, produce_se_evidence};
        let nonce = self.cloud.nonce().await?;
        let challenge = hex::decode(&nonce.nonce).map_err(|e| AgentError::BadReply {
            doing: "asking for an attestation nonce",
            reason: format!("nonce is not hex: {e}"),
        })?;
        let mut measurement = self.firmware.measurement()?;
        if std::mem::take(&mut self.wrong_measurement) {
            measurement.iter_mut().for_each(|b| *b = !*b);
        }
        let counter = self.state.next_counter()?;
        let device_id: [u8; 32] = sha2::Sha256::digest(self.identity.leaf.cn.as_bytes()).into();
        let DeviceKey::P256(signer) = &mut self.identity.key else {
            return Err(AgentError::BadConfig {
                reason: "SE evidence needs a P-256 device key".into(),
            });
        };
        let mut out = [0u8; MAX_EVIDENCE_LEN];
        let n = produce_se_evidence(
            signer,
            &challenge,
            &device_id,
            &measurement,
            counter,
            &mut out,
        )
        .map_err(AgentError::Evidence)?;
        let evidence = Evidence {
            nonce: nonce.nonce,
            format: EvidenceFormat::Se,
            evidence: Base64::encode_string(out.get(..n).unwrap_or_default()),
        };
        let appraisal = self.cloud.evidence(&evidence).await?;
        Ok(AgentEvent::Attested {
            accepted: appraisal.accepted,
            code: appraisal.code,
            quarantined: appraisal.quarantined,
        })
    }

    /// Reports an update attempt to the cloud, then sends [`AgentEvent::Update`] (so a driver
    /// that sees the event finds the report in the registry); a failed report follows it as
    /// an error.
    async fn finish_update(&mut self, outcome: UpdateOutcome) -> Result<(), AgentError> {
        let event = AgentEvent::Update {
            version: outcome.version.clone(),
            result: outcome.result,
            code: outcome.code.clone(),
        };
        let report = DeviceReport {
            firmware: self.firmware.version(),
            update: Some(outcome),
        };
        let reported = self.cloud.report(&report).await;
        self.emit(event);
        reported
    }

    fn refused(version: String, code: &str) -> UpdateOutcome {
        UpdateOutcome {
            version,
            result: UpdateResult::Refused,
            code: Some(code.to_owned()),
        }
    }

    async fn poll_release(&mut self) -> Result<(), AgentError> {
        let Some(offer) = self.cloud.release().await? else {
            self.emit(AgentEvent::NoRelease);
            return Ok(());
        };
        if offer.version == self.firmware.version() {
            self.emit(AgentEvent::NoRelease);
            return Ok(());
        }
        let Ok(manifest) = Base64::decode_vec(&offer.manifest) else {
            return self
                .finish_update(Self::refused(offer.version, "manifest_not_base64"))
                .await;
        };
        let accepted = match self
            .firmware
            .check(&manifest, &self.identity.leaf.cn, unix_now())?
        {
            Ok(accepted) if accepted.version == offer.version => accepted,
            Ok(_) => {
                return self
                    .finish_update(Self::refused(offer.version, "version_mismatch"))
                    .await;
            }
            Err(code) => return self.finish_update(Self::refused(offer.version, code)).await,
        };
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let size = accepted.ticket.size;
        let version = accepted.version.clone();
        let (installed, downloaded) = tokio::join!(
            self.firmware.install(accepted, rx),
            self.cloud.image(&version, size, tx)
        );
        let outcome = match (installed?, downloaded) {
            // The download broke off: the installer saw a short image; the cause is the link.
            (outcome, Err(e)) if outcome.result == UpdateResult::Refused => {
                Self::refused(version, e.code())
            }
            (outcome, _) => outcome,
        };
        self.finish_update(outcome).await
    }

    /// A manifest and image handed in directly (the replay of an old release): verified and
    /// installed exactly like an offered one.
    async fn offer(&mut self, manifest: &[u8], image: Vec<u8>) -> Result<(), AgentError> {
        let accepted = match self
            .firmware
            .check(manifest, &self.identity.leaf.cn, unix_now())?
        {
            Ok(accepted) => accepted,
            Err(code) => {
                let version = unverified_version(manifest);
                return self.finish_update(Self::refused(version, code)).await;
            }
        };
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let feed = async move {
            for chunk in image.chunks(64 * 1024) {
                if tx.send(chunk.to_vec()).await.is_err() {
                    break;
                }
            }
        };
        let (installed, ()) = tokio::join!(self.firmware.install(accepted, rx), feed);
        self.finish_update(installed?).await
    }

    /// Re-enrollment (RFC 7030 §4.2.2) with the current key over mutual TLS; the new chain is
    /// stored, the HTTPS client and the broker session switch to it.
    async fn renew(&mut self) -> Result<(), AgentError> {
        use der::Decode;
        let current = self.identity.chain.first().cloned().unwrap_or_default();
        let leaf =
            x509_cert::Certificate::from_der(&current).map_err(|e| AgentError::BadConfig {
                reason: format!("the stored certificate: {e}"),
            })?;
        let csr = iotsec_pki::csr::build_renewal_csr(&self.identity.key, &leaf, None)
            .map_err(AgentError::Pki)?;
        let certs = self.cloud.enroll(true, None, &csr).await?;
        let new_leaf = certs.first().ok_or(AgentError::BadReply {
            doing: "re-enrolling (EST simplereenroll)",
            reason: "no certificate".into(),
        })?;
        check_issued_leaf(
            new_leaf,
            &self.identity.key,
            &ExpectedLeaf::SameAs(&current),
        )
        .map_err(AgentError::IssuedLeaf)?;
        let facts = LeafFacts::of(new_leaf).map_err(|reason| AgentError::BadReply {
            doing: "re-enrolling (EST simplereenroll)",
            reason,
        })?;
        let mut chain = vec![new_leaf.clone()];
        chain.extend(self.identity.chain.iter().skip(1).cloned());
        self.state.store_identity(None, &chain)?;
        self.identity.chain = chain;
        self.identity.leaf = facts;
        let tls = tls_config(
            &self.provider,
            &self.config.trust_anchors,
            Some(auth_of(&self.identity)?),
        )?;
        self.cloud = Cloud::new(
            &self.config.cloud_url,
            self.config.est_label.as_deref(),
            tls.clone(),
            self.config.step_timeout,
        )?;
        self.broker.set_tls(Arc::new(tls));
        self.emit(AgentEvent::Renewed {
            serial: self.identity.leaf.serial.clone(),
        });
        self.connect().await;
        Ok(())
    }

    /// [`AgentEvent::Status`]; true when decommissioned. Renews first when the certificate
    /// expires within the cloud's `renew_before_secs` (timers only do this; a command asks for
    /// [`AgentCommand::Renew`] explicitly).
    async fn check_status(&mut self) -> Result<bool, AgentError> {
        let status = self.cloud.status().await?;
        self.emit(AgentEvent::Status {
            quarantined: status.quarantined,
            decommissioned: status.decommissioned,
        });
        if status.decommissioned {
            return Ok(true);
        }
        if self.config.timers.is_some()
            && unix_now().saturating_add(status.renew_before_secs) >= self.identity.leaf.not_after
        {
            self.renew().await?;
        }
        Ok(false)
    }

    /// Decommissioned: disconnect, erase the key (overwritten, then removed), the chain and
    /// the counter; [`AgentEvent::Wiped`].
    async fn wipe(&mut self) -> Result<AgentExit, AgentError> {
        self.broker.disconnect().await;
        self.state.wipe()?;
        self.emit(AgentEvent::Wiped);
        Ok(AgentExit::Wiped)
    }
}

/// The version an unverified manifest names, for reporting a refusal; `unknown` when it does
/// not parse.
fn unverified_version(document: &[u8]) -> String {
    iotsec_ota::cose_sign::CoseSign::from_cbor(document)
        .ok()
        .and_then(|signed| iotsec_ota::Manifest::from_cbor(signed.payload).ok())
        .map_or_else(|| "unknown".to_owned(), |m| m.version.to_owned())
}

/// The TLS client credentials of an enrolled identity.
fn auth_of(identity: &Identity) -> Result<cloud::ClientAuth, AgentError> {
    let key = identity.key.to_pkcs8_der().map_err(AgentError::Pki)?;
    Ok((identity.chain.clone(), key))
}

/// Enrollment attempts before the agent gives up on a transient failure.
const ENROLL_ATTEMPTS: u32 = 5;

/// [`enroll`], tried again after a transient failure (reported as [`AgentEvent::Error`]) with
/// exponential backoff from 1 s plus up to 1 s of jitter, so that a fleet starting at once
/// spreads out; a refusal ends it at once.
async fn enroll_with_retries(
    config: &AgentConfig,
    provider: &Arc<rustls::crypto::CryptoProvider>,
    state: &StateDir,
    events: &UnboundedSender<AgentEvent>,
) -> Result<Identity, AgentError> {
    use rand_core::RngCore;
    let mut attempt = 1;
    loop {
        match enroll(config, provider, state).await {
            Err(e) if e.is_transient() && attempt < ENROLL_ATTEMPTS => {
                let _ = events.send(e.to_event());
                let backoff = Duration::from_secs(1 << (attempt - 1))
                    + Duration::from_millis(u64::from(rand_core::OsRng.next_u32() % 1000));
                tokio::time::sleep(backoff).await;
                attempt += 1;
            }
            ended => return ended,
        }
    }
}

/// First enrollment (RFC 7030 §4.2.1): a fresh P-256 key, a CSR for the device id, the
/// bootstrap credential; the issued leaf must certify that key for that name.
async fn enroll(
    config: &AgentConfig,
    provider: &Arc<rustls::crypto::CryptoProvider>,
    state: &StateDir,
) -> Result<Identity, AgentError> {
    let (auth, basic, bootstrap_cn) = match &config.bootstrap {
        Bootstrap::Basic { user, password } => {
            (None, Some((user.as_str(), password.as_str())), None)
        }
        Bootstrap::Certificate { chain, key_pkcs8 } => {
            let cn = chain
                .first()
                .and_then(|c| LeafFacts::of(c).ok())
                .map(|f| f.cn);
            (
                Some((chain.clone(), Zeroizing::new(key_pkcs8.to_vec()))),
                None,
                cn,
            )
        }
    };
    let id = config
        .device_id
        .clone()
        .or(bootstrap_cn)
        .ok_or_else(|| AgentError::BadConfig {
            reason: "no device id: configure one (the bootstrap credential does not name it)"
                .into(),
        })?;
    let tls = tls_config(provider, &config.trust_anchors, auth)?;
    let bootstrap = Cloud::new(
        &config.cloud_url,
        config.est_label.as_deref(),
        tls,
        config.step_timeout,
    )?;
    let key = DeviceKey::generate(KeyAlgorithm::P256, &mut rand_core::OsRng);
    let request = CsrRequest {
        common_name: &id,
        ..CsrRequest::default()
    };
    let csr = build_csr(&key, &request).map_err(AgentError::Pki)?;
    let tail = intermediates(bootstrap.cacerts().await?);
    let certs = bootstrap.enroll(false, basic, &csr).await?;
    let leaf = certs.first().ok_or(AgentError::BadReply {
        doing: "enrolling (EST simpleenroll)",
        reason: "no certificate".into(),
    })?;
    check_issued_leaf(leaf, &key, &ExpectedLeaf::Requested(&request))
        .map_err(AgentError::IssuedLeaf)?;
    let facts = LeafFacts::of(leaf).map_err(|reason| AgentError::BadReply {
        doing: "enrolling (EST simpleenroll)",
        reason,
    })?;
    let mut chain = vec![leaf.clone()];
    chain.extend(tail);
    state.store_identity(Some(&key), &chain)?;
    Ok(Identity {
        key,
        chain,
        leaf: facts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AgentConfig {
        AgentConfig {
            state_dir: std::env::temp_dir().join("iotsec-agent-never-created"),
            cloud_url: "https://127.0.0.1:8443".into(),
            est_label: None,
            broker: "127.0.0.1:8883".into(),
            trust_anchors: vec![vec![0x30, 0x00]],
            device_id: Some("dev-1".into()),
            bootstrap: Bootstrap::Basic {
                user: "u".into(),
                password: Zeroizing::new("p".into()),
            },
            firmware: FirmwareConfig {
                trust_root: Vec::new(),
                vendor_id: [0; 16],
                class_id: [0; 16],
                trusted_root_version: 1,
                slot_capacity: 1,
                factory: None,
            },
            timers: None,
            tls_provider: None,
            step_timeout: Duration::from_secs(1),
        }
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
