//! What the service tells the MQTT broker (mosquitto with the iotsec plugin):
//! - the **posture feed** (`plugin_opt_posture`, JSON): per device, quarantined, revoked,
//!   firmware and the time of its last accepted attestation; rewritten whole (tmp + rename, so
//!   the plugin's file watch never reads half a file) by one writer task ([`PostureWriter`]):
//!   changes are coalesced (at most one write per [`COALESCE`]; a fleet attesting at once
//!   costs a few writes, not one per device), and a security change (quarantine, revocation)
//!   is written at once and acknowledged only after its write. A `revoked` entry makes the
//!   plugin close that device's open session and deny it everything;
//! - the **CRL** (`crlfile` of the TLS listener, PEM), rewritten the same way after every
//!   revocation, then SIGHUP to the broker's pid when one is configured. mosquitto 2.0.11
//!   re-reads its listeners' TLS files on SIGHUP without dropping connected clients (tested
//!   with the real broker: `tests/serve_broker.rs`); the new CRL refuses the revoked
//!   certificate at its next handshake, and the posture feed's quarantine narrows what an
//!   already connected device may do at its next PUBLISH.

use std::io::Write;
use std::path::Path;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use iotsec_fleet_api::DeviceRecord;
use serde_json::{Value, json};

use super::{BrokerConfig, ServeError};

/// The broker side of the service.
pub struct Broker {
    config: BrokerConfig,
    /// Writes of the two files happen one at a time (the last writer wins with the newest
    /// registry state: each write reads the registry after taking the lock). Holds the feed
    /// last written: an unchanged feed is not written again (most reports change nothing the
    /// broker sees).
    write_lock: Mutex<Vec<u8>>,
    /// The coalescing of posture writes.
    pub(crate) posture: PostureWriter,
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// The posture feed for `devices` (the plugin's JSON form). A firmware that is not SemVer is
/// left out (the plugin refuses the whole file otherwise): rules with a firmware condition
/// then do not grant that device, which fails closed.
pub fn posture_json(devices: &[DeviceRecord]) -> Value {
    let entries: Vec<Value> = devices
        .iter()
        .map(|d| {
            let mut e = serde_json::Map::new();
            e.insert("client_id".into(), json!(d.id));
            e.insert(
                "quarantined".into(),
                json!(d.quarantine.is_some() || d.revoked || d.decommissioned),
            );
            // Only when true (the plugin's default is false): the plugin kicks the session.
            if d.revoked || d.decommissioned {
                e.insert("revoked".into(), json!(true));
            }
            if let Some(fw) = d
                .firmware
                .as_deref()
                .filter(|f| semver::Version::parse(f).is_ok())
            {
                e.insert("firmware".into(), json!(fw));
            }
            if let Some(at) = d.last_attestation.as_deref().and_then(unix_of) {
                e.insert("attested_at".into(), json!(at));
            }
            Value::Object(e)
        })
        .collect();
    json!({ "devices": entries })
}

/// The longest a registry change waits before the posture feed is rewritten with it (changes
/// within it share one write).
pub const COALESCE: Duration = Duration::from_millis(150);
/// The longest a security change waits for its write before its request fails.
const URGENT_WAIT: Duration = Duration::from_secs(30);

/// Which registry changes the posture feed has taken up: changes get increasing generations;
/// the writer task writes the feed for the newest and records it as written.
#[derive(Debug, Default)]
struct Generations {
    /// The newest change.
    changed: u64,
    /// The newest change the feed on disk includes.
    written: u64,
    /// A change is waiting for its write: no coalescing delay.
    urgent: bool,
    /// The last write failed: the generation it was for, and why.
    failed: Option<(u64, String)>,
}

/// The coalescing between the registry's changes and the writer task.
#[derive(Debug, Default)]
pub struct PostureWriter {
    generations: Mutex<Generations>,
    written: Condvar,
    wake: tokio::sync::Notify,
}

impl PostureWriter {
    fn lock(&self) -> std::sync::MutexGuard<'_, Generations> {
        // A panic while holding it cannot leave the counters half-updated: go on with them.
        self.generations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records a change; the writer task takes it up within [`COALESCE`].
    pub fn changed(&self) -> u64 {
        let generation = {
            let mut g = self.lock();
            g.changed += 1;
            g.changed
        };
        self.wake.notify_one();
        generation
    }

