//! Advisories in the OSV format (OSV schema 1.6: `id`, `aliases`, `withdrawn`, `severity`,
//! `affected[].package`, `ranges[].events`, `versions`), an index by (ecosystem, package name),
//! and a deterministic digest of the database snapshot.

mod database;
mod osv;
mod range;

pub use database::{AdvisoryDatabase, SnapshotFile, load_advisory_dir, snapshot_digest};
pub use osv::parse_osv;
pub use range::{AffectedRange, CommitStatus, RangeEvent, RangeKind};

use crate::severity::Severity;

/// One affected package of an advisory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AffectedPackage {
    /// OSV ecosystem (`crates.io`, `Debian:12`, ...).
    pub ecosystem: String,
    /// Package name as the ecosystem spells it.
    pub name: String,
    /// The package's purl (without version), when the advisory gives one.
    pub purl: Option<String>,
    /// Version ranges.
    pub ranges: Vec<AffectedRange>,
    /// Explicitly listed affected versions.
    pub versions: Vec<String>,
    /// CPE 2.3 names of the product (`database_specific.cpes`), for components without purl.
    pub cpes: Vec<String>,
    /// RustSec `database_specific.informational` (`unmaintained`, `unsound`, `notice`).
    pub informational: Option<String>,
}

/// One advisory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advisory {
    /// OSV id.
    pub id: String,
    /// Other ids of the same vulnerability (CVE, GHSA, ...).
    pub aliases: Vec<String>,
    /// One-line summary.
    pub summary: Option<String>,
    /// Set when the advisory was withdrawn: the gate ignores it.
    pub withdrawn: bool,
    /// Highest CVSS v3/v4 base score over the advisory and its affected entries.
    pub severity: Severity,
    /// Affected packages.
    pub affected: Vec<AffectedPackage>,
}
