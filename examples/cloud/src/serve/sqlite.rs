//! [`FleetStore`] on SQLite (one file, `fleet.db` in the state directory): WAL journal,
//! `synchronous=FULL` (a committed transaction survives power loss, not only a killed process),
//! every state change one `IMMEDIATE` transaction (the write lock is taken before the first
//! read, so a read-decide-write cannot interleave with another writer).

use std::path::Path;
use std::sync::Mutex;

use iotsec_fleet_api::{DeviceRecord, DeviceReport, RolloutCommand, RolloutStatus, UpdateResult};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::store::{
    AppraisalEntry, AttestationState, CertStatus, Enrollment, FleetStore,
    MAX_PENDING_TPM_REGISTRATIONS, PendingTpmRegistration, Release, ReportEffect, Rollout,
    StoreError, apply_command, halt_on_report,
};

/// The fleet store's file name in the state directory.
pub const FLEET_DB: &str = "fleet.db";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY,
    cert_serial TEXT NOT NULL,
    enrolled_at INTEGER NOT NULL,
    firmware TEXT,
    last_attestation INTEGER,
    attestation_ok INTEGER,
    last_counter INTEGER,
    quarantine TEXT,
    cohort_bps INTEGER NOT NULL,
    decommissioned INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS certificates (
    serial TEXT PRIMARY KEY,
    device TEXT NOT NULL REFERENCES devices(id),
    issued_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE TABLE IF NOT EXISTS appraisals (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL REFERENCES devices(id),
    at INTEGER NOT NULL,
    accepted INTEGER NOT NULL,
    code TEXT,
    claims TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS releases (
    version TEXT PRIMARY KEY,
    manifest BLOB NOT NULL,
    image BLOB NOT NULL,
    image_sha256 BLOB NOT NULL,
    decision_digest TEXT NOT NULL,
    published_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rollout (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    version TEXT,
    stages TEXT NOT NULL,
    stage INTEGER NOT NULL,
    halted TEXT
);
CREATE TABLE IF NOT EXISTS update_reports (
    device TEXT NOT NULL REFERENCES devices(id),
    version TEXT NOT NULL,
    result TEXT NOT NULL,
    code TEXT,
    at INTEGER NOT NULL,
    PRIMARY KEY (device, version)
);
CREATE INDEX IF NOT EXISTS certificates_by_device ON certificates(device);
CREATE TABLE IF NOT EXISTS tpm_aks (
    device TEXT PRIMARY KEY REFERENCES devices(id),
    ak_name BLOB NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS tpm_ak_endorsements (
    device TEXT PRIMARY KEY REFERENCES tpm_aks(device),
    ek_sha256 BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS tpm_registrations (
    id BLOB PRIMARY KEY,
    device TEXT NOT NULL REFERENCES devices(id),
    ak_name BLOB NOT NULL,
    ek_sha256 BLOB NOT NULL,
    secret_sha256 BLOB NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS probes (
    device TEXT PRIMARY KEY,
    count INTEGER NOT NULL
);
";

/// The SQLite fleet store: one connection for the writes, one for the reads (WAL: a read
/// does not wait for a write's commit, and sees every committed one).
pub struct SqliteFleetStore {
    conn: Mutex<Connection>,
    reader: Mutex<Connection>,
}

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(crate::pki::utc)
        .unwrap_or_else(|_| unix.to_string())
}

fn result_word(r: UpdateResult) -> &'static str {
    match r {
        UpdateResult::Confirmed => "confirmed",
        UpdateResult::Reverted => "reverted",
        UpdateResult::Refused => "refused",
    }
}

impl SqliteFleetStore {
    /// Opens (creating) `DIR/fleet.db`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(dir.join(FLEET_DB)).map_err(db)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
        )
        .map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db)?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        let reader = Connection::open(dir.join(FLEET_DB)).map_err(db)?;
        reader
            .execute_batch("PRAGMA foreign_keys=ON;")
            .map_err(db)?;
        reader
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db)?;
        Ok(Self {
            conn: Mutex::new(conn),
            reader: Mutex::new(reader),
        })
    }

    /// Runs `f` in one IMMEDIATE transaction, committed when it returns `Ok`.
    fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| StoreError::Backend("store lock poisoned".into()))?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let out = f(&tx)?;
        tx.commit().map_err(db)?;
        Ok(out)
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self
            .reader
            .lock()
            .map_err(|_| StoreError::Backend("store lock poisoned".into()))?;
        f(&conn)
    }
}

