//! Intermediate key rotation (rollover): a new key and a new certificate from the root under
//! the same subject, as `step-ca` (a new intermediate under the same root) and EJBCA ("renew CA
//! with a new key") do, with the old key kept for revocation only.
//!
//! [`rotate_intermediate`] moves the current generation of an intermediate's state directory
//! `CA_DIR` (certificate, key or token lines, database) to `CA_DIR/retired/SERIAL/` (SERIAL: the
//! old certificate's serial in hex), marked `retired_at=` in its `ca.txt`, and installs the new
//! key, certificate and an empty database in `CA_DIR`. What stays true afterwards:
//! - the new certificate has the old subject, a new serial, a new subject key identifier and
//!   the root CRL distribution point if `ca.txt` of the root has `root_crl_url=`; leaves issued
//!   from now on carry the new key's authority key identifier;
//! - the old key issues nothing ([`CaError::IssuerRetired`]) but still signs the CRL and
//!   OCSP answers for the leaves it issued ([`CaState::open`](crate::ca::state::CaState::open) on the retired directory,
//!   [`revoke_in_any_generation`]); it is kept until the last of those leaves expires, then
//!   [`drop_expired_keys`] deletes it (a key in a token is left in the token: delete it there);
//! - both keys sign CRLs under the same issuer name, so they share one CRL number sequence
//!   (RFC 5280 §5.2.3): the retired generation draws its numbers from `CA_DIR/pki.sqlite`,
//!   which continues the old sequence;
//! - each key has its own CRL URL, as AD CS names each CA key's CRL file (`CA(1).crl`): the
//!   retired generation keeps the URL its leaves carry, and the new one gets
//!   [`generation_crl_url`] (`http://h/crl.der` becomes `http://h/crl-NEWSERIAL.der`) in its
//!   `ca.txt`, so its leaves point at the CRL its own key signs
//!   ([`EstService::ca_for_crl_path`](crate::est::service::EstService::ca_for_crl_path)).
//!
//! The rotation is one atomic commit that survives a crash at any point
//! ([`rotate_intermediate_observed`], [`recover_rotation`]); a running EST server picks it up
//! without a restart ([`crate::est::reload`]).

use std::fs;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use crate::ca::authority::recertify_intermediate;
use crate::ca::error::CaError;
use crate::ca::state_dir::{
    CRL_URL_KEY, RETIRED_AT_KEY, ROOT_CRL_URL_KEY, intermediate_dir, read_pem, settings_value,
    to_pem,
};
use crate::keys::new_key::{MadeKey, NewCaKey};
use crate::keys::root::RootKey;
use crate::keys::signer::Signer;
use crate::keys::token::{CaRole, ensure_certified_key_for};
use crate::store::lock::{LOCK_WAIT, StateLock};
use crate::store::{CertStore, SqliteStore, hex_upper};

pub use crate::ca::state_dir::RETIRED_DIR;

/// The folder a rotation writes the new generation into before it commits
/// (`CA_DIR/rotation.staging`); found on open, it is removed: the rotation did not happen.
pub const ROTATION_STAGING: &str = "rotation.staging";

/// The staging folder once renamed (the rotation's commit point); found on open, the
/// rotation is finished from it.
pub const ROTATION_PENDING: &str = "rotation.pending";

/// The pending folder once its rotation is finished, renamed before it is deleted (a crash
/// while deleting leaves this, never a pending folder without its plan); removed on open.
pub const ROTATION_DONE: &str = "rotation.done";

/// The state directory of an intermediate of the CA in `dir`: the default one (`None`, `dir`
/// itself) or the named one.
pub fn ca_dir(dir: &Path, name: Option<&str>) -> Result<PathBuf, CaError> {
    match name {
        Some(name) => intermediate_dir(dir, name),
        None => Ok(dir.to_path_buf()),
    }
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The serial of the certificate rotated out (hex, as OpenSSL prints it).
    pub old_serial_hex: String,
    /// The serial of the new intermediate certificate (hex).
    pub new_serial_hex: String,
    /// Where the old generation now is (`CA_DIR/retired/OLD_SERIAL`).
    pub retired_dir: PathBuf,
    /// The new intermediate certificate (DER).
    pub new_certificate: Vec<u8>,
    /// The CRL URL the new generation's leaves carry ([`generation_crl_url`]); the old URL
    /// stays with the retired generation.
    pub new_crl_url: String,
}

