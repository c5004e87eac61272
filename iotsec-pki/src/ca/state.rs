//! An online CA's state directory: certificates, the intermediate key, the profile and the
//! database, wired together for issuance, revocation and CRLs.
//!
//! Layout: `root.pem`, `intermediate.pem`, `intermediate.key.pem` (mode 0600), `ca.txt`
//! (organization, CRL URL, lifetime), `pki.sqlite`, and `offline/root.key.pem`, which `pki init`
//! writes once and which belongs on offline media, not on the server. Either key may instead
//! live in a PKCS#11 token ([`NewCaKey::Token`]): then no key file is written and `ca.txt`
//! names the token and label ([`crate::keys::token`], [`crate::keys::root`]). Later: `root.sqlite`
//! (the root's revocations of intermediates, [`crate::ca::root_crl`]) and `retired/SERIAL/` (a
//! rotated-out key generation, [`crate::ca::rotation`]).

use std::fs;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::ca::authority::{
    Authority, IssuedCertificate, certify_intermediate_publishing, create_hierarchy_publishing,
};
use crate::ca::csr_check::{VerifiedCsr, verify_csr};
use crate::ca::devid::{DevIdKind, DevIdProfile, DeviceIdentity};
use crate::ca::error::CaError;
use crate::ca::issuer::{FoundCertificate, IssuerRecords, IssuerRefusal, IssuingCa};
use crate::ca::profile::IssuanceProfile;
pub use crate::ca::state_dir::{
    CRL_URL_KEY, RETIRED_AT_KEY, ROOT_CRL_URL_KEY, intermediate_dir, read_pem, settings_value,
    to_pem,
};
use crate::ca::state_dir::{pem, write_replacing};
use crate::keys::new_key::MadeKey;
pub use crate::keys::new_key::{NewCaKey, NewIntermediateKey};
use crate::keys::root::{ROOT_KEY_FILE, RootKey};
use crate::keys::signer::{Signer, SoftwareSigner};
use crate::keys::token::{
    CaRole, TokenKey, TokenPins, ensure_certified_key, ensure_certified_key_for,
};
use crate::store::{CertStore, EnrollmentKey, IssuedRecord, SqliteStore};

/// The root CRL URL becomes one `key=value` line of `ca.txt`.
fn check_root_crl_url(url: &str) -> Result<(), CaError> {
    if url.is_empty() || url.contains(['\n', '\r']) {
        return Err(CaError::BadSetting {
            key: ROOT_CRL_URL_KEY,
            reason: "must be one non-empty line",
        });
    }
    Ok(())
}

/// Reads the optional DevID lines of `ca.txt`: `devid_hw_type=OID` and
/// `devid_kind=idevid|ldevid` (default ldevid).
fn devid_settings(settings: &str) -> Result<Option<DevIdProfile>, CaError> {
    let get = |k: &str| {
        settings
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
    };
    let Some(hw_type) = get("devid_hw_type") else {
        return Ok(None);
    };
    let hw_type = hw_type.parse().map_err(|_| CaError::BadSetting {
        key: "devid_hw_type",
        reason: "is not an object identifier",
    })?;
    let kind = match get("devid_kind") {
        None | Some("ldevid") => DevIdKind::Local,
        Some("idevid") => DevIdKind::Initial,
        Some(_) => {
            return Err(CaError::BadSetting {
                key: "devid_kind",
                reason: "is neither ldevid nor idevid",
            });
        }
    };
    Ok(Some(DevIdProfile { hw_type, kind }))
}

pub use crate::ca::issuer::CRL_VALIDITY;

/// Settings chosen at `pki init`.
#[derive(Debug, Clone)]
pub struct CaSettings {
    /// Organization name in the CA subjects.
    pub organization: String,
    /// CRL URL placed in every certificate.
    pub crl_url: String,
    /// Device certificate lifetime, seconds.
    pub lifetime_secs: u64,
}

/// Adds one more issuing intermediate `name` under the root of the CA in `dir` (whose root
/// key must be at hand: `offline/root.key.pem`, or its token with
/// [`ROOT_PIN_ENV`](crate::keys::token::ROOT_PIN_ENV) set). It gets its own state directory
/// `dir/intermediates/NAME/` (key, certificate, database, and so its own serials, revocations
/// and CRL, published at `crl_url`); the device-certificate lifetime is copied from `dir`.
pub fn add_intermediate(
    dir: &Path,
    name: &str,
    crl_url: &str,
    now: OffsetDateTime,
) -> Result<PathBuf, CaError> {
    add_intermediate_with(dir, name, crl_url, now, NewCaKey::Software)
}

