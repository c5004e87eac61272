//! CycloneDX VEX (CycloneDX 1.4+ `vulnerabilities[]`: `id`, `references[]`, `analysis.state`,
//! `analysis.justification`, `analysis.detail`, `affects[].ref`, `affects[].versions[]`), embedded in an SBOM or as a
//! standalone BOM. Expiry is the property `iotsec:vex:expires` (CycloneDX has no expiry field).
//! A statement has no time of its own: it takes the BOM's `metadata.timestamp`, if any.

use std::borrow::Cow;

use serde::Deserialize;

use super::scope::ProductRef;
use super::statement::{Justification, VexStatement, VexStatus, checked_expiry};
use super::versions::VersionEntry;
use crate::error::GateError;
use crate::sbom::cyclonedx_rules::Rules;

type Text<'a> = Cow<'a, str>;

#[derive(Deserialize)]
pub(crate) struct CdxVulnerability<'a> {
    #[serde(borrow, default)]
    id: Option<Text<'a>>,
    #[serde(borrow, default)]
    references: Option<Vec<VulnReference<'a>>>,
    #[serde(borrow, default)]
    analysis: Option<Analysis<'a>>,
    #[serde(borrow, default)]
    affects: Option<Vec<Affects<'a>>>,
    #[serde(borrow, default)]
    properties: Option<Vec<Property<'a>>>,
}

#[derive(Deserialize)]
struct VulnReference<'a> {
    #[serde(borrow, default)]
    id: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct Analysis<'a> {
    #[serde(borrow, default)]
    state: Option<Text<'a>>,
    #[serde(borrow, default)]
    justification: Option<Text<'a>>,
    #[serde(borrow, default)]
    detail: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct Affects<'a> {
    #[serde(rename = "ref", borrow, default)]
    reference: Option<Text<'a>>,
    // `versions[].status` defaults to "affected" (schema `affectedStatus`), so a missing status
    // is not an error here (unlike cyclonedx-bom 0.8.1).
    #[serde(borrow, default)]
    versions: Option<Vec<AffectedVersion<'a>>>,
}

#[derive(Deserialize)]
struct AffectedVersion<'a> {
    #[serde(borrow, default)]
    version: Option<Text<'a>>,
    #[serde(borrow, default)]
    range: Option<Text<'a>>,
    #[serde(borrow, default)]
    status: Option<Text<'a>>,
}

impl AffectedVersion<'_> {
    fn entry(&self) -> VersionEntry {
        VersionEntry {
            version: self.version.as_deref().map(str::to_owned),
            range: self.range.as_deref().map(str::to_owned),
            status: self.status.as_deref().map(str::to_owned),
        }
    }
}

#[derive(Deserialize)]
struct Property<'a> {
    #[serde(borrow, default)]
    name: Option<Text<'a>>,
    #[serde(borrow, default)]
    value: Option<Text<'a>>,
}

/// Property that carries a statement's expiry date.
pub(crate) const EXPIRES_PROPERTY: &str = "iotsec:vex:expires";

/// One CycloneDX `vulnerabilities[]` entry as the gate reads it, from either encoding (JSON
/// here, XML in `sbom::cyclonedx_xml`), so that both turn into statements by the same rules.
pub(crate) struct VulnerabilityEntry<'a> {
    /// `id`.
    pub(crate) id: Option<&'a str>,
    /// `references[].id`.
    pub(crate) aliases: Vec<&'a str>,
    /// `analysis.state`; an entry without one is an advisory, not a VEX statement.
    pub(crate) state: Option<&'a str>,
    /// `analysis.justification`.
    pub(crate) justification: Option<&'a str>,
    /// `analysis.detail`.
    pub(crate) detail: Option<&'a str>,
    /// `affects[].ref` with that target's `versions[]`.
    pub(crate) affects: Vec<(&'a str, Vec<VersionEntry>)>,
    /// The value of the [`EXPIRES_PROPERTY`] property.
    pub(crate) expires: Option<&'a str>,
    /// The BOM's `metadata.timestamp` (already checked as a date-time by the BOM rules).
    pub(crate) timestamp: Option<&'a str>,
}

