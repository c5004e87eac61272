//! The repository's shared test vectors (`../shared/data` beside the workspace: Wycheproof,
//! RustSec OSV, CycloneDX and SUIT examples, version-ordering vectors).
//!
//! A published package does not carry them (the test files that read them are left out of it),
//! and a checkout without `../shared` does not have them either: then these tests skip with a
//! note on stderr. In CI (`CI=true`) the data is part of the job, so its absence fails.

use std::path::PathBuf;

/// The path of `relative` under the shared data directory, or `None` after a skip note.
pub fn shared_data(relative: &str) -> Option<PathBuf> {
    let path =
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data")).join(relative);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "shared test data missing in CI: {}",
        path.display()
    );
    eprintln!(
        "\n*** SKIPPING: shared test data {} is absent (clone ../shared beside the workspace) ***\n",
        path.display()
    );
    None
}
