//! The one VEX status model (CISA "Minimum Requirements for VEX" statuses) and justifications.

use super::scope::ProductRef;
use super::versions::{VersionEntry, covers};
use crate::error::GateError;
use crate::sbom::component::Component;

pub use super::status::VexStatus;

/// Why a product is not affected: the union of OpenVEX 0.2 and CycloneDX
/// (`impactAnalysisJustification`) justifications.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Justification {
    /// OpenVEX `component_not_present`.
    ComponentNotPresent,
    /// OpenVEX `vulnerable_code_not_present`, CycloneDX `code_not_present`.
    VulnerableCodeNotPresent,
    /// OpenVEX `vulnerable_code_not_in_execute_path`, CycloneDX `code_not_reachable`.
    VulnerableCodeNotInExecutePath,
    /// OpenVEX `vulnerable_code_cannot_be_controlled_by_adversary`.
    VulnerableCodeCannotBeControlledByAdversary,
    /// OpenVEX `inline_mitigations_already_exist`.
    InlineMitigationsAlreadyExist,
    /// CycloneDX `requires_configuration`.
    RequiresConfiguration,
    /// CycloneDX `requires_dependency`.
    RequiresDependency,
    /// CycloneDX `requires_environment`.
    RequiresEnvironment,
    /// CycloneDX `protected_by_compiler`.
    ProtectedByCompiler,
    /// CycloneDX `protected_at_runtime`.
    ProtectedAtRuntime,
    /// CycloneDX `protected_at_perimeter`.
    ProtectedAtPerimeter,
    /// CycloneDX `protected_by_mitigating_control`.
    ProtectedByMitigatingControl,
}

/// How one justification is spelled: our name (the OpenVEX name where OpenVEX has one), whether
/// OpenVEX documents may use it, whether CycloneDX documents may, and the CycloneDX name (read
/// when CycloneDX has it, and written in our VEX output as the nearest CycloneDX value).
struct Spelling {
    ours: &'static str,
    in_openvex: bool,
    in_cyclonedx: bool,
    cyclonedx: &'static str,
}

impl Justification {
    /// Every justification, in declaration order (what the readers look names up in).
    const ALL: [Justification; 12] = [
        Justification::ComponentNotPresent,
        Justification::VulnerableCodeNotPresent,
        Justification::VulnerableCodeNotInExecutePath,
        Justification::VulnerableCodeCannotBeControlledByAdversary,
        Justification::InlineMitigationsAlreadyExist,
        Justification::RequiresConfiguration,
        Justification::RequiresDependency,
        Justification::RequiresEnvironment,
        Justification::ProtectedByCompiler,
        Justification::ProtectedAtRuntime,
        Justification::ProtectedAtPerimeter,
        Justification::ProtectedByMitigatingControl,
    ];

    /// The one mapping table (the README's justification table, row by row).
    fn spelling(self) -> Spelling {
        use Justification as J;
        let (ours, in_openvex, in_cyclonedx, cyclonedx) = match self {
            J::ComponentNotPresent => ("component_not_present", true, false, "code_not_present"),
            J::VulnerableCodeNotPresent => (
                "vulnerable_code_not_present",
                true,
                true,
                "code_not_present",
            ),
            J::VulnerableCodeNotInExecutePath => (
                "vulnerable_code_not_in_execute_path",
                true,
                true,
                "code_not_reachable",
            ),
            J::VulnerableCodeCannotBeControlledByAdversary => (
                "vulnerable_code_cannot_be_controlled_by_adversary",
                true,
                false,
                "protected_by_mitigating_control",
            ),
            J::InlineMitigationsAlreadyExist => (
                "inline_mitigations_already_exist",
                true,
                false,
                "protected_by_mitigating_control",
            ),
            J::RequiresConfiguration => (
                "requires_configuration",
                false,
                true,
                "requires_configuration",
            ),
            J::RequiresDependency => ("requires_dependency", false, true, "requires_dependency"),
            J::RequiresEnvironment => ("requires_environment", false, true, "requires_environment"),
            J::ProtectedByCompiler => (
                "protected_by_compiler",
                false,
                true,
                "protected_by_compiler",
            ),
            J::ProtectedAtRuntime => ("protected_at_runtime", false, true, "protected_at_runtime"),
            J::ProtectedAtPerimeter => (
                "protected_at_perimeter",
                false,
                true,
                "protected_at_perimeter",
            ),
            J::ProtectedByMitigatingControl => (
                "protected_by_mitigating_control",
                false,
                true,
                "protected_by_mitigating_control",
            ),
        };
        Spelling {
            ours,
            in_openvex,
            in_cyclonedx,
            cyclonedx,
        }
    }

