#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! The parts of the shipped product are gated wherever the SBOM lists them: components nested
//! under the subject (CycloneDX `metadata.component.components[]`, "assemblies") in JSON and
//! XML, and the SPDX package the document DESCRIBES when it names a package (purl or CPE).
//! Each must fail on RUSTSEC-2021-0003 exactly as a top-level `components[]` entry does.

mod rustsec_db;
use rustsec_db::gate_default;

use iotsec_sbom::gate::GateDecision;
use iotsec_sbom::{Decision, parse_sbom};

fn gate(sbom: &str) -> GateDecision {
    gate_default(&parse_sbom(sbom.as_bytes()).unwrap(), &[], "2026-01-15")
}

/// The gate fails with exactly one finding, RUSTSEC-2021-0003 on smallvec 1.6.0.
fn assert_fails_on_smallvec(d: &GateDecision) {
    assert_eq!(d.verdict, Decision::Fail, "{d:#?}");
    let ids: Vec<_> = d
        .findings
        .iter()
        .map(|f| (f.id.as_str(), f.component.as_str()))
        .collect();
    assert_eq!(ids, [("RUSTSEC-2021-0003", "pkg:cargo/smallvec@1.6.0")]);
    assert_eq!(d.findings[0].version.as_deref(), Some("1.6.0"));
    assert_eq!(d.findings[0].status, "affected");
}

const JSON_ASSEMBLY: &str = r#"{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"metadata":{"component":{"type":"firmware","name":"sensor-fw","version":"2.1.0","components":[{"type":"library","name":"smallvec","version":"1.6.0","purl":"pkg:cargo/smallvec@1.6.0"}]}}}"#;

const JSON_TOP_LEVEL: &str = r#"{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"metadata":{"component":{"type":"firmware","name":"sensor-fw","version":"2.1.0"}},"components":[{"type":"library","name":"smallvec","version":"1.6.0","purl":"pkg:cargo/smallvec@1.6.0"}]}"#;

const XML_ASSEMBLY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bom xmlns="http://cyclonedx.org/schema/bom/1.6" version="1">
  <metadata>
    <component type="firmware">
      <name>sensor-fw</name>
      <version>2.1.0</version>
      <components>
        <component type="library">
          <name>smallvec</name>
          <version>1.6.0</version>
          <purl>pkg:cargo/smallvec@1.6.0</purl>
        </component>
      </components>
    </component>
  </metadata>
</bom>"#;

#[test]
fn cyclonedx_json_subject_assembly_is_gated_like_a_top_level_component() {
    let assembly = gate(JSON_ASSEMBLY);
    assert_fails_on_smallvec(&assembly);
    let top_level = gate(JSON_TOP_LEVEL);
    assert_fails_on_smallvec(&top_level);
    assert_eq!(assembly.findings, top_level.findings);
    assert_eq!(assembly.components, 1);
}

#[test]
fn cyclonedx_xml_subject_assembly_is_gated() {
    let d = gate(XML_ASSEMBLY);
    assert_fails_on_smallvec(&d);
    assert_eq!(d.components, 1);
}

#[test]
fn nested_assemblies_are_flattened_subject_first_and_the_subject_stays_out() {
    let doc = r#"{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,
      "components":[{"type":"library","name":"serde","version":"1.0.0","purl":"pkg:cargo/serde@1.0.0"}],
      "metadata":{"component":{"type":"firmware","bom-ref":"fw","name":"sensor-fw","version":"2.1.0",
        "components":[{"type":"application","bom-ref":"app","name":"app","version":"1","purl":"pkg:cargo/app@1",
          "components":[{"type":"library","bom-ref":"sv","name":"smallvec","version":"1.6.0","purl":"pkg:cargo/smallvec@1.6.0"}]}]}}}"#;
    let sbom = parse_sbom(doc.as_bytes()).unwrap();
    assert_eq!(sbom.subject.as_ref().unwrap().name, "sensor-fw");
    let names: Vec<_> = sbom.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["app", "smallvec", "serde"]);
    let d = gate(doc);
    assert_eq!(d.verdict, Decision::Fail);
    assert!(d.findings.iter().any(|f| f.id == "RUSTSEC-2021-0003"));
}

#[test]
fn assembly_bom_ref_must_be_unique_across_the_bom() {
    let doc = r#"{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,
      "components":[{"type":"library","bom-ref":"dup","name":"serde","version":"1.0.0"}],
      "metadata":{"component":{"type":"firmware","name":"sensor-fw",
        "components":[{"type":"library","bom-ref":"dup","name":"smallvec","version":"1.6.0"}]}}}"#;
    assert!(parse_sbom(doc.as_bytes()).is_err());
}

fn spdx(described_refs: &str) -> String {
    format!(
        r#"{{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"x",
        "documentNamespace":"https://example.invalid/spdx/x","documentDescribes":["SPDXRef-smallvec"],
        "packages":[{{"SPDXID":"SPDXRef-smallvec","name":"smallvec","versionInfo":"1.6.0",
          "downloadLocation":"NOASSERTION"{described_refs}}}]}}"#
    )
}

#[test]
fn spdx_described_package_with_a_purl_is_gated() {
    let doc = spdx(
        r#","externalRefs":[{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:cargo/smallvec@1.6.0"}]"#,
    );
    let sbom = parse_sbom(doc.as_bytes()).unwrap();
    assert_eq!(sbom.subject.as_ref().unwrap().name, "smallvec");
    let d = gate(&doc);
    assert_fails_on_smallvec(&d);
    assert_eq!(d.components, 1);
}

#[test]
fn spdx_described_wrapper_without_purl_or_cpe_is_not_a_component() {
    let doc = spdx("");
    let sbom = parse_sbom(doc.as_bytes()).unwrap();
    assert!(sbom.components.is_empty());
    let d = gate(&doc);
    assert_eq!(d.verdict, Decision::Pass, "{d:#?}");
}
