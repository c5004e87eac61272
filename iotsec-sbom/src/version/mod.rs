//! Version ordering per ecosystem, as OSV range evaluation needs it (OSV schema §"Evaluation").
//!
//! Each scheme's [`VersionScheme::compare`] is a total order over *all* strings (never a panic,
//! never an error): versions that a scheme calls invalid still sort deterministically, the way the
//! reference comparators of the OSV ecosystem (osv-scanner/osv-scalibr `semantic`) do, so that the
//! shared test vectors in `../shared/data/version-ordering` pass unchanged. Where such a fallback
//! order would decide a range wrongly (a string that is no PEP 440 version, any Maven version),
//! [`VersionScheme::check`] says so and range evaluation fails closed.

mod apk;
mod dpkg;
mod error;
mod generic;
mod pep440;
mod semver_like;

use core::cmp::Ordering;

pub use apk::compare_apk;
pub use dpkg::compare_dpkg;
pub use error::VersionError;
pub use generic::compare_generic;
pub use pep440::compare_pep440;
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
    /// PEP 440 (PyPI): epoch, release, pre/post/dev releases, local versions.
    Pep440,
    /// Maven `ComparableVersion`: not implemented. [`VersionScheme::compare`] falls back to the
    /// generic ordering (only so that events sort deterministically); [`VersionScheme::check`]
    /// refuses every version, so Maven `ECOSYSTEM` ranges are never decided by it.
    Maven,
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
            "PyPI" => VersionScheme::Pep440,
            "Maven" => VersionScheme::Maven,
            _ => VersionScheme::Generic,
        }
    }

    /// Compares two version strings under this scheme.
    pub fn compare(self, a: &str, b: &str) -> Ordering {
        match self {
            VersionScheme::Semver => compare_semver(a, b),
            VersionScheme::Debian => compare_dpkg(a, b),
            VersionScheme::Alpine => compare_apk(a, b),
            VersionScheme::Pep440 => compare_pep440(a, b),
            VersionScheme::Maven | VersionScheme::Generic => compare_generic(a, b),
        }
    }

    /// Whether `version` can be placed in a range under this scheme: `Err` for a string that is
    /// not a PEP 440 version under [`VersionScheme::Pep440`] and for every version under
    /// [`VersionScheme::Maven`]; the other schemes order every string as their reference does.
    pub fn check(self, version: &str) -> Result<(), VersionError> {
        match self {
            VersionScheme::Pep440 => pep440::parse_pep440(version).map(drop),
            VersionScheme::Maven => Err(VersionError::NoOrdering { ecosystem: "Maven" }),
            VersionScheme::Semver
            | VersionScheme::Debian
            | VersionScheme::Alpine
            | VersionScheme::Generic => Ok(()),
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
