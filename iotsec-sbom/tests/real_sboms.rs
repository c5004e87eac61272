#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! SBOMs produced by the real generators on real projects, gated against real advisories:
//! `cargo-cyclonedx` (crates.io) on a tiny Cargo project that pins a vulnerable `smallvec` (offline:
//! committed `Cargo.lock` and crate manifest), and
//! `cyclonedx-py` (PyPI `cyclonedx-bom`) on a pinned requirements file and on the CI venv itself.
//! With `CI=true` a missing generator is a failure; elsewhere the test skips loudly.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use iotsec_sbom::advisory::{AdvisoryDatabase, SnapshotFile, load_advisory_dir};
use iotsec_sbom::gate::{FindingKind, GateDecision};
#[cfg(feature = "cyclonedx-cross-check")]
use iotsec_sbom::sbom::{CrossCheck, cross_check_with_cyclonedx_bom};
use iotsec_sbom::{Decision, parse_sbom};
use iotsec_test_support::peer;

mod shared_data;

const RUSTSEC: &str = "rustsec-osv/crates";

fn tool(name: &str) -> Option<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let found = peer::find_in_venv(&workspace, name);
    if found.is_none() {
        peer::missing("real_sboms", name, "run .ci/install.sh");
    }
    found
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("iotsec-sbom-real-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn gate(sbom_bytes: &[u8], db: &AdvisoryDatabase) -> GateDecision {
    support::gate_document(sbom_bytes, db, &[], "", None)
}

/// The committed inputs of the Cargo project: its `Cargo.lock` and the crates.io manifest of
/// `smallvec` 1.6.0, so that neither resolving nor `cargo metadata` needs the network.
const CARGO_FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/cargo-smallvec");

/// The crates.io checksum of `smallvec` 1.6.0 (`Cargo.lock`; the vendored copy declares it too).
const SMALLVEC_1_6_0_SHA256: &str =
    "1a55ca5f3b68e41c979bf8c46a6f1da892ca4db8f94023ce0bd32407573b1ac0";