/// The CRL URL of the generation `new_serial_hex` that follows the generation
/// `old_serial_hex` whose leaves carry `current`: `-NEWSERIAL` inserted before the extension
/// of the URL's last path segment (appended when it has none), after removing a `-OLDSERIAL`
/// an earlier rotation put there, so the name does not grow with every rotation. Query and
/// fragment stay as they are; a URL without a path gets `/crl-NEWSERIAL`.
/// `http://h/crl.der` → `http://h/crl-0B.der` (new serial 0B) → `http://h/crl-0C.der`.
pub fn generation_crl_url(current: &str, old_serial_hex: &str, new_serial_hex: &str) -> String {
    let end = current.find(['?', '#']).unwrap_or(current.len());
    let (url, tail) = current.split_at_checked(end).unwrap_or((current, ""));
    let host_start = url.find("://").map_or(0, |i| i + 3);
    let path_start = url
        .get(host_start..)
        .and_then(|rest| rest.find('/'))
        .map(|i| host_start + i);
    let Some(path_start) = path_start else {
        return format!("{url}/crl-{new_serial_hex}{tail}");
    };
    let name_start = url.rfind('/').map_or(path_start, |i| i + 1);
    let ext_start = url
        .rfind('.')
        .filter(|&dot| dot > name_start)
        .unwrap_or(url.len());
    let (stem, ext) = url.split_at_checked(ext_start).unwrap_or((url, ""));
    let old_suffix = format!("-{old_serial_hex}");
    let stem = match stem.strip_suffix(old_suffix.as_str()) {
        Some(base) if base.len() >= name_start => base,
        _ => stem,
    };
    format!("{stem}-{new_serial_hex}{ext}{tail}")
}

fn serial_hex(cert_der: &[u8]) -> Result<String, CaError> {
    use der::Decode;
    let cert = x509_cert::Certificate::from_der(cert_der).map_err(|error| {
        CaError::MalformedCertificate {
            which: "intermediate certificate",
            error,
        }
    })?;
    Ok(hex_upper(cert.tbs_certificate.serial_number.as_bytes()))
}

/// Rotates the key of the intermediate `name` (`None`: the default one) of the CA in `dir`:
/// the new key is made where `key` says, the root key is opened as [`RootKey::of_state`]
/// finds it and must be the key `root.pem` certifies. See the module documentation.
pub fn rotate_intermediate(
    dir: &Path,
    name: Option<&str>,
    now: OffsetDateTime,
    key: NewCaKey<'_>,
) -> Result<Rotation, CaError> {
    let root_der = read_pem(&dir.join("root.pem"), "CERTIFICATE")?;
    let root_key = RootKey::of_state(dir)?
        .open_certified(&root_der, &crate::keys::token::TokenPins::default())?;
    rotate_intermediate_signed_by(dir, name, now, key, root_key.as_ref())
}

/// [`rotate_intermediate`] for a caller that holds the root key already.
pub fn rotate_intermediate_signed_by(
    dir: &Path,
    name: Option<&str>,
    now: OffsetDateTime,
    key: NewCaKey<'_>,
    root_key: &dyn Signer,
) -> Result<Rotation, CaError> {
    rotate_intermediate_observed(dir, name, now, key, root_key, &mut |_| Ok(()))
}

/// A point a rotation (or its recovery) has passed; see [`rotate_intermediate_observed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationStep {
    /// A file of the new generation, or of the retired one, is written and synced in
    /// `rotation.staging` (nothing is committed yet).
    Staged(&'static str),
    /// `rotation.staging` is renamed `rotation.pending`: the commit point.
    Committed,
    /// A rename finishing the rotation is done (what it moved).
    Moved(&'static str),
    /// `rotation.pending` is removed: the rotation is complete.
    Finished,
}

/// Observes each [`RotationStep`]; an error stops the rotation there, exactly as a crash
/// would (nothing is cleaned up): what the crash-injection tests use.
pub type StepObserver<'a> = dyn FnMut(RotationStep) -> Result<(), CaError> + 'a;

/// What [`recover_rotation`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// No rotation was interrupted.
    Clean,
    /// A rotation interrupted before its commit point was undone (`rotation.staging` removed):
    /// the state is the old one.
    RolledBack,
    /// A rotation interrupted after its commit point was finished: the state is the new one.
    RolledForward,
}