/// [`add_intermediate`] with the key made where `key` says: in a PKCS#11 token, `ca.txt`
/// names the token and key, and no key file is written. The root key is opened as
/// [`RootKey::of_state`] finds it and must be the key the root certificate certifies.
pub fn add_intermediate_with(
    dir: &Path,
    name: &str,
    crl_url: &str,
    now: OffsetDateTime,
    key: NewCaKey<'_>,
) -> Result<PathBuf, CaError> {
    refuse_existing_intermediate(dir, name)?;
    let root_der = read_pem(&dir.join("root.pem"), "CERTIFICATE")?;
    let root_key = RootKey::of_state(dir)?.open_certified(&root_der, &TokenPins::default())?;
    add_intermediate_signed_by(dir, name, crl_url, now, key, root_key.as_ref())
}

fn refuse_existing_intermediate(dir: &Path, name: &str) -> Result<PathBuf, CaError> {
    let sub = intermediate_dir(dir, name)?;
    if sub.join("intermediate.pem").exists() {
        return Err(CaError::AlreadyExists {
            path: sub,
            what: "an intermediate",
        });
    }
    Ok(sub)
}

/// [`add_intermediate_with`] for a caller that holds the root key already (`root_key`,
/// which must be the key `dir/root.pem` certifies).
pub fn add_intermediate_signed_by(
    dir: &Path,
    name: &str,
    crl_url: &str,
    now: OffsetDateTime,
    key: NewCaKey<'_>,
    root_key: &dyn Signer,
) -> Result<PathBuf, CaError> {
    let sub = refuse_existing_intermediate(dir, name)?;
    let parent = fs::read_to_string(dir.join("ca.txt"))?;
    let get = |k: &str| {
        parent
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .ok_or_else(|| CaError::MissingSetting { key: k.to_owned() })
    };
    let org = get("organization")?;
    let lifetime = get("lifetime_secs")?;
    let root_der = read_pem(&dir.join("root.pem"), "CERTIFICATE")?;
    ensure_certified_key_for(root_key, &root_der, CaRole::Root)?;
    let made = MadeKey::make(key)?;
    let root_crl_url = settings_value(&parent, ROOT_CRL_URL_KEY);
    let int_der = certify_intermediate_publishing(
        org,
        name,
        &root_der,
        root_key,
        made.signer(),
        root_crl_url,
        now,
    )?;
    fs::create_dir_all(&sub)?;
    let mut settings = format!("organization={org}\ncrl_url={crl_url}\nlifetime_secs={lifetime}\n");
    settings.push_str(&made.persist(&sub.join("intermediate.key.pem"), CaRole::Intermediate)?);
    fs::write(sub.join("root.pem"), pem("CERTIFICATE", &root_der)?)?;
    fs::write(sub.join("intermediate.pem"), pem("CERTIFICATE", &int_der)?)?;
    fs::write(sub.join("ca.txt"), settings)?;
    SqliteStore::open(&sub.join("pki.sqlite"))?;
    Ok(sub)
}

/// Switches the CA in `dir` to the IEEE 802.1AR DevID profile (written to `ca.txt`; takes
/// effect at the next [`CaState::open`]). Refused if the CA already has a DevID profile.
pub fn enable_devid(dir: &Path, devid: &DevIdProfile) -> Result<(), CaError> {
    use std::io::Write;
    let path = dir.join("ca.txt");
    let current = fs::read_to_string(&path)?;
    if devid_settings(&current)?.is_some() {
        return Err(CaError::AlreadyExists {
            path,
            what: "a DevID profile",
        });
    }
    let kind = match devid.kind {
        DevIdKind::Initial => "idevid",
        DevIdKind::Local => "ldevid",
    };
    let mut f = fs::OpenOptions::new().append(true).open(&path)?;
    write!(f, "devid_hw_type={}\ndevid_kind={kind}\n", devid.hw_type)?;
    f.sync_all()?;
    Ok(())
}

