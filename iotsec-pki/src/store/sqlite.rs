//! The embedded [`CertStore`]: SQLite (WAL, `synchronous=FULL`), one transaction per change.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use super::{
    ApprovalStore, CertStore, EnrollmentKey, EnrollmentStore, IssuedRecord, RevocationRecord,
    hex_upper,
};
use crate::ca::error::CaError;

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
CREATE TABLE IF NOT EXISTS enrollment (
  client BLOB NOT NULL,
  csr_sha256 BLOB NOT NULL,
  serial BLOB NOT NULL REFERENCES issued(serial),
  at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS enrollment_request ON enrollment (client, csr_sha256, at);
";

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    ///
    /// SQLite answers SQLITE_BUSY without calling the busy handler in a few cases that a
    /// fresh connection meets while others write (another connection closing the last handle
    /// and checkpointing the write-ahead log, a journal-mode switch), so opening is retried on
    /// SQLITE_BUSY for up to the same ten seconds the busy timeout allows.
    pub fn open(path: &Path) -> Result<Self, CaError> {
        const PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);
        let started = std::time::Instant::now();
        let mut pause = std::time::Duration::from_millis(2);
        loop {
            match Self::open_once(path) {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy
                        && started.elapsed() < PATIENCE =>
                {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(std::time::Duration::from_millis(100));
                }
                Err(e) => return Err(CaError::storage(e)),
                Ok(conn) => return Ok(Self { conn }),
            }
        }
    }

    fn open_once(path: &Path) -> Result<Connection, rusqlite::Error> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // Switching to WAL needs an exclusive lock, so it is asked for only when the file is
        // not in WAL mode yet.
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            conn.pragma_update(None, "journal_mode", "WAL")?;
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // A database that has the whole schema (its last table and the CRL-number row) is
        // opened with reads only, so opening does not queue for the write lock behind the
        // writers; otherwise the schema is made in one write transaction taken up front, so a
        // concurrent writer makes it wait (busy timeout) instead of failing it.
        let complete: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'enrollment_request')
               AND EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'crl_number')",
            [],
            |r| r.get(0),
        )?;
        let complete = complete
            && conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM crl_number WHERE id = 1)",
                [],
                |r| r.get::<_, bool>(0),
            )?;
        if !complete {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute_batch(SCHEMA)?;
            tx.commit()?;
        }
        Ok(conn)
    }

    /// The last CRL number allocated (0: none yet).
    pub fn crl_number(&self) -> Result<u64, CaError> {
        let v: i64 = self
            .conn
            .query_row("SELECT value FROM crl_number WHERE id = 1", [], |r| {
                r.get(0)
            })
            .map_err(CaError::storage)?;
        u64::try_from(v).map_err(|_| CaError::CorruptStore {
            what: "negative CRL number",
        })
    }

    /// Raises the last CRL number to `at_least` (never lowers it): a new key of the same CRL
    /// issuer continues its predecessor's sequence (RFC 5280 §5.2.3).
    pub fn raise_crl_number(&mut self, at_least: u64) -> Result<(), CaError> {
        let v = i64::try_from(at_least)
            .map_err(|_| CaError::CrlNumberOutOfRange { number: at_least })?;
        self.conn
            .execute(
                "UPDATE crl_number SET value = MAX(value, ?1) WHERE id = 1",
                [v],
            )
            .map_err(CaError::storage)?;
        Ok(())
    }

    /// The latest notAfter (Unix seconds) of everything recorded as issued, if anything.
    pub fn latest_not_after(&self) -> Result<Option<i64>, CaError> {
        self.conn
            .query_row("SELECT MAX(not_after) FROM issued", [], |r| r.get(0))
            .map_err(CaError::storage)
    }

    /// Moves everything in the write-ahead log into the database file and empties the log, so
    /// the file alone holds the records (before it is moved).
    pub fn checkpoint(&self) -> Result<(), CaError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(CaError::storage)?;
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
        )
        .map_err(CaError::storage)?;
        conn.busy_timeout(std::time::Duration::from_secs(1))
            .map_err(CaError::storage)?;
        let n: i64 = conn
            .query_row("SELECT count(*) FROM revoked", [], |r| r.get(0))
            .map_err(CaError::storage)?;
        u64::try_from(n).map_err(|_| CaError::CorruptStore {
            what: "negative revocation count",
        })
    }

    /// A transaction holding the write lock from its start (`BEGIN IMMEDIATE`). A deferred one
    /// that reads before it writes gets SQLITE_BUSY at once, without the busy timeout, when
    /// another connection wrote in between (a stale WAL snapshot): `pki revoke` failed that way
    /// while a server issued (`tests/store_concurrency.rs`).
    fn write_transaction(&mut self) -> Result<rusqlite::Transaction<'_>, CaError> {
        self.conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(CaError::storage)
    }

    /// `PRAGMA integrity_check` result ("ok" when sound).
    pub fn integrity_check(&self) -> Result<String, CaError> {
        self.conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(CaError::storage)
    }
}

