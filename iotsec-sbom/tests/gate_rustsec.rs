#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! The gate against the real RustSec database (1,206 OSV advisories) and against small
//! in-memory databases for the cases RustSec does not exercise (CPE, aliases across advisories).

#[macro_use]
mod rustsec_db;
mod support;

use iotsec_sbom::Decision;
use iotsec_sbom::advisory::{AdvisoryDatabase, SnapshotFile};
use iotsec_sbom::gate::{FindingKind, GateDecision, Suppression};
use iotsec_sbom::vex::{VexStatement, parse_vex};

fn sbom_json(components: &str) -> String {
    format!(
        r#"{{"bomFormat":"CycloneDX","specVersion":"1.6","serialNumber":"urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79","version":1,
        "metadata":{{"component":{{"type":"firmware","bom-ref":"fw","name":"sensor-fw","version":"2.1.0",
          "purl":"pkg:generic/acme/sensor-fw@2.1.0",
          "hashes":[{{"alg":"SHA-256","content":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}}]}}}},
        "components":[{components}]}}"#
    )
}

fn gate(
    sbom: &str,
    db: &AdvisoryDatabase,
    vex: &[VexStatement],
    policy: &str,
    firmware: Option<&str>,
) -> GateDecision {
    support::gate_document(sbom.as_bytes(), db, vex, policy, firmware)
}

fn summary(d: &GateDecision) -> Vec<(String, String, String, String)> {
    d.findings
        .iter()
        .map(|f| {
            (
                f.id.clone(),
                f.component.clone(),
                f.decision.as_str().to_owned(),
                f.status.to_owned(),
            )
        })
        .collect()
}

fn t(a: &str, b: &str, c: &str, d: &str) -> (String, String, String, String) {
    (a.into(), b.into(), c.into(), d.into())
}

#[test]
fn rustsec_database_loads_with_withdrawn_left_out() {
    let db = rustsec!();
    assert_eq!(db.advisories().len() + db.withdrawn_count(), 1206);
    assert_eq!(db.withdrawn_count(), 13);
    assert!(db.advisories().iter().all(|a| a.id != "RUSTSEC-2019-0031"));
    assert_eq!(db.snapshot_sha256().len(), 64);
}

#[test]
fn known_vulnerable_crates_are_found_with_exact_findings() {
    let components = r#"
      {"type":"library","name":"smallvec","version":"1.6.0","purl":"pkg:cargo/smallvec@1.6.0"},
      {"type":"library","name":"time","version":"0.1.43","purl":"pkg:cargo/time@0.1.43"},
      {"type":"library","name":"rmpv","version":"0.4.0","purl":"pkg:cargo/rmpv@0.4.0"},
      {"type":"library","name":"serde","version":"1.0.200","purl":"pkg:cargo/serde@1.0.200"},
      {"type":"library","name":"spin","version":"0.4.0","purl":"pkg:cargo/spin@0.4.0"},
      {"type":"library","name":"vendor-blob"},
      {"type":"library","name":"lodash","version":"4.17.20","purl":"pkg:npm/lodash@4.17.20"}"#;
    let d = gate(&sbom_json(components), rustsec!(), &[], "", None);
    assert_eq!(
        summary(&d),
        vec![
            t(
                "RUSTSEC-2021-0003",
                "pkg:cargo/smallvec@1.6.0",
                "fail",
                "affected"
            ),
            t(
                "RUSTSEC-2020-0071",
                "pkg:cargo/time@0.1.43",
                "warn",
                "affected"
            ),
            t(
                "RUSTSEC-2017-0006",
                "pkg:cargo/rmpv@0.4.0",
                "fail",
                "affected"
            ),
            t(
                "RUSTSEC-2019-0013",
                "pkg:cargo/spin@0.4.0",
                "fail",
                "affected"
            ),
            t("unidentified-component", "vendor-blob", "fail", "unknown"),
            t(
                "unidentified-component",
                "pkg:npm/lodash@4.17.20",
                "fail",
                "unknown"
            ),
        ]
    );
    assert_eq!(d.verdict, Decision::Fail);
    let smallvec = &d.findings[0];
    assert_eq!(
        smallvec.aliases,
        vec!["CVE-2021-25900", "GHSA-43w2-9j62-hq99"]
    );
    assert_eq!(smallvec.severity.as_ref().unwrap().score(), Some(9.8));
    assert!(
        d.findings[2]
            .explanation
            .contains("no CVSS v3/v4 score; policy unscored = fail")
    );
    assert!(
        d.findings[5]
            .explanation
            .contains("no advisories for ecosystem npm")
    );
}

