//! The releases the operator publishes (iotsec-ota, iotsec-sbom inputs): a trust root (Ed25519
//! root key, ES256 release key) the devices pin at the factory, firmware images, their signed
//! manifests (security counter = anti-rollback, sequence number = freshness) and CycloneDX
//! SBOMs. Release 1.1.0 ships smallvec 1.6.0, which RUSTSEC-2021-0003 (CVE-2021-25900, CVSS 9.8)
//! affects: the SBOM gate must refuse it. 1.1.1 and 1.1.2 ship the fixed smallvec 1.6.1.
//!
//! The advisory is embedded (copied from the RustSec OSV export, CC0-1.0), so the demo needs
//! no advisory database at run time.

use base64ct::{Base64, Encoding};
use iotsec_fleet_api::PublishRelease;
use iotsec_ota::manifest_builder::{ComponentSpec, ManifestBuilder};
use iotsec_ota::signer::Es256Key;
use serde_json::json;

/// The OSV advisory the gate checks against (file name, text).
pub const ADVISORY: (&str, &str) = (
    "RUSTSEC-2021-0003.json",
    include_str!("../../demo-data/fleet/RUSTSEC-2021-0003.json"),
);
/// The advisory's id.
pub const ADVISORY_ID: &str = "RUSTSEC-2021-0003";
/// The gate policy: anything above medium severity blocks a release.
pub const GATE_POLICY: &str = "# Deploy gate of the demo fleet: anything above medium blocks a release.\nmax_severity = \"medium\"\n";

pub use super::release_keys::{CLASS, VENDOR, image};

/// The firmware every device runs from the factory.
pub const FACTORY: &str = "1.0.0";
/// The release the SBOM gate must block.
pub const VULNERABLE: &str = "1.1.0";
/// The first fixed release, whose trial boot fails on one canary.
pub const FIRST_FIX: &str = "1.1.1";
/// The release after the halted rollout.
pub const SECOND_FIX: &str = "1.1.2";

/// The factory image's security counter.
pub const FACTORY_COUNTER: u64 = 1;
/// The factory image's manifest sequence number.
pub const FACTORY_SEQUENCE: u64 = 1;

/// (version, security counter, sequence number, smallvec version) of every image.
const RELEASES: [(&str, u64, u64, &str); 4] = [
    (FACTORY, FACTORY_COUNTER, FACTORY_SEQUENCE, "1.6.1"),
    (VULNERABLE, 2, 2, "1.6.0"),
    (FIRST_FIX, 2, 3, "1.6.1"),
    (SECOND_FIX, 3, 4, "1.6.1"),
];

/// The operator's signing keys and the trust root document the devices pin.
pub struct Publisher {
    release_key: Es256Key,
    /// The signed trust root (COSE), pinned by every device.
    pub root_document: Vec<u8>,
}

/// A signed release, ready to publish.
#[derive(Clone)]
pub struct Release {
    /// Version.
    pub version: &'static str,
    /// The image.
    pub image: Vec<u8>,
    /// The signed manifest.
    pub manifest: Vec<u8>,
    /// CycloneDX JSON.
    pub sbom: Vec<u8>,
}

impl Release {
    /// The publish request body.
    pub fn publish_request(&self) -> PublishRelease {
        PublishRelease {
            version: self.version.to_owned(),
            manifest: Base64::encode_string(&self.manifest),
            image: Base64::encode_string(&self.image),
            sbom: Base64::encode_string(&self.sbom),
        }
    }
}

/// The CycloneDX 1.6 SBOM of `version`, which links smallvec `smallvec`.
pub fn sbom(version: &str, smallvec: &str) -> Vec<u8> {
    let doc = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {"component": {
            "type": "firmware", "name": "demo-sensor-fw", "version": version,
            "purl": format!("pkg:generic/iotsec-demo/demo-sensor-fw@{version}"),
        }},
        "components": [
            {"type": "library", "name": "smallvec", "version": smallvec,
             "purl": format!("pkg:cargo/smallvec@{smallvec}")},
            {"type": "library", "name": "heapless", "version": "0.9.1",
             "purl": "pkg:cargo/heapless@0.9.1"},
        ],
    });
    doc.to_string().into_bytes()
}

impl Publisher {
    /// Fresh keys and the trust root (version 1) naming them.
    pub fn new() -> Result<Publisher, String> {
        let (_, release_key, root_document) = super::release_keys::release_keys()?;
        Ok(Publisher {
            release_key,
            root_document,
        })
    }

    /// The signed release `version` (one of the demo's).
    pub fn release(&self, version: &str) -> Result<Release, String> {
        let (version, counter, sequence, smallvec) = RELEASES
            .iter()
            .copied()
            .find(|r| r.0 == version)
            .ok_or_else(|| format!("no demo release {version}"))?;
        let image = image(version);
        let manifest = ManifestBuilder::new(VENDOR, CLASS, version)
            .security_counter(counter)
            .sequence_number(sequence)
            .component(ComponentSpec::from_image("app", &image))
            .sign(&[&self.release_key])
            .map_err(|e| format!("manifest {version}: {e}"))?;
        Ok(Release {
            version,
            sbom: sbom(version, smallvec),
            image,
            manifest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iotsec_sbom::advisory::{AdvisoryDatabase, SnapshotFile};
    use iotsec_sbom::gate::{GateInputs, decide, sha256_hex};
    use iotsec_sbom::{Decision, Policy, parse_sbom};

    /// The embedded inputs give the verdicts the demo expects from the cloud's gate.
    #[test]
    fn the_gate_blocks_1_1_0_on_rustsec_2021_0003_and_passes_the_fixes() {
        let db = AdvisoryDatabase::from_files(&[SnapshotFile {
            path: ADVISORY.0.into(),
            bytes: ADVISORY.1.as_bytes().to_vec(),
        }])
        .unwrap_or_else(|e| panic!("{e}"));
        let policy = Policy::from_toml(GATE_POLICY).unwrap_or_else(|e| panic!("{e}"));
        let publisher = Publisher::new().unwrap_or_else(|e| panic!("{e}"));
        for (version, expected) in [
            (VULNERABLE, Decision::Fail),
            (FIRST_FIX, Decision::Pass),
            (SECOND_FIX, Decision::Pass),
        ] {
            let release = publisher.release(version).unwrap_or_else(|e| panic!("{e}"));
            let sbom = parse_sbom(&release.sbom).unwrap_or_else(|e| panic!("{e}"));
            let decision = decide(&GateInputs {
                sbom: &sbom,
                advisories: &db,
                vex: &[],
                policy: &policy,
                firmware_sha256: Some(&sha256_hex(&release.image)),
                today: time::OffsetDateTime::now_utc().date(),
            });
            assert_eq!(decision.verdict, expected, "{version}");
            let blocking: Vec<&str> = decision
                .findings
                .iter()
                .filter(|f| f.decision == Decision::Fail)
                .map(|f| f.id.as_str())
                .collect();
            let want: &[&str] = match expected {
                Decision::Fail => &[ADVISORY_ID],
                _ => &[],
            };
            assert_eq!(blocking, want, "{version}");
        }
    }
}