impl CertStore for SqliteStore {
    fn record_issued(&mut self, r: &IssuedRecord) -> Result<(), CaError> {
        let tx = self.write_transaction()?;
        Self::insert_issued(&tx, r)?;
        tx.commit().map_err(CaError::storage)?;
        Ok(())
    }

    fn issued(&self, serial: &[u8]) -> Result<Option<IssuedRecord>, CaError> {
        self.conn
            .query_row(
                "SELECT serial, subject, cert, not_after FROM issued WHERE serial = ?1",
                [serial],
                issued_record,
            )
            .optional()
            .map_err(CaError::storage)
    }

    fn revoke(&mut self, serial: &[u8], reason: u8, at: i64) -> Result<bool, CaError> {
        let tx = self.write_transaction()?;
        let exists: bool = tx
            .query_row("SELECT 1 FROM issued WHERE serial = ?1", [serial], |_| {
                Ok(true)
            })
            .optional()
            .map_err(CaError::storage)?
            .unwrap_or(false);
        if !exists {
            return Err(CaError::UnknownSerial {
                serial_hex: hex_upper(serial),
            });
        }
        let n = tx
            .execute(
                "INSERT OR IGNORE INTO revoked (serial, reason, revoked_at) VALUES (?1, ?2, ?3)",
                params![serial, reason, at],
            )
            .map_err(CaError::storage)?;
        tx.commit().map_err(CaError::storage)?;
        Ok(n == 1)
    }

    fn revocation(&self, serial: &[u8]) -> Result<Option<RevocationRecord>, CaError> {
        self.conn
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
            .optional()
            .map_err(CaError::storage)
    }

    fn revocations(&self, now: i64) -> Result<Vec<RevocationRecord>, CaError> {
        let mut stmt = self.conn.prepare(
            "SELECT r.serial, r.reason, r.revoked_at FROM revoked r JOIN issued i ON i.serial = r.serial
             WHERE i.not_after >= ?1 ORDER BY r.revoked_at, r.serial",
        ).map_err(CaError::storage)?;
        let rows = stmt
            .query_map([now], |r| {
                Ok(RevocationRecord {
                    serial: r.get(0)?,
                    reason: r.get(1)?,
                    revoked_at: r.get(2)?,
                })
            })
            .map_err(CaError::storage)?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(CaError::storage)
    }

    fn next_crl_number(&mut self) -> Result<u64, CaError> {
        let tx = self.write_transaction()?;
        tx.execute("UPDATE crl_number SET value = value + 1 WHERE id = 1", [])
            .map_err(CaError::storage)?;
        let v: i64 = tx
            .query_row("SELECT value FROM crl_number WHERE id = 1", [], |r| {
                r.get(0)
            })
            .map_err(CaError::storage)?;
        tx.commit().map_err(CaError::storage)?;
        u64::try_from(v).map_err(|_| CaError::CorruptStore {
            what: "negative CRL number",
        })
    }

    fn add_pending(&mut self, label: &str, csr_der: &[u8], at: i64) -> Result<i64, CaError> {
        ApprovalStore::add_pending(self, label, csr_der, at)
    }

    fn pending_approved(&self, id: i64) -> Result<Option<bool>, CaError> {
        ApprovalStore::pending_approved(self, id)
    }

    fn approve_pending(&mut self, id: i64) -> Result<bool, CaError> {
        ApprovalStore::approve_pending(self, id)
    }

    fn find_pending(&self, label: &str, csr_der: &[u8]) -> Result<Option<(i64, bool)>, CaError> {
        ApprovalStore::find_pending(self, label, csr_der)
    }

