//! Package URLs (purl specification, "A purl is a URL composed of seven components"):
//! `pkg:type/namespace/name@version?qualifiers#subpath`, and the mapping of purl types to OSV
//! ecosystems (OSV schema "Defined ecosystems").

use core::fmt;
use std::collections::BTreeSet;
use std::str::FromStr;

use crate::distro::ReleaseScope;

/// The longest purl read: a component identifier, not a document (the longest in the RustSec and
/// CycloneDX example corpora is under 300 bytes).
pub const MAX_PURL_LEN: usize = 4096;

/// A parsed package URL; components are percent-decoded, `type` is lower-cased, and the namespace
/// and name are lower-cased where the type's definition in the purl specification says they are
/// not case sensitive (`deb`, `apk`, `rpm`, `golang` namespaces; `npm`, `deb`, `pypi` names ...).
///
/// Parsing is the maintained [`packageurl`] crate (the purl specification's type rules: a
/// namespace required or prohibited, case folding), with three refusals added in front of it
/// where that crate is lenient and a lenient reading would let two readers of one SBOM disagree:
/// a `%` not followed by two hex digits (`%+5`, `%zz`), a qualifier without a value (the
/// specification drops it silently) and a qualifier key given twice (a map keeps one of them).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PackageUrl {
    /// The package type (`cargo`, `npm`, `deb`, ...).
    pub ty: String,
    /// The namespace (`@scope`, Maven group, distro), if any.
    pub namespace: Option<String>,
    /// The package name.
    pub name: String,
    /// The version, if any.
    pub version: Option<String>,
    /// Qualifiers (`arch=...`, `distro=...`), keys lower-cased, sorted by key (the canonical
    /// order of the purl specification).
    pub qualifiers: Vec<(String, String)>,
}

/// Why a string is not a package URL.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PurlError {
    /// Longer than [`MAX_PURL_LEN`].
    #[error("invalid package URL: {len} bytes, above the cap of {MAX_PURL_LEN}")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// A `%` that is not followed by two hex digits.
    #[error("invalid package URL: `%` at byte {offset} is not followed by two hex digits")]
    PercentEscape {
        /// Byte offset of the `%`.
        offset: usize,
    },
    /// A qualifier without `=`, with an empty key or an empty value, or an empty `&&` pair.
    #[error("invalid package URL: qualifier {pair:?} has no key or no value")]
    EmptyQualifier {
        /// The `key=value` text as written.
        pair: String,
    },
    /// A qualifier key given twice (keys compare case-insensitively).
    #[error("invalid package URL: qualifier {key:?} is given twice")]
    RepeatedQualifier {
        /// The key, lower-cased.
        key: String,
    },
    /// The purl specification's grammar or its type rules refuse it (the reason in words).
    #[error("invalid package URL: {reason}")]
    Syntax {
        /// What is wrong, as the purl parser says it.
        reason: String,
    },
}

impl PurlError {
    /// A stable code for reports and logs.
    pub fn code(&self) -> &'static str {
        match self {
            PurlError::TooLong { .. } => "purl-too-long",
            PurlError::PercentEscape { .. } => "purl-percent-escape",
            PurlError::EmptyQualifier { .. } => "purl-empty-qualifier",
            PurlError::RepeatedQualifier { .. } => "purl-repeated-qualifier",
            PurlError::Syntax { .. } => "purl-syntax",
        }
    }
}

/// Every `%` starts an escape of exactly two hex digits (RFC 3986 §2.1, which the purl
/// specification's percent-encoding refers to); `u8::from_str_radix` alone would take `+5`.
fn check_percent_escapes(s: &str) -> Result<(), PurlError> {
    let bytes = s.as_bytes();
    for (offset, _) in s.match_indices('%') {
        let escape = bytes.get(offset + 1..offset + 3);
        if !escape.is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)) {
            return Err(PurlError::PercentEscape { offset });
        }
    }
    Ok(())
}

