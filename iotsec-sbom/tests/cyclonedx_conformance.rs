#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Conformance against `../shared/data/cyclonedx-spec-tests`: every `valid-*` JSON/XML file loads,
//! every `invalid-*` JSON/XML file is rejected with a reason. `.textproto` files (the protobuf
//! encoding) are not read by this crate and are counted separately. For 1.3-1.5 the
//! `cyclonedx-bom` cross-check must also pass on every valid file.

use std::collections::BTreeMap;

use iotsec_sbom::sbom::parse_sbom;
#[cfg(feature = "cyclonedx-cross-check")]
use iotsec_sbom::sbom::{CrossCheck, cross_check_with_cyclonedx_bom};

#[derive(Default, Debug, PartialEq, Eq)]
struct Row {
    valid_loaded: usize,
    valid_total: usize,
    invalid_rejected: usize,
    invalid_total: usize,
    textproto_skipped: usize,
    cross_checked: usize,
}

mod shared_data;

/// The table per spec version and the mismatches; `None` (skipped) without the shared suite.
fn run() -> Option<(BTreeMap<String, Row>, Vec<String>)> {
    let root = shared_data::shared_data("cyclonedx-spec-tests")?;
    let mut table = BTreeMap::new();
    let mut mismatches = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        let version = dir.file_name().unwrap().to_string_lossy().to_string();
        let row: &mut Row = table.entry(version.clone()).or_default();
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            let name = f.file_name().unwrap().to_string_lossy().to_string();
            if name.starts_with("skip_") {
                // Marked skipped by the upstream suite itself (1.2: empty component, missing type).
                continue;
            }
            if name.ends_with(".textproto") {
                row.textproto_skipped += 1;
                continue;
            }
            let valid = name.starts_with("valid");
            let invalid = name.starts_with("invalid") || name.starts_with("informal-invalid");
            assert!(valid || invalid, "{name}");
            let bytes = std::fs::read(&f).unwrap();
            let result = parse_sbom(&bytes);
            if valid {
                row.valid_total += 1;
                match result {
                    Ok(_) => {
                        row.valid_loaded += 1;
                        #[cfg(feature = "cyclonedx-cross-check")]
                        match cross_check_with_cyclonedx_bom(&bytes) {
                            Ok(CrossCheck::Passed { .. }) => row.cross_checked += 1,
                            Ok(_) => {}
                            Err(e) => mismatches.push(format!("{version}/{name}: cross-check {e}")),
                        }
                    }
                    Err(e) => mismatches.push(format!("{version}/{name}: rejected: {e}")),
                }
            } else {
                row.invalid_total += 1;
                match result {
                    Err(e) => {
                        assert!(!e.to_string().is_empty());
                        row.invalid_rejected += 1;
                    }
                    Ok(_) => mismatches.push(format!("{version}/{name}: accepted")),
                }
            }
        }
    }
    Some((table, mismatches))
}

#[test]
fn every_valid_file_loads_and_every_invalid_file_is_rejected() {
    let Some((table, mismatches)) = run() else {
        return;
    };
    for (v, r) in &table {
        eprintln!(
            "| {v} | {}/{} | {}/{} | {} | {} |",
            r.valid_loaded,
            r.valid_total,
            r.invalid_rejected,
            r.invalid_total,
            r.cross_checked,
            r.textproto_skipped
        );
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    // The published table (crate README) must be the measured one.
    let expect = |v: &str, valid: usize, invalid: usize, cross: usize, proto: usize| {
        let r = &table[v];
        // Without the feature nothing is cross-checked.
        let cross = if cfg!(feature = "cyclonedx-cross-check") {
            cross
        } else {
            0
        };
        assert_eq!(
            (
                r.valid_total,
                r.invalid_total,
                r.cross_checked,
                r.textproto_skipped
            ),
            (valid, invalid, cross, proto),
            "{v}"
        );
    };
    expect("1.0", 2, 0, 0, 0);
    expect("1.1", 12, 17, 0, 0);
    expect("1.2", 45, 42, 0, 0);
    expect("1.3", 55, 46, 55, 26);
    expect("1.4", 60, 46, 60, 28);
    expect("1.5", 74, 46, 74, 35);
    expect("1.6", 92, 52, 0, 46);
    expect("1.7", 124, 59, 0, 63);
    expect("ext", 2, 1, 0, 0);
}

#[test]
fn rejection_reasons_name_the_rule() {
    let Some(root) = shared_data::shared_data("cyclonedx-spec-tests") else {
        return;
    };
    let reason = |p: &str| {
        parse_sbom(&std::fs::read(root.join(p)).unwrap())
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        reason("1.7/invalid-component-ref-1.7.json"),
        "CycloneDX 1.7: components[1]: bom-ref must not be empty"
    );
    assert!(reason("1.7/invalid-hash-md5-1.7.json").contains("MD5 content"));
    assert!(reason("1.7/invalid-license-id-1.7.json").contains("is not an SPDX license id"));
    assert!(reason("1.6/invalid-serialnumber-1.6.xml").contains("urn:uuid"));
    assert!(reason("1.7/invalid-namespace-1.7.xml").contains("namespace"));
}