    fn remove_pending(&mut self, id: i64) -> Result<(), CaError> {
        ApprovalStore::remove_pending(self, id)
    }

    fn issued_count(&self) -> Result<u64, CaError> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM issued", [], |r| r.get(0))
            .map_err(CaError::storage)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

impl ApprovalStore for SqliteStore {
    fn add_pending(&mut self, label: &str, csr_der: &[u8], at: i64) -> Result<i64, CaError> {
        self.conn
            .execute(
                "INSERT INTO pending (label, csr, created_at) VALUES (?1, ?2, ?3)",
                params![label, csr_der, at],
            )
            .map_err(CaError::storage)?;
        Ok(self.conn.last_insert_rowid())
    }

    fn pending_approved(&self, id: i64) -> Result<Option<bool>, CaError> {
        Ok(self
            .conn
            .query_row("SELECT approved FROM pending WHERE id = ?1", [id], |r| {
                r.get::<_, i64>(0)
            })
            .optional()
            .map_err(CaError::storage)?
            .map(|v| v != 0))
    }

    fn approve_pending(&mut self, id: i64) -> Result<bool, CaError> {
        Ok(self
            .conn
            .execute("UPDATE pending SET approved = 1 WHERE id = ?1", [id])
            .map_err(CaError::storage)?
            == 1)
    }

    fn find_pending(&self, label: &str, csr_der: &[u8]) -> Result<Option<(i64, bool)>, CaError> {
        self
            .conn
            .query_row(
                "SELECT id, approved FROM pending WHERE label = ?1 AND csr = ?2 ORDER BY id LIMIT 1",
                params![label, csr_der],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)? != 0)),
            )
            .optional().map_err(CaError::storage)
    }

    fn remove_pending(&mut self, id: i64) -> Result<(), CaError> {
        self.conn
            .execute("DELETE FROM pending WHERE id = ?1", [id])
            .map_err(CaError::storage)?;
        Ok(())
    }
}

/// An `issued` row selected as (serial, subject, cert, not_after).
fn issued_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<IssuedRecord> {
    Ok(IssuedRecord {
        serial: r.get(0)?,
        subject_der: r.get(1)?,
        cert_der: r.get(2)?,
        not_after: r.get(3)?,
    })
}

impl SqliteStore {
    fn insert_issued(tx: &rusqlite::Transaction<'_>, r: &IssuedRecord) -> Result<(), CaError> {
        tx.execute(
            "INSERT INTO issued (serial, subject, cert, not_after) VALUES (?1, ?2, ?3, ?4)",
            params![r.serial, r.subject_der, r.cert_der, r.not_after],
        )
        .map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::ConstraintViolation) => CaError::DuplicateSerial {
                serial_hex: hex_upper(&r.serial),
            },
            _ => CaError::storage(e),
        })?;
        Ok(())
    }
}

impl EnrollmentStore for SqliteStore {
    fn record_issued_for(
        &mut self,
        record: &IssuedRecord,
        request: &EnrollmentKey,
        at: i64,
    ) -> Result<(), CaError> {
        let tx = self.write_transaction()?;
        Self::insert_issued(&tx, record)?;
        tx.execute(
            "INSERT INTO enrollment (client, csr_sha256, serial, at) VALUES (?1, ?2, ?3, ?4)",
            params![
                request.client.as_slice(),
                request.csr_sha256.as_slice(),
                record.serial,
                at
            ],
        )
        .map_err(CaError::storage)?;
        tx.commit().map_err(CaError::storage)?;
        Ok(())
    }

    fn issued_for(
        &self,
        request: &EnrollmentKey,
        since: i64,
    ) -> Result<Option<IssuedRecord>, CaError> {
        self.conn
            .query_row(
                "SELECT i.serial, i.subject, i.cert, i.not_after FROM enrollment e
                 JOIN issued i ON i.serial = e.serial
                 WHERE e.client = ?1 AND e.csr_sha256 = ?2 AND e.at >= ?3
                 ORDER BY e.at DESC LIMIT 1",
                params![
                    request.client.as_slice(),
                    request.csr_sha256.as_slice(),
                    since
                ],
                issued_record,
            )
            .optional()
            .map_err(CaError::storage)
    }
}
