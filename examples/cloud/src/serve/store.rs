//! The fleet registry behind the [`FleetStore`] trait: devices and their certificates,
//! appraisals, published releases, the rollout and update reports.
//!
//! Contract for an implementation (SQLite here, [`super::sqlite::SqliteFleetStore`]; a
//! PostgreSQL one would implement the same trait over a connection pool):
//! - every method that changes state is **one transaction**: it commits whole or not at all,
//!   and it is durable when the method returns `Ok` (the service acknowledges a request only
//!   after that, so nothing acknowledged is lost when the process is killed);
//! - the decisions that read and write (rollout transitions, the automatic halt on a canary's
//!   revert, the quarantine after a failed appraisal) happen inside that transaction, so two
//!   concurrent requests cannot both act on a stale read (PostgreSQL: `SERIALIZABLE`, or
//!   `SELECT ... FOR UPDATE` on the rollout row);
//! - methods are blocking; the service calls them off the async runtime
//!   (`tokio::task::spawn_blocking`), so an implementation may block on I/O;
//! - a refused operation ([`StoreError::Refused`]) changes nothing.
//!
//! A PostgreSQL implementation maps the SQLite schema of [`super::sqlite`] one to one
//! (`devices`, `certificates`, `appraisals`, `releases` with the image as `bytea` or in object
//! storage keyed by its digest, the single-row `rollout`, `update_reports`), runs each method in
//! one transaction at `SERIALIZABLE` (retrying serialization failures), and returns
//! [`StoreError::Refused`] with the same codes; the rollout transitions and the automatic halt
//! are the pure functions [`apply_command`] and [`halt_on_report`], so both stores decide alike.

use iotsec_fleet_api::{DeviceRecord, RolloutCommand, RolloutStatus, UpdateResult};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The operation is not allowed in the current state (nothing changed): a stable code and
    /// a line for people.
    #[error("{message}")]
    Refused {
        /// Stable code (`no_rollout`, `rollout_halted`, `last_stage`, `not_halted`,
        /// `unknown_release`, `bad_stages`, `release_exists`, `unknown_device`).
        code: &'static str,
        /// One line for people.
        message: String,
    },
    /// The database failed (I/O, corruption, a constraint): nothing was acknowledged.
    #[error("fleet store: {0}")]
    Backend(String),
}

impl StoreError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Refused { code, .. } => code,
            StoreError::Backend(_) => "store_failed",
        }
    }

    pub(crate) fn refused(code: &'static str, message: impl Into<String>) -> Self {
        StoreError::Refused {
            code,
            message: message.into(),
        }
    }
}

/// A certificate the fleet CA issued to a device (recorded when EST answers with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrollment {
    /// Device id (certificate CN).
    pub device: String,
    /// Certificate serial, upper-case hex (as `openssl x509 -serial` prints it).
    pub serial: String,
    /// Unix seconds.
    pub at: i64,
}

/// What the service knows about a client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertStatus {
    /// The device it was issued to.
    pub device: String,
    /// Revoked (by revoke or decommission).
    pub revoked: bool,
    /// The device is decommissioned.
    pub decommissioned: bool,
}

/// The outcome of one appraisal, to record.
#[derive(Debug, Clone, PartialEq)]
pub struct AppraisalEntry {
    /// Device id.
    pub device: String,
    /// Accepted or refused.
    pub accepted: bool,
    /// The refusal code.
    pub code: Option<String>,
    /// Claims (JSON object).
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// The firmware version the accepted measurement belongs to.
    pub firmware: Option<String>,
    /// The evidence counter, when accepted (the next evidence must carry a larger one).
    pub counter: Option<u64>,
    /// Unix seconds.
    pub at: i64,
}

/// Device attestation state the appraisal needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AttestationState {
    /// Counter of the last accepted evidence.
    pub last_counter: Option<u64>,
}

/// A published release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// Version.
    pub version: String,
    /// The signed manifest.
    pub manifest: Vec<u8>,
    /// SHA-256 of the image.
    pub image_sha256: [u8; 32],
    /// Image length.
    pub image_len: u64,
    /// The SBOM gate's decision digest (hex), bound to the image.
    pub decision_digest: String,
    /// Unix seconds.
    pub published_at: i64,
}

