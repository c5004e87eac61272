//! The layout of a CA state directory, and the file operations on it (RFC 7468 PEM files,
//! `key=value` settings, files replaced atomically, secret files made 0600). A leaf: it knows
//! where things are, nothing of what they mean.
//!
//! Layout: `root.pem`, `intermediate.pem`, `intermediate.key.pem` (mode 0600), `ca.txt`
//! (organization, CRL URL, lifetime), `pki.sqlite`, `offline/root.key.pem`, `root.sqlite` (the
//! root's revocations of intermediates), `intermediates/NAME/` (a named intermediate's own
//! state directory), `retired/SERIAL/` (a rotated-out key generation), `rotation.lock`.

use std::fs;
use std::path::{Path, PathBuf};

use crate::ca::error::CaError;

/// The root certificate (PEM) in a state directory.
pub const ROOT_CERT_FILE: &str = "root.pem";

/// The intermediate certificate (PEM) in an intermediate's state directory.
pub const INTERMEDIATE_CERT_FILE: &str = "intermediate.pem";

/// The root certificate file of the CA in `dir`.
pub fn root_cert_file(dir: &Path) -> PathBuf {
    dir.join(ROOT_CERT_FILE)
}

/// The intermediate certificate file of the intermediate state directory `dir`.
pub fn intermediate_cert_file(dir: &Path) -> PathBuf {
    dir.join(INTERMEDIATE_CERT_FILE)
}

/// The directory of the rotated-out generation `serial_hex` of the intermediate in `ca_dir`.
pub fn retired_generation_dir(ca_dir: &Path, serial_hex: &str) -> PathBuf {
    ca_dir.join(RETIRED_DIR).join(serial_hex)
}

/// The folder, under an intermediate's state directory, of its rotated-out generations.
pub const RETIRED_DIR: &str = "retired";

/// The root's database of the intermediates it revoked, in the state directory.
pub const ROOT_DB_FILE: &str = "root.sqlite";

pub(crate) fn pem(label: &str, der: &[u8]) -> Result<String, CaError> {
    pem_rfc7468::encode_string(label, pem_rfc7468::LineEnding::LF, der).map_err(|_| {
        CaError::PemEncoding {
            label: label.to_owned(),
        }
    })
}

/// The state directory of the named intermediate `name` under the CA in `dir`.
pub fn intermediate_dir(dir: &Path, name: &str) -> Result<PathBuf, CaError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        return Err(CaError::InvalidIntermediateName {
            name: name.to_owned(),
        });
    }
    Ok(dir.join("intermediates").join(name))
}

/// The `ca.txt` line that says where the root's CRL is published; intermediates certified
/// while it is set carry it as their CRL distribution point.
pub const ROOT_CRL_URL_KEY: &str = "root_crl_url";

/// The `ca.txt` line with the CRL URL the CA's leaves carry as their CRL distribution point
/// (a rotation gives the new key its own, [`crate::ca::rotation::generation_crl_url`]).
pub const CRL_URL_KEY: &str = "crl_url";

/// The `ca.txt` line that marks a rotated-out intermediate (its value: when, Unix seconds).
pub const RETIRED_AT_KEY: &str = "retired_at";

/// The value of the first `key=value` line for `key` in `ca.txt` text.
pub fn settings_value<'a>(settings: &'a str, key: &str) -> Option<&'a str> {
    settings
        .lines()
        .find_map(|l| l.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
}

/// Writes `bytes` to `path` through a synced temporary file renamed over it.
pub(crate) fn write_replacing(path: &Path, bytes: &[u8]) -> Result<(), CaError> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    fs::rename(&tmp, path)?;
    Ok(())
}

/// Reads the first PEM block with `label` from a file.
pub fn read_pem(path: &Path, label: &str) -> Result<Vec<u8>, CaError> {
    let text = fs::read(path)?;
    let (l, der) = pem_rfc7468::decode_vec(&text).map_err(|_| CaError::NotPem {
        path: path.to_path_buf(),
    })?;
    if l != label {
        return Err(CaError::WrongPemLabel {
            path: path.to_path_buf(),
            expected: label.to_owned(),
        });
    }
    Ok(der)
}

pub(crate) fn write_secret(path: &Path, text: &str) -> Result<(), CaError> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    o.mode(0o600);
    o.open(path)?.write_all(text.as_bytes())?;
    Ok(())
}

/// PEM-encodes DER with a label (`CERTIFICATE`, `X509 CRL`).
pub fn to_pem(label: &str, der: &[u8]) -> Result<String, CaError> {
    pem(label, der)
}
