//! The real RustSec database (OSV, `../shared/data/rustsec-osv`), loaded once per test binary.

use std::sync::OnceLock;

use iotsec_sbom::advisory::{AdvisoryDatabase, load_advisory_dir};

const DB_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/rustsec-osv/crates"
);

/// The RustSec advisories, loaded on first use.
pub fn rustsec() -> &'static AdvisoryDatabase {
    static DB: OnceLock<AdvisoryDatabase> = OnceLock::new();
    DB.get_or_init(|| load_advisory_dir(std::path::Path::new(DB_DIR)).unwrap())
}
