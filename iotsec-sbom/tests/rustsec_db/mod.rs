//! The real RustSec database (OSV, `../shared/data/rustsec-osv`), loaded once per test binary,
//! and the gate run against it with the default policy.

use std::sync::OnceLock;

use iotsec_sbom::advisory::{AdvisoryDatabase, load_advisory_dir};
use iotsec_sbom::gate::{GateDecision, GateInputs, decide};
use iotsec_sbom::vex::VexStatement;
use iotsec_sbom::{Policy, Sbom};

const DB_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/rustsec-osv/crates"
);

/// The RustSec advisories, loaded on first use.
pub fn rustsec() -> &'static AdvisoryDatabase {
    static DB: OnceLock<AdvisoryDatabase> = OnceLock::new();
    DB.get_or_init(|| load_advisory_dir(std::path::Path::new(DB_DIR)).unwrap())
}

/// `sbom` gated against RustSec with the default policy, these VEX statements, on `today`.
#[allow(dead_code)] // gate_rustsec.rs gates with its own policies
pub fn gate_default(sbom: &Sbom, vex: &[VexStatement], today: &str) -> GateDecision {
    let policy = Policy::default();
    decide(&GateInputs {
        sbom,
        sbom_sha256: "00",
        advisories: rustsec(),
        vex,
        vex_sha256: &[],
        policy: &policy,
        policy_sha256: "00",
        firmware_sha256: None,
        today,
    })
}