impl VulnerabilityEntry<'_> {
    /// The VEX statement this entry makes (`None` without an analysis state), or the rule it
    /// breaks.
    pub(crate) fn statement(
        &self,
        index: usize,
        source: &str,
        rules: &Rules<'_>,
    ) -> Result<Option<VexStatement>, GateError> {
        let path = format!("vulnerabilities[{index}]");
        let Some(state) = self.state else {
            return Ok(None);
        };
        let status = VexStatus::from_cyclonedx(state)
            .ok_or_else(|| rules.violation(&path, format!("unknown analysis state {state:?}")))?;
        let justification =
            match self.justification {
                Some(j) => Some(Justification::from_cyclonedx(j).ok_or_else(|| {
                    rules.violation(&path, format!("unknown justification {j:?}"))
                })?),
                None => None,
            };
        let id = self
            .id
            .ok_or_else(|| rules.violation(&path, "a VEX vulnerability needs an id"))?;
        let products: Vec<ProductRef> = self
            .affects
            .iter()
            .map(|(r, _)| ProductRef::try_from_reference(r).map_err(|e| rules.violation(&path, e)))
            .collect::<Result<_, _>>()?;
        let product_versions = self.affects.iter().map(|(_, v)| v.clone()).collect();
        if products.is_empty() {
            return Err(rules.violation(
                &path,
                "a VEX analysis must name what it affects (affects[].ref)",
            ));
        }
        let expires = checked_expiry(self.expires.map(str::to_owned), source, index)?;
        Ok(Some(VexStatement {
            source: source.to_owned(),
            index,
            vulnerability: id.to_owned(),
            aliases: self.aliases.iter().map(|a| (*a).to_owned()).collect(),
            products,
            product_versions,
            subcomponents: Vec::new(),
            status,
            justification,
            detail: self.detail.map(str::to_owned),
            expires,
            timestamp: self.timestamp.map(str::to_owned),
        }))
    }
}

pub(crate) fn statements_from_vulnerabilities(
    vulns: &[CdxVulnerability<'_>],
    source: &str,
    timestamp: Option<&str>,
    rules: &Rules<'_>,
) -> Result<Vec<VexStatement>, GateError> {
    let mut out = Vec::new();
    for (index, v) in vulns.iter().enumerate() {
        let analysis = v.analysis.as_ref();
        let entry = VulnerabilityEntry {
            id: v.id.as_deref(),
            aliases: v
                .references
                .iter()
                .flatten()
                .filter_map(|r| r.id.as_deref())
                .collect(),
            state: analysis.and_then(|a| a.state.as_deref()),
            justification: analysis.and_then(|a| a.justification.as_deref()),
            detail: analysis.and_then(|a| a.detail.as_deref()),
            affects: v
                .affects
                .iter()
                .flatten()
                .filter_map(|a| {
                    let versions = a.versions.iter().flatten().map(AffectedVersion::entry);
                    Some((a.reference.as_deref()?, versions.collect()))
                })
                .collect(),
            expires: v
                .properties
                .iter()
                .flatten()
                .find(|p| p.name.as_deref() == Some(EXPIRES_PROPERTY))
                .and_then(|p| p.value.as_deref()),
            timestamp,
        };
        out.extend(entry.statement(index, source, rules)?);
    }
    Ok(out)
}

#[derive(Deserialize)]
struct VexBom<'a> {
    #[serde(rename = "bomFormat", borrow, default)]
    bom_format: Option<Text<'a>>,
    #[serde(rename = "specVersion", borrow, default)]
    spec_version: Option<Text<'a>>,
    #[serde(borrow, default)]
    metadata: Option<VexMetadata<'a>>,
    #[serde(borrow, default)]
    vulnerabilities: Option<Vec<CdxVulnerability<'a>>>,
}

#[derive(Deserialize)]
struct VexMetadata<'a> {
    #[serde(borrow, default)]
    timestamp: Option<Text<'a>>,
}

/// Reads a standalone CycloneDX VEX document (JSON).
pub(crate) fn parse_cyclonedx_vex(
    bytes: &[u8],
    source: &str,
) -> Result<Vec<VexStatement>, GateError> {
    let bad = |reason: String| GateError::BadVex {
        source_name: source.to_owned(),
        reason,
    };
    let bom: VexBom<'_> = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    if bom.bom_format.as_deref() != Some("CycloneDX") {
        return Err(bad("neither OpenVEX nor CycloneDX (bomFormat)".to_owned()));
    }
    let spec = bom.spec_version.as_deref().unwrap_or("");
    let rules = Rules::new(spec);
    let timestamp = bom.metadata.as_ref().and_then(|m| m.timestamp.as_deref());
    if let Some(t) = timestamp {
        rules.timestamp("metadata.timestamp", t)?;
    }
    statements_from_vulnerabilities(
        bom.vulnerabilities.as_deref().unwrap_or_default(),
        source,
        timestamp,
        &rules,
    )
}
