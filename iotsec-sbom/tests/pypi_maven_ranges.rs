#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! OSV `ECOSYSTEM` ranges of PyPI are evaluated in PEP 440 order (post-releases and local
//! versions after their release, so `2.0.1+cu118` is inside `[2.0.1, 2.0.3)`); a string that is no
//! PEP 440 version is never silently ordered. Maven has no faithful ordering here: its
//! `ECOSYSTEM` ranges are undetermined (the policy's `unidentified` decides), never "clean".

mod support;

use std::cmp::Ordering;

use iotsec_sbom::Decision;
use iotsec_sbom::advisory::AdvisoryDatabase;
use iotsec_sbom::gate::{FindingKind, GateDecision};
use iotsec_sbom::version::{VersionError, VersionScheme};
use proptest::prelude::*;

const HIGH: &str =
    r#""severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}]"#;

fn advisory(id: &str, ecosystem: &str, name: &str, events: &str, versions: &str) -> String {
    format!(
        r#"{{"id":"{id}",{HIGH},"affected":[{{"package":{{"ecosystem":"{ecosystem}","name":"{name}"}},
        "ranges":[{{"type":"ECOSYSTEM","events":[{events}]}}],"versions":[{versions}]}}]}}"#
    )
}

fn db() -> AdvisoryDatabase {
    support::memory_db(&[
        advisory(
            "PYSEC-TEST-TORCH",
            "PyPI",
            "torch",
            r#"{"introduced":"2.0.1"},{"fixed":"2.0.3"}"#,
            "",
        ),
        advisory(
            "PYSEC-TEST-POST",
            "PyPI",
            "postpkg",
            r#"{"introduced":"0"},{"fixed":"1.5.post1"}"#,
            "",
        ),
        advisory(
            "PYSEC-TEST-BADEVENT",
            "PyPI",
            "badevent",
            r#"{"introduced":"0"},{"fixed":"1.0-fixed-for-real"}"#,
            "",
        ),
        advisory(
            "GHSA-TEST-MAVEN",
            "Maven",
            "org.example:lib",
            r#"{"introduced":"0"},{"fixed":"2.0.0"}"#,
            r#""1.0.0""#,
        ),
    ])
}

/// (id, kind, component, status) of each finding.
fn found(d: &GateDecision) -> Vec<(String, FindingKind, String, &'static str)> {
    d.findings
        .iter()
        .map(|f| (f.id.clone(), f.kind, f.component.clone(), f.status))
        .collect()
}

fn row(
    id: &str,
    kind: FindingKind,
    component: &str,
    status: &'static str,
) -> (String, FindingKind, String, &'static str) {
    (id.to_owned(), kind, component.to_owned(), status)
}

#[test]
fn local_version_is_inside_the_range_of_its_release() {
    let torch = "pkg:pypi/torch@2.0.1%2Bcu118";
    let d = support::gate_purls(&[torch, "pkg:pypi/torch@2.0.3%2Bcu118"], &db(), "");
    assert_eq!(
        found(&d),
        vec![row(
            "PYSEC-TEST-TORCH",
            FindingKind::Vulnerability,
            torch,
            "affected"
        )]
    );
    assert_eq!(d.verdict, Decision::Fail);
}

#[test]
fn release_is_below_its_post_release_fix() {
    let d = support::gate_purls(
        &["pkg:pypi/postpkg@1.5", "pkg:pypi/postpkg@1.5.post1"],
        &db(),
        "",
    );
    assert_eq!(
        found(&d),
        vec![row(
            "PYSEC-TEST-POST",
            FindingKind::Vulnerability,
            "pkg:pypi/postpkg@1.5",
            "affected"
        )]
    );
}

#[test]
fn unparsable_pypi_versions_fail_closed() {
    let bad_component = "pkg:pypi/torch@2.0.1-cuda-special";
    let bad_event = "pkg:pypi/badevent@0.9";
    let d = support::gate_purls(&[bad_component, bad_event], &db(), "");
    let f = found(&d);
    assert_eq!(f.len(), 2, "{f:?}");
    assert_eq!(f[0].1, FindingKind::Unidentified);
    assert_eq!(f[0].2, bad_component);
    assert!(
        d.findings[0]
            .explanation
            .contains("\"2.0.1-cuda-special\" is not a PEP 440 version"),
        "{}",
        d.findings[0].explanation
    );
    assert_eq!(
        f[1],
        row(
            "PYSEC-TEST-BADEVENT",
            FindingKind::Undetermined,
            bad_event,
            "unknown"
        )
    );
    assert_eq!(d.verdict, Decision::Fail);
}

