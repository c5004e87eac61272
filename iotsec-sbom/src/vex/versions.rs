//! Which versions of a product a CycloneDX VEX statement covers (CycloneDX 1.4-1.6
//! `vulnerabilities[].affects[].versions[]`: a `version` or a `range` in the package-url
//! vers-spec, each with an `affectedStatus` `affected` | `unaffected` | `unknown`, default
//! `affected`).
//!
//! A statement covers the versions its entries mark with the status that matches its own
//! analysis: `not_affected` and `resolved` the `unaffected` ones, `exploitable` the `affected`
//! ones, `in_triage` the `affected` and `unknown` ones. A product listed without versions is
//! covered at every version. An entry the gate cannot interpret (an unknown status, neither or
//! both of `version` and `range`, a range that does not parse, whose scheme is not the
//! component's purl type, or that cannot place the component's version) fails closed: the
//! statement then suppresses nothing, and a statement that keeps a finding standing applies.

use vers_rs::VersionRange;

use super::status::VexStatus;
use crate::purl::PackageUrl;
use crate::sbom::component::Component;

/// One `affects[].versions[]` entry, as written in the document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionEntry {
    /// `version`: one exact version.
    pub version: Option<String>,
    /// `range`: a VERS range (`vers:cargo/>=1.0.0|<1.6.1`).
    pub range: Option<String>,
    /// `status` as written; `None` is the schema default, `affected`.
    pub status: Option<String>,
}

/// `affectedStatus` (CycloneDX 1.4+).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AffectedStatus {
    Affected,
    Unaffected,
    Unknown,
}

/// Why an entry cannot be interpreted (kept private: the outcome is always "fail closed").
struct Uninterpretable;

impl VersionEntry {
    fn status(&self) -> Result<AffectedStatus, Uninterpretable> {
        match self.status.as_deref() {
            None | Some("affected") => Ok(AffectedStatus::Affected),
            Some("unaffected") => Ok(AffectedStatus::Unaffected),
            Some("unknown") => Ok(AffectedStatus::Unknown),
            Some(_) => Err(Uninterpretable),
        }
    }

    /// Whether this entry names the component's version.
    fn contains(
        &self,
        purl_type: Option<&str>,
        version: Option<&str>,
    ) -> Result<bool, Uninterpretable> {
        match (self.version.as_deref(), self.range.as_deref()) {
            (Some(exact), None) => Ok(version == Some(exact)),
            (None, Some(range)) => {
                let range = vers_rs::parse(range).map_err(|_| Uninterpretable)?;
                // A range written for another ecosystem orders versions by other rules.
                if purl_type != Some(range.versioning_scheme()) {
                    return Err(Uninterpretable);
                }
                let version = version.ok_or(Uninterpretable)?;
                range
                    .contains(version.to_owned())
                    .map_err(|_| Uninterpretable)
            }
            _ => Err(Uninterpretable),
        }
    }
}

/// The `affectedStatus` values that a statement with `status` is about.
fn matching(status: VexStatus, entry: AffectedStatus) -> bool {
    match status {
        VexStatus::NotAffected | VexStatus::Fixed => entry == AffectedStatus::Unaffected,
        VexStatus::Affected => entry == AffectedStatus::Affected,
        VexStatus::UnderInvestigation => {
            matches!(entry, AffectedStatus::Affected | AffectedStatus::Unknown)
        }
    }
}

/// Whether a statement with `status` whose product lists `entries` covers component `c`
/// (the rules in the module documentation).
pub(crate) fn covers(status: VexStatus, entries: &[VersionEntry], c: &Component) -> bool {
    if entries.is_empty() {
        return true;
    }
    let purl = c.purl.as_deref().and_then(|p| PackageUrl::parse(p).ok());
    let purl_type = purl.as_ref().map(|p| p.ty.as_str());
    let version = purl
        .as_ref()
        .and_then(|p| p.version.as_deref())
        .or(c.version.as_deref());
    let mut covered = false;
    for entry in entries {
        // Both parts are read for every entry, so that no unreadable entry goes unnoticed.
        let decided = entry.status().and_then(|s| {
            let inside = entry.contains(purl_type, version)?;
            Ok(matching(status, s) && inside)
        });
        match decided {
            Ok(hit) => covered |= hit,
            Err(Uninterpretable) => return !status.suppresses(),
        }
    }
    covered
}
