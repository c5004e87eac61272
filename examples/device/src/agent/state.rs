//! The state directory of one device:
//!
//! - `key.pem`: the enrolled private key, PKCS#8 PEM, mode 0600, written to a fresh 0600 file
//!   and renamed into place; overwritten with zeros before it is removed on a wipe;
//! - `cert.pem`: the certificate chain from EST (leaf first);
//! - `se-counter`: the attestation counter (decimal), persisted before each use so that it
//!   only grows across restarts;
//! - `slots/`: the A/B slot files ([`crate::slot_files`]) and `versions.json`.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use der::Decode;
use iotsec_pki::DeviceKey;
use zeroize::Zeroizing;

use super::error::AgentError;

/// Largest state file the agent reads (a PEM chain, a counter, a version map).
const MAX_STATE_FILE: u64 = 64 * 1024;

/// The files of one device.
#[derive(Debug, Clone)]
pub(crate) struct StateDir {
    dir: PathBuf,
}

/// The enrolled identity: key, chain, and what the agent reads from the leaf.
pub(crate) struct Identity {
    pub(crate) key: DeviceKey,
    pub(crate) chain: Vec<Vec<u8>>,
    pub(crate) leaf: LeafFacts,
}

/// What the agent needs from its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeafFacts {
    /// The subject CN (the device id).
    pub(crate) cn: String,
    /// Serial, lowercase hex.
    pub(crate) serial: String,
    /// notAfter, seconds since the epoch.
    pub(crate) not_after: u64,
}

/// `id-at-commonName` (RFC 5280 §4.1.2.4, X.520).
const CN: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("2.5.4.3");

impl LeafFacts {
    /// Reads the CN, serial and notAfter of a DER certificate.
    pub(crate) fn of(der_cert: &[u8]) -> Result<LeafFacts, String> {
        let cert = x509_cert::Certificate::from_der(der_cert).map_err(|e| e.to_string())?;
        let tbs = &cert.tbs_certificate;
        let cn = tbs
            .subject
            .0
            .iter()
            .flat_map(|rdn| rdn.0.iter())
            .find(|attr| attr.oid == CN)
            .and_then(|attr| {
                attr.value
                    .decode_as::<der::asn1::Utf8StringRef<'_>>()
                    .map(|s| s.as_str().to_owned())
                    .or_else(|_| {
                        attr.value
                            .decode_as::<der::asn1::PrintableStringRef<'_>>()
                            .map(|s| s.as_str().to_owned())
                    })
                    .ok()
            })
            .ok_or("the certificate has no common name")?;
        Ok(LeafFacts {
            cn,
            serial: hex::encode(tbs.serial_number.as_bytes()),
            not_after: tbs.validity.not_after.to_unix_duration().as_secs(),
        })
    }
}