#[test]
fn unscored_can_be_relaxed_but_not_by_default() {
    let c = r#"{"type":"library","name":"rmpv","version":"0.4.0","purl":"pkg:cargo/rmpv@0.4.0"}"#;
    assert_eq!(
        gate(&sbom_json(c), rustsec!(), &[], "", None).verdict,
        Decision::Fail
    );
    let relaxed = gate(&sbom_json(c), rustsec!(), &[], "unscored = \"warn\"", None);
    assert_eq!(relaxed.verdict, Decision::Warn);
}

#[test]
fn fixed_versions_pass() {
    let c = r#"{"type":"library","name":"smallvec","version":"1.6.1","purl":"pkg:cargo/smallvec@1.6.1"},
               {"type":"library","name":"time","version":"0.2.23","purl":"pkg:cargo/time@0.2.23"}"#;
    let d = gate(&sbom_json(c), rustsec!(), &[], "", None);
    assert!(d.findings.is_empty(), "{:?}", summary(&d));
    assert_eq!(d.verdict, Decision::Pass);
}

const OPENVEX: &str = r#"{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://example.invalid/vex/1",
  "author": "acme",
  "timestamp": "2026-01-01T00:00:00Z",
  "version": 1,
  "statements": [
    { "vulnerability": {"name": "CVE-2021-25900"},
      "products": [{"@id": "pkg:generic/acme/sensor-fw@2.1.0",
                    "subcomponents": [{"@id": "pkg:cargo/smallvec"}]}],
      "status": "not_affected",
      "justification": "vulnerable_code_not_in_execute_path",
      "impact_statement": "insert_many is never called" },
    { "vulnerability": {"name": "CVE-2020-26235"},
      "products": [{"@id": "pkg:cargo/time@0.1.43"}],
      "status": "not_affected", "justification": "vulnerable_code_not_present",
      "expires": "2025-12-31" },
    { "vulnerability": {"name": "CVE-1999-0001"},
      "products": [{"@id": "pkg:cargo/serde"}],
      "status": "not_affected", "justification": "component_not_present" }
  ]
}"#;

#[test]
fn openvex_suppresses_lists_the_statement_and_reports_stale_ones() {
    let vex = parse_vex(OPENVEX.as_bytes(), "acme.openvex.json").unwrap();
    let c = r#"{"type":"library","name":"smallvec","version":"1.6.0","purl":"pkg:cargo/smallvec@1.6.0"},
               {"type":"library","name":"time","version":"0.1.43","purl":"pkg:cargo/time@0.1.43"}"#;
    let d = gate(&sbom_json(c), rustsec!(), &vex, "", None);
    assert_eq!(
        summary(&d),
        vec![t(
            "RUSTSEC-2020-0071",
            "pkg:cargo/time@0.1.43",
            "warn",
            "affected"
        )]
    );
    assert_eq!(d.suppressed.len(), 1);
    let s = &d.suppressed[0];
    assert_eq!(s.finding.id, "RUSTSEC-2021-0003");
    assert_eq!(s.finding.status, "not_affected");
    match &s.by {
        Suppression::Vex(st) => {
            assert_eq!((st.source.as_str(), st.index), ("acme.openvex.json", 0));
            assert_eq!(st.detail.as_deref(), Some("insert_many is never called"));
        }
        other => panic!("{other:?}"),
    }
    let stale: Vec<_> = d
        .stale
        .iter()
        .map(|s| (s.origin.as_str(), s.reason))
        .collect();
    assert_eq!(
        stale,
        vec![
            ("VEX acme.openvex.json#1", "expired"),
            ("VEX acme.openvex.json#2", "matches no finding")
        ]
    );
    assert_eq!(d.verdict, Decision::Warn);
}

