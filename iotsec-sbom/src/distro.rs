//! Linux distribution releases: which OSV ecosystem release a `deb`/`apk` purl's `distro`
//! qualifier names, and which release an advisory's ecosystem names.
//!
//! OSV schema "Defined ecosystems": `Debian:<release>` (`Debian:12`), `Alpine:v<major>.<minor>`
//! (`Alpine:v3.18`), `Ubuntu:<release>` with variants (`Ubuntu:22.04:LTS`,
//! `Ubuntu:Pro:18.04:LTS`). purl-spec types `deb` and `apk`: the release is in the `distro`
//! qualifier, spelled by producers as `debian-12`, `debian-12.4`, `bookworm`, `alpine-3.18.4`,
//! `3.18.4`, `ubuntu-22.04`, `jammy`. An advisory for one release says nothing about another
//! (fixed versions differ per release), so a component with a release is matched only against
//! advisories of that release. Both sides are reduced to one canonical name (`Debian:12`,
//! `Alpine:v3.18`, `Ubuntu:22.04`) by the same function.

/// Debian codenames and their release numbers (`/etc/os-release` `VERSION_CODENAME`).
const DEBIAN_CODENAMES: &[(&str, &str)] = &[
    ("jessie", "8"),
    ("stretch", "9"),
    ("buster", "10"),
    ("bullseye", "11"),
    ("bookworm", "12"),
    ("trixie", "13"),
    ("forky", "14"),
];

/// Ubuntu codenames and their release numbers.
const UBUNTU_CODENAMES: &[(&str, &str)] = &[
    ("trusty", "14.04"),
    ("xenial", "16.04"),
    ("bionic", "18.04"),
    ("focal", "20.04"),
    ("jammy", "22.04"),
    ("kinetic", "22.10"),
    ("lunar", "23.04"),
    ("mantic", "23.10"),
    ("noble", "24.04"),
    ("oracular", "24.10"),
    ("plucky", "25.04"),
];

/// Which advisories of a distribution apply to a component, as its purl says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReleaseScope {
    /// The ecosystem has no releases (`crates.io`, `Wolfi`, ...): every advisory of it applies.
    Unversioned,
    /// Only advisories of this release (canonical name, `Debian:12`) and release-less
    /// advisories of the distribution apply.
    Release(String),
    /// The purl has no `distro` qualifier: advisories of every release apply (conservative).
    AllReleases,
    /// The `distro` qualifier names no release this crate can map; nothing can be decided.
    Unmappable(String),
}

impl ReleaseScope {
    /// The scope of a component of OSV ecosystem `base` (`Debian`, `Alpine`, `Ubuntu`, ...)
    /// whose purl carries the `distro` qualifier `distro`.
    pub fn of(base: &str, distro: Option<&str>) -> ReleaseScope {
        if !has_releases(base) {
            return ReleaseScope::Unversioned;
        }
        match distro {
            None => ReleaseScope::AllReleases,
            Some(q) => match canonical_release(base, q) {
                Some(r) => ReleaseScope::Release(r),
                None => ReleaseScope::Unmappable(q.to_owned()),
            },
        }
    }

    /// Whether an advisory for OSV ecosystem `advisory_ecosystem` applies in this scope. An
    /// advisory without a release (`Debian`) applies to every release.
    pub fn admits(&self, advisory_ecosystem: &str) -> bool {
        match self {
            ReleaseScope::Unversioned | ReleaseScope::AllReleases => true,
            ReleaseScope::Release(r) => {
                !advisory_ecosystem.contains(':')
                    || advisory_release(advisory_ecosystem).as_deref() == Some(r.as_str())
            }
            ReleaseScope::Unmappable(_) => false,
        }
    }
}

/// Whether OSV ecosystem `base` is split into releases (`Debian`, `Alpine`, `Ubuntu`).
pub fn has_releases(base: &str) -> bool {
    matches!(base, "Debian" | "Alpine" | "Ubuntu")
}

/// The canonical release an advisory's ecosystem names (`Ubuntu:Pro:22.04:LTS` ->
/// `Ubuntu:22.04`), or `None` when it names none (no suffix, an ecosystem without releases, or a
/// suffix this crate cannot read).
pub fn advisory_release(ecosystem: &str) -> Option<String> {
    let (base, suffix) = ecosystem.split_once(':')?;
    if !has_releases(base) {
        return None;
    }
    if base == "Ubuntu" {
        // Variants (`LTS`, `Pro`, `FIPS`, ...) wrap the release number; the number decides.
        return suffix
            .split(':')
            .find_map(|part| canonical_release(base, part));
    }
    canonical_release(base, suffix)
}