impl StateDir {
    /// Opens (creating, mode 0700) the state directory.
    pub(crate) fn open(dir: &Path) -> Result<StateDir, AgentError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir.join("slots"))
            .map_err(|source| AgentError::State {
                path: dir.to_path_buf(),
                source,
            })?;
        Ok(StateDir {
            dir: dir.to_path_buf(),
        })
    }

    /// The slot directory.
    pub(crate) fn slots(&self) -> PathBuf {
        self.dir.join("slots")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A state file, bounded by [`MAX_STATE_FILE`]; `None` when it does not exist.
    pub(crate) fn read(&self, path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>, AgentError> {
        match crate::slot_files::read_capped(path, MAX_STATE_FILE) {
            Ok(bytes) => Ok(Some(Zeroizing::new(bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                Err(self.corrupt(path, format!("larger than {MAX_STATE_FILE} bytes")))
            }
            Err(source) => Err(AgentError::State {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    fn corrupt(&self, path: &Path, what: impl Into<String>) -> AgentError {
        AgentError::StateCorrupt {
            path: path.to_path_buf(),
            what: what.into(),
        }
    }

    /// Writes `bytes` to `path` through a fresh file of mode `mode` renamed into place, then
    /// syncs the directory: a crash leaves the old or the new file, never a torn one.
    pub(crate) fn replace(&self, path: &Path, bytes: &[u8], mode: u32) -> Result<(), AgentError> {
        let io = |source| AgentError::State {
            path: path.to_path_buf(),
            source,
        };
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        // A leftover of a crash; create_new below never follows links.
        match fs::remove_file(&tmp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            _ => {}
        }
        let written = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .and_then(|mut f| {
                f.write_all(bytes)?;
                f.sync_all()
            })
            .and_then(|()| fs::rename(&tmp, path))
            .and_then(|()| fs::File::open(&self.dir)?.sync_all());
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(io(e));
        }
        Ok(())
    }

    /// The stored identity, if the device is enrolled.
    pub(crate) fn identity(&self) -> Result<Option<Identity>, AgentError> {
        let (key_path, cert_path) = (self.path("key.pem"), self.path("cert.pem"));
        let (Some(key_pem), Some(cert_pem)) = (self.read(&key_path)?, self.read(&cert_path)?)
        else {
            return Ok(None);
        };
        let (label, key_der) = pem_rfc7468::decode_vec(&key_pem)
            .map_err(|e| self.corrupt(&key_path, e.to_string()))?;
        let key_der = Zeroizing::new(key_der);
        if label != "PRIVATE KEY" {
            return Err(self.corrupt(&key_path, "not a PRIVATE KEY PEM block"));
        }
        let key = DeviceKey::from_pkcs8_der(&key_der)
            .map_err(|e| self.corrupt(&key_path, e.to_string()))?;
        let chain = pem_certificates(&cert_pem).map_err(|e| self.corrupt(&cert_path, e))?;
        let leaf = chain
            .first()
            .ok_or_else(|| self.corrupt(&cert_path, "no certificate"))
            .and_then(|c| LeafFacts::of(c).map_err(|e| self.corrupt(&cert_path, e)))?;
        Ok(Some(Identity { key, chain, leaf }))
    }

    /// Stores a new key (if `key` is given) and then the chain.
    pub(crate) fn store_identity(
        &self,
        key: Option<&DeviceKey>,
        chain: &[Vec<u8>],
    ) -> Result<(), AgentError> {
        if let Some(key) = key {
            let der = key.to_pkcs8_der().map_err(AgentError::Pki)?;
            let pem = Zeroizing::new(
                pem_rfc7468::encode_string("PRIVATE KEY", pem_rfc7468::LineEnding::LF, &der)
                    .map_err(|e| AgentError::Tls(e.to_string()))?,
            );
            self.replace(&self.path("key.pem"), pem.as_bytes(), 0o600)?;
        }
        let mut pem = String::new();
        for cert in chain {
            pem.push_str(
                &pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, cert)
                    .map_err(|e| AgentError::Tls(e.to_string()))?,
            );
        }
        self.replace(&self.path("cert.pem"), pem.as_bytes(), 0o644)
    }

    /// The TPM AK Name (hex) the cloud registered, if any.
    pub(crate) fn tpm_registered(&self) -> Result<Option<String>, AgentError> {
        let path = self.path("tpm-registered");
        match self.read(&path)? {
            None => Ok(None),
            Some(text) => std::str::from_utf8(&text)
                .ok()
                .map(str::trim)
                .filter(|t| !t.is_empty() && t.len() <= 2 * 66 && hex::decode(t).is_ok())
                .map(|t| Some(t.to_owned()))
                .ok_or_else(|| self.corrupt(&path, "not an AK Name in hex")),
        }
    }

    /// Records the AK Name (hex) the cloud registered.
    pub(crate) fn store_tpm_registered(&self, ak_name: &str) -> Result<(), AgentError> {
        self.replace(
            &self.path("tpm-registered"),
            format!("{ak_name}\n").as_bytes(),
            0o644,
        )
    }

    /// The next attestation counter, persisted before it is returned.
    pub(crate) fn next_counter(&self) -> Result<u64, AgentError> {
        let path = self.path("se-counter");
        let current = match self.read(&path)? {
            None => 0,
            Some(text) => std::str::from_utf8(&text)
                .ok()
                .and_then(|t| t.trim().parse::<u64>().ok())
                .ok_or_else(|| self.corrupt(&path, "not a counter"))?,
        };
        let next = current
            .checked_add(1)
            .ok_or_else(|| self.corrupt(&path, "counter exhausted"))?;
        self.replace(&path, format!("{next}\n").as_bytes(), 0o600)?;
        Ok(next)
    }

    /// Decommissioning: the key file is overwritten with zeros and synced, then the key, the
    /// chain and the counter are removed. The slots (firmware) stay.
    pub(crate) fn wipe(&self) -> Result<(), AgentError> {
        let key = self.path("key.pem");
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| AgentError::State { path, source }
        };
        match fs::metadata(&key) {
            Ok(meta) => {
                let zeros = vec![0u8; usize::try_from(meta.len()).unwrap_or(0)];
                fs::OpenOptions::new()
                    .write(true)
                    .open(&key)
                    .and_then(|mut f| {
                        f.write_all(&zeros)?;
                        f.sync_all()
                    })
                    .map_err(io(&key))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&key)(e)),
        }
        for name in ["key.pem", "cert.pem", "se-counter"] {
            let path = self.path(name);
            match fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&path)(e)),
                _ => {}
            }
        }
        fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.dir))
    }
}

