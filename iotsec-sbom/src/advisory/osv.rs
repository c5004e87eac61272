//! The OSV JSON schema 1.6 (`https://ossf.github.io/osv-schema/`) as far as the gate needs it.

use serde::Deserialize;

use super::range::{AffectedRange, RangeEvent, RangeKind};
use super::{Advisory, AffectedPackage};
use crate::error::GateError;
use crate::severity::Severity;
use crate::vcs::normalize_repo;

/// Hard cap on one advisory file.
pub(super) const MAX_ADVISORY_BYTES: usize = 4 * 1024 * 1024;

#[derive(Deserialize)]
struct OsvRecord {
    id: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default)]
    severity: Vec<OsvSeverity>,
    #[serde(default)]
    affected: Vec<OsvAffected>,
}

#[derive(Deserialize)]
struct OsvSeverity {
    #[serde(rename = "type")]
    ty: String,
    score: String,
}

#[derive(Deserialize)]
struct OsvPackage {
    #[serde(default)]
    ecosystem: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    purl: Option<String>,
}

#[derive(Deserialize)]
struct OsvAffected {
    #[serde(default)]
    package: Option<OsvPackage>,
    #[serde(default)]
    severity: Vec<OsvSeverity>,
    #[serde(default)]
    ranges: Vec<OsvRange>,
    #[serde(default)]
    versions: Vec<String>,
    #[serde(default)]
    database_specific: Option<DatabaseSpecific>,
}

#[derive(Deserialize)]
struct DatabaseSpecific {
    #[serde(default)]
    informational: Option<String>,
    #[serde(default)]
    cpes: Vec<String>,
}

#[derive(Deserialize)]
struct OsvRange {
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    repo: Option<String>,
    #[serde(default)]
    events: Vec<OsvEvent>,
}

#[derive(Deserialize)]
struct OsvEvent {
    #[serde(default)]
    introduced: Option<String>,
    #[serde(default)]
    fixed: Option<String>,
    #[serde(default)]
    last_affected: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

fn severity_of(entries: &[OsvSeverity]) -> Severity {
    entries
        .iter()
        .filter(|s| matches!(s.ty.as_str(), "CVSS_V3" | "CVSS_V4"))
        .filter_map(|s| Severity::from_vector(&s.score))
        .fold(Severity::Unscored, Severity::max)
}

/// Parses one OSV advisory; `file` names it in errors.
pub fn parse_osv(bytes: &[u8], file: &str) -> Result<Advisory, GateError> {
    let bad = |reason: String| GateError::BadAdvisory {
        file: file.to_owned(),
        reason,
    };
    if bytes.len() > MAX_ADVISORY_BYTES {
        return Err(GateError::SizeExceeded {
            what: "advisory",
            size: bytes.len(),
            cap: MAX_ADVISORY_BYTES,
        });
    }
    let rec: OsvRecord = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    if rec.id.trim().is_empty() {
        return Err(bad("empty id".to_owned()));
    }
    let mut severity = severity_of(&rec.severity);
    let mut affected = Vec::with_capacity(rec.affected.len());
    for (i, a) in rec.affected.into_iter().enumerate() {
        severity = severity.max(severity_of(&a.severity));
        // Without a package (OSV schema: allowed for repository-only entries, as OSS-Fuzz
        // and the C/C++ records of OSV.dev write them) the entry is known by its repository,
        // under OSV's `GIT` ecosystem; it must then have GIT ranges only, checked below.
        let repository_only = a.package.is_none();
        let (ecosystem, name, purl) = match a.package {
            Some(pkg) => match (pkg.ecosystem, pkg.name) {
                (Some(ecosystem), Some(name)) => (ecosystem, name, pkg.purl),
                _ => {
                    return Err(bad(format!(
                        "affected[{i}].package needs ecosystem and name"
                    )));
                }
            },
            None => {
                let repo = a
                    .ranges
                    .iter()
                    .find(|r| r.ty == "GIT")
                    .and_then(|r| r.repo.as_deref())
                    .and_then(normalize_repo)
                    .ok_or_else(|| {
                        bad(format!(
                            "affected[{i}] has no package and no GIT range with a repository"
                        ))
                    })?;
                ("GIT".to_owned(), repo, None)
            }
        };
        if repository_only && a.ranges.iter().any(|r| r.ty != "GIT") {
            return Err(bad(format!(
                "affected[{i}] has no package, so its ranges must all be GIT ranges"
            )));
        }
        let mut ranges = Vec::with_capacity(a.ranges.len());
        for (j, r) in a.ranges.into_iter().enumerate() {
            let kind = match r.ty.as_str() {
                "SEMVER" => RangeKind::Semver,
                "ECOSYSTEM" => RangeKind::Ecosystem,
                "GIT" => RangeKind::Git,
                other => {
                    return Err(bad(format!(
                        "affected[{i}].ranges[{j}]: unknown type {other:?}"
                    )));
                }
            };
            let mut events = Vec::with_capacity(r.events.len());
            for e in r.events {
                let set = [
                    e.introduced.map(RangeEvent::Introduced),
                    e.fixed.map(RangeEvent::Fixed),
                    e.last_affected.map(RangeEvent::LastAffected),
                    e.limit.map(RangeEvent::Limit),
                ];
                let mut present = set.into_iter().flatten();
                match (present.next(), present.next()) {
                    (Some(ev), None) => events.push(ev),
                    _ => {
                        return Err(bad(format!(
                            "affected[{i}].ranges[{j}]: each event has exactly one of introduced/fixed/last_affected/limit"
                        )));
                    }
                }
            }
            if kind != RangeKind::Git
                && !events
                    .iter()
                    .any(|e| matches!(e, RangeEvent::Introduced(_)))
            {
                return Err(bad(format!(
                    "affected[{i}].ranges[{j}]: no introduced event"
                )));
            }
            let repo = match (kind, r.repo.as_deref()) {
                (RangeKind::Git, Some(url)) => Some(normalize_repo(url).ok_or_else(|| {
                    bad(format!(
                        "affected[{i}].ranges[{j}]: repo {url:?} is not a repository URL"
                    ))
                })?),
                (RangeKind::Git, None) => {
                    return Err(bad(format!(
                        "affected[{i}].ranges[{j}]: a GIT range needs repo"
                    )));
                }
                _ => None,
            };
            let mut range = AffectedRange { kind, events, repo };
            range.presort(crate::version::VersionScheme::for_ecosystem(&ecosystem));
            ranges.push(range);
        }
        let (informational, cpes) = match a.database_specific {
            Some(d) => (d.informational, d.cpes),
            None => (None, Vec::new()),
        };
        affected.push(AffectedPackage {
            ecosystem,
            name,
            purl,
            ranges,
            versions: a.versions,
            cpes,
            informational,
        });
    }
    Ok(Advisory {
        id: rec.id,
        aliases: rec.aliases,
        summary: rec.summary,
        withdrawn: rec.withdrawn.is_some(),
        severity,
        affected,
    })
}