/// What a device report changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportEffect {
    /// The rollout was halted by this report (a canary reverted).
    pub halted: bool,
}

/// The fleet registry. See the module documentation for the transaction contract.
pub trait FleetStore: Send + Sync {
    /// Records a certificate issued to `device` (a new device is added with its cohort; a
    /// known one gets the new serial as its current certificate). Idempotent per serial.
    fn record_enrollment(&self, e: &Enrollment, cohort_bps: u32) -> Result<(), StoreError>;
    /// The device a certificate serial (upper-case hex) was issued to.
    fn certificate(&self, serial: &str) -> Result<Option<CertStatus>, StoreError>;
    /// One device.
    fn device(&self, id: &str) -> Result<Option<DeviceRecord>, StoreError>;
    /// Every device, by id.
    fn devices(&self) -> Result<Vec<DeviceRecord>, StoreError>;
    /// What the next appraisal of `device` checks against.
    fn attestation_state(&self, device: &str) -> Result<AttestationState, StoreError>;
    /// Records an appraisal with its claims; a refused one quarantines the device
    /// (`attestation_failed`), an accepted one sets the firmware, the attestation time and the
    /// counter (and lifts an `attestation_failed` quarantine). Returns the device after it.
    fn record_appraisal(&self, a: &AppraisalEntry) -> Result<DeviceRecord, StoreError>;
    /// Quarantines (`Some(reason)`) or releases (`None`) a device.
    fn set_quarantine(&self, id: &str, reason: Option<&str>) -> Result<DeviceRecord, StoreError>;
    /// Marks every certificate of the device revoked and quarantines it (`revoked`); with
    /// `decommission`, also marks it decommissioned. Returns the device and the serials that
    /// were newly revoked.
    fn revoke(
        &self,
        id: &str,
        decommission: bool,
        at: i64,
    ) -> Result<(DeviceRecord, Vec<String>), StoreError>;
    /// Every revoked serial (to reconcile the CA's store with this one at start).
    fn revoked_serials(&self) -> Result<Vec<String>, StoreError>;
    /// Publishes a release with its image; refused (`release_exists`) when the version is taken.
    fn publish(&self, release: &Release, image: &[u8]) -> Result<(), StoreError>;
    /// A published release.
    fn release(&self, version: &str) -> Result<Option<Release>, StoreError>;
    /// The image of a published release.
    fn release_image(&self, version: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Every published release's (version, image digest).
    fn release_digests(&self) -> Result<Vec<(String, [u8; 32])>, StoreError>;
    /// Where the rollout stands, with the report counts of its version.
    fn rollout(&self) -> Result<RolloutStatus, StoreError>;
    /// Applies an operator command ([`apply_command`]) in one transaction.
    fn rollout_command(&self, command: &RolloutCommand) -> Result<RolloutStatus, StoreError>;
    /// Records a device report (firmware, update outcome); a `reverted` outcome of the rolled
    /// out version from a device inside the current stage halts the rollout
    /// (`canary_reverted`) in the same transaction.
    fn record_report(
        &self,
        device: &str,
        report: &iotsec_fleet_api::DeviceReport,
        at: i64,
    ) -> Result<ReportEffect, StoreError>;
    /// Counts one probe of another device's topics by `device` (seen on the broker's deny
    /// stream; the device need not be enrolled): its count after this one. Kept across
    /// restarts, so a prober cannot reset its count by waiting for one.
    fn record_probe(&self, device: &str) -> Result<u32, StoreError>;
    /// Every device's probe count.
    fn probe_counts(&self) -> Result<Vec<(String, u32)>, StoreError>;
}

/// The rollout as stored: version, stages, current stage, halt reason.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rollout {
    /// The version (`None`: no rollout).
    pub version: Option<String>,
    /// Stages (basis points, increasing, ending at 10000).
    pub stages_bps: Vec<u32>,
    /// Current stage index.
    pub stage: usize,
    /// Halt reason.
    pub halted: Option<String>,
}

/// Longest halt reason kept.
pub const MAX_REASON_LEN: usize = 64;
/// Most stages a rollout has.
pub const MAX_STAGES: usize = 16;

impl Rollout {
    /// The share of the fleet (basis points) offered the release now; 0 when halted or none.
    pub fn offered_bps(&self) -> u32 {
        if self.version.is_none() || self.halted.is_some() {
            return 0;
        }
        self.stages_bps.get(self.stage).copied().unwrap_or(0)
    }