#[test]
fn subcomponent_statements_need_the_right_product() {
    let other_product = OPENVEX.replace(
        "pkg:generic/acme/sensor-fw@2.1.0",
        "pkg:generic/acme/other-fw@1.0.0",
    );
    let vex = parse_vex(other_product.as_bytes(), "x").unwrap();
    let c = r#"{"type":"library","name":"smallvec","version":"1.6.0","purl":"pkg:cargo/smallvec@1.6.0"}"#;
    let d = gate(&sbom_json(c), rustsec!(), &vex, "", None);
    assert_eq!(d.suppressed.len(), 0);
    assert_eq!(d.verdict, Decision::Fail);
}

#[test]
fn embedded_cyclonedx_vex_binds_to_bom_refs() {
    let sbom = r#"{"bomFormat":"CycloneDX","specVersion":"1.6","serialNumber":"urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79","version":1,
      "components":[{"type":"library","bom-ref":"sv","name":"smallvec","version":"1.6.0","purl":"pkg:cargo/smallvec@1.6.0"}],
      "vulnerabilities":[{"id":"RUSTSEC-2021-0003","analysis":{"state":"not_affected","justification":"code_not_reachable"},
        "affects":[{"ref":"urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#sv"}]}]}"#;
    let d = gate(sbom, rustsec!(), &[], "", None);
    assert_eq!(d.findings.len(), 0, "{:?}", summary(&d));
    assert_eq!(d.suppressed.len(), 1);
    // A BOM-Link to another SBOM serial does not apply.
    let other = sbom.replace("urn:cdx:3e671687", "urn:cdx:00000000");
    let d = gate(&other, rustsec!(), &[], "", None);
    assert_eq!(d.suppressed.len(), 0);
    assert_eq!(d.verdict, Decision::Fail);
}

#[test]
fn policy_ignores_need_to_be_current() {
    let c = r#"{"type":"library","name":"smallvec","version":"1.6.0","purl":"pkg:cargo/smallvec@1.6.0"}"#;
    let current = "[[ignore]]\nid = \"GHSA-43w2-9j62-hq99\"\ncomponent = \"pkg:cargo/smallvec\"\nreason = \"audited\"\nexpires = \"2026-06-30\"";
    let d = gate(&sbom_json(c), rustsec!(), &[], current, None);
    assert_eq!(d.verdict, Decision::Pass);
    assert_eq!(d.suppressed[0].finding.status, "ignored");
    let expired = current.replace("2026-06-30", "2025-06-30");
    let d = gate(&sbom_json(c), rustsec!(), &[], &expired, None);
    assert_eq!(d.verdict, Decision::Fail);
    assert!(
        d.findings[0]
            .explanation
            .ends_with("policy ignore expired on 2025-06-30")
    );
    assert_eq!(d.stale[0].reason, "expired");
}

#[test]
fn licenses_hashes_and_firmware_digest() {
    let c = r#"{"type":"library","name":"serde","version":"1.0.200","purl":"pkg:cargo/serde@1.0.200",
                "licenses":[{"expression":"MIT OR Apache-2.0"}],
                "hashes":[{"alg":"SHA-256","content":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}]},
               {"type":"library","name":"gpl-thing","version":"1.0.0","purl":"pkg:cargo/gpl-thing@1.0.0",
                "licenses":[{"license":{"id":"GPL-3.0-only"}}]}"#;
    let policy = "require_hashes = [\"SHA-256\"]\nrequire_firmware_digest = true\n[licenses]\nallow = [\"MIT\", \"Apache-2.0\"]";
    let fw = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let d = gate(&sbom_json(c), rustsec!(), &[], policy, Some(fw));
    let kinds: Vec<_> = d
        .findings
        .iter()
        .map(|f| (f.kind, f.component.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (FindingKind::License, "pkg:cargo/gpl-thing@1.0.0"),
            (FindingKind::MissingHash, "pkg:cargo/gpl-thing@1.0.0"),
        ]
    );
    let wrong_fw = gate(
        &sbom_json(c),
        rustsec!(),
        &[],
        policy,
        Some(&"0".repeat(64)),
    );
    assert!(
        wrong_fw
            .findings
            .iter()
            .any(|f| f.kind == FindingKind::FirmwareDigest)
    );
    let no_fw = gate(&sbom_json(c), rustsec!(), &[], policy, None);
    assert!(
        no_fw
            .findings
            .iter()
            .any(|f| f.kind == FindingKind::FirmwareDigest)
    );
}

