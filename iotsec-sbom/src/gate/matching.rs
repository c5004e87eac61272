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

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    //! Exact outputs of the matcher's parts (purl agreement, verdicts, grouping, the lookup
    //! paths), each case chosen so that a changed comparison or guard changes the result.

    use super::*;
    use crate::advisory::{AffectedRange, RangeEvent, RangeKind, SnapshotFile};

    const HIGH: &str =
        r#""severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}]"#;
    const LOW: &str =
        r#""severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N"}]"#;
    const COMMIT_A: &str = "1111111111111111111111111111111111111111";
    const COMMIT_B: &str = "2222222222222222222222222222222222222222";
    const COMMIT_C: &str = "3333333333333333333333333333333333333333";

    /// The database of these advisories, in this order.
    fn db(advisories: &[String]) -> AdvisoryDatabase {
        let files: Vec<SnapshotFile> = advisories
            .iter()
            .enumerate()
            .map(|(i, b)| SnapshotFile {
                path: format!("{i:02}.json"),
                bytes: b.as_bytes().to_vec(),
            })
            .collect();
        AdvisoryDatabase::from_files(&files).unwrap()
    }

    /// A crates.io advisory for `foo` naming version 1.0.0 affected.
    fn foo_adv(id: &str, aliases: &[&str], extra: &str) -> String {
        let aliases = aliases
            .iter()
            .map(|a| format!("{a:?}"))
            .collect::<Vec<_>>()
            .join(",");
        format!(
            r#"{{"id":"{id}","aliases":[{aliases}]{extra},"affected":[{{"package":{{"ecosystem":"crates.io","name":"foo"}},"versions":["1.0.0"]}}]}}"#
        )
    }

    fn with_purl(p: &str) -> Component {
        Component {
            name: "c".into(),
            purl: Some(p.into()),
            ..Component::default()
        }
    }

    fn with_cpe(cpe: &str, version: Option<&str>) -> Component {
        Component {
            name: "c".into(),
            cpe: Some(cpe.into()),
            version: version.map(str::to_owned),
            ..Component::default()
        }
    }

    /// (primary, ids, informational, undetermined) of each group.
    type Row = (String, Vec<String>, Option<String>, Option<String>);

    fn identified(l: Lookup) -> (String, String, Vec<Row>, Option<String>) {
        match l {
            Lookup::Identified {
                label,
                version,
                groups,
                note,
            } => (
                label,
                version,
                groups
                    .into_iter()
                    .map(|g| {
                        (
                            g.primary,
                            g.ids.into_iter().collect(),
                            g.informational,
                            g.undetermined,
                        )
                    })
                    .collect(),
                note,
            ),
            Lookup::Unidentified { label, reason } => {
                panic!("{label} unidentified: {reason}")
            }
        }
    }

    fn unidentified(l: Lookup) -> (String, String) {
        match l {
            Lookup::Unidentified { label, reason } => (label, reason),
            Lookup::Identified { label, .. } => panic!("{label} identified"),
        }
    }

    fn ids(l: &[&str]) -> Vec<String> {
        l.iter().map(|s| (*s).to_owned()).collect()
    }

    fn row(primary: &str, all: &[&str]) -> Row {
        (primary.to_owned(), ids(all), None, None)
    }

    fn affected(
        purl: Option<&str>,
        ranges: Vec<AffectedRange>,
        versions: &[&str],
    ) -> AffectedPackage {
        AffectedPackage {
            ecosystem: "PyPI".into(),
            name: "foo".into(),
            purl: purl.map(str::to_owned),
            ranges,
            versions: ids(versions),
            cpes: Vec::new(),
            informational: None,
        }
    }

    fn range(events: Vec<RangeEvent>) -> AffectedRange {
        AffectedRange {
            kind: RangeKind::Ecosystem,
            events,
            repo: None,
        }
    }

    #[test]
    fn verdict_listed_in_range_outside_and_unplaceable() {
        use RangeEvent::{Fixed, Introduced};
        let s = VersionScheme::for_ecosystem("PyPI");
        let listed = affected(None, Vec::new(), &["1.0"]);
        assert_eq!(version_verdict(&listed, s, "1.0"), Some(None));
        assert_eq!(version_verdict(&listed, s, "1.1"), None);
        let ranged = affected(
            None,
            vec![range(vec![Introduced("1.0".into()), Fixed("2.0".into())])],
            &[],
        );
        assert_eq!(version_verdict(&ranged, s, "1.5"), Some(None));
        assert_eq!(version_verdict(&ranged, s, "2.0"), None);
        let bad = range(vec![Introduced("not a version".into())]);
        let why = format!(
            "{}, so the advisory's PyPI range cannot place version 1.5",
            s.check("not a version").unwrap_err()
        );
        let unplaceable = affected(None, vec![bad.clone()], &[]);
        assert_eq!(version_verdict(&unplaceable, s, "1.5"), Some(Some(why)));
        // A range that decides wins over one that cannot place the version.
        let both = affected(None, vec![bad, range(vec![Introduced("0".into())])], &[]);
        assert_eq!(version_verdict(&both, s, "1.5"), Some(None));
    }

    #[test]
    fn purl_base_cuts_version_qualifiers_and_subpath_only() {
        assert_eq!(
            purl_base("pkg:cargo/foo@1.0.0?arch=x86#src"),
            "pkg:cargo/foo"
        );
        assert_eq!(purl_base("pkg:cargo/foo@1.0.0"), "pkg:cargo/foo");
        assert_eq!(purl_base("pkg:cargo/foo"), "pkg:cargo/foo");
        assert_eq!(purl_base("pkg:cargo/foo#a/b"), "pkg:cargo/foo");
        // An `@` followed by a `/` is part of the path (a scope), not a version.
        assert_eq!(purl_base("pkg:npm/a@b/c"), "pkg:npm/a@b/c");
    }

    #[test]
    fn purl_agreement_compares_type_namespace_and_name() {
        let comp = PackageUrl::parse("pkg:npm/%40acme/foo@1.0.0").unwrap();
        let base = purl_base("pkg:npm/%40acme/foo@1.0.0");
        let agrees = |p: Option<&str>| purl_agrees(&affected(p, Vec::new(), &[]), &comp, base);
        assert!(agrees(None));
        // Fast path, and the same purl spelt with escapes.
        assert!(agrees(Some("pkg:npm/%40acme/foo")));
        assert!(agrees(Some("pkg:npm/%40acme/fo%6F")));
        // An advisory purl without namespace names the package in every namespace.
        assert!(agrees(Some("pkg:npm/fo%6F")));
        assert!(!agrees(Some("pkg:npm/%40other/foo")));
        assert!(!agrees(Some("pkg:cargo/%40acme/foo")));
        assert!(!agrees(Some("pkg:npm/%40acme/bar")));
        assert!(!agrees(Some("pkg:npm/bar")));
        assert!(!agrees(Some("pkg:%zz")));
        // Without escapes, a different base is compared field by field, never accepted as is.
        let plain = PackageUrl::parse("pkg:cargo/foo@1.0.0").unwrap();
        let a = affected(Some("pkg:cargo/bar"), Vec::new(), &[]);
        assert!(!purl_agrees(&a, &plain, "pkg:cargo/foo"));
        let a = affected(Some("pkg:cargo/foo"), Vec::new(), &[]);
        assert!(purl_agrees(&a, &plain, "pkg:cargo/foo"));
    }

    #[test]
    fn aliases_merge_groups_primary_is_the_smallest_id_and_severity_the_highest() {
        let db = db(&[
            foo_adv("RUSTSEC-2", &["CVE-9"], &format!(",{LOW}")),
            foo_adv("GHSA-1", &["CVE-9"], &format!(",{HIGH}")),
            foo_adv("RUSTSEC-5", &[], ""),
        ]);
        let l = lookup(&db, &with_purl("pkg:cargo/foo@1.0.0"));
        let Lookup::Identified { ref groups, .. } = l else {
            panic!("unidentified")
        };
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].severity, db.advisories()[1].severity);
        assert_ne!(groups[0].severity, db.advisories()[0].severity);
        let (label, version, rows, note) = identified(l);
        assert_eq!(
            (label.as_str(), version.as_str(), note),
            ("pkg:cargo/foo@1.0.0", "1.0.0", None)
        );
        assert_eq!(
            rows,
            vec![
                row("GHSA-1", &["CVE-9", "GHSA-1", "RUSTSEC-2"]),
                row("RUSTSEC-5", &["RUSTSEC-5"]),
            ]
        );
        // The other order: the smaller id comes first and stays primary.
        let db = db_rev();
        let (_, _, rows, _) = identified(lookup(&db, &with_purl("pkg:cargo/foo@1.0.0")));
        assert_eq!(rows, vec![row("GHSA-1", &["CVE-9", "GHSA-1", "RUSTSEC-2"])]);
    }

    fn db_rev() -> AdvisoryDatabase {
        db(&[
            foo_adv("GHSA-1", &["CVE-9"], ""),
            foo_adv("RUSTSEC-2", &["CVE-9"], ""),
        ])
    }

    #[test]
    fn a_later_advisory_bridges_two_groups() {
        let db = db(&[
            foo_adv("Z-1", &["X-1"], ""),
            foo_adv("A-1", &["Y-1"], ""),
            foo_adv("M-1", &["X-1", "Y-1"], ""),
            foo_adv("Q-1", &[], ""),
        ]);
        let (_, _, rows, _) = identified(lookup(&db, &with_purl("pkg:cargo/foo@1.0.0")));
        assert_eq!(
            rows,
            vec![
                row("A-1", &["A-1", "M-1", "X-1", "Y-1", "Z-1"]),
                row("Q-1", &["Q-1"]),
            ]
        );
    }

    #[test]
    fn informational_only_when_every_merged_advisory_is() {
        let notice = r#","database_specific":{"informational":"unmaintained"}"#;
        let inf = |id: &str, aliases: &[&str]| {
            format!(
                r#"{{"id":"{id}","aliases":[{}],"affected":[{{"package":{{"ecosystem":"crates.io","name":"foo"}},"versions":["1.0.0"]{notice}}}]}}"#,
                aliases
                    .iter()
                    .map(|a| format!("{a:?}"))
                    .collect::<Vec<_>>()
                    .join(",")
            )
        };
        let both = db(&[inf("R-1", &["C-1"]), inf("R-2", &["C-1"])]);
        let (_, _, rows, _) = identified(lookup(&both, &with_purl("pkg:cargo/foo@1.0.0")));
        assert_eq!(
            rows,
            vec![(
                "R-1".to_owned(),
                ids(&["C-1", "R-1", "R-2"]),
                Some("unmaintained".to_owned()),
                None
            )]
        );
        let mixed = db(&[inf("R-1", &["C-1"]), foo_adv("R-2", &["C-1"], "")]);
        let (_, _, rows, _) = identified(lookup(&mixed, &with_purl("pkg:cargo/foo@1.0.0")));
        assert_eq!(rows, vec![row("R-1", &["C-1", "R-1", "R-2"])]);
        // Bridged in the second pass: the later group is not informational.
        let bridged = db(&[
            inf("R-1", &["X-1"]),
            foo_adv("R-2", &["Y-1"], ""),
            inf("R-3", &["X-1", "Y-1"]),
        ]);
        let (_, _, rows, _) = identified(lookup(&bridged, &with_purl("pkg:cargo/foo@1.0.0")));
        assert_eq!(rows, vec![row("R-1", &["R-1", "R-2", "R-3", "X-1", "Y-1"])]);
    }

    #[test]
    fn an_advisory_with_a_purl_of_another_package_does_not_match() {
        let other = r#"{"id":"O-1","affected":[{"package":{"ecosystem":"crates.io","name":"foo","purl":"pkg:cargo/foo-other"},"versions":["1.0.0"]}]}"#;
        let db = db(&[other.to_owned(), foo_adv("F-1", &[], "")]);
        let (_, _, rows, _) = identified(lookup(&db, &with_purl("pkg:cargo/foo@1.0.0")));
        assert_eq!(rows, vec![row("F-1", &["F-1"])]);
        let (_, _, rows, _) = identified(lookup(&db, &with_purl("pkg:cargo/foo@1.0.1")));
        assert_eq!(rows, vec![]);
    }

    #[test]
    fn an_ecosystem_the_database_does_not_cover_is_unidentified() {
        let db = db(&[foo_adv("F-1", &[], "")]);
        assert_eq!(
            unidentified(lookup(&db, &with_purl("pkg:npm/foo@1.0.0"))),
            (
                "pkg:npm/foo@1.0.0".to_owned(),
                "the advisory database has no advisories for ecosystem npm".to_owned()
            )
        );
    }

    fn git_adv(id: &str, versions: &str) -> String {
        format!(
            r#"{{"id":"{id}","affected":[{{"package":{{"ecosystem":"OSS-Fuzz","name":"lib"}},
            "ranges":[{{"type":"GIT","repo":"https://github.com/acme/lib","events":[{{"introduced":"{COMMIT_A}"}},{{"fixed":"{COMMIT_B}"}}]}}],
            "versions":[{versions}]}}]}}"#
        )
    }

    #[test]
    fn repository_components_need_git_ranges_and_match_their_own_repository() {
        let no_git = db(&[foo_adv("F-1", &[], "")]);
        let p = format!("pkg:github/acme/lib@{COMMIT_A}");
        assert_eq!(
            unidentified(lookup(&no_git, &with_purl(&p))),
            (
                p.clone(),
                "purl type \"github\" maps to no OSV ecosystem, and the advisory database carries no GIT ranges to match its repository github.com/acme/lib against".to_owned()
            )
        );
        let git = db(&[git_adv("G-1", r#""v1.0""#), git_adv("G-2", "")]);
        let (label, version, rows, _) = identified(lookup(&git, &with_purl(&p)));
        assert_eq!((label, version), (p.clone(), COMMIT_A.to_owned()));
        assert_eq!(rows, vec![row("G-1", &["G-1"]), row("G-2", &["G-2"])]);
        let fixed = format!("pkg:github/acme/lib@{COMMIT_B}");
        assert_eq!(identified(lookup(&git, &with_purl(&fixed))).2, vec![]);
        let other = format!("pkg:github/acme/lib@{COMMIT_C}");
        let rows = identified(lookup(&git, &with_purl(&other))).2;
        let why = format!(
            "commit {COMMIT_C} of github.com/acme/lib is no event commit of the advisory's GIT range, and without the repository's history the gate cannot tell whether it lies in the range"
        );
        assert_eq!(
            rows,
            vec![
                ("G-1".to_owned(), ids(&["G-1"]), None, Some(why.clone())),
                ("G-2".to_owned(), ids(&["G-2"]), None, Some(why)),
            ]
        );
        let tag = identified(lookup(&git, &with_purl("pkg:github/acme/lib@v1.0"))).2;
        assert_eq!(
            tag,
            vec![
                row("G-1", &["G-1"]),
                (
                    "G-2".to_owned(),
                    ids(&["G-2"]),
                    None,
                    Some("the advisory gives only GIT commits for github.com/acme/lib and lists no affected versions, so version v1.0 cannot be placed".to_owned())
                )
            ]
        );
        let untagged = identified(lookup(&git, &with_purl("pkg:github/acme/lib@v2.0"))).2;
        assert_eq!(
            untagged,
            vec![(
                "G-2".to_owned(),
                ids(&["G-2"]),
                None,
                Some("the advisory gives only GIT commits for github.com/acme/lib and lists no affected versions, so version v2.0 cannot be placed".to_owned())
            )]
        );
        let elsewhere = format!("pkg:github/acme/other@{COMMIT_A}");
        assert_eq!(identified(lookup(&git, &with_purl(&elsewhere))).2, vec![]);
    }

    fn cpe_adv(id: &str, cpe: &str, versions: &str) -> String {
        format!(
            r#"{{"id":"{id}","affected":[{{"package":{{"ecosystem":"OSS-Fuzz","name":"widget"}},"versions":[{versions}],"database_specific":{{"cpes":["{cpe}"]}}}}]}}"#
        )
    }

    #[test]
    fn cpe_components_match_by_listed_version_or_by_the_cpe_version() {
        let no_cpe = db(&[foo_adv("F-1", &[], "")]);
        let cpe = "cpe:2.3:a:acme:widget:1.1.1:*:*:*:*:*:*:*";
        assert_eq!(
            unidentified(lookup(&no_cpe, &with_cpe(cpe, None))),
            (
                cpe.to_owned(),
                "the advisory database carries no CPE names, so a CPE-only component cannot be cleared".to_owned()
            )
        );
        let db = db(&[
            cpe_adv("C-1", "cpe:2.3:a:acme:widget:1.1.1:*:*:*:*:*:*:*", ""),
            cpe_adv("C-2", "cpe:2.3:a:acme:widget:*:*:*:*:*:*:*:*", r#""2.0""#),
        ]);
        let (label, version, rows, _) = identified(lookup(&db, &with_cpe(cpe, None)));
        assert_eq!((label.as_str(), version.as_str()), (cpe, "1.1.1"));
        assert_eq!(rows, vec![row("C-1", &["C-1"])]);
        let any = "cpe:2.3:a:acme:widget:*:*:*:*:*:*:*:*";
        let (_, version, rows, _) = identified(lookup(&db, &with_cpe(any, Some("2.0"))));
        assert_eq!(version, "2.0");
        assert_eq!(rows, vec![row("C-2", &["C-2"])]);
        let (_, _, rows, _) = identified(lookup(&db, &with_cpe(any, Some("1.2"))));
        assert_eq!(rows, vec![]);
    }
}
