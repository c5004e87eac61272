//! Components identified by a source repository rather than a package ecosystem, and the
//! repository URLs of OSV `GIT` ranges (OSV schema §"affected[].ranges[].repo").
//!
//! A component names a repository through its purl: the `github`, `gitlab` and `bitbucket` types
//! (`pkg:github/owner/name@<commit or tag>`) or the `vcs_url` qualifier of any type
//! (`pkg:generic/name?vcs_url=git+https://host/path.git@<commit>`, purl-spec "Known qualifiers").
//! Repository URLs are compared after [`normalize_repo`].

use crate::purl::PackageUrl;

/// A repository and the revision (commit or tag) a component was built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VcsRef {
    /// The normalized repository (`github.com/owner/name`).
    pub repo: String,
    /// The revision: a commit id or a tag, if the purl gives one.
    pub revision: Option<String>,
}

/// `host/path` of a repository URL, lower-cased, without scheme, `git+`, user, `.git` and
/// trailing `/` (`https://github.com/FFmpeg/FFmpeg.git` and `git@github.com:ffmpeg/ffmpeg` are
/// both `github.com/ffmpeg/ffmpeg`). `None` when no host and path remain.
pub fn normalize_repo(url: &str) -> Option<String> {
    let lower = url.trim().to_ascii_lowercase();
    let t = lower.strip_prefix("git+").unwrap_or(&lower);
    let t = match t.split_once("://") {
        Some((_, rest)) => rest.to_owned(),
        // scp-like syntax `git@host:path`.
        None => t.replacen(':', "/", 1),
    };
    let t = match t.split_once('/') {
        Some((authority, path)) => {
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{host}/{path}")
        }
        None => return None,
    };
    let t = t.trim_end_matches('/');
    let t = t.strip_suffix(".git").unwrap_or(t);
    let (host, path) = t.split_once('/')?;
    if host.is_empty() || path.trim_matches('/').is_empty() {
        return None;
    }
    Some(t.to_owned())
}

/// Whether `s` is a full git commit id (40 hex digits for SHA-1, 64 for SHA-256).
pub fn is_commit(s: &str) -> bool {
    matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl PackageUrl {
    /// The repository this purl names, if any (module doc).
    pub fn vcs_ref(&self) -> Option<VcsRef> {
        let host = match self.ty.as_str() {
            "github" => Some("github.com"),
            "gitlab" => Some("gitlab.com"),
            "bitbucket" => Some("bitbucket.org"),
            _ => None,
        };
        if let (Some(host), Some(ns)) = (host, self.namespace.as_deref()) {
            return Some(VcsRef {
                repo: normalize_repo(&format!("https://{host}/{ns}/{}", self.name))?,
                revision: self.version.clone(),
            });
        }
        let url = self.qualifier("vcs_url")?;
        // `...path.git@<rev>`: a `@` after the last `/` separates the revision.
        let (url, rev) = match url.rsplit_once('@') {
            Some((u, r)) if !r.contains('/') && u.contains('/') => (u, Some(r.to_owned())),
            _ => (url, None),
        };
        Some(VcsRef {
            repo: normalize_repo(url)?,
            revision: rev.or_else(|| self.version.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_spellings_normalize_alike() {
        for u in [
            "https://github.com/FFmpeg/FFmpeg.git",
            "https://github.com/ffmpeg/ffmpeg/",
            "git+https://github.com/ffmpeg/ffmpeg",
            "git@github.com:ffmpeg/ffmpeg.git",
            "git://github.com/ffmpeg/ffmpeg",
        ] {
            assert_eq!(
                normalize_repo(u).as_deref(),
                Some("github.com/ffmpeg/ffmpeg"),
                "{u}"
            );
        }
        assert_eq!(normalize_repo("https://github.com/"), None);
        assert_eq!(normalize_repo("nothing"), None);
        assert_eq!(normalize_repo(""), None);
    }

    #[test]
    fn purls_name_repositories_and_revisions() {
        let c = "0123456789abcdef0123456789abcdef01234567";
        let p = PackageUrl::parse(&format!("pkg:github/wolfSSL/wolfssl@{c}")).unwrap();
        assert_eq!(
            p.vcs_ref(),
            Some(VcsRef {
                repo: "github.com/wolfssl/wolfssl".into(),
                revision: Some(c.into())
            })
        );
        let p = PackageUrl::parse(&format!(
            "pkg:generic/mbedtls?vcs_url=git%2Bhttps://github.com/Mbed-TLS/mbedtls.git%40{c}"
        ))
        .unwrap();
        assert_eq!(
            p.vcs_ref(),
            Some(VcsRef {
                repo: "github.com/mbed-tls/mbedtls".into(),
                revision: Some(c.into())
            })
        );
        let raw = format!(
            "pkg:generic/mbedtls@3.6.0?vcs_url=git+https://github.com/Mbed-TLS/mbedtls.git@{c}"
        );
        let p = PackageUrl::parse(&raw).unwrap();
        assert_eq!(p.version.as_deref(), Some("3.6.0"));
        assert_eq!(p.vcs_ref().unwrap().revision.as_deref(), Some(c));
        let p = PackageUrl::parse("pkg:generic/x@1.0?vcs_url=https://example.org/x").unwrap();
        assert_eq!(p.vcs_ref().unwrap().revision.as_deref(), Some("1.0"));
        assert_eq!(PackageUrl::parse("pkg:cargo/x@1").unwrap().vcs_ref(), None);
        assert!(is_commit(c));
        assert!(!is_commit("v5.6.0-stable"));
        assert!(!is_commit(&c[..39]));
    }
}
