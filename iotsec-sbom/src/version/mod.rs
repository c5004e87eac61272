//! Version ordering per ecosystem, as OSV range evaluation needs it (OSV schema §"Evaluation").
//!
//! Each scheme is a total order over *all* strings (never a panic, never an error): versions that a
//! scheme calls invalid still sort deterministically, the way the reference comparators of the
//! OSV ecosystem (osv-scanner/osv-scalibr `semantic`) do, so that the shared test vectors in
//! `../shared/data/version-ordering` pass unchanged.

mod apk;
mod dpkg;
mod generic;
mod semver_like;

use core::cmp::Ordering;

pub use apk::compare_apk;
pub use dpkg::compare_dpkg;
pub use generic::compare_generic;
pub use semver_like::compare_semver;

/// Which ordering rules a version string follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VersionScheme {
    /// Semantic Versioning 2.0.0 §11, lenient like OSV `SEMVER` ranges (`v` prefix, any number of
    /// components, arbitrarily large numbers).
    Semver,
    /// Debian policy §5.6.12 (`dpkg --compare-versions`): epoch, upstream, revision, `~`.
    Debian,
    /// Alpine `apk version -t`: numbers, letter, `_suffix`es, `~hash`, `-rN`.
    Alpine,
    /// A natural ordering (digit runs numerically, text runs bytewise) for ecosystems without a
    /// dedicated comparator.
    Generic,
}

impl VersionScheme {
    /// The scheme an OSV ecosystem name (OSV schema "Defined ecosystems") uses for `ECOSYSTEM`
    /// ranges; the part after `:` (a release such as `Debian:12`) is ignored.
    pub fn for_ecosystem(ecosystem: &str) -> VersionScheme {
        let base = ecosystem.split(':').next().unwrap_or(ecosystem);
        match base {
            "crates.io" | "npm" | "Go" | "Hex" | "Pub" | "SwiftURL" | "Packagist" => {
                VersionScheme::Semver
            }
            "Debian" | "Ubuntu" => VersionScheme::Debian,
            "Alpine" | "Wolfi" | "Chainguard" => VersionScheme::Alpine,
            _ => VersionScheme::Generic,
        }
    }

    /// Compares two version strings under this scheme.
    pub fn compare(self, a: &str, b: &str) -> Ordering {
        match self {
            VersionScheme::Semver => compare_semver(a, b),
            VersionScheme::Debian => compare_dpkg(a, b),
            VersionScheme::Alpine => compare_apk(a, b),
            VersionScheme::Generic => compare_generic(a, b),
        }
    }
}

/// Compares two runs of ASCII digits as unbounded non-negative integers (no overflow, no
/// allocation): leading zeros are ignored, then the longer run is larger, then bytewise.
pub(crate) fn compare_digit_runs(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Splits `s` after its leading run of ASCII digits.
pub(crate) fn split_digits(s: &str) -> (&str, &str) {
    let end = s
        .bytes()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(s.len());
    s.split_at(end)
}
