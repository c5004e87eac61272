//! Matching SBOM components to advisories: purl identity (type, namespace, name) mapped to the
//! OSV ecosystem, version ranges in the ecosystem's ordering, strict CPE 2.3 for components
//! without a usable purl; aliases of the matched advisories are merged (union of ids).

use std::collections::BTreeSet;

use crate::advisory::{AdvisoryDatabase, AffectedPackage};
use crate::cpe::Cpe23;
use crate::purl::PackageUrl;
use crate::sbom::Component;
use crate::severity::Severity;
use crate::version::VersionScheme;

/// The result of looking a component up.
pub(crate) enum Lookup {
    /// The component was identified; these vulnerability groups affect it.
    Identified {
        label: String,
        version: String,
        groups: Vec<MatchGroup>,
    },
    /// The component cannot be evaluated.
    Unidentified { label: String, reason: String },
}

/// Advisories that name the same vulnerability (linked by id/aliases), merged.
pub(crate) struct MatchGroup {
    pub ids: BTreeSet<String>,
    pub primary: String,
    pub severity: Severity,
    pub informational: Option<String>,
    pub summary: Option<String>,
}

fn version_affected(a: &AffectedPackage, scheme: VersionScheme, version: &str) -> bool {
    a.versions.iter().any(|v| v == version) || a.ranges.iter().any(|r| r.contains(scheme, version))
}

/// `pkg:type/namespace/name` of a purl string (version, qualifiers and subpath cut).
fn purl_base(p: &str) -> &str {
    let end = p.find(['?', '#']).unwrap_or(p.len());
    let p = p.get(..end).unwrap_or(p);
    match p.rfind('@') {
        Some(at) if !p.get(at..).is_some_and(|v| v.contains('/')) => p.get(..at).unwrap_or(p),
        _ => p,
    }
}

fn purl_agrees(a: &AffectedPackage, purl: &PackageUrl, component_base: &str) -> bool {
    let Some(text) = a.purl.as_deref() else {
        return true;
    };
    // Fast path: the common, already-canonical spelling.
    if !text.contains('%') && purl_base(text) == component_base {
        return true;
    }
    let Ok(p) = PackageUrl::parse(text) else {
        return false;
    };
    p.ty == purl.ty
        && (p.namespace.is_none() || p.namespace == purl.namespace)
        && p.name == purl.name
}

fn group(db: &AdvisoryDatabase, hits: Vec<(u32, u32)>) -> Vec<MatchGroup> {
    let mut groups: Vec<MatchGroup> = Vec::new();
    let mut seen_adv = BTreeSet::new();
    for r in hits {
        if !seen_adv.insert(r.0) {
            continue;
        }
        let Some((adv, aff)) = db.get(r) else {
            continue;
        };
        let mut ids: BTreeSet<String> = adv.aliases.iter().cloned().collect();
        ids.insert(adv.id.clone());
        let informational = aff.informational.clone();
        let existing = groups.iter().position(|g| !g.ids.is_disjoint(&ids));
        match existing {
            Some(i) => {
                if let Some(g) = groups.get_mut(i) {
                    g.ids.extend(ids);
                    g.severity = core::mem::replace(&mut g.severity, Severity::Unscored)
                        .max(adv.severity.clone());
                    if adv.id < g.primary {
                        g.primary = adv.id.clone();
                    }
                    if g.informational.is_some() && informational.is_none() {
                        g.informational = None;
                    }
                }
            }
            None => groups.push(MatchGroup {
                ids,
                primary: adv.id.clone(),
                severity: adv.severity.clone(),
                informational,
                summary: adv.summary.clone(),
            }),
        }
    }
    // A later advisory can bridge two groups; merge until stable (groups per component are few).
    let mut merged = true;
    while merged {
        merged = false;
        'outer: for i in 0..groups.len() {
            for j in i + 1..groups.len() {
                let overlap = match (groups.get(i), groups.get(j)) {
                    (Some(a), Some(b)) => !a.ids.is_disjoint(&b.ids),
                    _ => false,
                };
                if overlap {
                    let b = groups.remove(j);
                    if let Some(a) = groups.get_mut(i) {
                        a.ids.extend(b.ids);
                        a.severity =
                            core::mem::replace(&mut a.severity, Severity::Unscored).max(b.severity);
                        if b.primary < a.primary {
                            a.primary = b.primary;
                        }
                    }
                    merged = true;
                    break 'outer;
                }
            }
        }
    }
    groups
}