/// How many rows the registry holds: what a load run checks afterwards (nothing lost, nothing
/// duplicated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct StoreCounts {
    /// Devices.
    pub devices: u64,
    /// Certificates issued (first enrollments, renewals and re-issues).
    pub certificates: u64,
    /// Certificates revoked.
    pub revoked_certificates: u64,
    /// Appraisals recorded, accepted.
    pub appraisals_accepted: u64,
    /// Appraisals recorded, refused.
    pub appraisals_refused: u64,
    /// Update reports (one per device and version).
    pub update_reports: u64,
}

impl SqliteFleetStore {
    /// The registry's row counts.
    pub fn counts(&self) -> Result<StoreCounts, StoreError> {
        self.read(|conn| {
            let count = |sql: &str| -> Result<u64, StoreError> {
                let n: i64 = conn.query_row(sql, [], |r| r.get(0)).map_err(db)?;
                Ok(u64::try_from(n).unwrap_or(0))
            };
            Ok(StoreCounts {
                devices: count("SELECT COUNT(*) FROM devices")?,
                certificates: count("SELECT COUNT(*) FROM certificates")?,
                revoked_certificates: count(
                    "SELECT COUNT(*) FROM certificates WHERE revoked_at IS NOT NULL",
                )?,
                appraisals_accepted: count("SELECT COUNT(*) FROM appraisals WHERE accepted")?,
                appraisals_refused: count("SELECT COUNT(*) FROM appraisals WHERE NOT accepted")?,
                update_reports: count("SELECT COUNT(*) FROM update_reports")?,
            })
        })
    }
}

const DEVICE_COLUMNS: &str = "d.id, d.cert_serial, d.enrolled_at, d.firmware, d.last_attestation, \
     d.attestation_ok, d.quarantine, d.cohort_bps, d.decommissioned, \
     EXISTS (SELECT 1 FROM certificates c WHERE c.device = d.id AND c.revoked_at IS NOT NULL)";

fn device_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<DeviceRecord> {
    Ok(DeviceRecord {
        id: row.get(0)?,
        cert_serial: row.get(1)?,
        enrolled_at: rfc3339(row.get(2)?),
        firmware: row.get(3)?,
        last_attestation: row.get::<_, Option<i64>>(4)?.map(rfc3339),
        attestation_ok: row.get(5)?,
        quarantine: row.get(6)?,
        cohort_bps: row.get(7)?,
        decommissioned: row.get(8)?,
        revoked: row.get(9)?,
    })
}

fn get_device(conn: &Connection, id: &str) -> Result<Option<DeviceRecord>, StoreError> {
    conn.query_row(
        &format!("SELECT {DEVICE_COLUMNS} FROM devices d WHERE d.id = ?1"),
        [id],
        device_row,
    )
    .optional()
    .map_err(db)
}

fn existing_device(conn: &Connection, id: &str) -> Result<DeviceRecord, StoreError> {
    get_device(conn, id)?.ok_or_else(|| {
        StoreError::refused("unknown_device", format!("no device {id:?} is enrolled"))
    })
}

fn get_rollout(conn: &Connection) -> Result<Rollout, StoreError> {
    let row = conn
        .query_row(
            "SELECT version, stages, stage, halted FROM rollout WHERE one = 1",
            [],
            |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            },
        )
        .optional()
        .map_err(db)?;
    let Some((version, stages, stage, halted)) = row else {
        return Ok(Rollout::default());
    };
    let stages_bps: Vec<u32> = serde_json::from_str(&stages)
        .map_err(|e| StoreError::Backend(format!("rollout stages: {e}")))?;
    Ok(Rollout {
        version,
        stages_bps,
        stage: usize::try_from(stage).map_err(|e| StoreError::Backend(e.to_string()))?,
        halted,
    })
}

