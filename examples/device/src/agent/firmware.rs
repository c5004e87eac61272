//! The device's firmware: A/B slot files driven by `iotsec_ota::trial_boot` (RFC 9019 §6.3
//! trial boot), manifests decided by `iotsec_ota::verify` (RFC 9124 §8.4.2 anti-rollback and
//! anti-replay). Every security decision is the crate's; this module moves bytes and records
//! which version each slot holds (`versions.json`, for reports: the digests that count are in
//! the boot record).
//!
//! An image streams from the network into the installer (`TrialBoot::install`, which verifies
//! the signed digest and size while it writes the inactive slot) through a bounded channel:
//! the agent never holds a whole image.

use std::path::{Path, PathBuf};

use iotsec_fleet_api::{UpdateOutcome, UpdateResult};
use iotsec_ota::trial_boot::{BootError, BootRecord, BootStore, InstallTicket, Slot, TrialBoot};
use iotsec_ota::{DeviceState, TrustRoot, TrustedTime};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::config::FirmwareConfig;
use super::error::AgentError;
use crate::slot_files::SlotFiles;

/// Which version each slot holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Versions {
    a: Option<String>,
    b: Option<String>,
}

impl Versions {
    fn of(&self, slot: Slot) -> Option<&str> {
        match slot {
            Slot::A => self.a.as_deref(),
            Slot::B => self.b.as_deref(),
        }
    }

    fn set(&mut self, slot: Slot, version: String) {
        match slot {
            Slot::A => self.a = Some(version),
            Slot::B => self.b = Some(version),
        }
    }
}

/// A manifest the verifier accepted for this device: what the installer needs.
#[derive(Debug, Clone)]
pub(crate) struct Accepted {
    pub(crate) ticket: InstallTicket,
    pub(crate) version: String,
}

/// The firmware side of one device.
#[derive(Debug)]
pub(crate) struct Firmware {
    dir: PathBuf,
    config: FirmwareConfig,
    running: Slot,
    versions: Versions,
    /// The next trial boot fails its health check.
    pub(crate) fail_next_trial: bool,
}

fn store_error(e: BootError<std::io::Error>) -> AgentError {
    match e {
        BootError::Store(io) => AgentError::SlotStore(io),
        other => AgentError::SlotStore(std::io::Error::other(format!(
            "{} ({})",
            other,
            other.code()
        ))),
    }
}