    /// From CycloneDX `analysis.justification`.
    pub fn from_cyclonedx(s: &str) -> Option<Justification> {
        Self::ALL.into_iter().find(|j| {
            let n = j.spelling();
            n.in_cyclonedx && n.cyclonedx == s
        })
    }

    /// From OpenVEX 0.2 `justification`.
    pub fn from_openvex(s: &str) -> Option<Justification> {
        Self::ALL.into_iter().find(|j| {
            let n = j.spelling();
            n.in_openvex && n.ours == s
        })
    }

    /// The CycloneDX justification written in our VEX output (nearest equivalent for the
    /// OpenVEX-only values, see the README table).
    pub fn to_cyclonedx(self) -> &'static str {
        self.spelling().cyclonedx
    }

    /// A stable snake_case name (our JSON output).
    pub fn as_str(self) -> &'static str {
        self.spelling().ours
    }
}

/// One VEX statement, whatever document it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VexStatement {
    /// The document it came from (`embedded` for the SBOM's own).
    pub source: String,
    /// Position of the statement in its document (for the report).
    pub index: usize,
    /// The vulnerability id (CVE, GHSA, RUSTSEC, ...).
    pub vulnerability: String,
    /// Other ids of the same vulnerability.
    pub aliases: Vec<String>,
    /// The products the statement is about.
    pub products: Vec<ProductRef>,
    /// The versions of each product the statement is about (CycloneDX
    /// `affects[].versions[]`), index for index with `products`; a product with no list here, or
    /// an empty one, is covered at every version.
    pub product_versions: Vec<Vec<VersionEntry>>,
    /// Components inside the products the statement narrows to (empty = the products themselves).
    pub subcomponents: Vec<ProductRef>,
    /// The status.
    pub status: VexStatus,
    /// Why not affected.
    pub justification: Option<Justification>,
    /// Impact statement / analysis detail.
    pub detail: Option<String>,
    /// Date (`YYYY-MM-DD` or RFC 3339) after which the statement no longer applies.
    pub expires: Option<String>,
    /// When the statement was made (RFC 3339 `date-time`): OpenVEX statement `timestamp`, else
    /// the document's; CycloneDX `metadata.timestamp` of the BOM carrying it. The latest
    /// statement about a product and vulnerability is the one in force.
    pub timestamp: Option<String>,
}

impl VexStatement {
    /// Whether the statement names the vulnerability known by any of `ids`.
    pub fn names_vulnerability<'a>(&self, mut ids: impl Iterator<Item = &'a str>) -> bool {
        ids.any(|id| {
            id.eq_ignore_ascii_case(&self.vulnerability)
                || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(id))
        })
    }

    /// Whether the statement covers component `c` at its version, as `products[product]`
    /// (CycloneDX `affects[].versions[]`, see [`VersionEntry`]): without versions, every
    /// version is covered; an entry that cannot be interpreted makes a suppressing statement
    /// cover nothing.
    pub fn covers_version(&self, product: usize, c: &Component) -> bool {
        let entries = self
            .product_versions
            .get(product)
            .map_or(&[][..], Vec::as_slice);
        covers(self.status, entries, c)
    }

    /// Whether the statement has expired on `today` (`YYYY-MM-DD`): it is in force up to and
    /// including its expiry day. An expiry or a `today` that is not a date counts as expired
    /// (the parsers refuse such expiries already; this is the second line).
    pub fn expired_on(&self, today: &str) -> bool {
        self.expires
            .as_deref()
            .is_some_and(|e| crate::date::expired(e, today))
    }
}

