//! PyPI version ordering: PEP 440 §"Summary of permitted suffixes and relative ordering"
//! (epoch, release padded with zeros, `.devN` < `aN` < `bN` < `rcN` < release < `.postN`, and a
//! local version `+label` after its public version), as osv-scanner uses for OSV `PyPI`
//! `ECOSYSTEM` ranges. Parsing and ordering are the `pep440_rs` crate's (the one uv uses).

use core::cmp::Ordering;
use core::str::FromStr;

use pep440_rs::Version;

use super::VersionError;

/// Parses `version` as a PEP 440 version (normalizing spellings such as `1.0-post1`, `v1.0`).
pub(crate) fn parse_pep440(version: &str) -> Result<Version, VersionError> {
    Version::from_str(version).map_err(|e| VersionError::Invalid {
        scheme: "PEP 440",
        version: version.to_owned(),
        reason: e.to_string(),
    })
}

/// Compares two PyPI versions under PEP 440. Strings that are not PEP 440 versions still sort
/// deterministically (below every valid version, bytewise among themselves) so that this is a
/// total order over all strings; range evaluation never relies on that, it refuses them
/// ([`super::VersionScheme::check`]).
pub fn compare_pep440(a: &str, b: &str) -> Ordering {
    match (Version::from_str(a), Version::from_str(b)) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Err(_), Ok(_)) => Ordering::Less,
        (Ok(_), Err(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}