fn memory_db(advisories: &[(&str, &str)]) -> AdvisoryDatabase {
    let files: Vec<SnapshotFile> = advisories
        .iter()
        .map(|(p, b)| SnapshotFile {
            path: (*p).to_owned(),
            bytes: b.as_bytes().to_vec(),
        })
        .collect();
    AdvisoryDatabase::from_files(&files).unwrap()
}

#[test]
fn aliases_across_advisories_merge_into_one_finding() {
    let ghsa = r#"{"id":"GHSA-aaaa-bbbb-cccc","aliases":["CVE-2030-0001"],"affected":[{"package":{"ecosystem":"crates.io","name":"foo"},
        "ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.0"}]}]}],
        "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}]}"#;
    let rustsec = r#"{"id":"RUSTSEC-2030-0001","aliases":["CVE-2030-0001"],"affected":[{"package":{"ecosystem":"crates.io","name":"foo"},
        "ranges":[{"type":"SEMVER","events":[{"introduced":"0.0.0-0"},{"fixed":"1.0.0"}]}]}]}"#;
    let db = memory_db(&[("a.json", ghsa), ("b.json", rustsec)]);
    let c = r#"{"type":"library","name":"foo","version":"0.9.0","purl":"pkg:cargo/foo@0.9.0"}"#;
    let d = gate(&sbom_json(c), &db, &[], "", None);
    assert_eq!(d.findings.len(), 1);
    let f = &d.findings[0];
    assert_eq!(f.id, "GHSA-aaaa-bbbb-cccc");
    assert_eq!(f.aliases, vec!["CVE-2030-0001", "RUSTSEC-2030-0001"]);
    assert_eq!(f.severity.as_ref().unwrap().score(), Some(7.5));
    assert_eq!(f.decision, Decision::Fail);
}

#[test]
fn cpe_matching_is_strict_on_vendor_and_product() {
    let adv = r#"{"id":"OSV-CPE-1","affected":[{"package":{"ecosystem":"Generic","name":"openssl"},
        "database_specific":{"cpes":["cpe:2.3:a:openssl:openssl:*:*:*:*:*:*:*:*"]},
        "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"3.0.0"},{"last_affected":"3.0.6"}]}]}],
        "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]}"#;
    let db = memory_db(&[("cpe.json", adv)]);
    let c = r#"{"type":"library","name":"openssl","version":"3.0.6","cpe":"cpe:2.3:a:openssl:openssl:3.0.6:*:*:*:*:*:*:*"},
               {"type":"library","name":"openssl","version":"3.0.7","cpe":"cpe:2.3:a:openssl:openssl:3.0.7:*:*:*:*:*:*:*"},
               {"type":"library","name":"openssl","version":"3.0.1","cpe":"cpe:2.3:a:acme:openssl:3.0.1:*:*:*:*:*:*:*"},
               {"type":"library","name":"openssl","version":"3.0.1","cpe":"cpe:2.3:a:*:openssl:3.0.1:*:*:*:*:*:*:*"}"#;
    let d = gate(&sbom_json(c), &db, &[], "", None);
    assert_eq!(
        summary(&d),
        vec![t(
            "OSV-CPE-1",
            "cpe:2.3:a:openssl:openssl:3.0.6:*:*:*:*:*:*:*",
            "fail",
            "affected"
        )]
    );
}

#[test]
fn decision_is_bound_to_every_input() {
    let c =
        r#"{"type":"library","name":"serde","version":"1.0.200","purl":"pkg:cargo/serde@1.0.200"}"#;
    let a = gate(&sbom_json(c), rustsec!(), &[], "", None);
    let b = gate(
        &sbom_json(c),
        rustsec!(),
        &[],
        "max_severity = \"high\"",
        None,
    );
    let fw = gate(&sbom_json(c), rustsec!(), &[], "", Some(&"ab".repeat(32)));
    assert_eq!(a.verdict, b.verdict);
    assert_ne!(a.binding.decision_sha256, b.binding.decision_sha256);
    assert_ne!(a.binding.decision_sha256, fw.binding.decision_sha256);
    assert_eq!(
        a.binding.decision_sha256,
        iotsec_sbom::gate::Binding::decision_digest(a.verdict, &a.binding)
    );
}
