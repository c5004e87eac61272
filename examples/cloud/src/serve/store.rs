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
//! storage keyed by its digest, the single-row `rollout`, `update_reports`, the TPM tables
//! `tpm_aks`, `tpm_ak_endorsements`, `tpm_registrations`), runs each method in
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
    /// The TPM attestation key Name to register for the device (accepted TPM evidence on
    /// first use); kept once registered.
    pub tpm_ak: Option<Vec<u8>>,
    /// Unix seconds.
    pub at: i64,
}

/// Device attestation state the appraisal needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttestationState {
    /// Counter of the last accepted evidence.
    pub last_counter: Option<u64>,
    /// The TPM attestation key Name registered for the device.
    pub tpm_ak: Option<Vec<u8>>,
    /// SHA-256 of the EK's TPM2B_PUBLIC the AK was registered beside (`None`: bound on first
    /// use, or no AK).
    pub tpm_ek_sha256: Option<Vec<u8>>,
}

/// A TPM registration waiting for the device's secret (`iotsec_attest::identity::registration`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingTpmRegistration {
    /// Registration id (16 bytes).
    pub id: Vec<u8>,
    /// The device that asked.
    pub device: String,
    /// The AK Name to bind.
    pub ak_name: Vec<u8>,
    /// SHA-256 of the EK's TPM2B_PUBLIC.
    pub ek_sha256: Vec<u8>,
    /// SHA-256 of the secret sealed in the credential.
    pub secret_sha256: Vec<u8>,
    /// Unix seconds.
    pub expires_at: i64,
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
    /// The device a TPM attestation key Name is registered for, if any.
    fn tpm_ak_owner(&self, ak_name: &[u8]) -> Result<Option<String>, StoreError>;
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
    /// Stores a pending TPM registration (expired ones of every device are dropped, and the
    /// device keeps at most [`MAX_PENDING_TPM_REGISTRATIONS`], the oldest dropped). Refused
    /// like [`FleetStore::bind_tpm_ak`] when the AK or the device is already bound elsewhere.
    fn add_tpm_registration(&self, p: &PendingTpmRegistration, now: i64) -> Result<(), StoreError>;
    /// Takes (deletes and returns) the pending registration `id` of `device`: single use,
    /// whatever the caller decides next. Another device's id is not found (and not spent).
    fn take_tpm_registration(
        &self,
        id: &[u8],
        device: &str,
    ) -> Result<Option<PendingTpmRegistration>, StoreError>;
    /// Binds the AK Name to the device with the EK it was registered beside, in one
    /// transaction: refused `ak_bound_to_other_device` when another device holds the AK,
    /// `ak_not_registered` when the device holds another AK.
    fn bind_tpm_ak(&self, device: &str, ak_name: &[u8], ek_sha256: &[u8])
    -> Result<(), StoreError>;
}

/// Most pending TPM registrations a device may hold.
pub const MAX_PENDING_TPM_REGISTRATIONS: i64 = 4;

/// The rollout as stored: version, stages, current stage, halt reason (the state machine is
/// [`iotsec_ota::staged_rollout`]).
pub type Rollout = iotsec_ota::staged_rollout::StagedRollout;

pub use iotsec_ota::staged_rollout::{MAX_REASON_LEN, MAX_STAGES};

impl From<iotsec_ota::staged_rollout::RolloutRefusal> for StoreError {
    fn from(e: iotsec_ota::staged_rollout::RolloutRefusal) -> Self {
        StoreError::refused(e.code(), e.to_string())
    }
}

/// A reason from outside: short, printable ASCII, not empty.
pub fn check_reason(reason: &str) -> Result<(), StoreError> {
    Ok(iotsec_ota::staged_rollout::check_reason(reason)?)
}

/// The rollout state machine: the state after `command`, or why it is refused.
/// `published` says whether a version is published.
pub fn apply_command(
    current: &Rollout,
    command: &RolloutCommand,
    published: impl Fn(&str) -> bool,
) -> Result<Rollout, StoreError> {
    use iotsec_ota::staged_rollout::RolloutCommand as Command;
    let command = match command {
        RolloutCommand::Start {
            version,
            stages_bps,
        } => Command::Start {
            version,
            stages_bps,
        },
        RolloutCommand::Advance {} => Command::Advance,
        RolloutCommand::Halt { reason } => Command::Halt { reason },
        RolloutCommand::Resume {} => Command::Resume,
    };
    Ok(current.apply(command, published)?)
}

/// The automatic halt: the rollout after a report of `result` for `version` from a device in
/// cohort `cohort_bps`, if it halts.
pub fn halt_on_report(
    current: &Rollout,
    version: &str,
    result: UpdateResult,
    cohort_bps: u32,
) -> Option<Rollout> {
    use iotsec_ota::staged_rollout::UpdateOutcome;
    let outcome = match result {
        UpdateResult::Confirmed => UpdateOutcome::Confirmed,
        UpdateResult::Reverted => UpdateOutcome::Reverted,
        UpdateResult::Refused => UpdateOutcome::Refused,
    };
    current.halt_on_report(version, outcome, cohort_bps)
}

/// A device's rollout cohort (0..10000 basis points), fixed per device id: the first 8 bytes
/// of SHA-256("iotsec-fleet-cohort/v1" || id), big-endian, mod 10000.
pub fn cohort_bps(device: &str) -> u32 {
    u32::from(iotsec_ota::rollout_cohort::cohort_bucket(
        b"iotsec-fleet-cohort/v1",
        device.as_bytes(),
    ))
}
