//! Persistent CA records behind the [`CertStore`] trait; [`SqliteStore`] is the embedded default.
//!
//! Every state change is one SQLite transaction (WAL, `synchronous=FULL`): a process killed
//! mid-issuance leaves either the whole record or nothing, never a duplicate serial (UNIQUE
//! constraint) and never a half-written revocation.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use crate::ca_error::CaError;

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
    /// Records an issued certificate; fails with a constraint error on a duplicate serial.
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
    /// Stores a request awaiting manual approval; returns its id.
    fn add_pending(&mut self, label: &str, csr_der: &[u8], at: i64) -> Result<i64, CaError>;
    /// Whether a pending request was approved.
    fn pending_approved(&self, id: i64) -> Result<Option<bool>, CaError>;
    /// Marks a pending request approved.
    fn approve_pending(&mut self, id: i64) -> Result<bool, CaError>;
    /// Number of issued certificates.
    fn issued_count(&self) -> Result<u64, CaError>;
    /// The pending request with exactly these CSR bytes under `label`: (id, approved).
    fn find_pending(&self, label: &str, csr_der: &[u8]) -> Result<Option<(i64, bool)>, CaError>;
    /// Removes a pending request (after issuance).
    fn remove_pending(&mut self, id: i64) -> Result<(), CaError>;
}