    /// Records a change and blocks until the feed on disk includes it (the writer writes at
    /// once); an error when the write failed or did not happen within 30 s.
    pub fn changed_and_written(&self) -> Result<(), ServeError> {
        let generation = {
            let mut g = self.lock();
            g.changed += 1;
            g.urgent = true;
            g.changed
        };
        self.wake.notify_one();
        let mut g = self.lock();
        let deadline = std::time::Instant::now() + URGENT_WAIT;
        while g.written < generation {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(ServeError::Broker(
                    "the posture feed was not written within 30 s".into(),
                ));
            }
            g = self
                .written
                .wait_timeout(g, left)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        match &g.failed {
            Some((at, why)) if *at >= generation => Err(ServeError::Broker(why.clone())),
            _ => Ok(()),
        }
    }

    /// The writer task's side: waits for a change (and the coalescing delay unless one is
    /// urgent); the generation to write.
    pub(crate) async fn next(&self) -> u64 {
        loop {
            let (pending, urgent) = {
                let g = self.lock();
                (g.changed > g.written, g.urgent)
            };
            if pending {
                if !urgent {
                    // Coalesce: later changes join this write; an urgent one cuts it short.
                    let until = tokio::time::Instant::now() + COALESCE;
                    while !self.lock().urgent
                        && tokio::time::timeout_at(until, self.wake.notified())
                            .await
                            .is_ok()
                    {}
                }
                return self.lock().changed;
            }
            self.wake.notified().await;
        }
    }

    /// The writer task's side: the feed for `generation` was written (or failed).
    pub(crate) fn done(&self, generation: u64, outcome: Result<(), ServeError>) {
        let mut g = self.lock();
        g.written = g.written.max(generation);
        if g.written >= g.changed {
            g.urgent = false;
        }
        g.failed = outcome.err().map(|e| (generation, e.to_string()));
        drop(g);
        self.written.notify_all();
    }
}

/// Unix seconds of an RFC 3339 time.
fn unix_of(t: &str) -> Option<i64> {
    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

impl Broker {
    /// The broker side for `config`; the posture file must end in `.json`.
    pub fn new(config: BrokerConfig) -> Result<Self, ServeError> {
        if config.posture_file.extension().is_none_or(|e| e != "json") {
            return Err(ServeError::Config(format!(
                "the posture feed {} must end in .json (the plugin reads it as JSON then)",
                config.posture_file.display()
            )));
        }
        Ok(Self {
            config,
            write_lock: Mutex::new(Vec::new()),
            posture: PostureWriter::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// Rewrites the posture feed from `devices()` (read under the write lock), unless it is
    /// what was written last.
    pub fn write_posture(
        &self,
        devices: impl FnOnce() -> Result<Vec<DeviceRecord>, ServeError>,
    ) -> Result<(), ServeError> {
        let mut last = self
            .write_lock
            .lock()
            .map_err(|_| ServeError::Broker("write lock poisoned".into()))?;
        let feed = posture_json(&devices()?);
        let text =
            serde_json::to_vec_pretty(&feed).map_err(|e| ServeError::Broker(e.to_string()))?;
        if *last == text {
            return Ok(());
        }
        write_atomic(&self.config.posture_file, &text).map_err(|e| {
            ServeError::Broker(format!(
                "writing {}: {e}",
                self.config.posture_file.display()
            ))
        })?;
        *last = text;
        Ok(())
    }

    /// Rewrites the CRL file with `crl_pem` and signals the broker.
    pub fn write_crl(&self, crl_pem: &str) -> Result<(), ServeError> {
        let _guard = self
            .write_lock
            .lock()
            .map_err(|_| ServeError::Broker("write lock poisoned".into()))?;
        write_atomic(&self.config.crl_file, crl_pem.as_bytes()).map_err(|e| {
            ServeError::Broker(format!("writing {}: {e}", self.config.crl_file.display()))
        })?;
        if let Some(pid) = self.config.pid {
            hangup(pid)?;
        }
        Ok(())
    }
}

/// SIGHUP to `pid` (through kill(1): the examples keep `unsafe` out, and one process spawn
/// per revocation costs nothing next to the revocation itself).
fn hangup(pid: u32) -> Result<(), ServeError> {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .map_err(|e| ServeError::Broker(format!("kill -HUP {pid}: {e}")))?;
    match status.success() {
        true => Ok(()),
        false => Err(ServeError::Broker(format!(
            "kill -HUP {pid} failed ({status}): is the broker running?"
        ))),
    }
}
