//! The one VEX status model (CISA "Minimum Requirements for VEX" statuses) and justifications.

use super::scope::ProductRef;
use crate::error::GateError;

/// The status of a vulnerability for a product (CISA VEX minimum requirements §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VexStatus {
    /// The product is not affected: suppresses the finding.
    NotAffected,
    /// The product is affected: the finding stands.
    Affected,
    /// The vulnerability is fixed in this product: suppresses the finding.
    Fixed,
    /// Not yet known: the finding stands.
    UnderInvestigation,
}

impl VexStatus {
    /// The status name as OpenVEX spells it (also used in our JSON output).
    pub fn as_str(self) -> &'static str {
        match self {
            VexStatus::NotAffected => "not_affected",
            VexStatus::Affected => "affected",
            VexStatus::Fixed => "fixed",
            VexStatus::UnderInvestigation => "under_investigation",
        }
    }

    /// Whether a statement with this status removes a finding from the gate.
    pub fn suppresses(self) -> bool {
        matches!(self, VexStatus::NotAffected | VexStatus::Fixed)
    }

    /// CycloneDX `analysis.state` (1.4+ `impactAnalysisState`).
    pub fn from_cyclonedx(state: &str) -> Option<VexStatus> {
        Some(match state {
            "not_affected" | "false_positive" => VexStatus::NotAffected,
            "exploitable" => VexStatus::Affected,
            "resolved" | "resolved_with_pedigree" => VexStatus::Fixed,
            "in_triage" => VexStatus::UnderInvestigation,
            _ => return None,
        })
    }

    /// OpenVEX 0.2 `status`.
    pub fn from_openvex(status: &str) -> Option<VexStatus> {
        Some(match status {
            "not_affected" => VexStatus::NotAffected,
            "affected" => VexStatus::Affected,
            "fixed" => VexStatus::Fixed,
            "under_investigation" => VexStatus::UnderInvestigation,
            _ => return None,
        })
    }
}

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

impl Justification {
    /// From CycloneDX `analysis.justification`.
    pub fn from_cyclonedx(s: &str) -> Option<Justification> {
        Some(match s {
            "code_not_present" => Justification::VulnerableCodeNotPresent,
            "code_not_reachable" => Justification::VulnerableCodeNotInExecutePath,
            "requires_configuration" => Justification::RequiresConfiguration,
            "requires_dependency" => Justification::RequiresDependency,
            "requires_environment" => Justification::RequiresEnvironment,
            "protected_by_compiler" => Justification::ProtectedByCompiler,
            "protected_at_runtime" => Justification::ProtectedAtRuntime,
            "protected_at_perimeter" => Justification::ProtectedAtPerimeter,
            "protected_by_mitigating_control" => Justification::ProtectedByMitigatingControl,
            _ => return None,
        })
    }

    /// From OpenVEX 0.2 `justification`.
    pub fn from_openvex(s: &str) -> Option<Justification> {
        Some(match s {
            "component_not_present" => Justification::ComponentNotPresent,
            "vulnerable_code_not_present" => Justification::VulnerableCodeNotPresent,
            "vulnerable_code_not_in_execute_path" => Justification::VulnerableCodeNotInExecutePath,
            "vulnerable_code_cannot_be_controlled_by_adversary" => {
                Justification::VulnerableCodeCannotBeControlledByAdversary
            }
            "inline_mitigations_already_exist" => Justification::InlineMitigationsAlreadyExist,
            _ => return None,
        })
    }

    /// The CycloneDX justification written in our VEX output (nearest equivalent for the
    /// OpenVEX-only values, see the README table).
    pub fn to_cyclonedx(self) -> &'static str {
        match self {
            Justification::ComponentNotPresent | Justification::VulnerableCodeNotPresent => {
                "code_not_present"
            }
            Justification::VulnerableCodeNotInExecutePath => "code_not_reachable",
            Justification::VulnerableCodeCannotBeControlledByAdversary
            | Justification::InlineMitigationsAlreadyExist
            | Justification::ProtectedByMitigatingControl => "protected_by_mitigating_control",
            Justification::RequiresConfiguration => "requires_configuration",
            Justification::RequiresDependency => "requires_dependency",
            Justification::RequiresEnvironment => "requires_environment",
            Justification::ProtectedByCompiler => "protected_by_compiler",
            Justification::ProtectedAtRuntime => "protected_at_runtime",
            Justification::ProtectedAtPerimeter => "protected_at_perimeter",
        }
    }

    /// A stable snake_case name (our JSON output).
    pub fn as_str(self) -> &'static str {
        match self {
            Justification::ComponentNotPresent => "component_not_present",
            Justification::VulnerableCodeNotPresent => "vulnerable_code_not_present",
            Justification::VulnerableCodeNotInExecutePath => "vulnerable_code_not_in_execute_path",
            Justification::VulnerableCodeCannotBeControlledByAdversary => {
                "vulnerable_code_cannot_be_controlled_by_adversary"
            }
            Justification::InlineMitigationsAlreadyExist => "inline_mitigations_already_exist",
            Justification::RequiresConfiguration => "requires_configuration",
            Justification::RequiresDependency => "requires_dependency",
            Justification::RequiresEnvironment => "requires_environment",
            Justification::ProtectedByCompiler => "protected_by_compiler",
            Justification::ProtectedAtRuntime => "protected_at_runtime",
            Justification::ProtectedAtPerimeter => "protected_at_perimeter",
            Justification::ProtectedByMitigatingControl => "protected_by_mitigating_control",
        }
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
}

impl VexStatement {
    /// Whether the statement names the vulnerability known by any of `ids`.
    pub fn names_vulnerability<'a>(&self, mut ids: impl Iterator<Item = &'a str>) -> bool {
        ids.any(|id| {
            id.eq_ignore_ascii_case(&self.vulnerability)
                || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(id))
        })
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
    }
}