fn read_versions(dir: &Path) -> Result<Versions, AgentError> {
    let path = dir.join("versions.json");
    match std::fs::read(&path) {
        Ok(bytes) if bytes.len() <= 4096 => {
            serde_json::from_slice(&bytes).map_err(|e| AgentError::StateCorrupt {
                path,
                what: e.to_string(),
            })
        }
        Ok(_) => Err(AgentError::StateCorrupt {
            path,
            what: "larger than 4096 bytes".into(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Versions::default()),
        Err(source) => Err(AgentError::State { path, source }),
    }
}

fn write_versions(dir: &Path, versions: &Versions) -> Result<(), AgentError> {
    let path = dir.join("versions.json");
    let tmp = dir.join("versions.json.tmp");
    let bytes = serde_json::to_vec(versions).map_err(|e| AgentError::StateCorrupt {
        path: path.clone(),
        what: e.to_string(),
    })?;
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|source| AgentError::State { path, source })
}

/// What a blocking install step hands back.
struct Installed {
    running: Slot,
    versions: Versions,
    outcome: UpdateOutcome,
}

impl Firmware {
    /// Opens the slots (writing the factory image on first start), runs boot selection and,
    /// when the booted slot is on trial (an update installed before a restart), runs its
    /// health check: confirmed, or reverted when the trial had already been spent. Blocking
    /// file I/O: call it off the async workers.
    pub(crate) fn open(
        dir: PathBuf,
        config: FirmwareConfig,
    ) -> Result<(Firmware, Option<UpdateOutcome>), AgentError> {
        let mut files = SlotFiles { dir: dir.clone() };
        let before = match files.load_record() {
            Ok(record) => record,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let factory = config
                    .factory
                    .as_ref()
                    .ok_or_else(|| AgentError::BadConfig {
                        reason: format!(
                            "{} holds no boot record and no factory image is configured",
                            dir.display()
                        ),
                    })?;
                let record = BootRecord::factory(InstallTicket {
                    security_counter: factory.security_counter,
                    sequence_number: factory.sequence,
                    digest: sha2::Sha256::digest(&factory.image).into(),
                    size: factory.image.len() as u64,
                });
                files.erase_slot(Slot::A).map_err(AgentError::SlotStore)?;
                files
                    .write_slot(Slot::A, 0, &factory.image)
                    .map_err(AgentError::SlotStore)?;
                files.erase_slot(Slot::B).map_err(AgentError::SlotStore)?;
                let mut versions = Versions::default();
                versions.set(Slot::A, factory.version.clone());
                write_versions(&dir, &versions)?;
                files.store_record(&record).map_err(AgentError::SlotStore)?;
                record
            }
            Err(e) => return Err(AgentError::SlotStore(e)),
        };
        let versions = read_versions(&dir)?;
        let mut boot = TrialBoot::new(files);
        let booted = boot.boot().map_err(store_error)?;
        let mut firmware = Firmware {
            dir,
            config,
            running: booted,
            versions,
            fail_next_trial: false,
        };
        let outcome = match before.trial {
            None => None,
            Some(trial) => {
                let version = firmware.versions.of(trial.slot).unwrap_or("").to_owned();
                if booted == trial.slot {
                    // The update's first boot: its health check is that the agent got here.
                    boot.confirm(booted).map_err(store_error)?;
                    Some(UpdateOutcome {
                        version,
                        result: UpdateResult::Confirmed,
                        code: None,
                    })
                } else {
                    Some(UpdateOutcome {
                        version,
                        result: UpdateResult::Reverted,
                        code: Some("trial_not_confirmed".into()),
                    })
                }
            }
        };
        firmware.running = booted;
        Ok((firmware, outcome))
    }

    /// The running slot.
    pub(crate) fn running(&self) -> Slot {
        self.running
    }

    /// The running firmware's version.
    pub(crate) fn version(&self) -> String {
        self.versions
            .of(self.running)
            .unwrap_or("unknown")
            .to_owned()
    }

    fn record(&self) -> Result<BootRecord, AgentError> {
        SlotFiles {
            dir: self.dir.clone(),
        }
        .load_record()
        .map_err(AgentError::SlotStore)
    }

    /// The measurement of the running firmware: SHA-256 of the running slot's image, as the
    /// boot record holds it (boot selection re-hashed the slot against it).
    pub(crate) fn measurement(&self) -> Result<[u8; 32], AgentError> {
        Ok(self.record()?.slot(self.running).digest)
    }

    /// `iotsec_ota::verify` for this device at `now`: the accepted manifest, or the refusal's
    /// stable code.
    pub(crate) fn check(
        &self,
        manifest: &[u8],
        device_id: &str,
        now: u64,
    ) -> Result<Result<Accepted, &'static str>, AgentError> {
        let record = self.record()?;
        let root = match TrustRoot::from_pinned(&self.config.trust_root) {
            Ok(root) => root,
            Err(e) => {
                return Err(AgentError::BadConfig {
                    reason: format!("the pinned trust root: {e}"),
                });
            }
        };
        let state = DeviceState {
            vendor_id: self.config.vendor_id,
            class_id: self.config.class_id,
            device_id: device_id.as_bytes(),
            security_counter: record.security_counter,
            last_sequence: record.last_sequence,
            trusted_root_version: self.config.trusted_root_version,
            slot_capacity: self.config.slot_capacity,
            now: TrustedTime::At(now),
        };
        let verified = match iotsec_ota::verify(manifest, &root, &state) {
            Ok(v) => v,
            Err(e) => return Ok(Err(e.code())),
        };
        let manifest = verified.manifest;
        // One full image per update: a device with one application slot pair.
        let [component] = manifest.components.as_slice() else {
            return Ok(Err("component_count"));
        };
        if component.delta_base.is_some() {
            return Ok(Err("delta_unsupported"));
        }
        Ok(Ok(Accepted {
            ticket: InstallTicket {
                security_counter: manifest.security_counter,
                sequence_number: manifest.sequence_number,
                digest: component.digest,
                size: component.size,
            },
            version: manifest.version.to_owned(),
        }))
    }

    /// Installs `accepted` from `chunks` (a channel the caller fills as the image arrives),
    /// boots it on trial, runs the health check (failing it when
    /// [`Firmware::fail_next_trial`] is armed) and confirms or reverts. Runs the blocking slot
    /// I/O on tokio's blocking pool.
    pub(crate) async fn install(
        &mut self,
        accepted: Accepted,
        chunks: tokio::sync::mpsc::Receiver<Vec<u8>>,
    ) -> Result<UpdateOutcome, AgentError> {
        let fail = std::mem::take(&mut self.fail_next_trial);
        let dir = self.dir.clone();
        let versions = self.versions.clone();
        let installed = tokio::task::spawn_blocking(move || {
            install_blocking(dir, versions, accepted, ChannelChunks(chunks), fail)
        })
        .await
        .map_err(|e| AgentError::SlotStore(std::io::Error::other(e.to_string())))??;
        self.running = installed.running;
        self.versions = installed.versions;
        Ok(installed.outcome)
    }
}

/// The chunks of a channel, read from a blocking thread.
struct ChannelChunks(tokio::sync::mpsc::Receiver<Vec<u8>>);

impl Iterator for ChannelChunks {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        self.0.blocking_recv()
    }
}

