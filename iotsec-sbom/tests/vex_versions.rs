#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! A CycloneDX VEX statement applies only to the versions its `affects[].versions[]` entries
//! mark with the status that matches the analysis (CycloneDX 1.6 `vulnerability.affects`,
//! `affectedStatus`): `not_affected` and `resolved` cover the versions marked `unaffected`,
//! whether listed exactly (`version`) or as a VERS range (`range`, package-url vers-spec).
//! A statement without `versions` covers every version of its product. An entry the gate cannot
//! interpret (unknown status, a range it cannot parse or evaluate, a VERS scheme that is not
//! the component's) keeps the statement from suppressing anything.

mod rustsec_db;
use rustsec_db::gate_default;

use iotsec_sbom::gate::GateDecision;
use iotsec_sbom::parse_sbom;
use iotsec_sbom::vex::parse_vex;
use proptest::prelude::*;

fn sbom_at(version: &str) -> String {
    format!(
        r#"{{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[
        {{"type":"library","name":"smallvec","version":"{version}","purl":"pkg:cargo/smallvec@{version}"}}]}}"#
    )
}

/// A standalone CycloneDX VEX (JSON) with one statement about RUSTSEC-2021-0003 on smallvec;
/// `versions` is the JSON array of `affects[0].versions`, or `None` for a version-less statement.
fn vex_json(state: &str, versions: Option<&str>) -> String {
    let justification = if state == "not_affected" {
        r#","justification":"code_not_reachable""#
    } else {
        ""
    };
    let versions = versions
        .map(|v| format!(r#","versions":{v}"#))
        .unwrap_or_default();
    format!(
        r#"{{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"vulnerabilities":[
        {{"id":"RUSTSEC-2021-0003","analysis":{{"state":"{state}"{justification}}},
          "affects":[{{"ref":"pkg:cargo/smallvec"{versions}}}]}}]}}"#
    )
}

/// The same statement in CycloneDX XML; `versions` is the inner XML of `<versions>`.
fn vex_xml(state: &str, versions: Option<&str>) -> String {
    let justification = if state == "not_affected" {
        "<justification>code_not_reachable</justification>"
    } else {
        ""
    };
    let versions = versions
        .map(|v| format!("<versions>{v}</versions>"))
        .unwrap_or_default();
    format!(
        r#"<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.6" version="1">
<vulnerabilities><vulnerability><id>RUSTSEC-2021-0003</id>
<analysis><state>{state}</state>{justification}</analysis>
<affects><target><ref>pkg:cargo/smallvec</ref>{versions}</target></affects>
</vulnerability></vulnerabilities></bom>"#
    )
}

fn gate(component_version: &str, vex_doc: &str) -> GateDecision {
    let sbom = parse_sbom(sbom_at(component_version).as_bytes()).unwrap();
    let vex = parse_vex(vex_doc.as_bytes(), "vex").unwrap();
    gate_default(&sbom, &vex, "2026-01-15")
}

fn suppressed(component_version: &str, vex_doc: &str) -> bool {
    let d = gate(component_version, vex_doc);
    let standing = d.findings.iter().any(|f| f.id == "RUSTSEC-2021-0003");
    let set_aside = d
        .suppressed
        .iter()
        .any(|s| s.finding.id == "RUSTSEC-2021-0003");
    assert_ne!(standing, set_aside, "{d:#?}");
    set_aside
}

