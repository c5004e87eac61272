//! Secrets kept in files rather than on command lines or in the environment (both readable by
//! other processes of the user through `/proc`): PKCS#11 PINs, HTTP Basic credentials. A secret
//! file must be private to its owner, non-empty and small; it is read into a zeroizing buffer.

use zeroize::Zeroizing;

use crate::ca::error::{CaError, SecretFileProblem};

/// Largest secret file accepted, in bytes.
pub const MAX_SECRET_FILE: u64 = 1024;

/// Reads the secret in `path` (`what` names it in errors: "PIN", "Basic credentials"). Refused
/// when group or others may read the file (Unix), when it is empty, or longer than
/// [`MAX_SECRET_FILE`]; one trailing line break is not part of the secret.
pub fn read_secret_file(path: &std::path::Path, what: &str) -> Result<Zeroizing<String>, CaError> {
    let bad = |problem| CaError::SecretFile {
        what: what.to_owned(),
        path: path.to_owned(),
        problem,
    };
    let file = std::fs::File::open(path).map_err(|e| bad(SecretFileProblem::Unreadable(e)))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file
            .metadata()
            .map_err(|e| bad(SecretFileProblem::Unreadable(e)))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(bad(SecretFileProblem::Exposed { mode: mode & 0o777 }));
        }
    }
    let mut text = Zeroizing::new(String::new());
    std::io::Read::read_to_string(
        &mut std::io::Read::take(file, MAX_SECRET_FILE + 1),
        &mut text,
    )
    .map_err(|e| bad(SecretFileProblem::Unreadable(e)))?;
    if text.len() as u64 > MAX_SECRET_FILE {
        return Err(bad(SecretFileProblem::TooLong {
            max: MAX_SECRET_FILE,
        }));
    }
    let secret = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    if secret.is_empty() {
        return Err(bad(SecretFileProblem::Empty));
    }
    Ok(Zeroizing::new(secret.to_owned()))
}

/// HTTP Basic credentials `USER:PASS` (RFC 7617 §2: the user-id cannot contain a colon), held
/// in a zeroizing buffer.
pub struct BasicCredentials(Zeroizing<String>);

impl core::fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BasicCredentials")
            .field("user", &self.user())
            .finish_non_exhaustive()
    }
}

impl BasicCredentials {
    /// Parses `USER:PASS`; refused without a colon.
    pub fn parse(text: Zeroizing<String>) -> Result<Self, CaError> {
        if !text.contains(':') {
            return Err(CaError::MalformedBasicCredentials);
        }
        Ok(BasicCredentials(text))
    }

    /// Reads `USER:PASS` from a private file ([`read_secret_file`]).
    pub fn from_file(path: &std::path::Path) -> Result<Self, CaError> {
        Self::parse(read_secret_file(path, "Basic credentials")?)
    }

    /// The user-id (before the first colon).
    pub fn user(&self) -> &str {
        self.0.split_once(':').map_or("", |(u, _)| u)
    }

    /// The password (after the first colon).
    pub fn password(&self) -> &str {
        self.0.split_once(':').map_or("", |(_, p)| p)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn private_file(name: &str, text: &str, mode: u32) -> std::path::PathBuf {
        let path =
            std::env::temp_dir().join(format!("iotsec-secret-{name}-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        std::fs::write(&path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        path
    }

    #[test]
    fn basic_credentials_come_from_a_private_file() {
        let ok = private_file("ok", "dev:s3:cret\n", 0o600);
        let c = BasicCredentials::from_file(&ok).unwrap();
        assert_eq!((c.user(), c.password()), ("dev", "s3:cret"));
        assert!(!format!("{c:?}").contains("s3"));
        let no_colon = private_file("nocolon", "devs3cret", 0o600);
        assert_eq!(
            BasicCredentials::from_file(&no_colon)
                .unwrap_err()
                .to_string(),
            "CA state: HTTP Basic credentials must be USER:PASS"
        );
        #[cfg(unix)]
        {
            let open = private_file("open", "dev:x", 0o644);
            assert_eq!(
                BasicCredentials::from_file(&open).unwrap_err().to_string(),
                format!(
                    "CA state: Basic credentials file {}: mode 644 lets group or others read it (chmod 600)",
                    open.display()
                )
            );
        }
        let empty = private_file("empty", "\n", 0o600);
        assert!(
            BasicCredentials::from_file(&empty)
                .unwrap_err()
                .to_string()
                .ends_with(": empty")
        );
    }
}
