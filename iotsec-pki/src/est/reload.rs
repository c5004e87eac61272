//! A running EST server follows its CA state on disk without a restart, with the reload
//! semantics of nginx (`nginx -s reload`) and step-ca (`SIGHUP`): the state is loaded whole
//! into a new generation (every CA, its key and chain, the CRLs rustls checks client
//! certificates against, the EST service), then swapped in at once; a request or handshake
//! in flight finishes on the generation it started with, and a new state that does not load
//! (a half-written or invalid file, a key that the certificate does not certify) is refused:
//! the server keeps serving the last good generation and reports the refusal once.
//!
//! What `pki rotate`, `pki revoke` (a leaf, or an intermediate by the root), `pki crl` and
//! `drop_expired_keys` change is noticed by a cheap check ([`StateStamp`]): size, time and
//! inode of each CA's `ca.txt`, certificates and key file, the inode of each database, the
//! number of revocations in each database (the count only grows) and the retired generations
//! present. The check runs at most once per `min_interval`, on the first handshake or request
//! after it; an issuance does not change the stamp, so it does not reload anything. While a
//! rotation is half done (`rotation.staging` or `rotation.pending` present,
//! [`crate::ca::rotation`]) the check finishes it if its process died (the rotation lock is free)
//! and otherwise waits for it.
//!
//! With [`ServedState::root_crl`] the root's CRL file (signed offline, `pki crl --root`) is
//! part of the state: checked like the rest, published on the CRL endpoint, and never
//! replaced by one with a lower CRL number.
//!
//! The server's own TLS certificate is issued once, at start, and presented by every
//! generation: a rotation changes what the server issues, not who it is.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, TryLockError};
use std::time::{Duration, Instant, SystemTime};

use rustls::ServerConfig;
use rustls::sign::CertifiedKey;

use crate::ca::error::CaError;
use crate::ca::profile::url_path;
use crate::ca::root_crl::{PublishedRootCrl, ROOT_DB_FILE, read_published_root_crl};
use crate::ca::rotation::{
    RETIRED_DIR, recover_rotation, retired_generations, rotation_unfinished,
};
use crate::ca::state::{CaState, intermediate_dir};
use crate::ca::state::{ROOT_CRL_URL_KEY, settings_value};
use crate::est::service::{EstService, LabelPolicy};
use crate::est::transport::{assemble_generation, issue_server_identity};
use crate::keys::token::TokenPins;
use crate::store::SqliteStore;

/// What a server serves: the CA state directory, the named intermediates its labels use, and
/// the labels. Every generation is opened from it the same way.
#[derive(Debug, Clone)]
pub struct ServedState {
    /// The state directory made by `pki init`.
    pub state_dir: PathBuf,
    /// Named intermediates (`pki init --intermediate NAME`) to load besides the default one.
    pub intermediates: Vec<String>,
    /// The labels ("" is the default label).
    pub labels: HashMap<String, LabelPolicy>,
    /// The PINs of intermediates kept in PKCS#11 tokens (every generation is opened with
    /// them).
    pub pins: TokenPins,
    /// The root's CRL as `pki crl --root` writes it, to publish on the CRL endpoint at the
    /// path of the state's `root_crl_url` (`/root.crl` without one); checked
    /// ([`read_published_root_crl`]) and never replaced by one with a lower CRL number.
    pub root_crl: Option<PathBuf>,
}

/// The CAs of one generation, as [`ServedState::open`] found them.
pub struct OpenedCas {
    /// The default intermediate.
    pub default: CaState,
    /// The named intermediates and every rotated-out generation (`retired-SERIAL`,
    /// `NAME-retired-SERIAL`), which still sign CRLs and OCSP answers.
    pub others: Vec<(String, CaState)>,
    /// Rotated-out generations that did not open (e.g. their key was dropped after their last
    /// certificate expired), with why.
    pub skipped: Vec<(PathBuf, CaError)>,
    /// The root's CRL to publish and its request path.
    pub root_crl: Option<(String, PublishedRootCrl)>,
}