/// The qualifier section (between the last `?` and the subpath's `#`, as the purl parser splits
/// it): every pair has a key and a value, and no key comes twice.
fn check_qualifiers(s: &str) -> Result<(), PurlError> {
    let before_subpath = s.rsplit_once('#').map_or(s, |(q, _)| q);
    let Some((_, qualifiers)) = before_subpath.rsplit_once('?') else {
        return Ok(());
    };
    let mut seen = BTreeSet::new();
    for pair in qualifiers.split('&') {
        let empty = || PurlError::EmptyQualifier {
            pair: pair.to_owned(),
        };
        let (key, value) = pair.split_once('=').ok_or_else(empty)?;
        if key.is_empty() || value.is_empty() {
            return Err(empty());
        }
        let key = key.to_ascii_lowercase();
        if !seen.insert(key.clone()) {
            return Err(PurlError::RepeatedQualifier { key });
        }
    }
    Ok(())
}

/// Whether the (namespace, name) of a type are not case sensitive per the purl specification's
/// type definitions (`case_sensitive: false`), and so folded to lowercase: `pkg:deb/Ubuntu/x` is
/// `pkg:deb/ubuntu/x`, never a Debian package. Applied on top of the `packageurl` crate's own
/// table, which lags the definitions for `npm`, `golang` and `apk`. `rpm` names are case
/// sensitive; PyPI names are normalized further by [`PackageUrl::osv_name`].
fn case_insensitive_parts(ty: &str) -> (bool, bool) {
    match ty {
        "alpm" | "apk" | "bitbucket" | "composer" | "deb" | "github" | "golang" | "hex"
        | "luarocks" | "npm" => (true, true),
        "qpkg" | "rpm" => (true, false),
        "oci" => (false, true),
        _ => (false, false),
    }
}

impl PackageUrl {
    /// Parses a purl string (bounded by [`MAX_PURL_LEN`]); the type rules of the purl
    /// specification apply (case folding, namespaces required or prohibited by the type).
    pub fn parse(s: &str) -> Result<PackageUrl, PurlError> {
        if s.len() > MAX_PURL_LEN {
            return Err(PurlError::TooLong { len: s.len() });
        }
        check_percent_escapes(s)?;
        check_qualifiers(s)?;
        let parsed = packageurl::PackageUrl::from_str(s).map_err(|e| PurlError::Syntax {
            reason: e.to_string(),
        })?;
        let mut qualifiers: Vec<(String, String)> = parsed
            .qualifiers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        qualifiers.sort();
        let ty = parsed.ty().to_owned();
        // `packageurl` drops `.` and `..` segments; nothing left is no namespace.
        let mut namespace = parsed
            .namespace()
            .filter(|ns| !ns.is_empty())
            .map(str::to_owned);
        let mut name = parsed.name().to_owned();
        let (fold_namespace, fold_name) = case_insensitive_parts(&ty);
        if fold_namespace && let Some(ns) = namespace.as_mut() {
            *ns = ns.to_lowercase();
        }
        if fold_name {
            name = name.to_lowercase();
        }
        Ok(PackageUrl {
            ty,
            namespace,
            name,
            version: parsed.version().map(str::to_owned),
            qualifiers,
        })
    }

