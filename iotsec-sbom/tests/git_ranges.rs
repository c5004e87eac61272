#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! OSV `GIT` ranges: a component version listed in `versions` is affected whatever the range
//! kind; a component identified by a commit of the advisory's repository is decided only when the
//! commit is an event commit, and is otherwise undetermined (the policy's `unidentified`
//! decides), never silently clean.

mod support;

use iotsec_sbom::advisory::{AdvisoryDatabase, parse_osv};
use iotsec_sbom::gate::{FindingKind, GateDecision};
use iotsec_sbom::{Decision, GateError};

const INTRODUCED: &str = "1111111111111111111111111111111111111111";
const FIXED: &str = "2222222222222222222222222222222222222222";
const BETWEEN: &str = "3333333333333333333333333333333333333333";
const HIGH: &str =
    r#""severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}]"#;

fn wolfssl() -> String {
    format!(
        r#"{{"id":"TEST-GIT-0001","aliases":["CVE-2030-1000"],{HIGH},"affected":[{{"package":{{"ecosystem":"OSS-Fuzz","name":"wolfssl"}},
        "ranges":[{{"type":"GIT","repo":"https://github.com/wolfSSL/wolfssl","events":[{{"introduced":"{INTRODUCED}"}},{{"fixed":"{FIXED}"}}]}}],
        "versions":["v5.5.0-stable","v5.6.0-stable"]}}]}}"#
    )
}

fn nanopb() -> String {
    format!(
        r#"{{"id":"TEST-GIT-0002",{HIGH},"affected":[{{"package":{{"ecosystem":"OSS-Fuzz","name":"nanopb"}},
        "ranges":[{{"type":"GIT","repo":"https://github.com/nanopb/nanopb.git","events":[{{"introduced":"0"}},{{"fixed":"{FIXED}"}}]}}]}}]}}"#
    )
}

fn crate_with_git_range() -> String {
    format!(
        r#"{{"id":"TEST-GIT-0003",{HIGH},"affected":[{{"package":{{"ecosystem":"crates.io","name":"foo"}},
        "ranges":[{{"type":"GIT","repo":"https://github.com/acme/foo","events":[{{"introduced":"{INTRODUCED}"}}]}}],
        "versions":["0.3.0"]}}]}}"#
    )
}

fn db(advisories: &[String]) -> AdvisoryDatabase {
    support::memory_db(advisories)
}

fn gate(purls: &[&str], db: &AdvisoryDatabase) -> GateDecision {
    support::gate_purls(purls, db, "")
}

/// (id, kind, component, version, status) of each finding.
fn found(d: &GateDecision) -> Vec<(String, FindingKind, String, String, &'static str)> {
    d.findings
        .iter()
        .map(|f| {
            (
                f.id.clone(),
                f.kind,
                f.component.clone(),
                f.version.clone().unwrap_or_default(),
                f.status,
            )
        })
        .collect()
}

fn row(
    id: &str,
    kind: FindingKind,
    component: &str,
    version: &str,
    status: &'static str,
) -> (String, FindingKind, String, String, &'static str) {
    (
        id.to_owned(),
        kind,
        component.to_owned(),
        version.to_owned(),
        status,
    )
}

#[test]
fn tags_in_versions_and_event_commits_decide_other_commits_are_undetermined() {
    let db = db(&[wolfssl(), nanopb()]);
    let listed = "pkg:github/wolfssl/wolfssl@v5.6.0-stable";
    let unlisted = "pkg:github/wolfssl/wolfssl@v5.6.2-stable";
    let introduced = format!("pkg:github/wolfSSL/wolfssl@{INTRODUCED}");
    let fixed = format!("pkg:github/wolfssl/wolfssl@{FIXED}");
    let between = format!("pkg:github/wolfssl/wolfssl@{BETWEEN}");
    let vcs_url = format!(
        "pkg:generic/wolfssl?vcs_url=git%2Bhttps://github.com/wolfSSL/wolfssl.git%40{INTRODUCED}"
    );
    let other_repo = format!("pkg:github/acme/other@{BETWEEN}");
    let tag_without_versions = "pkg:github/nanopb/nanopb@0.4.1";
    let d = gate(
        &[
            listed,
            unlisted,
            &introduced,
            &fixed,
            &between,
            &vcs_url,
            &other_repo,
            tag_without_versions,
        ],
        &db,
    );
    use FindingKind::{Undetermined, Vulnerability};
    assert_eq!(
        found(&d),
        vec![
            row(
                "TEST-GIT-0001",
                Vulnerability,
                listed,
                "v5.6.0-stable",
                "affected"
            ),
            row(
                "TEST-GIT-0001",
                Vulnerability,
                &introduced,
                INTRODUCED,
                "affected"
            ),
            row("TEST-GIT-0001", Undetermined, &between, BETWEEN, "unknown"),
            row(
                "TEST-GIT-0001",
                Vulnerability,
                &vcs_url,
                INTRODUCED,
                "affected"
            ),
            row(
                "TEST-GIT-0002",
                Undetermined,
                tag_without_versions,
                "0.4.1",
                "unknown"
            ),
        ]
    );
    assert_eq!(
        d.findings[2].explanation,
        format!(
            "commit {BETWEEN} of github.com/wolfssl/wolfssl is no event commit of the advisory's GIT range, and without the repository's history the gate cannot tell whether it lies in the range; policy unidentified = fail"
        )
    );
    assert_eq!(d.findings[2].decision, Decision::Fail);
    assert_eq!(d.findings[2].aliases, vec!["CVE-2030-1000"]);
    assert_eq!(
        d.findings[4].explanation,
        "the advisory gives only GIT commits for github.com/nanopb/nanopb and lists no affected versions, so version 0.4.1 cannot be placed; policy unidentified = fail"
    );
    assert_eq!(d.verdict, Decision::Fail);
}