    /// Whether a device in cohort `cohort_bps` is inside the current stage (halted or not).
    pub fn in_stage(&self, cohort_bps: u32) -> bool {
        self.version.is_some() && cohort_bps < self.stages_bps.get(self.stage).copied().unwrap_or(0)
    }
}

/// A reason from outside: short, printable ASCII, not empty.
pub fn check_reason(reason: &str) -> Result<(), StoreError> {
    let ok = !reason.is_empty()
        && reason.len() <= MAX_REASON_LEN
        && reason
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    match ok {
        true => Ok(()),
        false => Err(StoreError::refused(
            "bad_reason",
            format!("a reason is 1..={MAX_REASON_LEN} characters of [A-Za-z0-9_-]"),
        )),
    }
}

/// The rollout state machine: the state after `command`, or why it is refused.
/// `published` says whether a version is published.
pub fn apply_command(
    current: &Rollout,
    command: &RolloutCommand,
    published: impl Fn(&str) -> bool,
) -> Result<Rollout, StoreError> {
    let has_rollout = current.version.is_some();
    match command {
        RolloutCommand::Start {
            version,
            stages_bps,
        } => {
            let increasing = stages_bps.windows(2).all(|w| w.first() < w.get(1));
            if stages_bps.is_empty()
                || stages_bps.len() > MAX_STAGES
                || !increasing
                || stages_bps.first().is_some_and(|s| *s == 0)
                || stages_bps.last() != Some(&10_000)
            {
                return Err(StoreError::refused(
                    "bad_stages",
                    format!(
                        "stages must be 1..={MAX_STAGES} increasing basis points, the first above 0, the last 10000"
                    ),
                ));
            }
            if !published(version) {
                return Err(StoreError::refused(
                    "unknown_release",
                    format!("release {version:?} is not published"),
                ));
            }
            Ok(Rollout {
                version: Some(version.clone()),
                stages_bps: stages_bps.clone(),
                stage: 0,
                halted: None,
            })
        }
        RolloutCommand::Advance {} => {
            if !has_rollout {
                return Err(StoreError::refused("no_rollout", "no rollout is running"));
            }
            if current.halted.is_some() {
                return Err(StoreError::refused(
                    "rollout_halted",
                    "the rollout is halted: resume it first",
                ));
            }
            if current.stage + 1 >= current.stages_bps.len() {
                return Err(StoreError::refused(
                    "last_stage",
                    "the rollout is at its last stage",
                ));
            }
            Ok(Rollout {
                stage: current.stage + 1,
                ..current.clone()
            })
        }
        RolloutCommand::Halt { reason } => {
            if !has_rollout {
                return Err(StoreError::refused("no_rollout", "no rollout is running"));
            }
            check_reason(reason)?;
            Ok(Rollout {
                halted: Some(reason.clone()),
                ..current.clone()
            })
        }
        RolloutCommand::Resume {} => {
            if current.halted.is_none() {
                return Err(StoreError::refused(
                    "not_halted",
                    "the rollout is not halted",
                ));
            }
            Ok(Rollout {
                halted: None,
                ..current.clone()
            })
        }
    }
}

/// The automatic halt: the rollout after a report of `result` for `version` from a device in
/// cohort `cohort_bps`, if it halts.
pub fn halt_on_report(
    current: &Rollout,
    version: &str,
    result: UpdateResult,
    cohort_bps: u32,
) -> Option<Rollout> {
    let canary_reverted = result == UpdateResult::Reverted
        && current.version.as_deref() == Some(version)
        && current.halted.is_none()
        && current.in_stage(cohort_bps);
    canary_reverted.then(|| Rollout {
        halted: Some("canary_reverted".into()),
        ..current.clone()
    })
}

/// A device's rollout cohort (0..10000 basis points), fixed per device id: the first 8 bytes
/// of SHA-256("iotsec-fleet-cohort/v1" || id), big-endian, mod 10000.
pub fn cohort_bps(device: &str) -> u32 {
    u32::from(iotsec_ota::rollout_cohort::cohort_bucket(
        b"iotsec-fleet-cohort/v1",
        device.as_bytes(),
    ))
}