impl ServedState {
    /// The intermediates' state directories with the prefix of their retired generations'
    /// names: the default one (`""`) first.
    fn ca_dirs(&self) -> Result<Vec<(String, PathBuf)>, CaError> {
        let mut dirs = vec![(String::new(), self.state_dir.clone())];
        for name in &self.intermediates {
            let dir = intermediate_dir(&self.state_dir, name)?;
            if !dirs.iter().any(|(_, d)| *d == dir) {
                dirs.push((format!("{name}-"), dir));
            }
        }
        Ok(dirs)
    }

    /// Opens every CA: the default intermediate, the named ones, and the retired generations
    /// of each. A named or default intermediate that does not open fails the whole open.
    pub fn open(&self) -> Result<OpenedCas, CaError> {
        let mut others: Vec<(String, CaState)> = Vec::new();
        for name in &self.intermediates {
            if !others.iter().any(|(n, _)| n == name) {
                others.push((
                    name.clone(),
                    CaState::open_intermediate_with(&self.state_dir, name, &self.pins)?,
                ));
            }
        }
        let default = CaState::open_with(&self.state_dir, &self.pins)?;
        let mut skipped = Vec::new();
        for (prefix, dir) in self.ca_dirs()? {
            for generation in retired_generations(&dir)? {
                let serial = generation
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let opened = CaState::open_with(&generation, &self.pins).and_then(|mut old| {
                    old.check_root_revocation(&self.state_dir)?;
                    Ok(old)
                });
                match opened {
                    Ok(old) => others.push((format!("{prefix}retired-{serial}"), old)),
                    Err(e) => skipped.push((generation, e)),
                }
            }
        }
        let root_crl = match &self.root_crl {
            Some(path) => {
                let crl = read_published_root_crl(path, default.authority.root_der())?;
                let settings = std::fs::read_to_string(self.state_dir.join("ca.txt"))?;
                let at = settings_value(&settings, ROOT_CRL_URL_KEY)
                    .and_then(url_path)
                    .unwrap_or("/root.crl");
                Some((at.to_owned(), crl))
            }
            None => None,
        };
        Ok(OpenedCas {
            default,
            others,
            skipped,
            root_crl,
        })
    }

    /// The stamp of the state on disk now (see [`StateStamp`]).
    pub fn stamp(&self) -> Result<StateStamp, CaError> {
        let mut stamp = StateStamp::default();
        if let Some(file) = &self.root_crl {
            stamp.files.push((file.clone(), FileMark::of(file)));
        }
        let root_db = self.state_dir.join(ROOT_DB_FILE);
        if root_db.exists() {
            let n = SqliteStore::revoked_count_at(&root_db)?;
            stamp.revocations.push((root_db, n));
        }
        for (_, dir) in self.ca_dirs()? {
            stamp.in_transition |= rotation_unfinished(&dir);
            stamp.add_generation(&dir)?;
            let retired = dir.join(RETIRED_DIR);
            if retired.is_dir() {
                let mut generations = std::fs::read_dir(&retired)?
                    .map(|e| e.map(|e| e.path()))
                    .collect::<Result<Vec<_>, _>>()?;
                generations.sort();
                for generation in generations {
                    stamp.add_generation(&generation)?;
                }
            }
        }
        Ok(stamp)
    }
}

/// What a file looked like: size, modification time and inode (none of them for a database,
/// whose inode alone is marked: issuances change its size and time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileMark {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl FileMark {
    fn of(path: &Path) -> Option<Self> {
        let m = std::fs::metadata(path).ok()?;
        Some(Self {
            len: m.len(),
            modified: m.modified().ok(),
            inode: inode(&m),
        })
    }

    fn inode_of(path: &Path) -> Option<Self> {
        let m = std::fs::metadata(path).ok()?;
        Some(Self {
            len: 0,
            modified: None,
            inode: inode(&m),
        })
    }
}

#[cfg(unix)]
fn inode(m: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(m)
}

#[cfg(not(unix))]
fn inode(_: &std::fs::Metadata) -> u64 {
    0
}