#[test]
fn undetermined_can_be_relaxed_by_policy_like_unidentified_components() {
    let db = db(&[wolfssl()]);
    let between = format!("pkg:github/wolfssl/wolfssl@{BETWEEN}");
    let d = support::gate_purls(&[&between], &db, r#"unidentified = "warn""#);
    assert_eq!(d.verdict, Decision::Warn);
    assert_eq!(d.findings.len(), 1);
    assert_eq!(d.findings[0].kind, FindingKind::Undetermined);
}

#[test]
fn an_affected_alias_outweighs_an_undetermined_one() {
    // Same CVE, same repository: one advisory lists the commit among its versions.
    let listing = format!(
        r#"{{"id":"TEST-GIT-0009","aliases":["CVE-2030-1000"],{HIGH},"affected":[{{"package":{{"ecosystem":"OSS-Fuzz","name":"wolfssl"}},
        "ranges":[{{"type":"GIT","repo":"https://github.com/wolfssl/wolfssl","events":[{{"introduced":"0"}}]}}],
        "versions":["{BETWEEN}"]}}]}}"#
    );
    let db = db(&[wolfssl(), listing]);
    let between = format!("pkg:github/wolfssl/wolfssl@{BETWEEN}");
    let d = gate(&[&between], &db);
    assert_eq!(
        found(&d),
        vec![row(
            "TEST-GIT-0001",
            FindingKind::Vulnerability,
            &between,
            BETWEEN,
            "affected"
        )]
    );
    assert_eq!(
        d.findings[0].aliases,
        vec!["CVE-2030-1000", "TEST-GIT-0009"]
    );
    assert_eq!(
        d.findings[0].explanation,
        "severity high (7.5) is above max_severity medium"
    );
}

#[test]
fn versions_list_is_honoured_for_ecosystem_packages_with_only_git_ranges() {
    let db = db(&[crate_with_git_range()]);
    let d = gate(&["pkg:cargo/foo@0.3.0", "pkg:cargo/foo@0.3.1"], &db);
    assert_eq!(
        found(&d),
        vec![row(
            "TEST-GIT-0003",
            FindingKind::Vulnerability,
            "pkg:cargo/foo@0.3.0",
            "0.3.0",
            "affected"
        )]
    );
}

#[test]
fn without_git_data_a_repository_component_stays_unidentified() {
    let db = db(&[crate_with_git_range()
        .replace(
            r#""type":"GIT","repo":"https://github.com/acme/foo""#,
            r#""type":"SEMVER""#,
        )
        .replace(INTRODUCED, "0")]);
    assert!(!db.has_git_data());
    let p = format!("pkg:github/wolfssl/wolfssl@{BETWEEN}");
    let d = gate(&[&p], &db);
    assert_eq!(d.findings.len(), 1);
    assert_eq!(d.findings[0].kind, FindingKind::Unidentified);
    assert_eq!(
        d.findings[0].explanation,
        "purl type \"github\" maps to no OSV ecosystem, and the advisory database carries no GIT ranges to match its repository github.com/wolfssl/wolfssl against; policy unidentified = fail"
    );
}