fn put_rollout(tx: &Transaction<'_>, r: &Rollout) -> Result<(), StoreError> {
    let stages =
        serde_json::to_string(&r.stages_bps).map_err(|e| StoreError::Backend(e.to_string()))?;
    let stage = i64::try_from(r.stage).map_err(|e| StoreError::Backend(e.to_string()))?;
    tx.execute(
        "INSERT INTO rollout (one, version, stages, stage, halted) VALUES (1, ?1, ?2, ?3, ?4)
         ON CONFLICT (one) DO UPDATE SET version = ?1, stages = ?2, stage = ?3, halted = ?4",
        params![r.version, stages, stage, r.halted],
    )
    .map_err(db)?;
    Ok(())
}

fn rollout_status(conn: &Connection, r: Rollout) -> Result<RolloutStatus, StoreError> {
    let count = |result: &str| -> Result<u64, StoreError> {
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM update_reports WHERE version = ?1 AND result = ?2",
                params![r.version, result],
                |row| row.get(0),
            )
            .map_err(db)?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    Ok(RolloutStatus {
        confirmed: count("confirmed")?,
        reverted: count("reverted")?,
        refused: count("refused")?,
        version: r.version,
        stages_bps: r.stages_bps,
        stage: r.stage,
        halted: r.halted,
    })
}

fn published(conn: &Connection, version: &str) -> Result<bool, StoreError> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM releases WHERE version = ?1)",
        [version],
        |r| r.get(0),
    )
    .map_err(db)
}

