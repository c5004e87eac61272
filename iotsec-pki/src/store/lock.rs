//! The rotation lock of an intermediate's state directory: a rotation (and the recovery of
//! one a crash interrupted) holds it exclusively, every open of the directory holds it shared,
//! so an open never reads a half-rotated directory and two processes never finish one
//! rotation at once.
//!
//! The lock is SQLite's own file lock on an empty database `CA_DIR/rotation.lock` (rollback
//! journal mode: a read transaction holds SHARED, `BEGIN EXCLUSIVE` holds EXCLUSIVE; POSIX
//! advisory locks, released when the process dies), so it needs no `unsafe` and no new
//! dependency (`std::fs::File::lock` is newer than the workspace's minimum Rust).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode};

use crate::ca::error::CaError;

/// The lock file in an intermediate's state directory.
pub const LOCK_FILE: &str = "rotation.lock";

/// How long an open or a rotation waits for the lock by default.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

/// A held rotation lock; dropping it releases it.
#[derive(Debug)]
pub struct StateLock {
    _conn: Connection,
}

fn busy(ca_dir: &Path, e: rusqlite::Error) -> CaError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) =>
        {
            CaError::RotationInProgress {
                dir: ca_dir.to_path_buf(),
            }
        }
        _ => CaError::storage(e),
    }
}

fn lock_db(ca_dir: &Path, wait: Duration) -> Result<Connection, CaError> {
    let conn = Connection::open(ca_dir.join(LOCK_FILE)).map_err(CaError::storage)?;
    conn.busy_timeout(wait).map_err(CaError::storage)?;
    Ok(conn)
}

impl StateLock {
    /// No wait: fail at once with [`CaError::RotationInProgress`] if the lock is held.
    pub const WAIT_NONE: Duration = Duration::ZERO;

    /// The exclusive lock of `ca_dir` (a rotation), waiting at most `wait` for other holders.
    pub fn exclusive(ca_dir: &Path, wait: Duration) -> Result<Self, CaError> {
        let conn = lock_db(ca_dir, wait)?;
        conn.execute_batch("BEGIN EXCLUSIVE")
            .map_err(|e| busy(ca_dir, e))?;
        Ok(Self { _conn: conn })
    }

    /// A shared lock of `ca_dir` (an open), waiting at most `wait` for a rotation.
    pub fn shared(ca_dir: &Path, wait: Duration) -> Result<Self, CaError> {
        let conn = lock_db(ca_dir, wait)?;
        conn.execute_batch("BEGIN DEFERRED")
            .map_err(CaError::storage)?;
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
            .map_err(|e| busy(ca_dir, e))?;
        Ok(Self { _conn: conn })
    }
}
