#![no_main]
//! OSV advisory parsing and range evaluation never panic.

use iotsec_sbom::advisory::parse_osv;
use iotsec_sbom::version::VersionScheme;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(adv) = parse_osv(data, "fuzz") {
        for a in &adv.affected {
            let scheme = VersionScheme::for_ecosystem(&a.ecosystem);
            for r in &a.ranges {
                for v in ["0", "1.0.0", "0.0.0-0", "2:1.0-1", "1.2_rc1-r3"] {
                    let _ = r.contains(scheme, v);
                }
            }
        }
    }
});