/// The embedded SQLite store.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS issued (
  serial BLOB PRIMARY KEY NOT NULL,
  subject BLOB NOT NULL,
  cert BLOB NOT NULL,
  not_after INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS revoked (
  serial BLOB PRIMARY KEY NOT NULL REFERENCES issued(serial),
  reason INTEGER NOT NULL,
  revoked_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS crl_number (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
INSERT OR IGNORE INTO crl_number (id, value) VALUES (1, 0);
CREATE TABLE IF NOT EXISTS pending (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  label TEXT NOT NULL,
  csr BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  approved INTEGER NOT NULL DEFAULT 0
);
";

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, CaError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self { conn })
    }

    /// The last CRL number allocated (0: none yet).
    pub fn crl_number(&self) -> Result<u64, CaError> {
        let v: i64 = self
            .conn
            .query_row("SELECT value FROM crl_number WHERE id = 1", [], |r| {
                r.get(0)
            })?;
        u64::try_from(v).map_err(|_| CaError::State("negative CRL number".into()))
    }

    /// Raises the last CRL number to `at_least` (never lowers it): a new key of the same CRL
    /// issuer continues its predecessor's sequence (RFC 5280 §5.2.3).
    pub fn raise_crl_number(&mut self, at_least: u64) -> Result<(), CaError> {
        let v =
            i64::try_from(at_least).map_err(|_| CaError::State("CRL number overflow".into()))?;
        self.conn.execute(
            "UPDATE crl_number SET value = MAX(value, ?1) WHERE id = 1",
            [v],
        )?;
        Ok(())
    }

    /// The latest notAfter (Unix seconds) of everything recorded as issued, if anything.
    pub fn latest_not_after(&self) -> Result<Option<i64>, CaError> {
        Ok(self
            .conn
            .query_row("SELECT MAX(not_after) FROM issued", [], |r| r.get(0))?)
    }

    /// Moves everything in the write-ahead log into the database file and empties the log, so
    /// the file alone holds the records (before it is moved).
    pub fn checkpoint(&self) -> Result<(), CaError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// How many revocations the database at `path` holds, read through a read-only
    /// connection (a reloading server's cheap change check: a revocation is never deleted,
    /// so a new one always raises the count).
    pub fn revoked_count_at(path: &Path) -> Result<u64, CaError> {
        use rusqlite::OpenFlags;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(1))?;
        let n: i64 = conn.query_row("SELECT count(*) FROM revoked", [], |r| r.get(0))?;
        u64::try_from(n).map_err(|_| CaError::State("negative revocation count".into()))
    }

    /// A transaction holding the write lock from its start (`BEGIN IMMEDIATE`). A deferred one
    /// that reads before it writes gets SQLITE_BUSY at once, without the busy timeout, when
    /// another connection wrote in between (a stale WAL snapshot): `pki revoke` failed that way
    /// while a server issued (`tests/store_concurrency.rs`).
    fn write_transaction(&mut self) -> Result<rusqlite::Transaction<'_>, CaError> {
        Ok(self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?)
    }

    /// `PRAGMA integrity_check` result ("ok" when sound).
    pub fn integrity_check(&self) -> Result<String, CaError> {
        Ok(self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}

impl CertStore for SqliteStore {
    fn record_issued(&mut self, r: &IssuedRecord) -> Result<(), CaError> {
        let tx = self.write_transaction()?;
        tx.execute(
            "INSERT INTO issued (serial, subject, cert, not_after) VALUES (?1, ?2, ?3, ?4)",
            params![r.serial, r.subject_der, r.cert_der, r.not_after],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn issued(&self, serial: &[u8]) -> Result<Option<IssuedRecord>, CaError> {
        Ok(self
            .conn
            .query_row(
                "SELECT serial, subject, cert, not_after FROM issued WHERE serial = ?1",
                [serial],
                |r| {
                    Ok(IssuedRecord {
                        serial: r.get(0)?,
                        subject_der: r.get(1)?,
                        cert_der: r.get(2)?,
                        not_after: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    fn revoke(&mut self, serial: &[u8], reason: u8, at: i64) -> Result<bool, CaError> {
        let tx = self.write_transaction()?;
        let exists: bool = tx
            .query_row("SELECT 1 FROM issued WHERE serial = ?1", [serial], |_| {
                Ok(true)
            })
            .optional()?
            .unwrap_or(false);
        if !exists {
            return Err(CaError::UnknownSerial {
                serial_hex: hex_upper(serial),
            });
        }
        let n = tx.execute(
            "INSERT OR IGNORE INTO revoked (serial, reason, revoked_at) VALUES (?1, ?2, ?3)",
            params![serial, reason, at],
        )?;
        tx.commit()?;
        Ok(n == 1)
    }

    fn revocation(&self, serial: &[u8]) -> Result<Option<RevocationRecord>, CaError> {
        Ok(self
            .conn
            .query_row(
                "SELECT serial, reason, revoked_at FROM revoked WHERE serial = ?1",
                [serial],
                |r| {
                    Ok(RevocationRecord {
                        serial: r.get(0)?,
                        reason: r.get(1)?,
                        revoked_at: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    fn revocations(&self, now: i64) -> Result<Vec<RevocationRecord>, CaError> {
        let mut stmt = self.conn.prepare(
            "SELECT r.serial, r.reason, r.revoked_at FROM revoked r JOIN issued i ON i.serial = r.serial
             WHERE i.not_after >= ?1 ORDER BY r.revoked_at, r.serial",
        )?;
        let rows = stmt.query_map([now], |r| {
            Ok(RevocationRecord {
                serial: r.get(0)?,
                reason: r.get(1)?,
                revoked_at: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn next_crl_number(&mut self) -> Result<u64, CaError> {
        let tx = self.write_transaction()?;
        tx.execute("UPDATE crl_number SET value = value + 1 WHERE id = 1", [])?;
        let v: i64 = tx.query_row("SELECT value FROM crl_number WHERE id = 1", [], |r| {
            r.get(0)
        })?;
        tx.commit()?;
        u64::try_from(v).map_err(|_| CaError::State("negative CRL number".into()))
    }

    fn add_pending(&mut self, label: &str, csr_der: &[u8], at: i64) -> Result<i64, CaError> {
        self.conn.execute(
            "INSERT INTO pending (label, csr, created_at) VALUES (?1, ?2, ?3)",
            params![label, csr_der, at],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn pending_approved(&self, id: i64) -> Result<Option<bool>, CaError> {
        Ok(self
            .conn
            .query_row("SELECT approved FROM pending WHERE id = ?1", [id], |r| {
                r.get::<_, i64>(0)
            })
            .optional()?
            .map(|v| v != 0))
    }

    fn approve_pending(&mut self, id: i64) -> Result<bool, CaError> {
        Ok(self
            .conn
            .execute("UPDATE pending SET approved = 1 WHERE id = ?1", [id])?
            == 1)
    }

    fn find_pending(&self, label: &str, csr_der: &[u8]) -> Result<Option<(i64, bool)>, CaError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, approved FROM pending WHERE label = ?1 AND csr = ?2 ORDER BY id LIMIT 1",
                params![label, csr_der],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)? != 0)),
            )
            .optional()?)
    }

    fn remove_pending(&mut self, id: i64) -> Result<(), CaError> {
        self.conn
            .execute("DELETE FROM pending WHERE id = ?1", [id])?;
        Ok(())
    }

    fn issued_count(&self) -> Result<u64, CaError> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM issued", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// Upper-case hex of a serial, as OpenSSL prints it.
pub fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}