#[test]
fn not_affected_for_another_exact_version_leaves_the_finding() {
    let json = vex_json(
        "not_affected",
        Some(r#"[{"version":"1.6.1","status":"unaffected"}]"#),
    );
    assert!(!suppressed("1.6.0", &json));
    let json = vex_json(
        "not_affected",
        Some(
            r#"[{"version":"1.6.1","status":"unaffected"},{"version":"1.6.0","status":"unaffected"}]"#,
        ),
    );
    assert!(suppressed("1.6.0", &json));
    assert!(!suppressed("1.5.0", &json));
    let xml = vex_xml(
        "not_affected",
        Some("<version><version>1.6.1</version><status>unaffected</status></version>"),
    );
    assert!(!suppressed("1.6.0", &xml));
    let xml = vex_xml(
        "not_affected",
        Some("<version><version>1.6.0</version><status>unaffected</status></version>"),
    );
    assert!(suppressed("1.6.0", &xml));
}

#[test]
fn resolved_covers_only_the_versions_marked_unaffected() {
    let json = vex_json(
        "resolved",
        Some(r#"[{"range":"vers:cargo/<1.6.1","status":"affected"}]"#),
    );
    // Nothing is marked unaffected: the statement covers no version at all.
    assert!(!suppressed("1.6.0", &json));
    assert!(!suppressed("1.2.0", &json));
    let json = vex_json(
        "resolved",
        Some(
            r#"[{"range":"vers:cargo/<1.5.0","status":"affected"},
                {"range":"vers:cargo/>=1.5.0","status":"unaffected"}]"#,
        ),
    );
    assert!(!suppressed("1.4.9", &json));
    assert!(suppressed("1.5.0", &json));
    assert!(suppressed("1.6.0", &json));
    let xml = vex_xml(
        "resolved",
        Some(
            "<version><range>vers:cargo/&lt;1.5.0</range><status>affected</status></version>\
             <version><range>vers:cargo/&gt;=1.5.0</range><status>unaffected</status></version>",
        ),
    );
    assert!(!suppressed("1.4.9", &xml));
    assert!(suppressed("1.6.0", &xml));
}

#[test]
fn a_missing_status_means_affected() {
    // CycloneDX `affectedStatus` defaults to "affected".
    let json = vex_json("not_affected", Some(r#"[{"version":"1.6.0"}]"#));
    assert!(!suppressed("1.6.0", &json));
    let xml = vex_xml(
        "not_affected",
        Some("<version><version>1.6.0</version></version>"),
    );
    assert!(!suppressed("1.6.0", &xml));
}

#[test]
fn a_version_less_statement_covers_every_version() {
    for v in ["1.6.0", "1.0.0", "0.6.3"] {
        assert!(suppressed(v, &vex_json("not_affected", None)), "{v}");
        assert!(suppressed(v, &vex_xml("not_affected", None)), "{v}");
    }
}

#[test]
fn an_entry_the_gate_cannot_interpret_keeps_the_statement_from_suppressing() {
    let cases = [
        // Unknown status.
        r#"[{"version":"1.6.0","status":"fine"}]"#,
        // Not a VERS string, or a VERS string that does not parse.
        r#"[{"range":">=1.0.0","status":"unaffected"}]"#,
        r#"[{"range":"vers:cargo/>>1.0.0","status":"unaffected"}]"#,
        // A scheme without an ordering here, and a scheme that is not the component's.
        r#"[{"range":"vers:maven/>=1.0.0","status":"unaffected"}]"#,
        r#"[{"range":"vers:deb/>=1.0.0","status":"unaffected"}]"#,
        // Neither version nor range, and both.
        r#"[{"status":"unaffected"}]"#,
        r#"[{"version":"1.6.0","range":"vers:cargo/>=1.0.0","status":"unaffected"}]"#,
        // One good entry does not outweigh one that cannot be read.
        r#"[{"version":"1.6.0","status":"unaffected"},{"range":"vers:cargo/oops<","status":"unaffected"}]"#,
    ];
    for versions in cases {
        let json = vex_json("not_affected", Some(versions));
        assert!(!suppressed("1.6.0", &json), "{versions}");
    }
    let xml = vex_xml(
        "not_affected",
        Some("<version><range>vers:cargo/&gt;&gt;1</range><status>unaffected</status></version>"),
    );
    assert!(!suppressed("1.6.0", &xml));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// `vers:cargo/<B` marked unaffected suppresses exactly the versions below B.
    #[test]
    fn range_suppression_follows_version_order(
        b in 0u64..6, c in 0u64..4,
        x in 0u64..3, y in 0u64..8, z in 0u64..4,
    ) {
        // Every smallvec 1.0.0 - 1.5.x is affected by RUSTSEC-2021-0003 (fixed in 1.6.1).
        let json = vex_json(
            "not_affected",
            Some(&format!(r#"[{{"range":"vers:cargo/<{x}.{y}.{z}","status":"unaffected"}}]"#)),
        );
        let below = (1, b, c) < (x, y, z);
        prop_assert_eq!(suppressed(&format!("1.{b}.{c}"), &json), below);
    }
}