impl FleetStore for SqliteFleetStore {
    fn record_enrollment(&self, e: &Enrollment, cohort_bps: u32) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO devices (id, cert_serial, enrolled_at, cohort_bps) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET cert_serial = ?2",
                params![e.device, e.serial, e.at, cohort_bps],
            )
            .map_err(db)?;
            tx.execute(
                "INSERT INTO certificates (serial, device, issued_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (serial) DO NOTHING",
                params![e.serial, e.device, e.at],
            )
            .map_err(db)?;
            Ok(())
        })
    }

    fn certificate(&self, serial: &str) -> Result<Option<CertStatus>, StoreError> {
        self.read(|conn| {
            conn.query_row(
                "SELECT c.device, c.revoked_at IS NOT NULL, d.decommissioned
                 FROM certificates c JOIN devices d ON d.id = c.device WHERE c.serial = ?1",
                [serial],
                |r| {
                    Ok(CertStatus {
                        device: r.get(0)?,
                        revoked: r.get(1)?,
                        decommissioned: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(db)
        })
    }

    fn device(&self, id: &str) -> Result<Option<DeviceRecord>, StoreError> {
        self.read(|conn| get_device(conn, id))
    }

    fn devices(&self) -> Result<Vec<DeviceRecord>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {DEVICE_COLUMNS} FROM devices d ORDER BY d.id"
                ))
                .map_err(db)?;
            let rows = stmt.query_map([], device_row).map_err(db)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db)
        })
    }

    fn attestation_state(&self, device: &str) -> Result<AttestationState, StoreError> {
        self.read(|conn| {
            let counter: Option<i64> = conn
                .query_row(
                    "SELECT last_counter FROM devices WHERE id = ?1",
                    [device],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?
                .flatten();
            let tpm_ak = one_column(
                conn,
                "SELECT ak_name FROM tpm_aks WHERE device = ?1",
                device,
            )?;
            let tpm_ek_sha256 = one_column(
                conn,
                "SELECT ek_sha256 FROM tpm_ak_endorsements WHERE device = ?1",
                device,
            )?;
            Ok(AttestationState {
                last_counter: counter.and_then(|c| u64::try_from(c).ok()),
                tpm_ak,
                tpm_ek_sha256,
            })
        })
    }

    fn tpm_ak_owner(&self, ak_name: &[u8]) -> Result<Option<String>, StoreError> {
        self.read(|conn| {
            conn.query_row(
                "SELECT device FROM tpm_aks WHERE ak_name = ?1",
                [ak_name],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)
        })
    }

    fn record_appraisal(&self, a: &AppraisalEntry) -> Result<DeviceRecord, StoreError> {
        self.write(|tx| {
            existing_device(tx, &a.device)?;
            let claims = serde_json::Value::Object(a.claims.clone()).to_string();
            tx.execute(
                "INSERT INTO appraisals (device, at, accepted, code, claims) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![a.device, a.at, a.accepted, a.code, claims],
            )
            .map_err(db)?;
            if a.accepted {
                let counter = a.counter.and_then(|c| i64::try_from(c).ok());
                tx.execute(
                    "UPDATE devices SET attestation_ok = 1, last_attestation = ?2,
                       last_counter = COALESCE(?3, last_counter), firmware = COALESCE(?4, firmware),
                       quarantine = CASE WHEN quarantine = 'attestation_failed' THEN NULL ELSE quarantine END
                     WHERE id = ?1",
                    params![a.device, a.at, counter, a.firmware],
                )
                .map_err(db)?;
                // First use registers the AK; the UNIQUE constraint refuses an AK another
                // device registered in the meantime (the transaction then rolls back).
                if let Some(ak) = &a.tpm_ak {
                    tx.execute(
                        "INSERT INTO tpm_aks (device, ak_name) VALUES (?1, ?2)
                         ON CONFLICT(device) DO NOTHING",
                        params![a.device, ak],
                    )
                    .map_err(db)?;
                }
            } else {
                tx.execute(
                    "UPDATE devices SET attestation_ok = 0,
                       quarantine = COALESCE(quarantine, 'attestation_failed') WHERE id = ?1",
                    params![a.device],
                )
                .map_err(db)?;
            }
            existing_device(tx, &a.device)
        })
    }

    fn set_quarantine(&self, id: &str, reason: Option<&str>) -> Result<DeviceRecord, StoreError> {
        self.write(|tx| {
            existing_device(tx, id)?;
            tx.execute(
                "UPDATE devices SET quarantine = ?2 WHERE id = ?1",
                params![id, reason],
            )
            .map_err(db)?;
            existing_device(tx, id)
        })
    }

    fn revoke(
        &self,
        id: &str,
        decommission: bool,
        at: i64,
    ) -> Result<(DeviceRecord, Vec<String>), StoreError> {
        self.write(|tx| {
            existing_device(tx, id)?;
            let mut stmt = tx
                .prepare("SELECT serial FROM certificates WHERE device = ?1 AND revoked_at IS NULL ORDER BY serial")
                .map_err(db)?;
            let serials = stmt
                .query_map([id], |r| r.get::<_, String>(0))
                .map_err(db)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db)?;
            drop(stmt);
            tx.execute(
                "UPDATE certificates SET revoked_at = ?2 WHERE device = ?1 AND revoked_at IS NULL",
                params![id, at],
            )
            .map_err(db)?;
            tx.execute(
                "UPDATE devices SET quarantine = 'revoked',
                   decommissioned = decommissioned OR ?2 WHERE id = ?1",
                params![id, decommission],
            )
            .map_err(db)?;
            Ok((existing_device(tx, id)?, serials))
        })
    }

    fn revoked_serials(&self) -> Result<Vec<String>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare(
                    "SELECT serial FROM certificates WHERE revoked_at IS NOT NULL ORDER BY serial",
                )
                .map_err(db)?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(db)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db)
        })
    }

    fn publish(&self, r: &Release, image: &[u8]) -> Result<(), StoreError> {
        self.write(|tx| {
            if published(tx, &r.version)? {
                return Err(StoreError::refused(
                    "release_exists",
                    format!("release {:?} is already published", r.version),
                ));
            }
            tx.execute(
                "INSERT INTO releases (version, manifest, image, image_sha256, decision_digest, published_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    r.version,
                    r.manifest,
                    image,
                    r.image_sha256.as_slice(),
                    r.decision_digest,
                    r.published_at
                ],
            )
            .map_err(db)?;
            Ok(())
        })
    }

    fn release(&self, version: &str) -> Result<Option<Release>, StoreError> {
        self.read(|conn| {
            conn.query_row(
                "SELECT version, manifest, image_sha256, length(image), decision_digest, published_at
                 FROM releases WHERE version = ?1",
                [version],
                |r| {
                    let digest: Vec<u8> = r.get(2)?;
                    Ok(Release {
                        version: r.get(0)?,
                        manifest: r.get(1)?,
                        image_sha256: digest.try_into().unwrap_or([0; 32]),
                        image_len: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
                        decision_digest: r.get(4)?,
                        published_at: r.get(5)?,
                    })
                },
            )
            .optional()
            .map_err(db)
        })
    }

    fn release_image(&self, version: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|conn| {
            conn.query_row(
                "SELECT image FROM releases WHERE version = ?1",
                [version],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)
        })
    }

    fn release_digests(&self) -> Result<Vec<(String, [u8; 32])>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare(
                    "SELECT version, image_sha256 FROM releases ORDER BY published_at, version",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
                })
                .map_err(db)?;
            let mut out = Vec::new();
            for row in rows {
                let (version, digest) = row.map_err(db)?;
                if let Ok(d) = <[u8; 32]>::try_from(digest) {
                    out.push((version, d));
                }
            }
            Ok(out)
        })
    }

    fn rollout(&self) -> Result<RolloutStatus, StoreError> {
        self.read(|conn| rollout_status(conn, get_rollout(conn)?))
    }

    fn rollout_command(&self, command: &RolloutCommand) -> Result<RolloutStatus, StoreError> {
        self.write(|tx| {
            let current = get_rollout(tx)?;
            let start_published = match command {
                RolloutCommand::Start { version, .. } => published(tx, version)?,
                _ => false,
            };
            let next = apply_command(&current, command, |_| start_published);
            let next = next?;
            put_rollout(tx, &next)?;
            rollout_status(tx, next)
        })
    }

    fn record_report(
        &self,
        device: &str,
        report: &DeviceReport,
        at: i64,
    ) -> Result<ReportEffect, StoreError> {
        self.write(|tx| {
            let record = existing_device(tx, device)?;
            tx.execute(
                "UPDATE devices SET firmware = ?2 WHERE id = ?1",
                params![device, report.firmware],
            )
            .map_err(db)?;
            let mut halted = false;
            if let Some(update) = &report.update {
                tx.execute(
                    "INSERT INTO update_reports (device, version, result, code, at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (device, version) DO UPDATE SET result = ?3, code = ?4, at = ?5",
                    params![device, update.version, result_word(update.result), update.code, at],
                )
                .map_err(db)?;
                let current = get_rollout(tx)?;
                if let Some(next) =
                    halt_on_report(&current, &update.version, update.result, record.cohort_bps)
                {
                    put_rollout(tx, &next)?;
                    halted = true;
                }
            }
            Ok(ReportEffect { halted })
        })
    }

    fn record_probe(&self, device: &str) -> Result<u32, StoreError> {
        self.write(|tx| {
            let count: i64 = tx
                .query_row(
                    "INSERT INTO probes (device, count) VALUES (?1, 1)
                     ON CONFLICT (device) DO UPDATE SET count = MIN(count + 1, 4294967295)
                     RETURNING count",
                    [device],
                    |r| r.get(0),
                )
                .map_err(db)?;
            Ok(u32::try_from(count).unwrap_or(u32::MAX))
        })
    }

    fn probe_counts(&self) -> Result<Vec<(String, u32)>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare("SELECT device, count FROM probes ORDER BY device")
                .map_err(db)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        u32::try_from(r.get::<_, i64>(1)?).unwrap_or(u32::MAX),
                    ))
                })
                .map_err(db)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db)
        })
    }

    fn add_tpm_registration(&self, p: &PendingTpmRegistration, now: i64) -> Result<(), StoreError> {
        self.write(|tx| {
            existing_device(tx, &p.device)?;
            check_ak_binding(tx, &p.device, &p.ak_name)?;
            tx.execute(
                "DELETE FROM tpm_registrations WHERE expires_at < ?1",
                [now],
            )
            .map_err(db)?;
            tx.execute(
                "DELETE FROM tpm_registrations WHERE id IN (SELECT id FROM tpm_registrations
                   WHERE device = ?1 ORDER BY expires_at DESC, id LIMIT -1 OFFSET ?2)",
                params![p.device, MAX_PENDING_TPM_REGISTRATIONS - 1],
            )
            .map_err(db)?;
            tx.execute(
                "INSERT INTO tpm_registrations (id, device, ak_name, ek_sha256, secret_sha256, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![p.id, p.device, p.ak_name, p.ek_sha256, p.secret_sha256, p.expires_at],
            )
            .map_err(db)?;
            Ok(())
        })
    }

    fn take_tpm_registration(
        &self,
        id: &[u8],
        device: &str,
    ) -> Result<Option<PendingTpmRegistration>, StoreError> {
        self.write(|tx| {
            let found = tx
                .query_row(
                    "SELECT id, device, ak_name, ek_sha256, secret_sha256, expires_at
                     FROM tpm_registrations WHERE id = ?1 AND device = ?2",
                    params![id, device],
                    |r| {
                        Ok(PendingTpmRegistration {
                            id: r.get(0)?,
                            device: r.get(1)?,
                            ak_name: r.get(2)?,
                            ek_sha256: r.get(3)?,
                            secret_sha256: r.get(4)?,
                            expires_at: r.get(5)?,
                        })
                    },
                )
                .optional()
                .map_err(db)?;
            tx.execute(
                "DELETE FROM tpm_registrations WHERE id = ?1 AND device = ?2",
                params![id, device],
            )
            .map_err(db)?;
            Ok(found)
        })
    }

    fn bind_tpm_ak(
        &self,
        device: &str,
        ak_name: &[u8],
        ek_sha256: &[u8],
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            existing_device(tx, device)?;
            check_ak_binding(tx, device, ak_name)?;
            tx.execute(
                "INSERT INTO tpm_aks (device, ak_name) VALUES (?1, ?2) ON CONFLICT(device) DO NOTHING",
                params![device, ak_name],
            )
            .map_err(db)?;
            tx.execute(
                "INSERT INTO tpm_ak_endorsements (device, ek_sha256) VALUES (?1, ?2)
                 ON CONFLICT(device) DO UPDATE SET ek_sha256 = ?2",
                params![device, ek_sha256],
            )
            .map_err(db)?;
            Ok(())
        })
    }
}