/// A cheap summary of the CA state on disk: two equal stamps mean nothing a server loads has
/// changed. Files are marked by size, modification time and inode, databases by inode and
/// revocation count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateStamp {
    files: Vec<(PathBuf, Option<FileMark>)>,
    databases: Vec<(PathBuf, Option<FileMark>)>,
    revocations: Vec<(PathBuf, u64)>,
    in_transition: bool,
}

impl StateStamp {
    fn add_generation(&mut self, dir: &Path) -> Result<(), CaError> {
        for file in [
            "ca.txt",
            "intermediate.pem",
            "intermediate.key.pem",
            "root.pem",
        ] {
            let path = dir.join(file);
            let mark = FileMark::of(&path);
            self.files.push((path, mark));
        }
        let db = dir.join("pki.sqlite");
        let mark = FileMark::inode_of(&db);
        if mark.is_some() {
            self.revocations
                .push((db.clone(), SqliteStore::revoked_count_at(&db)?));
        }
        self.databases.push((db, mark));
        Ok(())
    }

    /// Whether a rotation is half done (its staging or pending folder is present).
    pub fn in_transition(&self) -> bool {
        self.in_transition
    }
}

/// One loaded state: the TLS configuration and the EST service, made from the same files.
pub struct ServingGeneration {
    /// 1 for the state loaded at start, then one more per reload.
    pub number: u64,
    /// The TLS configuration (client certificates checked against these CAs' CRLs).
    pub config: Arc<ServerConfig>,
    /// The EST, CRL and OCSP decisions.
    pub service: Arc<EstService>,
    /// The CRL number of the root CRL it publishes, if it publishes one.
    pub root_crl_number: Option<u64>,
    stamp: StateStamp,
}

/// The TLS configuration and EST service over `opened`, publishing its root CRL, with the
/// application's settings applied (`setup`).
fn assemble_service(
    opened: OpenedCas,
    labels: &HashMap<String, LabelPolicy>,
    certified: Arc<CertifiedKey>,
    setup: &ServiceSetup,
) -> Result<(Arc<ServerConfig>, Arc<EstService>), CaError> {
    let (config, mut service) =
        assemble_generation(opened.default, opened.others, labels.clone(), certified)?;
    if let Some((path, crl)) = opened.root_crl {
        service = service.with_root_crl(path, crl.der);
    }
    Ok((config, Arc::new(setup(service))))
}

/// What an application sets on the service of every generation a reloading server loads
/// (enrollment admission, re-submission window, approval store, ...), e.g.
/// `Box::new(|s| s.with_reissue_window(window))`.
pub type ServiceSetup = dyn Fn(EstService) -> EstService + Send + Sync;

/// What a reload check reports to the server's log.
#[derive(Debug)]
pub enum ReloadEvent<'a> {
    /// A new generation is being served.
    Reloaded {
        /// Its number.
        generation: u64,
    },
    /// The state on disk changed but does not load; the last good generation stays.
    Refused {
        /// Why.
        error: &'a CaError,
    },
    /// A rotated-out generation did not open and is not served (its CRL and OCSP answers).
    NotLoaded {
        /// Its directory.
        dir: &'a Path,
        /// Why.
        error: &'a CaError,
    },
}

/// What one check did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckOutcome {
    /// Not checked: the last check is more recent than the minimum interval, or another
    /// thread is checking.
    NotDue,
    /// Nothing changed (or only what was refused already).
    Unchanged,
    /// A rotation is half done; checked again next time.
    InTransition,
    /// A new generation is served.
    Reloaded {
        /// Its number.
        generation: u64,
    },
    /// The change does not load; the last good generation stays.
    Refused,
}