#[test]
fn maven_ecosystem_ranges_are_undetermined_listed_versions_decide() {
    let listed = "pkg:maven/org.example/lib@1.0.0";
    let unlisted = "pkg:maven/org.example/lib@1.5.0";
    let other = "pkg:maven/org.example/other@1.0.0";
    let d = support::gate_purls(&[listed, unlisted, other], &db(), "");
    assert_eq!(
        found(&d),
        vec![
            row(
                "GHSA-TEST-MAVEN",
                FindingKind::Vulnerability,
                listed,
                "affected"
            ),
            row(
                "GHSA-TEST-MAVEN",
                FindingKind::Undetermined,
                unlisted,
                "unknown"
            ),
        ]
    );
    assert!(
        d.findings[1]
            .explanation
            .contains("the Maven version ordering is not implemented"),
        "{}",
        d.findings[1].explanation
    );
}

#[test]
fn pep440_orders_pre_post_dev_local_and_epochs() {
    let p = VersionScheme::Pep440;
    assert_eq!(p.compare("2.0.1+cu118", "2.0.1"), Ordering::Greater);
    assert_eq!(p.compare("1.5.post1", "1.5"), Ordering::Greater);
    assert_eq!(p.compare("1.0rc1", "1.0"), Ordering::Less);
    assert_eq!(p.compare("1.0.dev1", "1.0a1"), Ordering::Less);
    assert_eq!(p.compare("1!0.1", "2.0"), Ordering::Greater);
    assert_eq!(p.compare("1.0", "1.0.0"), Ordering::Equal);
    assert_eq!(p.compare("1.0-post1", "1.0.post1"), Ordering::Equal);
    assert_eq!(p.compare("2.10", "2.9"), Ordering::Greater);
    assert_eq!(p.check("2.0.1+cu118"), Ok(()));
    assert!(matches!(
        p.check("2.0.1-cuda-special"),
        Err(VersionError::Invalid { .. })
    ));
    assert_eq!(
        VersionScheme::Maven.check("1.0.0"),
        Err(VersionError::NoOrdering { ecosystem: "Maven" })
    );
}

fn pep440_version() -> impl Strategy<Value = String> {
    "([0-9]!)?[0-9]{1,2}(\\.[0-9]{1,2}){0,2}((a|b|rc|c|alpha|beta|pre|preview)[0-9]{0,2})?(\\.post[0-9]{1,2}|-[0-9]{1,2})?(\\.dev[0-9]{0,2})?(\\+[a-z0-9]{1,4}([._-][a-z0-9]{1,3}){0,2})?"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// On valid versions the comparator is a total order consistent with PEP 440 equality
    /// (`Equal` exactly when the normalized forms are the same) and with `check`.
    #[test]
    fn pep440_is_a_total_order(mut v in proptest::collection::vec(pep440_version(), 3)) {
        let p = VersionScheme::Pep440;
        for x in &v {
            prop_assert_eq!(p.check(x), Ok(()), "{}", x);
            prop_assert_eq!(p.compare(x, x), Ordering::Equal);
        }
        let normal = |s: &str| s.parse::<pep440_rs::Version>().map(|v| v.to_string()).unwrap();
        for x in &v {
            for y in &v {
                prop_assert_eq!(p.compare(x, y), p.compare(y, x).reverse(), "{} {}", x, y);
                prop_assert_eq!(p.compare(x, y) == Ordering::Equal, normal(x) == normal(y), "{} {}", x, y);
            }
        }
        v.sort_by(|x, y| p.compare(x, y));
        prop_assert_ne!(p.compare(&v[0], &v[1]), Ordering::Greater);
        prop_assert_ne!(p.compare(&v[1], &v[2]), Ordering::Greater);
        prop_assert_ne!(p.compare(&v[0], &v[2]), Ordering::Greater, "{} {} {}", v[0], v[1], v[2]);
    }
}
