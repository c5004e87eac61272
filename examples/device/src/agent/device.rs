//! A running device: the steps the run loop dispatches to (commands and timers), each ending
//! in events. Attestation answers a nonce with SE evidence (`iotsec_attest::se_evidence`) or,
//! with a TPM configured, a quote of the firmware PCR ([`super::tpm`]);
//! updates go through [`super::firmware`]; renewal and the first enrollment through
//! [`super::enroll`] (RFC 7030 §4.2).

use std::sync::Arc;

use base64ct::{Base64, Encoding};
use iotsec_fleet_api::{DeviceReport, Evidence, EvidenceFormat, UpdateOutcome};
use iotsec_pki::DeviceKey;
use sha2::Digest;
use tokio::sync::mpsc::UnboundedSender;

use super::broker::{Ack, Broker, Down};
use super::cloud::{Cloud, tls_config};
use super::config::AgentConfig;
use super::enroll::{auth_of, enroll_with_retries, reenroll};
use super::error::AgentError;
use super::event::{AgentCommand, AgentEvent, AgentExit, UpdateResult};
use super::firmware::Firmware;
use super::state::{Identity, StateDir};

/// Seconds since the epoch (the device's clock, trusted for manifest expiry and renewal).
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A running device.
pub(super) struct Device {
    config: AgentConfig,
    provider: Arc<rustls::crypto::CryptoProvider>,
    state: StateDir,
    firmware: Firmware,
    identity: Identity,
    cloud: Cloud,
    pub(super) broker: Broker,
    wrong_measurement: bool,
    tpm: Option<super::tpm::TpmConfig>,
    telemetry_seq: u64,
    events: UnboundedSender<AgentEvent>,
}

impl Device {
    pub(super) fn emit(&self, event: AgentEvent) {
        let _ = self.events.send(event);
    }

