//! The gate policy (TOML written by people, possibly from a pull request): `Policy::from_toml`
//! never panics, and an accepted policy keeps the invariants the gate relies on.
#![no_main]

use iotsec_sbom::Policy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(policy) = Policy::from_toml(text) {
        for ignore in &policy.ignore {
            assert!(!ignore.reason.trim().is_empty(), "ignore without a reason");
            let e = ignore.expires.as_bytes();
            assert!(e.len() == 10 && e[4] == b'-' && e[7] == b'-', "bad expiry");
        }
        if let Some(l) = &policy.licenses {
            assert!(
                !l.allow.iter().any(|a| l.deny.contains(a)),
                "allowed and denied"
            );
        }
        let _ = policy.unscored.as_str();
    }
});