/// Records (or replaces) the URL at which the root's CRL is published in the `ca.txt` of the
/// CA in `dir`: intermediates certified from now on (`pki init --intermediate`, `pki rotate`)
/// carry it as their CRL distribution point. A state made before this setting existed has
/// none until it is set; its existing intermediate certificates keep having none.
pub fn set_root_crl_url(dir: &Path, url: &str) -> Result<(), CaError> {
    check_root_crl_url(url)?;
    let path = dir.join("ca.txt");
    let current = fs::read_to_string(&path)?;
    let mut text: String = current
        .lines()
        .filter(|l| settings_value(l, ROOT_CRL_URL_KEY).is_none())
        .map(|l| format!("{l}\n"))
        .collect();
    text.push_str(&format!("{ROOT_CRL_URL_KEY}={url}\n"));
    write_replacing(&path, text.as_bytes())
}

/// Creates a new CA hierarchy in `dir` (which must not already hold one), both keys P-256
/// software keys in files.
pub fn init_state(dir: &Path, settings: &CaSettings, now: OffsetDateTime) -> Result<(), CaError> {
    init_state_with(dir, settings, now, NewCaKey::Software, NewCaKey::Software)
}

/// [`init_state`] with the root key and the intermediate key made where `root` and
/// `intermediate` say. A key in a token is named in `ca.txt` (`root_pkcs11_*` lines for the
/// root) and no file is written for it. Both keys are made before anything is written, so a
/// refused token (wrong PIN, unknown label) leaves `dir` untouched.
pub fn init_state_with(
    dir: &Path,
    settings: &CaSettings,
    now: OffsetDateTime,
    root: NewCaKey<'_>,
    intermediate: NewCaKey<'_>,
) -> Result<(), CaError> {
    init_state_publishing(dir, settings, None, now, root, intermediate)
}

/// [`init_state_with`] that also records where the root's CRL will be published
/// (`root_crl_url`, see [`set_root_crl_url`]): the default intermediate, and every one
/// certified later, carries it as its CRL distribution point.
pub fn init_state_publishing(
    dir: &Path,
    settings: &CaSettings,
    root_crl_url: Option<&str>,
    now: OffsetDateTime,
    root: NewCaKey<'_>,
    intermediate: NewCaKey<'_>,
) -> Result<(), CaError> {
    if let Some(url) = root_crl_url {
        check_root_crl_url(url)?;
    }
    if dir.join("intermediate.pem").exists() {
        return Err(CaError::AlreadyExists {
            path: dir.to_owned(),
            what: "a CA",
        });
    }
    let root_key = MadeKey::make(root)?;
    let intermediate_key = MadeKey::make(intermediate)?;
    let h = create_hierarchy_publishing(
        &settings.organization,
        now,
        root_key.signer(),
        intermediate_key.signer(),
        root_crl_url,
    )?;
    fs::create_dir_all(dir)?;
    let mut ca_txt = format!(
        "organization={}\ncrl_url={}\nlifetime_secs={}\n",
        settings.organization, settings.crl_url, settings.lifetime_secs
    );
    if let Some(url) = root_crl_url {
        ca_txt.push_str(&format!("{ROOT_CRL_URL_KEY}={url}\n"));
    }
    ca_txt.push_str(&root_key.persist(&dir.join(ROOT_KEY_FILE), CaRole::Root)?);
    ca_txt.push_str(
        &intermediate_key.persist(&dir.join("intermediate.key.pem"), CaRole::Intermediate)?,
    );
    fs::write(dir.join("root.pem"), pem("CERTIFICATE", &h.root_der)?)?;
    fs::write(
        dir.join("intermediate.pem"),
        pem("CERTIFICATE", &h.intermediate_der)?,
    )?;
    fs::write(dir.join("ca.txt"), ca_txt)?;
    SqliteStore::open(&dir.join("pki.sqlite"))?;
    Ok(())
}

/// The online CA: authority plus store.
pub struct CaState {
    /// The issuing authority.
    pub authority: Authority,
    /// The records.
    pub store: SqliteStore,
    dir: PathBuf,
    /// Why this CA may not issue (rotated out, or revoked by the root), if it may not.
    refusal: Option<IssuerRefusal>,
    /// The store whose CRL number sequence this CA's CRLs continue (a rotated-out key shares
    /// its successor's: one issuer name, one strictly increasing sequence); None: its own.
    crl_counter: Option<SqliteStore>,
    /// Whether the root revoked this CA's certificate (as far as it was checked).
    root_revoked: bool,
}