/// The canonical release (`Debian:12`, `Alpine:v3.18`, `Ubuntu:22.04`) that `text` names for
/// the distribution `base`: a purl `distro` qualifier (`debian-12.4`, `bookworm`,
/// `alpine-3.18.4`, `3.18.4`, `ubuntu-22.04`, `jammy`) or an OSV release suffix (`12`, `v3.18`,
/// `22.04`). `None` for anything else, including another distribution's name.
pub fn canonical_release(base: &str, text: &str) -> Option<String> {
    let lower = text.trim().to_ascii_lowercase();
    match base {
        "Debian" => {
            let t = lower.strip_prefix("debian-").unwrap_or(&lower);
            if let Some(n) = codename(DEBIAN_CODENAMES, t) {
                return Some(format!("Debian:{n}"));
            }
            let parts = numeric_parts(t)?;
            match parts.as_slice() {
                // Releases from 7 on are numbered by their major version alone (12.4 is a
                // point release of 12); earlier ones were `3.1`, `6.0`.
                [major, ..] if *major >= 7 => Some(format!("Debian:{major}")),
                [major, minor, ..] => Some(format!("Debian:{major}.{minor}")),
                _ => None,
            }
        }
        "Alpine" => {
            let t = lower.strip_prefix("alpine-").unwrap_or(&lower);
            let t = t.strip_prefix('v').unwrap_or(t);
            match numeric_parts(t)?.as_slice() {
                [major, minor, ..] => Some(format!("Alpine:v{major}.{minor}")),
                _ => None,
            }
        }
        "Ubuntu" => {
            let t = lower.strip_prefix("ubuntu-").unwrap_or(&lower);
            if let Some(n) = codename(UBUNTU_CODENAMES, t) {
                return Some(format!("Ubuntu:{n}"));
            }
            match numeric_parts(t)?.as_slice() {
                [major, minor, ..] => Some(format!("Ubuntu:{major}.{minor:02}")),
                _ => None,
            }
        }
        _ => None,
    }
}

fn codename<'a>(table: &[(&str, &'a str)], name: &str) -> Option<&'a str> {
    table.iter().find(|(c, _)| *c == name).map(|(_, n)| *n)
}

/// `12`, `12.4`, `3.18.4` as numbers; `None` unless every dot-separated part is 1-6 digits.
fn numeric_parts(t: &str) -> Option<Vec<u32>> {
    t.split('.')
        .map(|p| {
            if p.is_empty() || p.len() > 6 || !p.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                p.parse().ok()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualifier_spellings_map_to_one_release() {
        for q in [
            "debian-12",
            "debian-12.4",
            "bookworm",
            "12",
            "Debian-Bookworm",
        ] {
            assert_eq!(
                canonical_release("Debian", q).as_deref(),
                Some("Debian:12"),
                "{q}"
            );
        }
        for q in ["alpine-3.18.4", "3.18.4", "alpine-3.18", "v3.18"] {
            assert_eq!(
                canonical_release("Alpine", q).as_deref(),
                Some("Alpine:v3.18"),
                "{q}"
            );
        }
        for q in ["ubuntu-22.04", "22.04", "jammy", "22.4"] {
            assert_eq!(
                canonical_release("Ubuntu", q).as_deref(),
                Some("Ubuntu:22.04"),
                "{q}"
            );
        }
        assert_eq!(
            canonical_release("Debian", "6.0.10").as_deref(),
            Some("Debian:6.0")
        );
        for (base, q) in [
            ("Debian", "ubuntu-22.04"),
            ("Debian", "sid"),
            ("Debian", ""),
            ("Alpine", "edge"),
            ("Alpine", "3"),
            ("Ubuntu", "bookworm"),
            ("Debian", "12.x"),
            ("crates.io", "12"),
        ] {
            assert_eq!(canonical_release(base, q), None, "{base} {q}");
        }
    }

    #[test]
    fn advisory_ecosystems_and_variants() {
        assert_eq!(advisory_release("Debian:11").as_deref(), Some("Debian:11"));
        assert_eq!(
            advisory_release("Alpine:v3.17").as_deref(),
            Some("Alpine:v3.17")
        );
        assert_eq!(
            advisory_release("Ubuntu:22.04:LTS").as_deref(),
            Some("Ubuntu:22.04")
        );
        assert_eq!(
            advisory_release("Ubuntu:Pro:18.04:LTS").as_deref(),
            Some("Ubuntu:18.04")
        );
        assert_eq!(advisory_release("Debian"), None);
        assert_eq!(advisory_release("crates.io"), None);
        let s = ReleaseScope::of("Ubuntu", Some("ubuntu-22.04"));
        assert!(s.admits("Ubuntu:22.04:LTS"));
        assert!(s.admits("Ubuntu:Pro:22.04:LTS"));
        assert!(s.admits("Ubuntu"));
        assert!(!s.admits("Ubuntu:20.04:LTS"));
        assert_eq!(
            ReleaseScope::of("Wolfi", Some("x")),
            ReleaseScope::Unversioned
        );
        assert_eq!(ReleaseScope::of("Debian", None), ReleaseScope::AllReleases);
        assert!(!ReleaseScope::Unmappable("x".into()).admits("Debian:12"));
    }
}
