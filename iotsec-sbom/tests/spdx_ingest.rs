#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! SPDX 2.3 JSON: packages with purl and CPE external references, the described package as the
//! subject, and a gate over it (purl match, CPE-only component, component with neither).

use iotsec_sbom::advisory::load_advisory_dir;
use iotsec_sbom::gate::{GateInputs, decide};
use iotsec_sbom::sbom::{SbomFormat, parse_sbom};
use iotsec_sbom::{Decision, Policy};

mod shared_data;

const DOC: &str = include_str!("data/zephyr-like.spdx.json");

#[test]
fn spdx_packages_are_normalized() {
    let sbom = parse_sbom(DOC.as_bytes()).unwrap();
    assert_eq!(sbom.format, SbomFormat::SpdxJson);
    assert_eq!(sbom.spec_version, "SPDX-2.3");
    let subject = sbom.subject.as_ref().unwrap();
    assert_eq!(subject.name, "sensor-fw");
    assert_eq!(subject.hashes[0].alg, "SHA-256");
    assert_eq!(
        subject.hashes[0].content,
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    );
    let names: Vec<_> = sbom.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["smallvec", "mbedtls", "vendor-blob"]);
    assert_eq!(
        sbom.components[0].purl.as_deref(),
        Some("pkg:cargo/smallvec@1.6.0")
    );
    assert_eq!(sbom.components[0].licenses, ["MIT OR Apache-2.0"]);
    assert_eq!(
        sbom.components[1].cpe.as_deref(),
        Some("cpe:2.3:a:arm:mbed_tls:3.4.0:*:*:*:*:*:*:*")
    );
}

#[test]
fn spdx_sbom_is_gated_and_never_silently_passed() {
    let sbom = parse_sbom(DOC.as_bytes()).unwrap();
    let Some(dir) = shared_data::shared_data("rustsec-osv/crates") else {
        return;
    };
    let db = load_advisory_dir(&dir).unwrap();
    let policy = Policy::default();
    let fw = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let d = decide(&GateInputs {
        sbom: &sbom,
        advisories: &db,
        vex: &[],
        policy: &policy,
        firmware_sha256: Some(fw),
        today: iotsec_sbom::date::parse_day("2026-01-15").unwrap(),
    });
    let got: Vec<_> = d
        .findings
        .iter()
        .map(|f| (f.id.as_str(), f.component.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("RUSTSEC-2021-0003", "pkg:cargo/smallvec@1.6.0"),
            // RustSec carries no CPE names: a CPE-only component cannot be cleared (fail closed).
            (
                "unidentified-component",
                "cpe:2.3:a:arm:mbed_tls:3.4.0:*:*:*:*:*:*:*"
            ),
            ("unidentified-component", "vendor-blob"),
        ]
    );
    assert_eq!(d.verdict, Decision::Fail);
}

#[test]
fn other_spdx_versions_are_refused() {
    let v3 = DOC.replace("SPDX-2.3", "SPDX-3.0");
    assert!(
        parse_sbom(v3.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("SPDX-3.0")
    );
}

#[test]
fn spdx_version_key_late_in_the_document_is_recognized() {
    let padding = format!("\"comment\": \"{}\",", "x".repeat(5000));
    let late = DOC.replacen('{', &format!("{{{padding}"), 1);
    let sbom = parse_sbom(late.as_bytes()).unwrap();
    assert_eq!(sbom.format, SbomFormat::SpdxJson);
}