/// Checks a timestamp at parse time: `None`, an RFC 3339 `date-time`, or
/// [`GateError::BadVexTimestamp`].
pub(crate) fn checked_timestamp(
    timestamp: Option<String>,
    source: &str,
    statement: Option<usize>,
) -> Result<Option<String>, GateError> {
    match timestamp {
        Some(value) if crate::date::parse_timestamp(&value).is_none() => {
            Err(GateError::BadVexTimestamp {
                source_name: source.to_owned(),
                statement,
                value,
            })
        }
        other => Ok(other),
    }
}

/// Checks a statement's expiry at parse time: `None`, a date, or [`GateError::BadVexExpiry`].
pub(crate) fn checked_expiry(
    expires: Option<String>,
    source: &str,
    statement: usize,
) -> Result<Option<String>, GateError> {
    match expires {
        Some(value) if crate::date::parse_expiry(&value).is_none() => {
            Err(GateError::BadVexExpiry {
                source_name: source.to_owned(),
                statement,
                value,
            })
        }
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The published mapping table (crate README), row by row.
    #[test]
    fn status_mapping_table() {
        let cdx = [
            ("not_affected", VexStatus::NotAffected),
            ("false_positive", VexStatus::NotAffected),
            ("resolved", VexStatus::Fixed),
            ("resolved_with_pedigree", VexStatus::Fixed),
            ("exploitable", VexStatus::Affected),
            ("in_triage", VexStatus::UnderInvestigation),
        ];
        for (state, want) in cdx {
            assert_eq!(VexStatus::from_cyclonedx(state), Some(want), "{state}");
        }
        assert_eq!(VexStatus::from_cyclonedx("affected"), None);
        for s in ["not_affected", "affected", "fixed", "under_investigation"] {
            assert_eq!(VexStatus::from_openvex(s).unwrap().as_str(), s);
        }
        assert_eq!(VexStatus::from_openvex("false_positive"), None);
        assert!(VexStatus::NotAffected.suppresses() && VexStatus::Fixed.suppresses());
        assert!(!VexStatus::Affected.suppresses() && !VexStatus::UnderInvestigation.suppresses());
    }

    #[test]
    fn justification_mapping_table() {
        let openvex_to_cdx = [
            ("component_not_present", "code_not_present"),
            ("vulnerable_code_not_present", "code_not_present"),
            ("vulnerable_code_not_in_execute_path", "code_not_reachable"),
            (
                "vulnerable_code_cannot_be_controlled_by_adversary",
                "protected_by_mitigating_control",
            ),
            (
                "inline_mitigations_already_exist",
                "protected_by_mitigating_control",
            ),
        ];
        for (o, c) in openvex_to_cdx {
            let j = Justification::from_openvex(o).unwrap();
            assert_eq!(j.as_str(), o);
            assert_eq!(j.to_cyclonedx(), c);
        }
        for c in [
            "code_not_present",
            "code_not_reachable",
            "requires_configuration",
            "requires_dependency",
            "requires_environment",
            "protected_by_compiler",
            "protected_at_runtime",
            "protected_at_perimeter",
            "protected_by_mitigating_control",
        ] {
            assert_eq!(Justification::from_cyclonedx(c).unwrap().to_cyclonedx(), c);
        }
        assert_eq!(Justification::from_cyclonedx("component_not_present"), None);
        assert_eq!(Justification::from_openvex("code_not_present"), None);
        assert_eq!(Justification::from_openvex("requires_configuration"), None);
        // Every variant is read back from at least one format, under its own name there, and
        // the names are unique (ALL lists each variant once).
        let mut ours: Vec<_> = Justification::ALL.iter().map(|j| j.as_str()).collect();
        ours.sort_unstable();
        ours.dedup();
        assert_eq!(ours.len(), 12);
        for j in Justification::ALL {
            let from_openvex = Justification::from_openvex(j.as_str());
            let from_cdx = Justification::from_cyclonedx(j.to_cyclonedx());
            assert!(
                from_openvex == Some(j) || from_cdx == Some(j),
                "{j:?} cannot be read"
            );
        }
    }
}
