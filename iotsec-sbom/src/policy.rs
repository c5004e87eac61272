//! The gate policy, a TOML document (TOML 1.0). Unknown keys are an error: a typo must not
//! silently relax a gate.
//!
//! ```toml
//! max_severity = "medium"      # none|low|medium|high|critical: findings above fail, others warn
//! unscored = "fail"            # advisories without a CVSS v3/v4 score: fail|warn|pass
//! informational = "warn"       # RustSec unmaintained/unsound/notice: fail|warn|pass
//! unidentified = "fail"        # components without purl/CPE, or with an uncovered ecosystem
//! require_hashes = ["SHA-256"] # every component must carry these hashes
//! require_firmware_digest = false
//!
//! [licenses]
//! allow = ["MIT", "Apache-2.0"]  # empty = anything not denied
//! deny = ["GPL-3.0-only"]
//! unknown = "warn"               # components without a license, unparsable expressions
//!
//! [[ignore]]
//! id = "RUSTSEC-2020-0071"       # matches the id or any alias
//! component = "pkg:cargo/time"   # optional: only for this package (purl without version)
//! reason = "not reachable: we never call localtime_r"
//! expires = "2026-12-31"
//! ```

use serde::Deserialize;

use crate::error::GateError;
use crate::severity::SeverityLevel;

/// What the gate does with a class of findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Accept silently (still listed).
    Pass,
    /// Accept, with a warning (exit code 0).
    Warn,
    /// Reject (exit code 1).
    Fail,
}

impl Decision {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Pass => "pass",
            Decision::Warn => "warn",
            Decision::Fail => "fail",
        }
    }
}

/// License rules.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LicensePolicy {
    /// Allowed SPDX license ids (empty: all not denied).
    #[serde(default)]
    pub allow: Vec<String>,
    /// Denied SPDX license ids.
    #[serde(default)]
    pub deny: Vec<String>,
    /// Components without a license or with an unparsable expression.
    #[serde(default = "warn")]
    pub unknown: Decision,
}

/// An accepted risk: a finding the gate does not count until `expires`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IgnoreEntry {
    /// Advisory id or alias.
    pub id: String,
    /// Optional purl (without version) the ignore is limited to.
    #[serde(default)]
    pub component: Option<String>,
    /// Why the risk is accepted (required).
    pub reason: String,
    /// Last day (`YYYY-MM-DD`) the ignore applies (required).
    pub expires: String,
}

fn fail() -> Decision {
    Decision::Fail
}
fn warn() -> Decision {
    Decision::Warn
}
fn medium() -> String {
    "medium".to_owned()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default = "medium")]
    max_severity: String,
    #[serde(default = "fail")]
    unscored: Decision,
    #[serde(default = "warn")]
    informational: Decision,
    #[serde(default = "fail")]
    unidentified: Decision,
    #[serde(default)]
    require_hashes: Vec<String>,
    #[serde(default)]
    require_firmware_digest: bool,
    #[serde(default)]
    licenses: Option<LicensePolicy>,
    #[serde(default)]
    ignore: Vec<IgnoreEntry>,
}

/// A validated policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Highest severity that only warns.
    pub max_severity: SeverityLevel,
    /// Treatment of unscored advisories (default: fail).
    pub unscored: Decision,
    /// Treatment of informational advisories (default: warn).
    pub informational: Decision,
    /// Treatment of components the gate cannot match (default: fail).
    pub unidentified: Decision,
    /// Hash algorithms every component must carry (CycloneDX names, `SHA-256`).
    pub require_hashes: Vec<String>,
    /// Whether the SBOM must name the firmware image's SHA-256.
    pub require_firmware_digest: bool,
    /// License rules, if any.
    pub licenses: Option<LicensePolicy>,
    /// Accepted risks.
    pub ignore: Vec<IgnoreEntry>,
    /// Hex SHA-256 of the TOML text this policy was read from (of the empty text for
    /// [`Policy::default`], which is what an empty policy file reads as).
    sha256: String,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_severity: SeverityLevel::Medium,
            unscored: Decision::Fail,
            informational: Decision::Warn,
            unidentified: Decision::Fail,
            require_hashes: Vec::new(),
            require_firmware_digest: false,
            licenses: None,
            ignore: Vec::new(),
            sha256: crate::digest::sha256_hex(b""),
        }
    }
}