/// The first column of the row `sql` selects with the one parameter `key`, if any.
fn one_column<T: rusqlite::types::FromSql>(
    conn: &Connection,
    sql: &str,
    key: impl rusqlite::ToSql,
) -> Result<Option<T>, StoreError> {
    conn.query_row(sql, [key], |r| r.get(0))
        .optional()
        .map_err(db)
}

/// Refuses binding `ak_name` to `device` when another device holds the AK
/// (`ak_bound_to_other_device`) or the device holds another AK (`ak_not_registered`).
fn check_ak_binding(conn: &Connection, device: &str, ak_name: &[u8]) -> Result<(), StoreError> {
    let owner: Option<String> = one_column(
        conn,
        "SELECT device FROM tpm_aks WHERE ak_name = ?1",
        ak_name,
    )?;
    if owner.as_deref().is_some_and(|o| o != device) {
        return Err(StoreError::refused(
            "ak_bound_to_other_device",
            "the attestation key is registered for another device",
        ));
    }
    let held: Option<Vec<u8>> = one_column(
        conn,
        "SELECT ak_name FROM tpm_aks WHERE device = ?1",
        device,
    )?;
    if held.is_some_and(|h| h != ak_name) {
        return Err(StoreError::refused(
            "ak_not_registered",
            "the device already has another attestation key",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

    use std::collections::BTreeMap;

    use iotsec_fleet_api::UpdateOutcome;
    use proptest::prelude::*;

    use super::*;
    use crate::serve::store::cohort_bps;

    /// What the store must hold after a sequence of operations: the model.
    #[derive(Default, Debug)]
    struct Model {
        devices: BTreeMap<String, (String, Option<String>, bool, bool)>,
        releases: Vec<String>,
        rollout: Rollout,
        reports: BTreeMap<(String, String), UpdateResult>,
    }

    #[derive(Debug, Clone)]
    enum Op {
        Enroll(u8, u8),
        Quarantine(u8, bool),
        Revoke(u8, bool),
        Publish(u8),
        Command(RolloutCommand),
        Report(u8, u8, UpdateResult),
        Reopen,
    }

    fn device(i: u8) -> String {
        format!("dev-{i}")
    }

    fn version(v: u8) -> String {
        format!("1.{v}.0")
    }

    fn op() -> impl Strategy<Value = Op> {
        let result = prop_oneof![
            Just(UpdateResult::Confirmed),
            Just(UpdateResult::Reverted),
            Just(UpdateResult::Refused)
        ];
        let command = prop_oneof![
            (0u8..3, prop::collection::vec(1u32..=10_000, 0..4)).prop_map(|(v, mut s)| {
                if s.len() % 2 == 0 {
                    s.sort_unstable();
                    s.dedup();
                    s.push(10_000);
                    s.dedup();
                }
                RolloutCommand::Start {
                    version: version(v),
                    stages_bps: s,
                }
            }),
            Just(RolloutCommand::Advance {}),
            Just(RolloutCommand::Halt {
                reason: "operator".into()
            }),
            Just(RolloutCommand::Resume {}),
        ];
        prop_oneof![
            (0u8..6, 0u8..3).prop_map(|(d, s)| Op::Enroll(d, s)),
            (0u8..6, any::<bool>()).prop_map(|(d, q)| Op::Quarantine(d, q)),
            (0u8..6, any::<bool>()).prop_map(|(d, x)| Op::Revoke(d, x)),
            (0u8..3).prop_map(Op::Publish),
            command.prop_map(Op::Command),
            (0u8..6, 0u8..3, result).prop_map(|(d, v, r)| Op::Report(d, v, r)),
            Just(Op::Reopen),
        ]
    }

    fn apply(store: &SqliteFleetStore, model: &mut Model, op: &Op) {
        match op {
            Op::Enroll(d, s) => {
                let serial = format!("{:02X}{:02X}", d, s);
                let e = Enrollment {
                    device: device(*d),
                    serial: serial.clone(),
                    at: 1,
                };
                store.record_enrollment(&e, cohort_bps(&e.device)).unwrap();
                let entry =
                    model
                        .devices
                        .entry(device(*d))
                        .or_insert((serial.clone(), None, false, false));
                entry.0 = serial;
            }
            Op::Quarantine(d, q) => {
                let reason = q.then_some("operator");
                let got = store.set_quarantine(&device(*d), reason);
                match model.devices.get_mut(&device(*d)) {
                    Some(m) => {
                        assert_eq!(got.unwrap().quarantine.as_deref(), reason);
                        m.1 = reason.map(str::to_owned);
                    }
                    None => assert_eq!(got.unwrap_err().code(), "unknown_device"),
                }
            }
            Op::Revoke(d, decommission) => {
                let got = store.revoke(&device(*d), *decommission, 2);
                match model.devices.get_mut(&device(*d)) {
                    Some(m) => {
                        let (record, _) = got.unwrap();
                        m.1 = Some("revoked".into());
                        m.2 = true;
                        m.3 |= *decommission;
                        assert!(record.revoked);
                        assert_eq!(record.decommissioned, m.3);
                    }
                    None => assert_eq!(got.unwrap_err().code(), "unknown_device"),
                }
            }
            Op::Publish(v) => {
                let r = Release {
                    version: version(*v),
                    manifest: vec![*v],
                    image_sha256: [*v; 32],
                    image_len: 1,
                    decision_digest: "d".into(),
                    published_at: 3,
                };
                let got = store.publish(&r, &[*v]);
                if model.releases.contains(&r.version) {
                    assert_eq!(got.unwrap_err().code(), "release_exists");
                } else {
                    got.unwrap();
                    model.releases.push(r.version);
                }
            }
            Op::Command(c) => {
                let expected =
                    apply_command(&model.rollout, c, |v| model.releases.iter().any(|r| r == v));
                let got = store.rollout_command(c);
                match expected {
                    Ok(next) => {
                        let status = got.unwrap();
                        assert_eq!(status.stage, next.stage);
                        model.rollout = next;
                    }
                    Err(e) => assert_eq!(got.unwrap_err().code(), e.code()),
                }
            }
            Op::Report(d, v, result) => {
                let report = DeviceReport {
                    firmware: "1.0.0".into(),
                    update: Some(UpdateOutcome {
                        version: version(*v),
                        result: *result,
                        code: None,
                    }),
                };
                let got = store.record_report(&device(*d), &report, 4);
                if model.devices.contains_key(&device(*d)) {
                    let halt = halt_on_report(
                        &model.rollout,
                        &version(*v),
                        *result,
                        cohort_bps(&device(*d)),
                    );
                    assert_eq!(got.unwrap().halted, halt.is_some());
                    if let Some(next) = halt {
                        model.rollout = next;
                    }
                    model.reports.insert((device(*d), version(*v)), *result);
                } else {
                    assert_eq!(got.unwrap_err().code(), "unknown_device");
                }
            }
            Op::Reopen => {}
        }
    }

    fn check(store: &SqliteFleetStore, model: &Model) {
        let devices = store.devices().unwrap();
        let got: Vec<_> = devices
            .iter()
            .map(|d| {
                (
                    d.id.clone(),
                    (
                        d.cert_serial.clone(),
                        d.quarantine.clone(),
                        d.revoked,
                        d.decommissioned,
                    ),
                )
            })
            .collect();
        let want: Vec<_> = model
            .devices
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(got, want);
        let status = store.rollout().unwrap();
        assert_eq!(status.version, model.rollout.version);
        assert_eq!(status.stages_bps, model.rollout.stages_bps);
        assert_eq!(status.stage, model.rollout.stage);
        assert_eq!(status.halted, model.rollout.halted);
        let count = |r: UpdateResult| {
            model
                .reports
                .iter()
                .filter(|((_, v), res)| Some(v) == model.rollout.version.as_ref() && **res == r)
                .count() as u64
        };
        assert_eq!(
            (status.confirmed, status.reverted, status.refused),
            (
                count(UpdateResult::Confirmed),
                count(UpdateResult::Reverted),
                count(UpdateResult::Refused)
            )
        );
        // Invariants of the rollout itself.
        if status.version.is_some() {
            assert!(status.stage < status.stages_bps.len());
            assert_eq!(status.stages_bps.last(), Some(&10_000));
        }
    }

    #[test]
    fn probe_counts_survive_reopening_and_the_counts_read_what_was_written() {
        let dir = std::env::temp_dir().join(format!(
            "iotsec-fleet-probes-{}-{}",
            std::process::id(),
            time::OffsetDateTime::now_utc().unix_timestamp_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let store = SqliteFleetStore::open(&dir).unwrap();
        assert_eq!(store.record_probe("dev-9").unwrap(), 1);
        assert_eq!(store.record_probe("dev-9").unwrap(), 2);
        assert_eq!(store.record_probe("not-enrolled").unwrap(), 1);
        drop(store);
        let store = SqliteFleetStore::open(&dir).unwrap();
        assert_eq!(
            store.probe_counts().unwrap(),
            [("dev-9".to_owned(), 2), ("not-enrolled".to_owned(), 1)]
        );
        assert_eq!(store.record_probe("dev-9").unwrap(), 3);
        let e = Enrollment {
            device: "dev-9".into(),
            serial: "0A".into(),
            at: 1,
        };
        store.record_enrollment(&e, 1).unwrap();
        store
            .record_enrollment(
                &Enrollment {
                    serial: "0B".into(),
                    ..e.clone()
                },
                1,
            )
            .unwrap();
        store.record_enrollment(&e, 1).unwrap();
        store.revoke("dev-9", false, 2).unwrap();
        assert_eq!(
            store.counts().unwrap(),
            StoreCounts {
                devices: 1,
                certificates: 2,
                revoked_certificates: 2,
                ..StoreCounts::default()
            }
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
        #[test]
        fn store_matches_the_model_across_operations_and_reopening(
            ops in prop::collection::vec(op(), 1..40)
        ) {
            let dir = std::env::temp_dir().join(format!(
                "iotsec-fleet-store-{}-{}",
                std::process::id(),
                time::OffsetDateTime::now_utc().unix_timestamp_nanos()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            let mut store = SqliteFleetStore::open(&dir).unwrap();
            let mut model = Model::default();
            for op in &ops {
                if matches!(op, Op::Reopen) {
                    drop(store);
                    store = SqliteFleetStore::open(&dir).unwrap();
                }
                apply(&store, &mut model, op);
                check(&store, &model);
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
