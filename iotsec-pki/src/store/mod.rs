//! Persistent CA records behind the [`CertStore`] trait, the EST approval queue behind
//! [`ApprovalStore`], and the enrollments an EST server answers again behind
//! [`EnrollmentStore`]; [`SqliteStore`] implements all three and is the embedded default.
//!
//! Every state change is one SQLite transaction (WAL, `synchronous=FULL`): a process killed
//! mid-issuance leaves either the whole record or nothing, never a duplicate serial (UNIQUE
//! constraint) and never a half-written revocation.

use crate::ca::error::CaError;

#[cfg(feature = "sqlite")]
pub mod lock; // the rotation lock of a state directory (SQLite file lock)
pub mod memory; // the three stores in memory (no I/O)
#[cfg(feature = "sqlite")]
mod sqlite;
pub use memory::MemoryStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// One issued certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedRecord {
    /// Serial (big-endian magnitude).
    pub serial: Vec<u8>,
    /// Subject DER.
    pub subject_der: Vec<u8>,
    /// Certificate DER.
    pub cert_der: Vec<u8>,
    /// notAfter, Unix seconds.
    pub not_after: i64,
}

/// One revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationRecord {
    /// Serial.
    pub serial: Vec<u8>,
    /// RFC 5280 §5.3.1 reason code.
    pub reason: u8,
    /// Unix seconds.
    pub revoked_at: i64,
}

/// Where the CA keeps its records. Implement it for a shared database when one server is not
/// enough; the CA only needs these operations to be atomic.
pub trait CertStore {
    /// Records an issued certificate; fails with [`CaError::DuplicateSerial`] when the serial
    /// is taken.
    fn record_issued(&mut self, record: &IssuedRecord) -> Result<(), CaError>;
    /// Looks a certificate up by serial.
    fn issued(&self, serial: &[u8]) -> Result<Option<IssuedRecord>, CaError>;
    /// Revokes a certificate; returns false if it was already revoked.
    fn revoke(&mut self, serial: &[u8], reason: u8, at: i64) -> Result<bool, CaError>;
    /// The revocation of a serial, if any.
    fn revocation(&self, serial: &[u8]) -> Result<Option<RevocationRecord>, CaError>;
    /// All revocations of certificates not yet expired at `now` (the CRL scope).
    fn revocations(&self, now: i64) -> Result<Vec<RevocationRecord>, CaError>;
    /// Allocates the next CRL number (monotonic).
    fn next_crl_number(&mut self) -> Result<u64, CaError>;
    /// Stores a request awaiting manual approval; returns its id. Superseded by
    /// [`ApprovalStore::add_pending`] (the EST service and the command line use that trait;
    /// the pending-approval methods of `CertStore` stay for one release, see CHANGELOG).
    #[deprecated(
        note = "use store::ApprovalStore (the EST service takes one with EstService::with_approval_store)"
    )]
    fn add_pending(&mut self, label: &str, csr_der: &[u8], at: i64) -> Result<i64, CaError>;
    /// Whether a pending request was approved.
    #[deprecated(
        note = "use store::ApprovalStore (the EST service takes one with EstService::with_approval_store)"
    )]
    fn pending_approved(&self, id: i64) -> Result<Option<bool>, CaError>;
    /// Marks a pending request approved.
    #[deprecated(
        note = "use store::ApprovalStore (the EST service takes one with EstService::with_approval_store)"
    )]
    fn approve_pending(&mut self, id: i64) -> Result<bool, CaError>;
    /// Number of issued certificates.
    fn issued_count(&self) -> Result<u64, CaError>;
    /// The pending request with exactly these CSR bytes under `label`: (id, approved).
    #[deprecated(
        note = "use store::ApprovalStore (the EST service takes one with EstService::with_approval_store)"
    )]
    fn find_pending(&self, label: &str, csr_der: &[u8]) -> Result<Option<(i64, bool)>, CaError>;
    /// Removes a pending request (after issuance).
    #[deprecated(
        note = "use store::ApprovalStore (the EST service takes one with EstService::with_approval_store)"
    )]
    fn remove_pending(&mut self, id: i64) -> Result<(), CaError>;
}

/// The manual-approval queue of an EST server (RFC 7030 §4.2.3: 202 + Retry-After until an
/// operator approves, then the retried request is issued once and leaves the queue). The
/// service takes it explicitly ([`crate::est::service::EstService::with_approval_store`]);
/// without one it uses the queue in the label's CA database.
pub trait ApprovalStore {
    /// Stores a request awaiting approval; returns its id.
    fn add_pending(&mut self, label: &str, csr_der: &[u8], at: i64) -> Result<i64, CaError>;
    /// The pending request with exactly these CSR bytes under `label`: (id, approved).
    fn find_pending(&self, label: &str, csr_der: &[u8]) -> Result<Option<(i64, bool)>, CaError>;
    /// Whether a pending request was approved (`None`: no such request).
    fn pending_approved(&self, id: i64) -> Result<Option<bool>, CaError>;
    /// Marks a pending request approved; false when there is no such request.
    fn approve_pending(&mut self, id: i64) -> Result<bool, CaError>;
    /// Removes a pending request (after issuance).
    fn remove_pending(&mut self, id: i64) -> Result<(), CaError>;
}

/// Who asked for a certificate and with which request: the key under which an EST server
/// finds the certificate it already issued for a re-submitted request
/// ([`crate::est::service`], "Re-submitted requests").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnrollmentKey {
    /// SHA-256 over the label and the authenticated client (HTTP Basic user, TLS client
    /// certificate), length-prefixed.
    pub client: [u8; 32],
    /// SHA-256 of the CSR's DER.
    pub csr_sha256: [u8; 32],
}

/// Issued certificates recorded with the enrollment that asked for them.
pub trait EnrollmentStore {
    /// Records `record` as [`CertStore::record_issued`] does, and in the same transaction that
    /// `request` at time `at` obtained it.
    fn record_issued_for(
        &mut self,
        record: &IssuedRecord,
        request: &EnrollmentKey,
        at: i64,
    ) -> Result<(), CaError>;
    /// The latest certificate issued for `request` at or after `since` (Unix seconds).
    fn issued_for(
        &self,
        request: &EnrollmentKey,
        since: i64,
    ) -> Result<Option<IssuedRecord>, CaError>;
}

/// Upper-case hex of a serial, as OpenSSL prints it.
pub fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}
