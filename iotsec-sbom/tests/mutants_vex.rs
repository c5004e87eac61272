#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! VEX decisions that mutation testing found unexercised: the status given to a finding by
//! agreeing statements that all stand (OpenVEX v0.2.0 status; `affected` outranks
//! `under_investigation`), the versions an `affected` CycloneDX statement covers (CycloneDX 1.6
//! `affects[].versions[].status`), and the text form of a product reference.

mod rustsec_db;
use rustsec_db::gate_default;

use iotsec_sbom::gate::GateDecision;
use iotsec_sbom::vex::{ProductRef, VexStatement, parse_vex};
use iotsec_sbom::{Decision, parse_sbom};

fn sbom_at(version: &str) -> String {
    format!(
        r#"{{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[
        {{"type":"library","name":"smallvec","version":"{version}","purl":"pkg:cargo/smallvec@{version}"}}]}}"#
    )
}

fn gate(component_version: &str, vex: &[VexStatement]) -> GateDecision {
    let sbom = parse_sbom(sbom_at(component_version).as_bytes()).unwrap();
    gate_default(&sbom, vex, "2026-01-15")
}

/// An OpenVEX document with one timestamp-less statement about smallvec's RUSTSEC-2021-0003.
fn openvex(name: &str, status: &str) -> Vec<VexStatement> {
    let doc = format!(
        r#"{{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://example.invalid/vex/{name}","author":"acme","version":1,"statements":[{{"vulnerability":{{"name":"RUSTSEC-2021-0003"}},"products":[{{"@id":"pkg:cargo/smallvec"}}],"status":"{status}"}}]}}"#
    );
    parse_vex(doc.as_bytes(), name).unwrap()
}

/// Status and explanation of the smallvec finding, which must stand.
fn standing(d: &GateDecision) -> (String, String) {
    assert_eq!(d.verdict, Decision::Fail, "{d:#?}");
    assert!(d.suppressed.is_empty(), "{d:#?}");
    let f = d
        .findings
        .iter()
        .find(|f| f.id == "RUSTSEC-2021-0003")
        .unwrap_or_else(|| panic!("no finding: {d:#?}"));
    (f.status.to_owned(), f.explanation.clone())
}

/// Two documents that cannot be ordered (no timestamps) and agree: none suppresses.
fn agreeing(a: &str, b: &str) -> (String, String) {
    let both: Vec<VexStatement> = openvex("a.json", a)
        .into_iter()
        .chain(openvex("b.json", b))
        .collect();
    standing(&gate("1.6.0", &both))
}

#[test]
fn agreeing_statements_that_all_say_affected_give_affected() {
    let (status, explanation) = agreeing("affected", "affected");
    assert_eq!(status, "affected");
    assert!(
        explanation.ends_with("; VEX a.json#0 says affected; VEX b.json#0 says affected"),
        "{explanation}"
    );
}

#[test]
fn among_agreeing_statements_affected_outranks_under_investigation() {
    for (a, b) in [
        ("affected", "under_investigation"),
        ("under_investigation", "affected"),
    ] {
        assert_eq!(agreeing(a, b).0, "affected", "{a} {b}");
    }
    let (status, explanation) = agreeing("under_investigation", "under_investigation");
    assert_eq!(status, "under_investigation");
    assert!(
        explanation.ends_with(
            "; VEX a.json#0 says under_investigation; VEX b.json#0 says under_investigation"
        ),
        "{explanation}"
    );
}

/// A standalone CycloneDX VEX: an earlier `not_affected` statement for every version, then an
/// `exploitable` (affected) one whose `affects[0].versions` is `versions`.
fn not_affected_then_exploitable(versions: &str) -> Vec<VexStatement> {
    let doc = format!(
        r#"{{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"vulnerabilities":[
        {{"id":"RUSTSEC-2021-0003","analysis":{{"state":"not_affected","justification":"code_not_reachable"}},
          "affects":[{{"ref":"pkg:cargo/smallvec"}}]}},
        {{"id":"RUSTSEC-2021-0003","analysis":{{"state":"exploitable"}},
          "affects":[{{"ref":"pkg:cargo/smallvec","versions":{versions}}}]}}]}}"#
    );
    parse_vex(doc.as_bytes(), "vex").unwrap()
}

#[test]
fn an_affected_statement_covers_the_versions_marked_affected() {
    let vex = not_affected_then_exploitable(r#"[{"version":"1.6.0","status":"affected"}]"#);
    let (status, explanation) = standing(&gate("1.6.0", &vex));
    assert_eq!(status, "affected");
    assert!(
        explanation.ends_with(
            "; VEX vex#1 says affected, overriding VEX vex#0 (not_affected, no timestamp)"
        ),
        "{explanation}"
    );
}

#[test]
fn an_affected_statement_does_not_cover_versions_marked_otherwise() {
    for versions in [
        r#"[{"version":"1.6.0","status":"unaffected"}]"#,
        r#"[{"version":"1.6.1","status":"affected"}]"#,
    ] {
        let vex = not_affected_then_exploitable(versions);
        let d = gate("1.6.0", &vex);
        assert_eq!(d.verdict, Decision::Pass, "{versions}: {d:#?}");
        assert!(d.findings.is_empty(), "{versions}: {d:#?}");
        assert_eq!(d.suppressed.len(), 1, "{versions}: {d:#?}");
        assert_eq!(d.suppressed[0].finding.status, "not_affected");
    }
}

#[test]
fn a_product_reference_reads_back_as_written() {
    for text in [
        "pkg:cargo/smallvec@1.6.0",
        "smallvec-ref",
        "cpe:2.3:a:servo:smallvec:1.6.0:*:*:*:*:*:*:*",
        "urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/2#smallvec-ref",
        "urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79#smallvec-ref",
    ] {
        assert_eq!(ProductRef::from_reference(text).as_text(), text);
    }
    assert_eq!(
        ProductRef::from_reference("urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/2#smallvec-ref"),
        ProductRef::BomLink {
            serial: "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79".to_owned(),
            version: Some(2),
            bom_ref: "smallvec-ref".to_owned(),
        }
    );
}
