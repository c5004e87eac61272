#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! VEX expiry fails closed: an expiry that is not a date (`YYYY-MM-DD` or RFC 3339 date-time) is
//! refused when the document is read, in OpenVEX and in CycloneDX VEX (standalone JSON/XML and
//! embedded in a JSON/XML SBOM); a statement that carries one anyway counts as expired. A valid
//! expiry keeps the statement in force up to and including its day.

mod rustsec_db;
use rustsec_db::gate_default;

use iotsec_sbom::gate::GateDecision;
use iotsec_sbom::vex::{Justification, ProductRef, VexStatement, VexStatus, parse_vex};
use iotsec_sbom::{GateError, Sbom, parse_sbom};

/// Malformed expiries, each of which the old prefix comparison read as "never expires" or as
/// "after every 2026 date".
const BAD: [&str; 6] = [
    "never",
    "Dec 2025",
    "31/12/2025",
    "2025-13-01",
    "２０２５-１２-３１",
    "2025-12-31 23:59",
];

/// OpenVEX with two statements; the second (index 1) suppresses smallvec's RUSTSEC-2021-0003.
fn openvex(expires: &str) -> String {
    format!(
        r#"{{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://example.invalid/vex/1",
        "author":"acme","timestamp":"2026-01-01T00:00:00Z","version":1,
        "statements":[
          {{"vulnerability":{{"name":"CVE-1999-0001"}},"products":[{{"@id":"pkg:cargo/serde"}}],
            "status":"not_affected","justification":"component_not_present"}},
          {{"vulnerability":{{"name":"CVE-2021-25900"}},"products":[{{"@id":"pkg:cargo/smallvec@1.6.0"}}],
            "status":"not_affected","justification":"vulnerable_code_not_in_execute_path",
            "expires":{}}}]}}"#,
        serde_json::to_string(expires).unwrap()
    )
}

/// CycloneDX `vulnerabilities[]` (JSON) with the expiry on the second entry (index 1).
fn cdx_vulnerabilities(expires: &str) -> String {
    format!(
        r#"[{{"id":"CVE-1999-0001","analysis":{{"state":"not_affected","justification":"code_not_present"}},
            "affects":[{{"ref":"pkg:cargo/serde"}}]}},
           {{"id":"RUSTSEC-2021-0003","references":[{{"id":"CVE-2021-25900"}},{{"id":"GHSA-43w2-9j62-hq99"}}],
            "analysis":{{"state":"not_affected","justification":"code_not_reachable","detail":"insert_many is never called"}},
            "affects":[{{"ref":"pkg:cargo/smallvec@1.6.0"}}],
            "properties":[{{"name":"iotsec:vex:expires","value":{}}}]}}]"#,
        serde_json::to_string(expires).unwrap()
    )
}

const SMALLVEC: &str =
    r#"{"type":"library","name":"smallvec","version":"1.6.0","purl":"pkg:cargo/smallvec@1.6.0"}"#;

fn cdx_vex_json(expires: &str) -> String {
    format!(
        r#"{{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"vulnerabilities":{}}}"#,
        cdx_vulnerabilities(expires)
    )
}

fn sbom_json_with_vex(expires: &str) -> String {
    format!(
        r#"{{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[{SMALLVEC}],
        "vulnerabilities":{}}}"#,
        cdx_vulnerabilities(expires)
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;")
}