    /// The OSV ecosystem of this package, if the purl type maps to one.
    pub fn osv_ecosystem(&self) -> Option<&'static str> {
        Some(match self.ty.as_str() {
            "cargo" => "crates.io",
            "npm" => "npm",
            "pypi" => "PyPI",
            "golang" => "Go",
            "maven" => "Maven",
            "nuget" => "NuGet",
            "gem" => "RubyGems",
            "composer" => "Packagist",
            "hex" => "Hex",
            "pub" => "Pub",
            "swift" => "SwiftURL",
            "cran" => "CRAN",
            "hackage" => "Hackage",
            "conan" => "ConanCenter",
            "deb" => match self.namespace.as_deref() {
                Some("ubuntu") => "Ubuntu",
                _ => "Debian",
            },
            "apk" => match self.namespace.as_deref() {
                Some("wolfi") => "Wolfi",
                Some("chainguard") => "Chainguard",
                _ => "Alpine",
            },
            _ => return None,
        })
    }

    /// The value of qualifier `key` (keys are lower-cased), if present.
    pub fn qualifier(&self, key: &str) -> Option<&str> {
        self.qualifiers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Which releases' advisories apply, from the `distro` qualifier (module [`crate::distro`]);
    /// `None` when the purl type maps to no OSV ecosystem.
    pub fn release_scope(&self) -> Option<ReleaseScope> {
        let base = self.osv_ecosystem()?;
        Some(ReleaseScope::of(base, self.qualifier("distro")))
    }

    /// The package name as the OSV ecosystem spells it (`group:artifact` for Maven,
    /// `@scope/name` for npm, `namespace/name` for Go and Packagist, PyPI names normalized per
    /// PEP 503).
    pub fn osv_name(&self) -> String {
        match (self.ty.as_str(), self.namespace.as_deref()) {
            ("maven", Some(ns)) => format!("{ns}:{}", self.name),
            ("npm" | "golang" | "composer" | "swift", Some(ns)) => format!("{ns}/{}", self.name),
            ("pypi", _) => self.name.to_ascii_lowercase().replace(['_', '.'], "-"),
            _ => self.name.clone(),
        }
    }
}