impl Policy {
    /// Parses and validates a TOML policy.
    pub fn from_toml(text: &str) -> Result<Policy, GateError> {
        let f: PolicyFile =
            toml::from_str(text).map_err(|e| GateError::BadPolicy(e.to_string()))?;
        let max_severity = SeverityLevel::parse(&f.max_severity).ok_or_else(|| {
            GateError::BadPolicy(format!(
                "max_severity {:?} is not none|low|medium|high|critical",
                f.max_severity
            ))
        })?;
        for (i, ig) in f.ignore.iter().enumerate() {
            if ig.reason.trim().is_empty() {
                return Err(GateError::BadPolicy(format!(
                    "ignore[{i}] ({}) needs a reason",
                    ig.id
                )));
            }
            if crate::date::parse_day(&ig.expires).is_none() {
                return Err(GateError::BadPolicy(format!(
                    "ignore[{i}] ({}) expires {:?} is not YYYY-MM-DD",
                    ig.id, ig.expires
                )));
            }
        }
        if let Some(l) = &f.licenses {
            for id in l.allow.iter().chain(&l.deny) {
                if spdx::license_id(id).is_none() && !id.starts_with("LicenseRef-") {
                    return Err(GateError::BadPolicy(format!(
                        "{id:?} is not an SPDX license id"
                    )));
                }
            }
            if let Some(both) = l.allow.iter().find(|a| l.deny.contains(a)) {
                return Err(GateError::BadPolicy(format!(
                    "{both} is both allowed and denied"
                )));
            }
        }
        Ok(Policy {
            max_severity,
            unscored: f.unscored,
            informational: f.informational,
            unidentified: f.unidentified,
            require_hashes: f.require_hashes,
            require_firmware_digest: f.require_firmware_digest,
            licenses: f.licenses,
            ignore: f.ignore,
            sha256: crate::digest::sha256_hex(text.as_bytes()),
        })
    }

    /// Hex SHA-256 of the policy text this was read from; a gate decision records it.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The policy's refusal of `text`, as the user reads it.
    fn refusal(text: &str) -> String {
        match Policy::from_toml(text) {
            Err(GateError::BadPolicy(reason)) => reason,
            other => panic!("{text:?}: {other:?}"),
        }
    }

    #[test]
    fn defaults_fail_closed_and_typos_are_errors() {
        let p = Policy::from_toml("").unwrap();
        assert_eq!(p.unscored, Decision::Fail);
        assert_eq!(p.unidentified, Decision::Fail);
        let typo = refusal("max_severty = \"high\"");
        assert!(
            typo.contains("unknown field `max_severty`, expected one of"),
            "{typo}"
        );
        assert_eq!(
            refusal("max_severity = \"severe\""),
            "max_severity \"severe\" is not none|low|medium|high|critical"
        );
        let no_reason = "[[ignore]]\nid = \"X\"\nreason = \" \"\nexpires = \"2030-01-01\"";
        assert_eq!(refusal(no_reason), "ignore[0] (X) needs a reason");
        for bad in ["soon", "2025-13-01", "2025-02-29", "2025-12-31T00:00:00Z"] {
            let doc = format!("[[ignore]]\nid = \"X\"\nreason = \"r\"\nexpires = \"{bad}\"");
            assert_eq!(
                refusal(&doc),
                format!("ignore[0] (X) expires {bad:?} is not YYYY-MM-DD")
            );
        }
        assert_eq!(
            refusal("[licenses]\nallow = [\"MIT\"]\ndeny = [\"MIT\"]"),
            "MIT is both allowed and denied"
        );
        assert_eq!(
            refusal("[licenses]\nallow = [\"NotALicense\"]"),
            "\"NotALicense\" is not an SPDX license id"
        );
    }
}
