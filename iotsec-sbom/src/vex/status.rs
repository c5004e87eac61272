//! The status of a vulnerability for a product (CISA "Minimum Requirements for VEX" §3): a leaf
//! that statements and their version scoping both name.

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