/// CycloneDX XML 1.6 with the smallvec component and two VEX entries (expiry on index 1).
fn sbom_xml_with_vex(expires: &str) -> String {
    format!(
        r#"<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.6" version="1">
<components><component type="library"><name>smallvec</name><version>1.6.0</version><purl>pkg:cargo/smallvec@1.6.0</purl></component></components>
<vulnerabilities>
<vulnerability><id>CVE-1999-0001</id><analysis><state>not_affected</state><justification>code_not_present</justification></analysis>
<affects><target><ref>pkg:cargo/serde</ref></target></affects></vulnerability>
<vulnerability><id>RUSTSEC-2021-0003</id>
<references><reference><id>CVE-2021-25900</id></reference><reference><id>GHSA-43w2-9j62-hq99</id></reference></references>
<analysis><state>not_affected</state><justification>code_not_reachable</justification><detail>insert_many is never called</detail></analysis>
<affects><target><ref>pkg:cargo/smallvec@1.6.0</ref></target></affects>
<properties><property name="iotsec:vex:expires">{}</property></properties></vulnerability>
</vulnerabilities></bom>"#,
        xml_escape(expires)
    )
}

/// The VEX statements each reader produces for `expires`, named by where they came from.
fn read_all(expires: &str) -> Vec<(&'static str, Result<Vec<VexStatement>, GateError>)> {
    vec![
        (
            "openvex",
            parse_vex(openvex(expires).as_bytes(), "a.openvex.json"),
        ),
        (
            "cyclonedx json",
            parse_vex(cdx_vex_json(expires).as_bytes(), "a.cdx.json"),
        ),
        (
            "cyclonedx xml",
            parse_vex(sbom_xml_with_vex(expires).as_bytes(), "a.cdx.xml"),
        ),
        (
            "embedded json",
            parse_sbom(sbom_json_with_vex(expires).as_bytes()).map(|s| s.embedded_vex),
        ),
        (
            "embedded xml",
            parse_sbom(sbom_xml_with_vex(expires).as_bytes()).map(|s| s.embedded_vex),
        ),
    ]
}

fn expected_source(reader: &str) -> &'static str {
    match reader {
        "openvex" => "a.openvex.json",
        "cyclonedx json" => "a.cdx.json",
        "cyclonedx xml" => "a.cdx.xml",
        _ => "embedded",
    }
}

#[test]
fn malformed_expiry_is_refused_by_every_reader_naming_the_statement() {
    for bad in BAD {
        for (reader, got) in read_all(bad) {
            match got {
                Err(GateError::BadVexExpiry {
                    source_name,
                    statement,
                    value,
                }) => {
                    assert_eq!(
                        (source_name.as_str(), statement, value.as_str()),
                        (expected_source(reader), 1, bad),
                        "{reader}"
                    );
                }
                other => panic!("{reader} {bad:?}: {other:?}"),
            }
        }
    }
    let err = parse_vex(openvex("never").as_bytes(), "a.openvex.json").unwrap_err();
    assert_eq!(
        err.to_string(),
        "VEX a.openvex.json statement 1: expires \"never\" is not a date (YYYY-MM-DD or RFC 3339 date-time)"
    );
}

fn gate(sbom: &Sbom, vex: &[VexStatement], today: &str) -> GateDecision {
    gate_default(sbom, vex, today)
}

fn plain_sbom() -> Sbom {
    let doc = format!(
        r#"{{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[{SMALLVEC}]}}"#
    );
    parse_sbom(doc.as_bytes()).unwrap()
}

