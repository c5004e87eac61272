//! The real RustSec database (OSV, `../shared/data/rustsec-osv`), loaded once per test binary,
//! and the gate run against it with the default policy.

use std::sync::OnceLock;

use iotsec_sbom::advisory::{AdvisoryDatabase, load_advisory_dir};
use iotsec_sbom::date::parse_day;
use iotsec_sbom::gate::{GateDecision, GateInputs, decide};
use iotsec_sbom::vex::{VexDocument, VexStatement};
use iotsec_sbom::{Policy, Sbom};

#[path = "../shared_data/mod.rs"]
mod shared_data;

/// The RustSec advisories, loaded on first use; `None` (after a skip note) when the shared data
/// is absent.
pub fn try_rustsec() -> Option<&'static AdvisoryDatabase> {
    static DB: OnceLock<Option<AdvisoryDatabase>> = OnceLock::new();
    DB.get_or_init(|| {
        let dir = shared_data::shared_data("rustsec-osv/crates")?;
        Some(load_advisory_dir(&dir).unwrap())
    })
    .as_ref()
}

/// The RustSec advisories; the calling test returns (skips) when the shared data is absent.
#[allow(unused_macros)]
macro_rules! rustsec {
    () => {
        match crate::rustsec_db::try_rustsec() {
            Some(db) => db,
            None => return,
        }
    };
}

/// `sbom` gated against RustSec with the default policy, these VEX statements, on `today`.
#[allow(dead_code)] // gate_rustsec.rs gates with its own policies
pub fn gate_default(sbom: &Sbom, vex: &[VexStatement], today: &str) -> GateDecision {
    let policy = Policy::default();
    decide(&GateInputs {
        sbom,
        // These VEX and assembly tests have no skip path of their own: without the shared data
        // they stop here with this message (the published package leaves them out).
        advisories: try_rustsec().unwrap_or_else(|| panic!("needs ../shared/data/rustsec-osv")),
        vex: &[VexDocument::from_statements(vex.to_vec())],
        policy: &policy,
        firmware_sha256: None,
        today: parse_day(today).unwrap(),
    })
}