/// What `rotation.pending/plan.txt` says.
struct Plan {
    old_serial_hex: String,
    old_key_file: bool,
}

impl Plan {
    fn text(&self) -> String {
        format!(
            "old_serial={}\nold_key_file={}\n",
            self.old_serial_hex,
            u8::from(self.old_key_file)
        )
    }

    fn read(pending: &Path) -> Result<Self, CaError> {
        let text = fs::read_to_string(pending.join("plan.txt"))?;
        let old_serial_hex = settings_value(&text, "old_serial")
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| CaError::FileLacksSetting {
                path: pending.join("plan.txt"),
                key: "old_serial",
            })?
            .to_owned();
        Ok(Self {
            old_serial_hex,
            old_key_file: settings_value(&text, "old_key_file") == Some("1"),
        })
    }
}

/// Whether a rotation of `ca_dir` was started and not finished (or is running now), or left
/// its finished pending folder behind (a crash while it was being deleted).
pub fn rotation_unfinished(ca_dir: &Path) -> bool {
    [ROTATION_STAGING, ROTATION_PENDING, ROTATION_DONE]
        .iter()
        .any(|f| ca_dir.join(f).exists())
}

fn sync_dir(dir: &Path) -> Result<(), CaError> {
    fs::File::open(dir)?.sync_all()?;
    Ok(())
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), CaError> {
    use std::io::Write;
    let mut f = fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

/// [`rotate_intermediate_signed_by`], calling `observe` at each step. The rotation is one
/// atomic commit:
/// 1. under the exclusive rotation lock ([`crate::store::lock`]), after finishing or undoing
///    any rotation a crash interrupted, the new generation (key, certificate, settings, a
///    database) and the retired one's settings and certificates are written and synced into
///    `CA_DIR/rotation.staging`;
/// 2. `rotation.staging` is renamed `rotation.pending` and `CA_DIR` synced: the commit point;
/// 3. the old key and database move into the pending folder, the new files into `CA_DIR`,
///    the pending retired folder to `CA_DIR/retired/SERIAL`, and the pending folder is
///    removed; each of these is done only if it is not done yet, so [`recover_rotation`]
///    repeats them safely after a crash at any point.
///
/// A crash before 2 leaves exactly the old state (the staging folder is removed on the next
/// open), after it exactly the new one (finished on the next open). A key made in a token for
/// a rotation that is rolled back stays in the token.
pub fn rotate_intermediate_observed(
    dir: &Path,
    name: Option<&str>,
    now: OffsetDateTime,
    key: NewCaKey<'_>,
    root_key: &dyn Signer,
    observe: &mut StepObserver<'_>,
) -> Result<Rotation, CaError> {
    let ca_dir = ca_dir(dir, name)?;
    let _lock = StateLock::exclusive(&ca_dir, LOCK_WAIT)?;
    recover_locked(&ca_dir, &mut |_| Ok(()))?;
    let settings = fs::read_to_string(ca_dir.join("ca.txt"))?;
    if settings_value(&settings, RETIRED_AT_KEY).is_some() {
        return Err(CaError::RetiredGeneration { dir: ca_dir });
    }
    let root_der = read_pem(&dir.join("root.pem"), "CERTIFICATE")?;
    ensure_certified_key_for(root_key, &root_der, CaRole::Root)?;
    let old_der = read_pem(&ca_dir.join("intermediate.pem"), "CERTIFICATE")?;
    let old_serial_hex = serial_hex(&old_der)?;
    let retired_dir = ca_dir.join(RETIRED_DIR).join(&old_serial_hex);
    if retired_dir.exists() {
        return Err(CaError::AlreadyExists {
            path: retired_dir,
            what: "a retired generation",
        });
    }
    let root_settings = fs::read_to_string(dir.join("ca.txt"))?;
    let made = MadeKey::make(key)?;
    let new_der = recertify_intermediate(
        &old_der,
        &root_der,
        root_key,
        made.signer(),
        settings_value(&root_settings, ROOT_CRL_URL_KEY),
        now,
    )?;
    let new_serial_hex = serial_hex(&new_der)?;
    let new_crl_url = settings_value(&settings, CRL_URL_KEY)
        .map(|url| generation_crl_url(url, &old_serial_hex, &new_serial_hex))
        .ok_or_else(|| CaError::MissingSetting {
            key: CRL_URL_KEY.to_owned(),
        })?;

    // 1. Everything new, complete and synced, in the staging folder.
    let staging = ca_dir.join(ROTATION_STAGING);
    let (new, old) = (staging.join("new"), staging.join("retired"));
    fs::create_dir_all(&new)?;
    fs::create_dir_all(&old)?;
    let plan = Plan {
        old_serial_hex: old_serial_hex.clone(),
        old_key_file: ca_dir.join("intermediate.key.pem").exists(),
    };
    write_synced(&staging.join("plan.txt"), plan.text().as_bytes())?;
    write_synced(
        &old.join("ca.txt"),
        format!("{settings}{RETIRED_AT_KEY}={}\n", now.unix_timestamp()).as_bytes(),
    )?;
    write_synced(&old.join("root.pem"), &fs::read(ca_dir.join("root.pem"))?)?;
    write_synced(
        &old.join("intermediate.pem"),
        &fs::read(ca_dir.join("intermediate.pem"))?,
    )?;
    observe(RotationStep::Staged("retired generation"))?;
    let mut new_settings: String = settings
        .lines()
        .filter(|l| !l.starts_with("pkcs11_"))
        .map(|l| match settings_value(l, CRL_URL_KEY) {
            Some(_) => format!("{CRL_URL_KEY}={new_crl_url}\n"),
            None => format!("{l}\n"),
        })
        .collect();
    let key_file = new.join("intermediate.key.pem");
    new_settings.push_str(&made.persist(&key_file, CaRole::Intermediate)?);
    if key_file.exists() {
        fs::File::open(&key_file)?.sync_all()?;
    }
    observe(RotationStep::Staged("new key"))?;
    write_synced(&new.join("ca.txt"), new_settings.as_bytes())?;
    write_synced(
        &new.join("intermediate.pem"),
        to_pem("CERTIFICATE", &new_der)?.as_bytes(),
    )?;
    observe(RotationStep::Staged("new certificate and settings"))?;
    {
        let store = SqliteStore::open(&new.join("pki.sqlite"))?;
        store.checkpoint()?;
    }
    observe(RotationStep::Staged("new database"))?;
    // The old database's log emptied into its file, so that file alone holds every record
    // (the log files move with it all the same).
    SqliteStore::open(&ca_dir.join("pki.sqlite"))?.checkpoint()?;
    for folder in [&new, &old, &staging] {
        sync_dir(folder)?;
    }

    // 2. The commit point.
    fs::rename(&staging, ca_dir.join(ROTATION_PENDING))?;
    sync_dir(&ca_dir)?;
    observe(RotationStep::Committed)?;

    // 3. The renames, each done once.
    finish_pending(&ca_dir, observe)?;
    Ok(Rotation {
        old_serial_hex,
        new_serial_hex,
        retired_dir,
        new_certificate: new_der,
        new_crl_url,
    })
}

/// Finishes a rotation of `ca_dir` a crash interrupted after its commit point, or undoes one
/// interrupted before it, under the exclusive rotation lock (waiting at most `wait` for a
/// rotation running in another process: [`CaError::RotationInProgress`] then).
/// [`CaState::open`](crate::ca::state::CaState::open) calls it when it finds one.
pub fn recover_rotation(ca_dir: &Path, wait: std::time::Duration) -> Result<Recovery, CaError> {
    recover_rotation_observed(ca_dir, wait, &mut |_| Ok(()))
}

/// [`recover_rotation`] calling `observe` at each step (crash injection into a recovery).
pub fn recover_rotation_observed(
    ca_dir: &Path,
    wait: std::time::Duration,
    observe: &mut StepObserver<'_>,
) -> Result<Recovery, CaError> {
    let _lock = StateLock::exclusive(ca_dir, wait)?;
    recover_locked(ca_dir, observe)
}

fn recover_locked(ca_dir: &Path, observe: &mut StepObserver<'_>) -> Result<Recovery, CaError> {
    let staging = ca_dir.join(ROTATION_STAGING);
    if ca_dir.join(ROTATION_DONE).exists() {
        // Finished; a crash came while its pending folder was being deleted.
        remove_done(ca_dir, observe)?;
        return Ok(Recovery::RolledForward);
    }
    if ca_dir.join(ROTATION_PENDING).exists() {
        if staging.exists() {
            fs::remove_dir_all(&staging)?;
        }
        finish_pending(ca_dir, observe)?;
        return Ok(Recovery::RolledForward);
    }
    if staging.exists() {
        fs::remove_dir_all(&staging)?;
        sync_dir(ca_dir)?;
        return Ok(Recovery::RolledBack);
    }
    Ok(Recovery::Clean)
}

/// Renames `from` to `to` if `from` is still there; observed as `what`.
fn move_once(
    from: &Path,
    to: &Path,
    what: &'static str,
    observe: &mut StepObserver<'_>,
) -> Result<(), CaError> {
    if from.exists() {
        fs::rename(from, to)?;
        observe(RotationStep::Moved(what))?;
    }
    Ok(())
}

/// Step 3 of [`rotate_intermediate_observed`]: every rename is guarded by what it leaves
/// behind, so a repeat after a crash skips what is done. The old files leave `CA_DIR` before
/// the new ones arrive.
fn finish_pending(ca_dir: &Path, observe: &mut StepObserver<'_>) -> Result<(), CaError> {
    let pending = ca_dir.join(ROTATION_PENDING);
    let (new, old) = (pending.join("new"), pending.join("retired"));
    let plan = Plan::read(&pending)?;
    let retired_dir = ca_dir.join(RETIRED_DIR).join(&plan.old_serial_hex);
    if old.exists() {
        if plan.old_key_file && !old.join("intermediate.key.pem").exists() {
            move_once(
                &ca_dir.join("intermediate.key.pem"),
                &old.join("intermediate.key.pem"),
                "old key",
                observe,
            )?;
        }
        // The database moves whole: its log files first, the database file last (its
        // presence in the pending folder says the move is done).
        if !old.join("pki.sqlite").exists() {
            for file in ["pki.sqlite-wal", "pki.sqlite-shm"] {
                move_once(
                    &ca_dir.join(file),
                    &old.join(file),
                    "old database log",
                    observe,
                )?;
            }
            move_once(
                &ca_dir.join("pki.sqlite"),
                &old.join("pki.sqlite"),
                "old database",
                observe,
            )?;
        }
    }
    if new.join("pki.sqlite").exists() {
        // The new key's CRLs continue the old key's numbers (one issuer name, RFC 5280
        // §5.2.3), as of now: the old key may have signed CRLs after the staging.
        let old_db = if old.exists() {
            old.join("pki.sqlite")
        } else {
            retired_dir.join("pki.sqlite")
        };
        let old_crl_number = SqliteStore::open(&old_db)?.crl_number()?;
        {
            let mut store = SqliteStore::open(&new.join("pki.sqlite"))?;
            store.raise_crl_number(old_crl_number)?;
            store.checkpoint()?;
        }
        move_once(
            &new.join("pki.sqlite"),
            &ca_dir.join("pki.sqlite"),
            "new database",
            observe,
        )?;
    }
    for (file, what) in [
        ("intermediate.key.pem", "new key"),
        ("intermediate.pem", "new certificate"),
        ("ca.txt", "new settings"),
    ] {
        move_once(&new.join(file), &ca_dir.join(file), what, observe)?;
    }
    if old.exists() {
        fs::create_dir_all(ca_dir.join(RETIRED_DIR))?;
        if retired_dir.exists() {
            return Err(CaError::AlreadyExists {
                path: retired_dir,
                what: "a retired generation",
            });
        }
        move_once(&old, &retired_dir, "retired generation", observe)?;
    }
    // Deleting a folder is not atomic: a crash in the middle would leave a pending folder
    // without its plan. It is renamed first (the rotation is finished from here on).
    fs::rename(&pending, ca_dir.join(ROTATION_DONE))?;
    observe(RotationStep::Moved("pending folder"))?;
    remove_done(ca_dir, observe)
}

/// Deletes the finished pending folder.
fn remove_done(ca_dir: &Path, observe: &mut StepObserver<'_>) -> Result<(), CaError> {
    fs::remove_dir_all(ca_dir.join(ROTATION_DONE))?;
    sync_dir(ca_dir)?;
    observe(RotationStep::Finished)?;
    Ok(())
}

/// The retired generations of the intermediate whose state directory is `ca_dir`, oldest
/// rotation first.
pub fn retired_generations(ca_dir: &Path) -> Result<Vec<PathBuf>, CaError> {
    let folder = ca_dir.join(RETIRED_DIR);
    if !folder.exists() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for entry in fs::read_dir(folder)? {
        let path = entry?.path();
        let settings = fs::read_to_string(path.join("ca.txt"))?;
        let at: i64 = settings_value(&settings, RETIRED_AT_KEY)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| CaError::FileLacksSetting {
                path: path.join("ca.txt"),
                key: RETIRED_AT_KEY,
            })?;
        found.push((at, path));
    }
    found.sort();
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

/// Where [`revoke_in_any_generation`] found the certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerationRevocation {
    /// The retired generation (serial hex of its intermediate) that issued it; None: the
    /// current one.
    pub retired_generation: Option<String>,
    /// False if it was revoked already.
    pub newly_revoked: bool,
}