/// (suppressed ids, stale (origin, reason)) of one gate run.
type Outcome = (Vec<String>, Vec<(String, &'static str)>);

fn outcome(d: &GateDecision) -> Outcome {
    (
        d.suppressed.iter().map(|s| s.finding.id.clone()).collect(),
        d.stale
            .iter()
            .filter(|s| s.reason == "expired")
            .map(|s| (s.origin.clone(), s.reason))
            .collect(),
    )
}

#[test]
fn valid_expiry_holds_through_its_day_and_lapses_after_it() {
    for expires in ["2025-12-31", "2025-12-31T23:59:59Z"] {
        for (reader, got) in read_all(expires) {
            let statements = got.unwrap();
            assert_eq!(statements[1].expires.as_deref(), Some(expires), "{reader}");
            let embedded = reader.starts_with("embedded");
            let sbom = if embedded {
                let doc = if reader.ends_with("json") {
                    sbom_json_with_vex(expires)
                } else {
                    sbom_xml_with_vex(expires)
                };
                parse_sbom(doc.as_bytes()).unwrap()
            } else {
                plain_sbom()
            };
            let standalone: &[VexStatement] = if embedded { &[] } else { &statements };
            let origin = format!("VEX {}#1", expected_source(reader));
            let on_the_day = gate(&sbom, standalone, "2025-12-31");
            assert_eq!(
                outcome(&on_the_day),
                (vec!["RUSTSEC-2021-0003".to_owned()], vec![]),
                "{reader} {expires}"
            );
            let day_after = gate(&sbom, standalone, "2026-01-01");
            assert_eq!(
                outcome(&day_after),
                (vec![], vec![(origin, "expired")]),
                "{reader} {expires}"
            );
            assert_eq!(day_after.findings[0].id, "RUSTSEC-2021-0003");
        }
    }
}

#[test]
fn a_statement_built_with_a_malformed_expiry_counts_as_expired() {
    let statement = |expires: &str| VexStatement {
        source: "hand-built".to_owned(),
        index: 0,
        vulnerability: "CVE-2021-25900".to_owned(),
        aliases: Vec::new(),
        products: vec![ProductRef::Purl("pkg:cargo/smallvec@1.6.0".to_owned())],
        product_versions: Vec::new(),
        subcomponents: Vec::new(),
        status: VexStatus::Fixed,
        justification: None,
        detail: None,
        expires: Some(expires.to_owned()),
        timestamp: None,
    };
    for bad in BAD {
        let s = statement(bad);
        assert!(s.expired_on("2000-01-01"), "{bad}");
        let d = gate(&plain_sbom(), &[s], "2000-01-01");
        assert_eq!(
            outcome(&d),
            (vec![], vec![("VEX hand-built#0".to_owned(), "expired")]),
            "{bad}"
        );
    }
    // A `today` that is not a day fails closed too.
    assert!(statement("2099-12-31").expired_on("someday"));
    assert!(!statement("2099-12-31").expired_on("2099-12-31"));
}

/// The JSON and XML encodings of CycloneDX VEX, standalone and embedded, make the same
/// statements (one reader of `vulnerabilities[]` entries serves both).
#[test]
fn cyclonedx_encodings_make_the_same_statements() {
    let all = read_all("2025-12-31T23:59:59Z");
    let cdx: Vec<Vec<VexStatement>> = all
        .into_iter()
        .filter(|(reader, _)| *reader != "openvex")
        .map(|(_, got)| {
            let mut v = got.unwrap();
            for s in &mut v {
                s.source = String::new();
            }
            v
        })
        .collect();
    let want = vec![
        VexStatement {
            source: String::new(),
            index: 0,
            vulnerability: "CVE-1999-0001".to_owned(),
            aliases: vec![],
            products: vec![ProductRef::Purl("pkg:cargo/serde".to_owned())],
            product_versions: vec![vec![]],
            subcomponents: vec![],
            status: VexStatus::NotAffected,
            justification: Some(Justification::VulnerableCodeNotPresent),
            detail: None,
            expires: None,
            timestamp: None,
        },
        VexStatement {
            source: String::new(),
            index: 1,
            vulnerability: "RUSTSEC-2021-0003".to_owned(),
            aliases: vec![
                "CVE-2021-25900".to_owned(),
                "GHSA-43w2-9j62-hq99".to_owned(),
            ],
            products: vec![ProductRef::Purl("pkg:cargo/smallvec@1.6.0".to_owned())],
            product_versions: vec![vec![]],
            subcomponents: vec![],
            status: VexStatus::NotAffected,
            justification: Some(Justification::VulnerableCodeNotInExecutePath),
            detail: Some("insert_many is never called".to_owned()),
            expires: Some("2025-12-31T23:59:59Z".to_owned()),
            timestamp: None,
        },
    ];
    assert_eq!(cdx, vec![want; 4]);
}