impl CaState {
    /// Opens the CA in `dir` (an intermediate's state directory, or a retired generation in
    /// its `retired/SERIAL`). A rotation of the intermediate that a crash interrupted is
    /// finished or undone first ([`crate::ca::rotation::recover_rotation`]); the directory is
    /// read under the shared rotation lock ([`crate::store::lock`]), so never half rotated.
    pub fn open(dir: &Path) -> Result<Self, CaError> {
        Self::open_with(dir, &TokenPins::default())
    }

    /// [`CaState::open`] for a CA whose key may be in a PKCS#11 token: its PIN is in `pins`.
    pub fn open_with(dir: &Path, pins: &TokenPins) -> Result<Self, CaError> {
        use crate::ca::rotation::{RETIRED_DIR, recover_rotation, rotation_unfinished};
        use crate::store::lock::{LOCK_WAIT, StateLock};
        // A retired generation (CA_DIR/retired/SERIAL, its ca.txt says so and never changes)
        // is guarded by its intermediate's lock.
        let settings = fs::read_to_string(dir.join("ca.txt"))?;
        let owner = match dir.parent().and_then(Path::parent) {
            Some(ca_dir)
                if settings_value(&settings, RETIRED_AT_KEY).is_some()
                    && dir.parent().and_then(Path::file_name)
                        == Some(std::ffi::OsStr::new(RETIRED_DIR)) =>
            {
                ca_dir
            }
            _ => dir,
        };
        if rotation_unfinished(owner) {
            recover_rotation(owner, LOCK_WAIT)?;
        }
        let _lock = StateLock::shared(owner, LOCK_WAIT)?;
        if rotation_unfinished(owner) {
            return Err(CaError::RotationInProgress {
                dir: owner.to_path_buf(),
            });
        }
        Self::open_unlocked(dir, pins)
    }

    fn open_unlocked(dir: &Path, pins: &TokenPins) -> Result<Self, CaError> {
        let settings = fs::read_to_string(dir.join("ca.txt"))?;
        let get = |k: &str| {
            settings
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .map(str::to_owned)
                .ok_or_else(|| CaError::MissingSetting { key: k.to_owned() })
        };
        let org = get("organization")?;
        let mut profile = IssuanceProfile::short_lived(get(CRL_URL_KEY)?);
        let secs: u64 = get("lifetime_secs")?
            .parse()
            .map_err(|_| CaError::BadSetting {
                key: "lifetime_secs",
                reason: "is not a number of seconds",
            })?;
        profile.lifetime = std::time::Duration::from_secs(secs);
        profile.devid = devid_settings(&settings)?;
        let key: Box<dyn Signer> = match TokenKey::from_settings(&settings)? {
            Some(token) => token.signer(pins.pin_for(&token, CaRole::Intermediate)?, false)?,
            None => Box::new(SoftwareSigner::from_pkcs8_pem(&Zeroizing::new(
                fs::read_to_string(dir.join("intermediate.key.pem"))?,
            ))?),
        };
        let intermediate_der = read_pem(&dir.join("intermediate.pem"), "CERTIFICATE")?;
        ensure_certified_key(key.as_ref(), &intermediate_der)?;
        let retired = settings_value(&settings, RETIRED_AT_KEY).is_some();
        // A retired generation lives in CA_DIR/retired/SERIAL; its successor in CA_DIR.
        let crl_counter = match dir.parent().and_then(Path::parent) {
            Some(ca_dir) if retired => Some(SqliteStore::open(&ca_dir.join("pki.sqlite"))?),
            _ => None,
        };
        let revoked = !retired && crate::ca::root_crl::is_revoked_by_root(dir, &intermediate_der)?;
        let authority = Authority::new(
            org,
            key,
            intermediate_der,
            read_pem(&dir.join("root.pem"), "CERTIFICATE")?,
            profile,
        );
        Ok(Self {
            authority,
            store: SqliteStore::open(&dir.join("pki.sqlite"))?,
            dir: dir.to_path_buf(),
            refusal: if retired {
                Some(IssuerRefusal::Retired)
            } else if revoked {
                Some(IssuerRefusal::RevokedByRoot)
            } else {
                None
            },
            crl_counter,
            root_revoked: revoked,
        })
    }

