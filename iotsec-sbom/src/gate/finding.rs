//! What the gate found, one record per (component, vulnerability) with aliases merged, and what
//! it set aside.

use crate::policy::Decision;
use crate::severity::Severity;
use crate::vex::VexStatement;

/// The class of a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FindingKind {
    /// A vulnerability advisory matches the component.
    Vulnerability,
    /// An informational advisory (RustSec `unmaintained`, `unsound`, `notice`).
    Informational,
    /// The component cannot be matched (no purl and no CPE, bad purl, no version, an ecosystem
    /// the advisory database does not cover, or a `distro` qualifier naming no known release).
    Unidentified,
    /// An advisory names the component's repository, but whether its commit or tag is affected
    /// cannot be decided (a commit between `GIT` range events, without the commit graph); the
    /// policy's `unidentified` decides.
    Undetermined,
    /// The component's license violates the policy, or is unknown.
    License,
    /// A hash the policy requires is missing.
    MissingHash,
    /// The SBOM does not name the firmware image being released.
    FirmwareDigest,
}

impl FindingKind {
    /// Lower-case name used in the outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Vulnerability => "vulnerability",
            FindingKind::Informational => "informational",
            FindingKind::Unidentified => "unidentified-component",
            FindingKind::Undetermined => "undetermined",
            FindingKind::License => "license",
            FindingKind::MissingHash => "missing-hash",
            FindingKind::FirmwareDigest => "firmware-digest",
        }
    }
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Advisory id (vulnerabilities), or a rule name (`license`, `missing-hash:SHA-256`, ...).
    pub id: String,
    /// Other ids of the same vulnerability, sorted.
    pub aliases: Vec<String>,
    /// Class.
    pub kind: FindingKind,
    /// The component: purl, else CPE, else name.
    pub component: String,
    /// The component's version.
    pub version: Option<String>,
    /// Severity (vulnerability and informational findings).
    pub severity: Option<Severity>,
    /// VEX-style status (`affected`, `under_investigation`, ...).
    pub status: &'static str,
    /// The policy's decision for this finding.
    pub decision: Decision,
    /// One sentence: why this decision.
    pub explanation: String,
    /// The advisory summary, if any.
    pub summary: Option<String>,
}

/// Why a finding does not count.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Suppression {
    /// A VEX statement (status `not_affected` or `fixed`).
    Vex(VexStatement),
    /// A policy ignore entry.
    PolicyIgnore {
        /// The entry's reason.
        reason: String,
        /// The entry's expiry.
        expires: String,
    },
}

/// A finding set aside, with what set it aside.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SuppressedFinding {
    /// The finding (decision `pass`).
    pub finding: Finding,
    /// The statement or entry that suppressed it.
    pub by: Suppression,
}

/// A VEX statement or ignore entry that did nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaleEntry {
    /// `VEX <source>#<index>` or `policy ignore[<n>]`.
    pub origin: String,
    /// The vulnerability it names.
    pub vulnerability: String,
    /// Why it is stale.
    pub reason: &'static str,
}
