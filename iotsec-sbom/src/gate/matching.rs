//! Matching SBOM components to advisories: purl identity (type, namespace, name) mapped to the
//! OSV ecosystem (and, for distributions, the release the `distro` qualifier names: module
//! [`crate::distro`]), version ranges in the ecosystem's ordering, repository and commit for
//! components identified by their source (module [`crate::vcs`], OSV `GIT` ranges), strict
//! CPE 2.3 for components without a usable purl; aliases of the matched advisories are merged
//! (union of ids).

use std::collections::BTreeSet;

use crate::advisory::{AdvisoryDatabase, AffectedPackage, CommitStatus};
use crate::cpe::Cpe23;
use crate::distro::ReleaseScope;
use crate::purl::PackageUrl;
use crate::sbom::Component;
use crate::severity::Severity;
use crate::vcs::{VcsRef, is_commit};
use crate::version::{VersionError, VersionScheme};

/// An affected entry that matched, and why its verdict is open (`None`: affected).
type Hit = ((u32, u32), Option<String>);

/// The result of looking a component up.
pub(crate) enum Lookup {
    /// The component was identified; these vulnerability groups affect it.
    Identified {
        label: String,
        version: String,
        groups: Vec<MatchGroup>,
        /// How the match was widened (e.g. every release of a distribution), for the findings.
        note: Option<String>,
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
    /// Set when no advisory of the group could decide the component either way: why.
    pub undetermined: Option<String>,
}

/// Whether entry `a` affects `version`: `None` not affected, `Some(None)` affected,
/// `Some(Some(why))` undetermined (a range that would decide it cannot order the versions, e.g.
/// a Maven `ECOSYSTEM` range or an event that is no PEP 440 version: fail closed, never "clean").
fn version_verdict(
    a: &AffectedPackage,
    scheme: VersionScheme,
    version: &str,
) -> Option<Option<String>> {
    if a.versions.iter().any(|v| v == version) {
        return Some(None);
    }
    let mut undetermined = None;
    for r in &a.ranges {
        match r.contains(scheme, version) {
            Ok(true) => return Some(None),
            Ok(false) => {}
            Err(e) => {
                undetermined = Some(format!(
                    "{e}, so the advisory's {} range cannot place version {version}",
                    a.ecosystem
                ));
            }
        }
    }
    undetermined.map(Some)
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

fn group(db: &AdvisoryDatabase, mut hits: Vec<Hit>) -> Vec<MatchGroup> {
    // Decided hits first: an advisory that affects the component through one entry is not
    // undetermined because of another.
    hits.sort_by_key(|(_, undetermined)| undetermined.is_some());
    let mut groups: Vec<MatchGroup> = Vec::new();
    let mut seen_adv = BTreeSet::new();
    for (r, undetermined) in hits {
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
                    if undetermined.is_none() {
                        g.undetermined = None;
                    }
                }
            }
            None => groups.push(MatchGroup {
                ids,
                primary: adv.id.clone(),
                severity: adv.severity.clone(),
                informational,
                summary: adv.summary.clone(),
                undetermined,
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
                        if b.informational.is_none() {
                            a.informational = None;
                        }
                        if b.undetermined.is_none() {
                            a.undetermined = None;
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
                    let scope = purl.release_scope().unwrap_or(ReleaseScope::Unversioned);
                    let (covered, note) = match &scope {
                        ReleaseScope::Unmappable(q) => {
                            return Lookup::Unidentified {
                                label: p.to_owned(),
                                reason: format!(
                                    "the distro qualifier {q:?} names no {eco} release this gate can map, so the advisories of the component's release cannot be selected"
                                ),
                            };
                        }
                        ReleaseScope::Release(r) => (r.as_str(), None),
                        ReleaseScope::AllReleases => (
                            eco,
                            Some(format!(
                                "the purl has no distro qualifier, so the advisories of every {eco} release were matched"
                            )),
                        ),
                        ReleaseScope::Unversioned => (eco, None),
                    };
                    if !db.covers_ecosystem(covered) {
                        return Lookup::Unidentified {
                            label: p.to_owned(),
                            reason: format!(
                                "the advisory database has no advisories for ecosystem {covered}"
                            ),
                        };
                    }
                    let scheme = VersionScheme::for_ecosystem(eco);
                    if let Err(e @ VersionError::Invalid { .. }) = scheme.check(&version) {
                        return Lookup::Unidentified {
                            label: p.to_owned(),
                            reason: format!("{e}, so no {eco} range can be evaluated"),
                        };
                    }
                    let name = purl.osv_name();
                    let component_base = purl_base(p);
                    let hits: Vec<Hit> = db
                        .lookup_package(eco, &name)
                        .iter()
                        .copied()
                        .filter_map(|r| {
                            let (_, a) = db.get(r)?;
                            if !scope.admits(&a.ecosystem) || !purl_agrees(a, &purl, component_base)
                            {
                                return None;
                            }
                            version_verdict(a, scheme, &version).map(|why| (r, why))
                        })
                        .collect();
                    return Lookup::Identified {
                        label: p.to_owned(),
                        version,
                        groups: group(db, hits),
                        note,
                    };
                }
                None => match purl.vcs_ref() {
                    Some(vcs) if db.has_git_data() => {
                        return lookup_repository(db, p, &vcs, c.version.as_deref());
                    }
                    Some(vcs) => {
                        purl_problem = Some(format!(
                            "purl type {:?} maps to no OSV ecosystem, and the advisory database carries no GIT ranges to match its repository {} against",
                            purl.ty, vcs.repo
                        ))
                    }
                    None => {
                        purl_problem =
                            Some(format!("purl type {:?} maps to no OSV ecosystem", purl.ty))
                    }
                },
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
            .filter_map(|(r, adv_cpe)| {
                let (_, a) = db.get(*r)?;
                let scheme = VersionScheme::for_ecosystem(&a.ecosystem);
                let verdict = if a.ranges.is_empty() && a.versions.is_empty() {
                    (adv_cpe.version == version).then_some(None)
                } else {
                    version_verdict(a, scheme, &version)
                };
                verdict.map(|why| (*r, why))
            })
            .collect();
        return Lookup::Identified {
            label: cpe_text.to_owned(),
            version,
            groups: group(db, hits),
            note: None,
        };
    }
    Lookup::Unidentified {
        label: fallback_label(),
        reason: purl_problem
            .unwrap_or_else(|| "the component has neither a purl nor a CPE".to_owned()),
    }
}

/// Looks up a component identified by its repository (module [`crate::vcs`]). A revision listed
/// in an advisory's `versions` is affected, whatever the range kinds (OSV.dev enumerates the
/// tags of `GIT` ranges there). A commit is decided by a `GIT` range of the same repository only
/// when it equals an event commit (no commit graph: `introduced`/`last_affected` affected,
/// `fixed`/`limit` not); any other commit, and a tag of an advisory that lists no versions, is
/// undetermined for that advisory.
fn lookup_repository(
    db: &AdvisoryDatabase,
    label: &str,
    vcs: &VcsRef,
    component_version: Option<&str>,
) -> Lookup {
    let Some(revision) = vcs
        .revision
        .clone()
        .or_else(|| component_version.map(str::to_owned))
    else {
        return Lookup::Unidentified {
            label: label.to_owned(),
            reason: format!(
                "the component names repository {} but no commit or version",
                vcs.repo
            ),
        };
    };
    let commit = is_commit(&revision);
    let mut hits: Vec<Hit> = Vec::new();
    for &r in db.lookup_repo(&vcs.repo) {
        let Some((_, a)) = db.get(r) else {
            continue;
        };
        if a.versions.contains(&revision) {
            hits.push((r, None));
            continue;
        }
        if commit {
            let statuses: Vec<CommitStatus> = a
                .ranges
                .iter()
                .filter(|g| g.repo.as_deref() == Some(vcs.repo.as_str()))
                .filter_map(|g| g.commit_status(&revision))
                .collect();
            if statuses.contains(&CommitStatus::Affected) {
                hits.push((r, None));
            } else if statuses.contains(&CommitStatus::Undetermined) {
                hits.push((
                    r,
                    Some(format!(
                        "commit {revision} of {} is no event commit of the advisory's GIT range, and without the repository's history the gate cannot tell whether it lies in the range",
                        vcs.repo
                    )),
                ));
            }
        } else if a.versions.is_empty() {
            hits.push((
                r,
                Some(format!(
                    "the advisory gives only GIT commits for {} and lists no affected versions, so version {revision} cannot be placed",
                    vcs.repo
                )),
            ));
        }
    }
    Lookup::Identified {
        label: label.to_owned(),
        version: revision,
        groups: group(db, hits),
        note: None,
    }
}