#[test]
fn a_git_range_needs_a_repository() {
    let no_repo = wolfssl().replace(r#""repo":"https://github.com/wolfSSL/wolfssl","#, "");
    assert!(matches!(
        parse_osv(no_repo.as_bytes(), "x.json"),
        Err(GateError::BadAdvisory { reason, .. }) if reason == "affected[0].ranges[0]: a GIT range needs repo"
    ));
    let bad_repo = wolfssl().replace("https://github.com/wolfSSL/wolfssl", "wolfssl");
    assert!(matches!(
        parse_osv(bad_repo.as_bytes(), "x.json"),
        Err(GateError::BadAdvisory { reason, .. }) if reason == "affected[0].ranges[0]: repo \"wolfssl\" is not a repository URL"
    ));
}

#[test]
fn one_affected_entry_decides_the_advisory() {
    // Two entries of one advisory name the repository: the first cannot place the commit, the
    // second lists it.
    let two = format!(
        r#"{{"id":"TEST-GIT-0010",{HIGH},"affected":[
        {{"package":{{"ecosystem":"OSS-Fuzz","name":"wolfssl"}},
          "ranges":[{{"type":"GIT","repo":"https://github.com/wolfssl/wolfssl","events":[{{"introduced":"{INTRODUCED}"}}]}}]}},
        {{"package":{{"ecosystem":"OSS-Fuzz","name":"wolfssl-backport"}},
          "ranges":[{{"type":"GIT","repo":"https://github.com/wolfssl/wolfssl","events":[{{"introduced":"0"}}]}}],
          "versions":["{BETWEEN}"]}}]}}"#
    );
    let db = db(&[two]);
    let between = format!("pkg:github/wolfssl/wolfssl@{BETWEEN}");
    let d = gate(&[&between], &db);
    assert_eq!(
        found(&d),
        vec![row(
            "TEST-GIT-0010",
            FindingKind::Vulnerability,
            &between,
            BETWEEN,
            "affected"
        )]
    );
}

/// A repository-only record (no `package`, as OSS-Fuzz and OSV.dev's C/C++ records are written):
/// it loads under OSV's `GIT` ecosystem, named by its repository, and decides commits of that
/// repository like any GIT range; such a record with a non-GIT range, or without any GIT range,
/// is refused (one such record used to make the whole database fail to load).
#[test]
fn repository_only_records_load_and_decide_their_repository() {
    let repository_only = format!(
        r#"{{"id":"TEST-GIT-0011",{HIGH},"affected":[{{
        "ranges":[{{"type":"GIT","repo":"https://github.com/madler/zlib.git","events":[{{"introduced":"{INTRODUCED}"}},{{"fixed":"{FIXED}"}}]}}],
        "versions":["v1.2.12"]}}]}}"#
    );
    let adv = parse_osv(repository_only.as_bytes(), "x.json").unwrap();
    assert_eq!(adv.affected.len(), 1);
    assert_eq!(adv.affected[0].ecosystem, "GIT");
    assert_eq!(adv.affected[0].name, "github.com/madler/zlib");
    assert_eq!(adv.affected[0].purl, None);
    let db = db(std::slice::from_ref(&repository_only));
    let introduced = format!("pkg:github/madler/zlib@{INTRODUCED}");
    let fixed = format!("pkg:github/madler/zlib@{FIXED}");
    let between = format!("pkg:github/madler/zlib@{BETWEEN}");
    let tag = "pkg:github/madler/zlib@v1.2.12";
    let d = gate(&[&introduced, &fixed, &between, tag], &db);
    use FindingKind::{Undetermined, Vulnerability};
    assert_eq!(
        found(&d),
        vec![
            row(
                "TEST-GIT-0011",
                Vulnerability,
                &introduced,
                INTRODUCED,
                "affected"
            ),
            row("TEST-GIT-0011", Undetermined, &between, BETWEEN, "unknown"),
            row("TEST-GIT-0011", Vulnerability, tag, "v1.2.12", "affected"),
        ]
    );

    let with_semver = repository_only.replace(
        r#""ranges":["#,
        r#""ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]},"#,
    );
    assert!(matches!(
        parse_osv(with_semver.as_bytes(), "x.json"),
        Err(GateError::BadAdvisory { reason, .. }) if reason == "affected[0] has no package, so its ranges must all be GIT ranges"
    ));
    let no_git = format!(r#"{{"id":"TEST-GIT-0012",{HIGH},"affected":[{{"versions":["1.0"]}}]}}"#);
    assert!(matches!(
        parse_osv(no_git.as_bytes(), "x.json"),
        Err(GateError::BadAdvisory { reason, .. }) if reason == "affected[0] has no package and no GIT range with a repository"
    ));
}