impl fmt::Display for PackageUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pkg:{}/", self.ty)?;
        if let Some(ns) = &self.namespace {
            write!(f, "{ns}/")?;
        }
        f.write_str(&self.name)?;
        if let Some(v) = &self.version {
            write!(f, "@{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_components() {
        let p = PackageUrl::parse("pkg:npm/%40angular/core@1.2.3?arch=x86#sub").unwrap();
        assert_eq!(p.ty, "npm");
        assert_eq!(p.namespace.as_deref(), Some("@angular"));
        assert_eq!(p.name, "core");
        assert_eq!(p.version.as_deref(), Some("1.2.3"));
        assert_eq!(p.qualifiers, vec![("arch".into(), "x86".into())]);
        assert_eq!(p.osv_name(), "@angular/core");
        assert_eq!(p.osv_ecosystem(), Some("npm"));
    }

    #[test]
    fn maps_distros_and_rejects_garbage() {
        let p = PackageUrl::parse("pkg:deb/ubuntu/openssl@3.0.2-0ubuntu1").unwrap();
        assert_eq!(p.osv_ecosystem(), Some("Ubuntu"));
        let p = PackageUrl::parse(
            "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12",
        )
        .unwrap();
        assert_eq!(
            p.release_scope(),
            Some(ReleaseScope::Release("Debian:12".into()))
        );
        let p = PackageUrl::parse("pkg:apk/alpine/busybox@1.36.1-r5?distro=3.18.4").unwrap();
        assert_eq!(
            p.release_scope(),
            Some(ReleaseScope::Release("Alpine:v3.18".into()))
        );
        let p = PackageUrl::parse("pkg:deb/Ubuntu/OpenSSL@3.0.2-0ubuntu1").unwrap();
        assert_eq!(p.namespace.as_deref(), Some("ubuntu"));
        assert_eq!(p.name, "openssl");
        assert_eq!(p.osv_ecosystem(), Some("Ubuntu"));
        let p = PackageUrl::parse("pkg:apk/Wolfi/busybox@1.36.1-r0").unwrap();
        assert_eq!(p.osv_ecosystem(), Some("Wolfi"));
        let p = PackageUrl::parse("pkg:rpm/Fedora/NetworkManager@1.0").unwrap();
        assert_eq!(p.namespace.as_deref(), Some("fedora"));
        assert_eq!(p.name, "NetworkManager");
        let p = PackageUrl::parse("pkg:maven/org.Example/Lib@1.0").unwrap();
        assert_eq!(p.namespace.as_deref(), Some("org.Example"));
        assert_eq!(p.name, "Lib");
        assert!(PackageUrl::parse("cargo/serde").is_err());
        assert_eq!(
            PackageUrl::parse("pkg:cargo/%zz"),
            Err(PurlError::PercentEscape { offset: 10 })
        );
        assert!(PackageUrl::parse("pkg:cargo").is_err());
        assert!(PackageUrl::parse("pkg:cargo/%zz").is_err());
        assert_eq!(
            PackageUrl::parse("pkg:generic/x@1")
                .unwrap()
                .osv_ecosystem(),
            None
        );
    }

    #[test]
    fn refuses_what_two_readers_could_read_differently() {
        // `%+5`: from_str_radix takes a sign, a percent-decoder must not.
        assert_eq!(
            PackageUrl::parse("pkg:cargo/a%+5b@1.0"),
            Err(PurlError::PercentEscape { offset: 11 })
        );
        assert_eq!(
            PackageUrl::parse("pkg:cargo/ab@1.0%4"),
            Err(PurlError::PercentEscape { offset: 16 })
        );
        assert_eq!(
            PackageUrl::parse("pkg:deb/debian/curl@7.88?arch=&distro=debian-12"),
            Err(PurlError::EmptyQualifier {
                pair: "arch=".into()
            })
        );
        assert_eq!(
            PackageUrl::parse("pkg:deb/debian/curl@7.88?arch=amd64&&distro=debian-12"),
            Err(PurlError::EmptyQualifier { pair: "".into() })
        );
        assert_eq!(
            PackageUrl::parse("pkg:deb/debian/curl@7.88?distro=debian-12&DISTRO=debian-11"),
            Err(PurlError::RepeatedQualifier {
                key: "distro".into()
            })
        );
        // The type table: cargo has no namespaces, swift requires one.
        assert_eq!(
            PackageUrl::parse("pkg:cargo/evil/serde@1.0").map_err(|e| e.code()),
            Err("purl-syntax")
        );
        assert!(PackageUrl::parse("pkg:swift/Alamofire@5.0").is_err());
        let long = format!("pkg:cargo/{}", "a".repeat(MAX_PURL_LEN));
        assert_eq!(
            PackageUrl::parse(&long),
            Err(PurlError::TooLong { len: long.len() })
        );
    }

    #[test]
    fn case_rules_follow_the_type_table() {
        let p = PackageUrl::parse("pkg:npm/%40Angular/Core@1.2.3").unwrap();
        assert_eq!(p.namespace.as_deref(), Some("@angular"));
        assert_eq!(p.name, "core");
        let p = PackageUrl::parse("pkg:golang/github.com/BurntSushi/TOML@v1.3.2").unwrap();
        assert_eq!(p.namespace.as_deref(), Some("github.com/burntsushi"));
        assert_eq!(p.name, "toml");
        assert_eq!(p.osv_name(), "github.com/burntsushi/toml");
        let p = PackageUrl::parse("pkg:apk/Alpine/BusyBox@1.36.1-r5").unwrap();
        assert_eq!(p.namespace.as_deref(), Some("alpine"));
        assert_eq!(p.name, "busybox");
        let p = PackageUrl::parse("pkg:rpm/Fedora/NetworkManager@1.0").unwrap();
        assert_eq!(p.name, "NetworkManager");
        let p = PackageUrl::parse("pkg:deb/debian/curl@7.88?Distro=debian-12&arch=amd64").unwrap();
        assert_eq!(
            p.qualifiers,
            vec![
                ("arch".into(), "amd64".into()),
                ("distro".into(), "debian-12".into())
            ]
        );
    }

    #[test]
    fn error_is_a_std_error_with_words() {
        let e: Box<dyn std::error::Error> = Box::new(PackageUrl::parse("pkg:").unwrap_err());
        assert_eq!(e.to_string(), "invalid package URL: missing type");
    }
}