/// How a reloading server reports [`ReloadEvent`]s (e.g. one line to stderr).
pub type ReloadReport = dyn Fn(&ReloadEvent<'_>) + Send + Sync;

struct Checker {
    last_check: Option<Instant>,
    refused: Option<StateStamp>,
    last_error: Option<String>,
}

/// An EST server's state that follows the disk: see the module documentation.
pub struct ReloadingEst {
    served: ServedState,
    certified: Arc<CertifiedKey>,
    min_interval: Duration,
    current: RwLock<Arc<ServingGeneration>>,
    checker: Mutex<Checker>,
    report: Box<ReloadReport>,
    setup: Box<ServiceSetup>,
}

impl ReloadingEst {
    /// Loads the first generation (any failure is returned: a server does not start on a
    /// state it cannot load) and issues the server's TLS certificate from the default CA.
    /// Later changes are checked at most once per `min_interval` (zero: on every handshake
    /// and request).
    pub fn start(
        served: ServedState,
        min_interval: Duration,
        report: Box<ReloadReport>,
    ) -> Result<Self, CaError> {
        Self::start_with(served, min_interval, report, Box::new(|service| service))
    }

    /// [`ReloadingEst::start`] with `setup` applied to the service of every generation.
    pub fn start_with(
        served: ServedState,
        min_interval: Duration,
        report: Box<ReloadReport>,
        setup: Box<ServiceSetup>,
    ) -> Result<Self, CaError> {
        let stamp = served.stamp()?;
        let opened = served.open()?;
        for (dir, error) in &opened.skipped {
            report(&ReloadEvent::NotLoaded { dir, error });
        }
        let certified = Arc::new(issue_server_identity(&opened.default)?);
        let root_crl_number = opened.root_crl.as_ref().map(|(_, c)| c.number);
        let (config, service) =
            assemble_service(opened, &served.labels, certified.clone(), &*setup)?;
        Ok(Self {
            served,
            certified,
            min_interval,
            current: RwLock::new(Arc::new(ServingGeneration {
                number: 1,
                config,
                service,
                root_crl_number,
                stamp,
            })),
            checker: Mutex::new(Checker {
                last_check: Some(Instant::now()),
                refused: None,
                last_error: None,
            }),
            report,
            setup,
        })
    }

    /// The generation being served, without checking the disk.
    pub fn loaded(&self) -> Arc<ServingGeneration> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The generation to use for the next handshake or request: checks the disk first if
    /// the last check is older than the minimum interval.
    pub fn generation(&self) -> Arc<ServingGeneration> {
        self.check_if_due();
        self.loaded()
    }

    /// Checks the disk unless a check is more recent than the minimum interval or running
    /// in another thread (that request uses the generation loaded now).
    pub fn check_if_due(&self) -> CheckOutcome {
        let mut checker = match self.checker.try_lock() {
            Ok(c) => c,
            Err(TryLockError::WouldBlock) => return CheckOutcome::NotDue,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
        };
        if checker
            .last_check
            .is_some_and(|t| t.elapsed() < self.min_interval)
        {
            return CheckOutcome::NotDue;
        }
        self.check(&mut checker)
    }

    /// Checks the disk now (waiting for a check running in another thread).
    pub fn check_now(&self) -> CheckOutcome {
        let mut checker = match self.checker.lock() {
            Ok(c) => c,
            Err(p) => p.into_inner(),
        };
        self.check(&mut checker)
    }

    fn check(&self, checker: &mut Checker) -> CheckOutcome {
        checker.last_check = Some(Instant::now());
        let stamp = match self.served.stamp() {
            Ok(s) => s,
            Err(_) if self.any_rotation_unfinished() => return CheckOutcome::InTransition,
            Err(error) => {
                // A file vanishing between listing and reading: report a lasting error once.
                self.report_once(checker, &error);
                return CheckOutcome::Refused;
            }
        };
        let stamp = if stamp.in_transition {
            // Finish a rotation a crash interrupted (a running one holds the lock: later).
            match self.recover_rotations() {
                Ok(true) => match self.served.stamp() {
                    Ok(s) if !s.in_transition => s,
                    _ => return CheckOutcome::InTransition,
                },
                Ok(false) => return CheckOutcome::InTransition,
                Err(error) => {
                    self.report_once(checker, &error);
                    return CheckOutcome::Refused;
                }
            }
        } else {
            stamp
        };
        let current = self.loaded();
        if stamp == current.stamp || checker.refused.as_ref() == Some(&stamp) {
            return CheckOutcome::Unchanged;
        }
        match self.build(stamp.clone(), &current) {
            Ok(next) => {
                let generation = next.number;
                // The replaced generation is freed when its last request ends. A rotation
                // moved its database: SQLite sees that on close (the path names another file)
                // and then neither checkpoints nor deletes the log by its old name, which is
                // now the new database's.
                drop(self.swap(next));
                drop(current);
                checker.refused = None;
                checker.last_error = None;
                (self.report)(&ReloadEvent::Reloaded { generation });
                CheckOutcome::Reloaded { generation }
            }
            // A rotation began after the stamp and outlasted the open's wait: not a refusal.
            Err(CaError::RotationInProgress { .. }) => CheckOutcome::InTransition,
            Err(error) => {
                (self.report)(&ReloadEvent::Refused { error: &error });
                checker.refused = Some(stamp);
                checker.last_error = Some(error.to_string());
                CheckOutcome::Refused
            }
        }
    }

    /// Reports `error` unless it is the one reported last.
    fn report_once(&self, checker: &mut Checker, error: &CaError) {
        let text = error.to_string();
        if checker.last_error.as_deref() != Some(text.as_str()) {
            (self.report)(&ReloadEvent::Refused { error });
            checker.last_error = Some(text);
        }
    }

    /// Whether a served intermediate has a rotation under way (files move: a stamp may fail).
    fn any_rotation_unfinished(&self) -> bool {
        self.served
            .ca_dirs()
            .is_ok_and(|dirs| dirs.iter().any(|(_, d)| rotation_unfinished(d)))
    }

    /// Recovers every interrupted rotation of the served intermediates without waiting;
    /// false if one is running in another process.
    fn recover_rotations(&self) -> Result<bool, CaError> {
        for (_, dir) in self.served.ca_dirs()? {
            if rotation_unfinished(&dir) {
                match recover_rotation(&dir, Duration::ZERO) {
                    Ok(_) => {}
                    Err(CaError::RotationInProgress { .. }) => return Ok(false),
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(true)
    }

    fn build(
        &self,
        stamp: StateStamp,
        current: &ServingGeneration,
    ) -> Result<ServingGeneration, CaError> {
        let opened = self.served.open()?;
        for (dir, error) in &opened.skipped {
            (self.report)(&ReloadEvent::NotLoaded { dir, error });
        }
        let root_crl_number = opened.root_crl.as_ref().map(|(_, c)| c.number);
        // An older root CRL put back (a replayed file) is refused: it could un-revoke.
        if let (Some(new), Some(served), Some(path)) = (
            root_crl_number,
            current.root_crl_number,
            &self.served.root_crl,
        ) && new < served
        {
            return Err(CaError::RootCrlRefused {
                path: path.clone(),
                reason: "its CRL number is lower than the one served",
            });
        }
        let (config, service) = assemble_service(
            opened,
            &self.served.labels,
            self.certified.clone(),
            &*self.setup,
        )?;
        Ok(ServingGeneration {
            number: current.number + 1,
            config,
            service,
            root_crl_number,
            stamp,
        })
    }

    fn swap(&self, next: ServingGeneration) -> Arc<ServingGeneration> {
        let next = Arc::new(next);
        let mut slot = match self.current.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        std::mem::replace(&mut *slot, next)
    }

    /// Serves EST (and OCSP) on `listener` forever: each handshake and each request takes the
    /// generation current when it starts ([`crate::est::transport::serve_current`]).
    pub fn serve(self: Arc<Self>, listener: std::net::TcpListener) -> std::io::Result<()> {
        let for_requests = self.clone();
        crate::est::transport::serve_current(
            listener,
            Arc::new(move || self.generation().config.clone()),
            Arc::new(move || for_requests.generation().service.clone()),
        )
    }

    /// Serves the CRLs over plain HTTP on `listener` forever, each request from the
    /// generation current then ([`crate::est::transport::serve_crl_current`]).
    pub fn serve_crl(self: Arc<Self>, listener: std::net::TcpListener) -> std::io::Result<()> {
        crate::est::transport::serve_crl_current(
            listener,
            Arc::new(move || self.generation().service.clone()),
        )
    }
}