/// The DER certificates of the CERTIFICATE blocks of a PEM text, in order (rustls-pki-types'
/// RFC 7468 reader).
pub(crate) fn pem_certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let out = CertificateDer::pem_slice_iter(pem)
        .map(|c| c.map(|c| c.to_vec()).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    if out.is_empty() {
        return Err("no CERTIFICATE PEM block".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use iotsec_pki::KeyAlgorithm;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("iotsec-agent-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn the_counter_only_grows_across_reopening_and_a_corrupt_one_is_refused() {
        let dir = scratch("counter");
        let state = StateDir::open(&dir).unwrap();
        assert_eq!(state.next_counter().unwrap(), 1);
        assert_eq!(state.next_counter().unwrap(), 2);
        let state = StateDir::open(&dir).unwrap();
        assert_eq!(state.next_counter().unwrap(), 3);
        fs::write(dir.join("se-counter"), "three\n").unwrap();
        assert_eq!(state.next_counter().unwrap_err().code(), "state_corrupt");
        fs::write(dir.join("se-counter"), format!("{}\n", u64::MAX)).unwrap();
        assert_eq!(state.next_counter().unwrap_err().code(), "state_corrupt");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_wipe_overwrites_the_key_with_zeros_before_removing_it() {
        let dir = scratch("wipe");
        let state = StateDir::open(&dir).unwrap();
        let key = DeviceKey::generate(KeyAlgorithm::P256, &mut rand_core::OsRng);
        state
            .store_identity(Some(&key), &[vec![0x30, 0x00]])
            .unwrap();
        state.next_counter().unwrap();
        let key_path = dir.join("key.pem");
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&key_path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A second name for the same inode shows what the wipe left in it.
        let witness = dir.join("witness");
        fs::hard_link(&key_path, &witness).unwrap();
        let before = fs::read(&witness).unwrap();
        assert!(before.starts_with(b"-----BEGIN PRIVATE KEY-----"));
        state.wipe().unwrap();
        let after = fs::read(&witness).unwrap();
        assert_eq!(after.len(), before.len());
        assert!(after.iter().all(|b| *b == 0));
        for gone in ["key.pem", "cert.pem", "se-counter"] {
            assert!(!dir.join(gone).exists(), "{gone}");
        }
        assert!(state.identity().unwrap().is_none());
        // Wiping twice is not an error.
        state.wipe().unwrap();
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_stored_chain_that_is_not_a_certificate_is_corrupt_state() {
        let dir = scratch("corrupt");
        let state = StateDir::open(&dir).unwrap();
        let key = DeviceKey::generate(KeyAlgorithm::P256, &mut rand_core::OsRng);
        state
            .store_identity(Some(&key), &[vec![0x30, 0x00]])
            .unwrap();
        let err = state
            .identity()
            .err()
            .expect("a bogus certificate was read");
        assert_eq!(err.code(), "state_corrupt");
        assert!(err.is_bad_input());
        let _ = fs::remove_dir_all(&dir);
    }
}