    pub(super) async fn start(
        config: AgentConfig,
        tpm: Option<super::tpm::TpmConfig>,
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
        let stored = state.identity()?;
        if let (Some(identity), Some(id)) = (&stored, &config.device_id)
            && *id != identity.leaf.cn
        {
            return Err(AgentError::BadConfig {
                reason: format!(
                    "the state directory holds device {:?}, not {id:?}",
                    identity.leaf.cn
                ),
            });
        }
        // An expired certificate cannot renew itself (RFC 7030 §4.2.2 needs a valid one): the
        // device enrolls again, under the same id, with its bootstrap credential.
        let (stored, known_id) = match stored {
            Some(identity) if identity.leaf.not_after <= unix_now() => {
                emit(AgentEvent::Error {
                    code: "certificate_expired".into(),
                    message: format!(
                        "certificate {} expired: enrolling again with the bootstrap credential",
                        identity.leaf.serial
                    ),
                });
                (None, Some(identity.leaf.cn))
            }
            other => (other, None),
        };
        let identity = match stored {
            Some(identity) => {
                emit(AgentEvent::Resumed {
                    id: identity.leaf.cn.clone(),
                    serial: identity.leaf.serial.clone(),
                });
                identity
            }
            None => {
                let identity =
                    enroll_with_retries(&config, known_id.as_deref(), &provider, &state, &events)
                        .await?;
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
            config.http_keep_alive,
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
            tpm,
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

    pub(super) async fn command(
        &mut self,
        command: AgentCommand,
    ) -> Result<Option<AgentExit>, AgentError> {
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
    pub(super) async fn timer(&mut self, which: usize) -> Result<Option<AgentExit>, AgentError> {
        match which {
            0 => {
                let event = self.attest().await?;
                self.emit(event);
            }
            1 => self.publish_telemetry().await?,
            _ => {
                let released = self.poll_release().await;
                if let Err(e) = released {
                    if e.is_decommissioned() {
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

    /// Evidence for a fresh nonce. SE evidence (`iotsec_attest::se_evidence`) is signed by the
    /// enrolled P-256 key: device id = SHA-256 of the CN, measurement = the running slot's
    /// digest, counter = the persisted attestation counter. With a TPM, the running slot's
    /// digest is measured into the firmware PCR and quoted with the nonce ([`super::tpm`]).
    async fn attest(&mut self) -> Result<AgentEvent, AgentError> {
        use iotsec_attest::se_evidence::{MAX_EVIDENCE_LEN, produce_se_evidence};
        if let Some(tpm) = self.tpm.clone()
            && let Some(ek_handle) = tpm.ek_handle
        {
            self.register_tpm(&tpm, ek_handle).await?;
        }
        let nonce = self.cloud.nonce().await?;
        let challenge = hex::decode(&nonce.nonce).map_err(|e| AgentError::BadReply {
            doing: "asking for an attestation nonce",
            reason: format!("nonce is not hex: {e}"),
        })?;
        let mut measurement = self.firmware.measurement()?;
        if std::mem::take(&mut self.wrong_measurement) {
            measurement.iter_mut().for_each(|b| *b = !*b);
        }
        if let Some(tpm) = self.tpm.clone() {
            let quoted =
                blocking_tpm(move || super::tpm::measure_and_quote(&tpm, &measurement, &challenge))
                    .await?;
            return self.submit(nonce.nonce, EvidenceFormat::Tpm, &quoted).await;
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
        self.submit(
            nonce.nonce,
            EvidenceFormat::Se,
            out.get(..n).unwrap_or_default(),
        )
        .await
    }

    /// Registers the TPM's AK beside its EK once (remembered in the state directory): the
    /// cloud's credential is activated by the TPM and its secret sent back. One attempt per
    /// attestation step; a refusal or a credential the TPM cannot activate is the step's
    /// error (its code), and the next step tries again.
    async fn register_tpm(
        &mut self,
        tpm: &super::tpm::TpmConfig,
        ek_handle: u32,
    ) -> Result<(), AgentError> {
        if self.state.tpm_registered()?.is_some() {
            return Ok(());
        }
        let config = tpm.clone();
        let keys = blocking_tpm(move || super::tpm::registration_keys(&config, ek_handle)).await?;
        let challenge = self
            .cloud
            .tpm_register(&iotsec_fleet_api::TpmRegister {
                ek_public: Base64::encode_string(&keys.ek_public),
                ek_certificate: keys.ek_certificate.as_deref().map(Base64::encode_string),
                ak_public: Base64::encode_string(&keys.ak_public),
            })
            .await?;
        let bad_reply = |reason: &str| AgentError::BadReply {
            doing: "registering the TPM attestation key",
            reason: reason.to_owned(),
        };
        let id_object = Base64::decode_vec(&challenge.credential)
            .map_err(|_| bad_reply("the credential is not base64"))?;
        let encrypted_secret = Base64::decode_vec(&challenge.secret)
            .map_err(|_| bad_reply("the encrypted secret is not base64"))?;
        let config = tpm.clone();
        let secret = blocking_tpm(move || {
            super::tpm::activate(&config, ek_handle, &id_object, &encrypted_secret)
        })
        .await?;
        let mut activate = iotsec_fleet_api::TpmActivate {
            registration: challenge.registration,
            secret: Base64::encode_string(&secret),
        };
        let registered = self.cloud.tpm_activate(&activate).await;
        zeroize::Zeroize::zeroize(&mut activate.secret);
        let registered = registered?;
        self.state.store_tpm_registered(&registered.ak_name)?;
        self.emit(AgentEvent::TpmRegistered {
            ak_name: registered.ak_name,
        });
        Ok(())
    }

    /// Sends evidence for `nonce` and reports the cloud's verdict.
    async fn submit(
        &mut self,
        nonce: String,
        format: EvidenceFormat,
        bytes: &[u8],
    ) -> Result<AgentEvent, AgentError> {
        let evidence = Evidence {
            nonce,
            format,
            evidence: Base64::encode_string(bytes),
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
        let (chain, facts) = reenroll(&self.cloud, &self.identity).await?;
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
            self.config.http_keep_alive,
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
    pub(super) async fn wipe(&mut self) -> Result<AgentExit, AgentError> {
        self.broker.disconnect().await;
        self.state.wipe()?;
        self.emit(AgentEvent::Wiped);
        Ok(AgentExit::Wiped)
    }
}

/// The version an unverified manifest names, for reporting a refusal; `unknown` when it does
/// not parse.
/// Runs TPM I/O off the runtime.
async fn blocking_tpm<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AgentError> + Send + 'static,
) -> Result<T, AgentError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AgentError::Tpm {
            code: "tpm_task",
            reason: e.to_string(),
        })?
}

fn unverified_version(document: &[u8]) -> String {
    iotsec_ota::cose_sign::CoseSign::from_cbor(document)
        .ok()
        .and_then(|signed| iotsec_ota::Manifest::from_cbor(signed.payload).ok())
        .map_or_else(|| "unknown".to_owned(), |m| m.version.to_owned())
}