fn install_blocking(
    dir: PathBuf,
    mut versions: Versions,
    accepted: Accepted,
    chunks: ChannelChunks,
    fail: bool,
) -> Result<Installed, AgentError> {
    let mut boot = TrialBoot::new(SlotFiles { dir: dir.clone() });
    let outcome = |result, code: Option<&str>| UpdateOutcome {
        version: accepted.version.clone(),
        result,
        code: code.map(str::to_owned),
    };
    let installed = match boot.install(&accepted.ticket, chunks) {
        Ok(slot) => slot,
        Err(BootError::Store(e)) => return Err(AgentError::SlotStore(e)),
        Err(e) => {
            let running = boot.store().load_record().map_err(AgentError::SlotStore)?;
            return Ok(Installed {
                running: running.confirmed,
                versions,
                outcome: outcome(UpdateResult::Refused, Some(e.code())),
            });
        }
    };
    versions.set(installed, accepted.version.clone());
    write_versions(&dir, &versions)?;
    // The reset into the new image: boot selection picks the trial slot (and spends its trial).
    let booted = boot.boot().map_err(store_error)?;
    let result = if booted != installed {
        outcome(UpdateResult::Reverted, Some("trial_not_booted"))
    } else if fail {
        boot.reject(booted).map_err(store_error)?;
        outcome(UpdateResult::Reverted, Some("trial_boot_failed"))
    } else {
        boot.confirm(booted).map_err(store_error)?;
        outcome(UpdateResult::Confirmed, None)
    };
    let running = boot.boot().map_err(store_error)?;
    Ok(Installed {
        running,
        versions,
        outcome: result,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::agent::config::FactoryImage;

    fn config() -> FirmwareConfig {
        FirmwareConfig {
            trust_root: Vec::new(),
            vendor_id: [0; 16],
            class_id: [0; 16],
            trusted_root_version: 1,
            slot_capacity: 1 << 20,
            factory: Some(FactoryImage {
                version: "1.0.0".into(),
                image: vec![1; 5000],
                security_counter: 1,
                sequence: 1,
            }),
        }
    }

    /// A slot directory with the factory image and 2.0.0 installed on trial but not booted
    /// (power lost right after the install).
    fn installed_on_trial(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("iotsec-fw-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (firmware, outcome) = Firmware::open(dir.clone(), config()).unwrap();
        assert_eq!((firmware.version().as_str(), outcome), ("1.0.0", None));
        let image = vec![2u8; 7000];
        let ticket = InstallTicket {
            security_counter: 2,
            sequence_number: 2,
            digest: sha2::Sha256::digest(&image).into(),
            size: image.len() as u64,
        };
        let mut boot = TrialBoot::new(SlotFiles { dir: dir.clone() });
        let slot = boot.install(&ticket, image.chunks(1000)).unwrap();
        let mut versions = read_versions(&dir).unwrap();
        versions.set(slot, "2.0.0".into());
        write_versions(&dir, &versions).unwrap();
        dir
    }

    #[test]
    fn a_trial_installed_before_a_restart_is_booted_and_confirmed_at_start() {
        let dir = installed_on_trial("confirm");
        let (firmware, outcome) = Firmware::open(dir.clone(), config()).unwrap();
        assert_eq!(firmware.running(), Slot::B);
        assert_eq!(firmware.version(), "2.0.0");
        assert_eq!(
            outcome,
            Some(UpdateOutcome {
                version: "2.0.0".into(),
                result: UpdateResult::Confirmed,
                code: None
            })
        );
        let record = firmware.record().unwrap();
        assert_eq!((record.security_counter, record.trial), (2, None));
        // The next start is an ordinary boot.
        let (firmware, outcome) = Firmware::open(dir.clone(), config()).unwrap();
        assert_eq!((firmware.version().as_str(), outcome), ("2.0.0", None));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_trial_that_booted_without_confirming_reverts_at_the_next_start() {
        let dir = installed_on_trial("revert");
        // The trial boot happened (and was spent), then the device reset before confirming.
        TrialBoot::new(SlotFiles { dir: dir.clone() })
            .boot()
            .unwrap();
        let (firmware, outcome) = Firmware::open(dir.clone(), config()).unwrap();
        assert_eq!(firmware.running(), Slot::A);
        assert_eq!(firmware.version(), "1.0.0");
        assert_eq!(
            outcome,
            Some(UpdateOutcome {
                version: "2.0.0".into(),
                result: UpdateResult::Reverted,
                code: Some("trial_not_confirmed".into())
            })
        );
        assert_eq!(firmware.record().unwrap().security_counter, 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn no_boot_record_and_no_factory_image_is_a_configuration_error() {
        let dir = std::env::temp_dir().join(format!("iotsec-fw-empty-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut c = config();
        c.factory = None;
        let err = Firmware::open(dir.clone(), c).unwrap_err();
        assert_eq!(err.code(), "bad_config");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