/// Revokes the leaf `serial` issued by any generation of the intermediate in `ca_dir` (the
/// current one first, then the retired ones). Needs no key: the generation's next CRL lists it.
/// A rotation a crash interrupted is finished (or undone) first.
pub fn revoke_in_any_generation(
    ca_dir: &Path,
    serial: &[u8],
    reason: u8,
    now: OffsetDateTime,
) -> Result<GenerationRevocation, CaError> {
    if rotation_unfinished(ca_dir) {
        recover_rotation(ca_dir, LOCK_WAIT)?;
    }
    let _lock = StateLock::shared(ca_dir, LOCK_WAIT)?;
    let mut current = SqliteStore::open(&ca_dir.join("pki.sqlite"))?;
    if current.issued(serial)?.is_some() {
        return Ok(GenerationRevocation {
            retired_generation: None,
            newly_revoked: current.revoke(serial, reason, now.unix_timestamp())?,
        });
    }
    for generation in retired_generations(ca_dir)? {
        let mut store = SqliteStore::open(&generation.join("pki.sqlite"))?;
        if store.issued(serial)?.is_some() {
            return Ok(GenerationRevocation {
                retired_generation: generation
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned()),
                newly_revoked: store.revoke(serial, reason, now.unix_timestamp())?,
            });
        }
    }
    Err(CaError::UnknownSerial {
        serial_hex: hex_upper(serial),
    })
}

/// Deletes the key file of every retired generation of `ca_dir` whose last leaf has expired
/// at `now` (nothing it issued needs a CRL any more); returns the deleted files. Its
/// certificate and database stay.
pub fn drop_expired_keys(ca_dir: &Path, now: OffsetDateTime) -> Result<Vec<PathBuf>, CaError> {
    let mut dropped = Vec::new();
    for generation in retired_generations(ca_dir)? {
        let key = generation.join("intermediate.key.pem");
        if !key.exists() {
            continue;
        }
        let store = SqliteStore::open(&generation.join("pki.sqlite"))?;
        let last = store.latest_not_after()?;
        if last.is_none_or(|t| t < now.unix_timestamp()) {
            fs::remove_file(&key)?;
            dropped.push(key);
        }
    }
    Ok(dropped)
}