/// A Cargo project pinning `smallvec = "=1.6.0"` whose crates.io source is replaced by a
/// directory source holding a stand-in package of that name and version, so
/// `cargo cyclonedx` runs offline on a machine with an empty registry cache. Source replacement
/// keeps the crates.io package id, so the SBOM says `pkg:cargo/smallvec@1.6.0` as it would online.
fn offline_cargo_project(dir: &Path) -> PathBuf {
    let fixture = Path::new(CARGO_FIXTURE);
    let project = dir.join("project");
    std::fs::create_dir_all(project.join("src")).unwrap();
    std::fs::create_dir_all(project.join(".cargo")).unwrap();
    std::fs::write(
        project.join("Cargo.toml"),
        "[package]\nname = \"gate-demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nsmallvec = \"=1.6.0\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(project.join("src/lib.rs"), "pub use smallvec;\n").unwrap();
    std::fs::copy(fixture.join("Cargo.lock"), project.join("Cargo.lock")).unwrap();
    std::fs::write(
        project.join(".cargo/config.toml"),
        "[source.crates-io]\nreplace-with = \"fixture\"\n\n[source.fixture]\ndirectory = \"../vendor\"\n",
    )
    .unwrap();
    let crate_dir = dir.join("vendor/smallvec");
    std::fs::create_dir_all(crate_dir.join("src")).unwrap();
    // A stand-in manifest written here (name and version are all `cargo metadata` needs to
    // place the package; its source replacement keeps the crates.io package id).
    std::fs::write(
        crate_dir.join("Cargo.toml"),
        "[package]\nname = \"smallvec\"\nversion = \"1.6.0\"\nedition = \"2018\"\n",
    )
    .unwrap();
    std::fs::write(crate_dir.join("src/lib.rs"), "").unwrap();
    std::fs::write(
        crate_dir.join(".cargo-checksum.json"),
        format!(r#"{{"files":{{}},"package":"{SMALLVEC_1_6_0_SHA256}"}}"#),
    )
    .unwrap();
    project
}

#[test]
fn cargo_cyclonedx_sbom_of_a_project_with_vulnerable_smallvec() {
    if tool("cargo-cyclonedx").is_none() {
        return;
    }
    let scratch_dir = scratch("cargo");
    let dir = offline_cargo_project(&scratch_dir);
    let cargo_home = scratch_dir.join("cargo-home");
    std::fs::create_dir_all(&cargo_home).unwrap();
    for spec in ["1.3", "1.5"] {
        let out = Command::new("cargo")
            .args([
                "cyclonedx",
                "--format",
                "json",
                "--spec-version",
                spec,
                "--override-filename",
                "bom",
            ])
            .current_dir(&dir)
            .env("CARGO_NET_OFFLINE", "true")
            // An empty Cargo home: no registry index or crate cache to lean on.
            .env("CARGO_HOME", &cargo_home)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bytes = std::fs::read(dir.join("bom.json")).unwrap();
        let sbom = parse_sbom(&bytes).unwrap();
        let smallvec: Vec<_> = sbom
            .components
            .iter()
            .map(|c| {
                (
                    c.purl.as_deref(),
                    c.hashes
                        .iter()
                        .map(|h| (h.alg.as_str(), h.content.as_str()))
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        // cargo-cyclonedx lists the project's own targets under the subject
        // (`metadata.component.components[]`): parts of the product, gated like the rest.
        assert_eq!(
            smallvec,
            [
                (
                    Some("pkg:cargo/gate-demo@0.1.0?download_url=file://.#src/lib.rs"),
                    vec![]
                ),
                (
                    Some("pkg:cargo/smallvec@1.6.0"),
                    vec![("SHA-256", SMALLVEC_1_6_0_SHA256)]
                )
            ],
            "spec {spec}"
        );
        #[cfg(feature = "cyclonedx-cross-check")]
        assert!(matches!(
            cross_check_with_cyclonedx_bom(&bytes).unwrap(),
            CrossCheck::Passed { .. }
        ));
        let Some(dir) = shared_data::shared_data(RUSTSEC) else {
            return;
        };
        let db = load_advisory_dir(&dir).unwrap();
        let d = gate(&bytes, &db);
        let got: Vec<_> = d
            .findings
            .iter()
            .map(|f| (f.id.as_str(), f.component.as_str(), f.aliases.clone()))
            .collect();
        assert_eq!(
            got,
            vec![(
                "RUSTSEC-2021-0003",
                "pkg:cargo/smallvec@1.6.0",
                vec![
                    "CVE-2021-25900".to_owned(),
                    "GHSA-43w2-9j62-hq99".to_owned()
                ]
            )],
            "spec {spec}"
        );
        assert_eq!(d.verdict, Decision::Fail);
    }
}

#[test]
fn cyclonedx_py_sbom_of_pinned_requirements() {
    let Some(py) = tool("cyclonedx-py") else {
        return;
    };
    let dir = scratch("py-req");
    std::fs::write(
        dir.join("requirements.txt"),
        "jinja2==2.10\nurllib3==1.24.1\n",
    )
    .unwrap();
    let out = Command::new(&py)
        .args([
            "requirements",
            "requirements.txt",
            "--of",
            "JSON",
            "-o",
            "bom.json",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(dir.join("bom.json")).unwrap();
    let sbom = parse_sbom(&bytes).unwrap();
    assert_eq!(sbom.spec_version, "1.6");
    // A PyPI advisory (GHSA, ECOSYSTEM range) matches jinja2 2.10; urllib3 is identified and clean.
    let ghsa = include_bytes!("data/GHSA-462w-v97r-4m45.json");
    let db = AdvisoryDatabase::from_files(&[SnapshotFile {
        path: "ghsa.json".into(),
        bytes: ghsa.to_vec(),
    }])
    .unwrap();
    let d = gate(&bytes, &db);
    let got: Vec<_> = d
        .findings
        .iter()
        .map(|f| (f.id.as_str(), f.component.as_str(), f.decision))
        .collect();
    assert_eq!(
        got,
        vec![(
            "GHSA-462w-v97r-4m45",
            "pkg:pypi/jinja2@2.10",
            Decision::Fail
        )]
    );
    assert_eq!(d.findings[0].aliases, vec!["CVE-2019-10906"]);
    // Against RustSec, PyPI is an uncovered ecosystem: every component is reported, none passes.
    let Some(dir) = shared_data::shared_data(RUSTSEC) else {
        return;
    };
    let rustsec = load_advisory_dir(&dir).unwrap();
    let d = gate(&bytes, &rustsec);
    assert_eq!(d.findings.len(), 2);
    assert!(
        d.findings
            .iter()
            .all(|f| f.kind == FindingKind::Unidentified)
    );
    assert_eq!(d.verdict, Decision::Fail);
}

#[test]
fn cyclonedx_py_sbom_of_the_installed_ci_environment() {
    let Some(py) = tool("cyclonedx-py") else {
        return;
    };
    let python = py.with_file_name("python");
    let dir = scratch("py-env");
    let out = Command::new(&py)
        .args(["environment", "--of", "XML", "-o"])
        .arg(dir.join("env.xml"))
        .arg(&python)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(dir.join("env.xml")).unwrap();
    let sbom = parse_sbom(&bytes).unwrap();
    let names: Vec<_> = sbom.components.iter().map(|c| c.name.as_str()).collect();
    assert!(names.contains(&"cyclonedx-python-lib"), "{names:?}");
    assert!(sbom.components.iter().all(|c| {
        c.purl
            .as_deref()
            .is_some_and(|p| p.starts_with("pkg:pypi/"))
    }));
}