    /// Opens the named intermediate `name` of the CA in `dir` (see [`add_intermediate`]).
    pub fn open_intermediate(dir: &Path, name: &str) -> Result<Self, CaError> {
        Self::open_intermediate_with(dir, name, &TokenPins::default())
    }

    /// [`CaState::open_intermediate`] with the token PIN in `pins`.
    pub fn open_intermediate_with(
        dir: &Path,
        name: &str,
        pins: &TokenPins,
    ) -> Result<Self, CaError> {
        let mut ca = Self::open_with(&intermediate_dir(dir, name)?, pins)?;
        ca.check_root_revocation(dir)?;
        Ok(ca)
    }

    /// Checks whether the root of the CA in `state_dir` revoked this CA's certificate (a
    /// named intermediate or a rotated-out generation cannot find the root's records from its
    /// own folder); a revoked CA issues nothing ([`CaError::IssuerRevoked`], unless it is
    /// rotated out already).
    pub fn check_root_revocation(&mut self, state_dir: &Path) -> Result<bool, CaError> {
        if crate::ca::root_crl::is_revoked_by_root(state_dir, self.authority.intermediate_der())? {
            self.root_revoked = true;
            if self.refusal.is_none() {
                self.refusal = Some(IssuerRefusal::RevokedByRoot);
            }
        }
        Ok(self.root_revoked)
    }

    /// Whether the root revoked this CA's certificate (found when it was opened, or by
    /// [`CaState::check_root_revocation`]): a server refuses the certificates it issued at
    /// the handshake.
    pub fn revoked_by_root(&self) -> bool {
        self.root_revoked
    }

