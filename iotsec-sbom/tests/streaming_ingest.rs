#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! The CycloneDX JSON reader streams `components[]` one element at a time: key order, duplicate
//! keys, rule violations and malformed input must behave exactly as with a whole-document model.

use iotsec_sbom::error::GateError;
use iotsec_sbom::parse_sbom;

#[test]
fn spec_version_after_components_selects_the_rules() {
    // `data` is a 1.5 component type: accepted under 1.5 even though specVersion comes last.
    let doc = br#"{"components":[{"type":"data","name":"a","version":"1"},
        {"type":"library","name":"b","components":[{"type":"library","name":"c"}]}],
        "bomFormat":"CycloneDX","specVersion":"1.5"}"#;
    let sbom = parse_sbom(doc).unwrap();
    let names: Vec<&str> = sbom.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    // ... and rejected under 1.3, where `data` is not a component type.
    let old = br#"{"components":[{"type":"data","name":"a"}],"bomFormat":"CycloneDX","specVersion":"1.3"}"#;
    match parse_sbom(old) {
        Err(GateError::SpecViolation { path, .. }) => assert_eq!(path, "components[0]"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn duplicate_top_level_keys_are_rejected() {
    for doc in [
        r#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[],"components":[{"type":"library","name":"x"}]}"#,
        r#"{"bomFormat":"CycloneDX","specVersion":"1.5","serialNumber":"urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79","serialNumber":"urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79"}"#,
        r#"{"bomFormat":"CycloneDX","specVersion":"1.5","specVersion":"1.6"}"#,
    ] {
        assert!(
            matches!(parse_sbom(doc.as_bytes()), Err(GateError::Malformed { .. })),
            "{doc}"
        );
    }
}

#[test]
fn a_rule_violation_in_a_streamed_component_names_its_index() {
    let doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[
        {"type":"library","name":"ok"},{"type":"library"}]}"#;
    match parse_sbom(doc) {
        Err(GateError::SpecViolation { path, rule, .. }) => {
            assert_eq!(path, "components[1]");
            assert!(rule.contains("name is required"), "{rule}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_top_level_keys_trailing_bytes_and_wrong_shapes_are_rejected() {
    for doc in [
        r#"{"bomFormat":"CycloneDX","specVersion":"1.5","componnets":[]}"#,
        r#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[]} x"#,
        r#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":{}}"#,
        r#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"type":"library","name":"a"}"#,
    ] {
        assert!(parse_sbom(doc.as_bytes()).is_err(), "{doc}");
    }
    let null = br#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":null}"#;
    assert!(parse_sbom(null).unwrap().components.is_empty());
}
