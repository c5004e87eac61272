#![no_main]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Every version comparator is total (never panics) and antisymmetric on arbitrary strings.

use iotsec_sbom::version::VersionScheme;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (a, b) = text.split_once('\n').unwrap_or((text, "1.0.0"));
    for scheme in [
        VersionScheme::Semver,
        VersionScheme::Debian,
        VersionScheme::Alpine,
        VersionScheme::Pep440,
        VersionScheme::Maven,
        VersionScheme::Generic,
    ] {
        assert_eq!(scheme.compare(a, b), scheme.compare(b, a).reverse());
        assert!(scheme.compare(a, a).is_eq());
        let _ = scheme.check(a);
    }
});
