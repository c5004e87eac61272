//! Why a version cannot be placed in an OSV range: the version is not one of its ecosystem's
//! versions, or this crate has no faithful ordering for the ecosystem. Either way the gate fails
//! closed (an `unidentified-component` or `undetermined` finding) instead of guessing an order.

use thiserror::Error;

/// A version that cannot be ordered under its ecosystem's rules.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum VersionError {
    /// The string is not a version of the scheme (e.g. `1.0-foo-bar` under PEP 440).
    #[error("{version:?} is not a {scheme} version ({reason})")]
    Invalid {
        /// The scheme's name.
        scheme: &'static str,
        /// The version as written.
        version: String,
        /// The parser's reason.
        reason: String,
    },
    /// The ecosystem's ordering is not implemented, so no version of it can be placed.
    #[error("the {ecosystem} version ordering is not implemented")]
    NoOrdering {
        /// The OSV ecosystem.
        ecosystem: &'static str,
    },
}

impl VersionError {
    /// A stable snake_case code for the error, for logs and machine-readable output; codes never
    /// change and differ from every other error code of the crate.
    pub fn code(&self) -> &'static str {
        match self {
            VersionError::Invalid { .. } => "version_invalid",
            VersionError::NoOrdering { .. } => "version_no_ordering",
        }
    }

    /// Never: a version that cannot be read or ordered is bad input.
    pub fn is_refusal(&self) -> bool {
        false
    }
}