/// Looks a component up in the database.
pub(crate) fn lookup(db: &AdvisoryDatabase, c: &Component) -> Lookup {
    let fallback_label = || {
        c.purl
            .clone()
            .or_else(|| c.cpe.clone())
            .unwrap_or_else(|| c.name.clone())
    };
    let mut purl_problem = None;
    if let Some(p) = c.purl.as_deref() {
        match PackageUrl::parse(p) {
            Ok(purl) => match purl.osv_ecosystem() {
                Some(eco) => {
                    let Some(version) = purl.version.clone().or_else(|| c.version.clone()) else {
                        return Lookup::Unidentified {
                            label: p.to_owned(),
                            reason: "the component has no version, so no range can be evaluated"
                                .to_owned(),
                        };
                    };
                    if !db.covers_ecosystem(eco) {
                        return Lookup::Unidentified {
                            label: p.to_owned(),
                            reason: format!(
                                "the advisory database has no advisories for ecosystem {eco}"
                            ),
                        };
                    }
                    let scheme = VersionScheme::for_ecosystem(eco);
                    let name = purl.osv_name();
                    let component_base = purl_base(p);
                    let hits: Vec<(u32, u32)> = db
                        .lookup_package(eco, &name)
                        .iter()
                        .copied()
                        .filter(|r| {
                            db.get(*r).is_some_and(|(_, a)| {
                                purl_agrees(a, &purl, component_base)
                                    && version_affected(a, scheme, &version)
                            })
                        })
                        .collect();
                    return Lookup::Identified {
                        label: p.to_owned(),
                        version,
                        groups: group(db, hits),
                    };
                }
                None => {
                    purl_problem = Some(format!("purl type {:?} maps to no OSV ecosystem", purl.ty))
                }
            },
            Err(e) => purl_problem = Some(format!("{e} ({p:?})")),
        }
    }
    if let Some(cpe_text) = c.cpe.as_deref() {
        let Some(cpe) = Cpe23::parse(cpe_text) else {
            return Lookup::Unidentified {
                label: fallback_label(),
                reason: format!("{cpe_text:?} is not a CPE 2.3 formatted string"),
            };
        };
        let version = match (cpe.version.as_str(), c.version.as_deref()) {
            ("*" | "-" | "", Some(v)) => v.to_owned(),
            ("*" | "-" | "", None) => {
                return Lookup::Unidentified {
                    label: cpe_text.to_owned(),
                    reason: "neither the CPE nor the component gives a version".to_owned(),
                };
            }
            (v, _) => v.to_owned(),
        };
        if !db.has_cpe_data() {
            return Lookup::Unidentified {
                label: cpe_text.to_owned(),
                reason: "the advisory database carries no CPE names, so a CPE-only component cannot be cleared".to_owned(),
            };
        }
        let hits = db
            .lookup_cpe(&cpe)
            .iter()
            .filter(|(_, adv_cpe)| cpe.names_same_product(adv_cpe))
            .filter(|(r, adv_cpe)| {
                db.get(*r).is_some_and(|(_, a)| {
                    let scheme = VersionScheme::for_ecosystem(&a.ecosystem);
                    if a.ranges.is_empty() && a.versions.is_empty() {
                        adv_cpe.version == version
                    } else {
                        version_affected(a, scheme, &version)
                    }
                })
            })
            .map(|(r, _)| *r)
            .collect();
        return Lookup::Identified {
            label: cpe_text.to_owned(),
            version,
            groups: group(db, hits),
        };
    }
    Lookup::Unidentified {
        label: fallback_label(),
        reason: purl_problem
            .unwrap_or_else(|| "the component has neither a purl nor a CPE".to_owned()),
    }
}
