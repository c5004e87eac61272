//! Package URLs (purl specification, "A purl is a URL composed of seven components"):
//! `pkg:type/namespace/name@version?qualifiers#subpath`, and the mapping of purl types to OSV
//! ecosystems (OSV schema "Defined ecosystems").

use core::fmt;

use crate::distro::ReleaseScope;

/// A parsed package URL; components are percent-decoded, `type` is lower-cased, and so are the
/// namespace and name where the type's definition (purl-spec PURL-TYPES) says they are not case
/// sensitive.
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
    /// Qualifiers (`arch=...`, `distro=...`) in document order.
    pub qualifiers: Vec<(String, String)>,
}

/// Why a string is not a package URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PurlError(pub &'static str);

impl fmt::Display for PurlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid package URL: {}", self.0)
    }
}

fn percent_decode(s: &str) -> Result<String, PurlError> {
    if !s.contains('%') {
        return Ok(s.to_owned());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .ok_or(PurlError("truncated %-escape"))?;
            let hex = core::str::from_utf8(hex).map_err(|_| PurlError("bad %-escape"))?;
            let v = u8::from_str_radix(hex, 16).map_err(|_| PurlError("bad %-escape"))?;
            out.push(v);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| PurlError("%-escape is not UTF-8"))
}

/// Types whose namespace the purl specification (PURL-TYPES) calls "not case sensitive" and
/// normalizes to lowercase: `pkg:deb/Ubuntu/x` is `pkg:deb/ubuntu/x`, never a Debian package.
fn namespace_case_insensitive(ty: &str) -> bool {
    matches!(
        ty,
        "alpm"
            | "apk"
            | "bitbucket"
            | "composer"
            | "deb"
            | "github"
            | "hex"
            | "luarocks"
            | "qpkg"
            | "rpm"
    )
}

/// Types whose name PURL-TYPES calls "not case sensitive" and normalizes to lowercase (`rpm`
/// names are case sensitive; PyPI names are normalized by [`PackageUrl::osv_name`]).
fn name_case_insensitive(ty: &str) -> bool {
    matches!(
        ty,
        "alpm" | "apk" | "bitbucket" | "composer" | "deb" | "github" | "hex" | "luarocks" | "oci"
    )
}

impl PackageUrl {
    /// Parses a purl string; the namespace and name of types the purl specification calls case
    /// insensitive (`deb`, `apk`, `rpm` namespaces, ...) are lower-cased.
    pub fn parse(s: &str) -> Result<PackageUrl, PurlError> {
        let rest = s
            .strip_prefix("pkg:")
            .ok_or(PurlError("scheme is not pkg:"))?;
        let rest = rest.trim_start_matches('/');
        let rest = rest.split_once('#').map_or(rest, |(r, _subpath)| r);
        let (rest, qualifiers) = match rest.split_once('?') {
            Some((r, q)) => (r, q),
            None => (rest, ""),
        };
        let (ty, path) = rest.split_once('/').ok_or(PurlError("missing name"))?;
        if ty.is_empty()
            || !ty
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'-'))
        {
            return Err(PurlError("bad type"));
        }
        let path = path.trim_end_matches('/');
        let (path, version) = match path.rsplit_once('@') {
            Some((p, v)) if !v.contains('/') => (p, Some(percent_decode(v)?)),
            _ => (path, None),
        };
        let (namespace, name) = match path.rsplit_once('/') {
            Some((ns, n)) => (Some(ns), n),
            None => (None, path),
        };
        if name.is_empty() {
            return Err(PurlError("empty name"));
        }
        let namespace = match namespace {
            Some(ns) => {
                let parts: Result<Vec<String>, PurlError> = ns
                    .split('/')
                    .filter(|p| !p.is_empty())
                    .map(percent_decode)
                    .collect();
                Some(parts?.join("/"))
            }
            None => None,
        };
        let mut quals = Vec::new();
        for pair in qualifiers.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair
                .split_once('=')
                .ok_or(PurlError("qualifier without '='"))?;
            quals.push((k.to_ascii_lowercase(), percent_decode(v)?));
        }
        let ty = ty.to_ascii_lowercase();
        let mut name = percent_decode(name)?;
        let mut namespace = namespace;
        if namespace_case_insensitive(&ty)
            && let Some(ns) = namespace.as_mut()
        {
            ns.make_ascii_lowercase();
        }
        if name_case_insensitive(&ty) {
            name.make_ascii_lowercase();
        }
        Ok(PackageUrl {
            ty,
            namespace,
            name,
            version,
            qualifiers: quals,
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
        assert!(PackageUrl::parse("pkg:cargo").is_err());
        assert!(PackageUrl::parse("pkg:cargo/%zz").is_err());
        assert_eq!(
            PackageUrl::parse("pkg:generic/x@1")
                .unwrap()
                .osv_ecosystem(),
            None
        );
    }
}