    /// Whether this CA may issue: false for a rotated-out key ([`crate::ca::rotation`]) and for an
    /// intermediate the root revoked ([`crate::ca::root_crl`]).
    pub fn may_issue(&self) -> bool {
        self.refusal.is_none()
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Verifies a DER CSR and issues a certificate for it.
    pub fn issue_csr(
        &mut self,
        csr_der: &[u8],
        now: OffsetDateTime,
    ) -> Result<IssuedCertificate, CaError> {
        let csr = verify_csr(csr_der)?;
        self.issue_verified(&csr, now)
    }

    /// Issues for an already verified CSR and records it before returning it. A serial
    /// collision (UNIQUE constraint) is retried with a fresh serial.
    pub fn issue_verified(
        &mut self,
        csr: &VerifiedCsr,
        now: OffsetDateTime,
    ) -> Result<IssuedCertificate, CaError> {
        self.issue_recorded(|a| a.issue(csr, now), None)
    }

    /// Verifies a DER CSR and issues an IEEE 802.1AR DevID for the device `identity` (the
    /// CA's manufacturing record), then records it.
    pub fn issue_devid(
        &mut self,
        csr_der: &[u8],
        identity: &DeviceIdentity,
        now: OffsetDateTime,
    ) -> Result<IssuedCertificate, CaError> {
        let csr = verify_csr(csr_der)?;
        self.issue_devid_verified(&csr, identity, now)
    }

    /// [`CaState::issue_devid`] for an already verified CSR.
    pub fn issue_devid_verified(
        &mut self,
        csr: &VerifiedCsr,
        identity: &DeviceIdentity,
        now: OffsetDateTime,
    ) -> Result<IssuedCertificate, CaError> {
        self.issue_recorded(|a| a.issue_devid(csr, identity, now), None)
    }

    /// Issues for `csr`, as a DevID for `identity` when one is given.
    pub fn issue_for(
        &mut self,
        csr: &VerifiedCsr,
        identity: Option<&DeviceIdentity>,
        now: OffsetDateTime,
    ) -> Result<IssuedCertificate, CaError> {
        match identity {
            Some(id) => self.issue_devid_verified(csr, id, now),
            None => self.issue_verified(csr, now),
        }
    }

    /// [`CaState::issue_for`] that records, in the same transaction, that `request` asked for
    /// the certificate ([`EnrollmentStore`](crate::store::EnrollmentStore)): what lets an EST server answer a re-submitted
    /// request with it.
    pub fn issue_for_request(
        &mut self,
        csr: &VerifiedCsr,
        identity: Option<&DeviceIdentity>,
        request: &EnrollmentKey,
        now: OffsetDateTime,
    ) -> Result<IssuedCertificate, CaError> {
        let at = now.unix_timestamp();
        match identity {
            Some(id) => self.issue_recorded(|a| a.issue_devid(csr, id, now), Some((request, at))),
            None => self.issue_recorded(|a| a.issue(csr, now), Some((request, at))),
        }
    }

    /// The certificate this CA issued for `request` at or after `since` (Unix seconds), if it
    /// is still one to hand out at `now`: unexpired, unrevoked, and the CA may still issue.
    pub fn reissuable_for(
        &self,
        request: &EnrollmentKey,
        since: i64,
        now: OffsetDateTime,
    ) -> Result<Option<IssuedRecord>, CaError> {
        crate::ca::issuer::reissuable_for(self, request, since, now)
    }

    fn issue_recorded(
        &mut self,
        issue: impl Fn(&Authority) -> Result<IssuedCertificate, CaError>,
        request: Option<(&EnrollmentKey, i64)>,
    ) -> Result<IssuedCertificate, CaError> {
        crate::ca::issuer::issue_recorded(self, issue, request)
    }

    /// Revokes by serial with an RFC 5280 reason code.
    pub fn revoke(
        &mut self,
        serial: &[u8],
        reason: u8,
        now: OffsetDateTime,
    ) -> Result<bool, CaError> {
        self.store.revoke(serial, reason, now.unix_timestamp())
    }

    /// Fails with [`CaError::Revoked`] if `serial` is revoked, by this key or by a key rotated
    /// out of this CA ([`crate::ca::rotation`]).
    pub fn ensure_not_revoked(&self, serial: &[u8]) -> Result<(), CaError> {
        crate::ca::issuer::ensure_not_revoked(self, serial)
    }

    /// The record of the certificate `serial` issued by this CA's current key or by a key
    /// rotated out of it ([`crate::ca::rotation`]), with its revocation if it is revoked: what a
    /// renewal of a certificate issued before a rotation is checked against.
    pub fn find_issued(&self, serial: &[u8]) -> Result<Option<FoundCertificate>, CaError> {
        crate::ca::issuer::find_issued(self, serial)
    }

    /// Signs a fresh CRL over all unexpired revocations, with the next CRL number.
    pub fn crl(&mut self, now: OffsetDateTime) -> Result<Vec<u8>, CaError> {
        crate::ca::issuer::sign_crl(self, now)
    }

    /// The chain a device should trust and present: intermediate then root (PEM).
    pub fn chain_pem(&self) -> Result<String, CaError> {
        Ok(pem("CERTIFICATE", self.authority.intermediate_der())?
            + &pem("CERTIFICATE", self.authority.root_der())?)
    }
}

/// The CA state directory as the EST core's issuing CA: records in its SQLite database, the
/// earlier key generations in their own databases under `retired/` (opened per lookup), the
/// CRL numbers shared with the successor key.
impl IssuingCa for CaState {
    fn authority(&self) -> &Authority {
        &self.authority
    }
    fn records(&self) -> &dyn IssuerRecords {
        &self.store
    }
    fn records_mut(&mut self) -> &mut dyn IssuerRecords {
        &mut self.store
    }
    fn earlier_issued(&self, serial: &[u8]) -> Result<Option<FoundCertificate>, CaError> {
        // A retired generation has no earlier one of its own to look in.
        if self.refusal == Some(IssuerRefusal::Retired) {
            return Ok(None);
        }
        for generation in crate::ca::rotation::retired_generations(&self.dir)? {
            let store = SqliteStore::open(&generation.join("pki.sqlite"))?;
            if let Some(record) = store.issued(serial)? {
                return Ok(Some((record, store.revocation(serial)?)));
            }
        }
        Ok(None)
    }
    fn next_crl_number(&mut self) -> Result<u64, CaError> {
        match &mut self.crl_counter {
            Some(shared) => shared.next_crl_number(),
            None => self.store.next_crl_number(),
        }
    }
    fn refusal(&self) -> Option<IssuerRefusal> {
        self.refusal
    }
    fn revoked_by_root(&self) -> bool {
        self.root_revoked
    }
}
