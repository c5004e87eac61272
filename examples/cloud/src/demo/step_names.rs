//! The demo's steps and their expected outcomes, in order: what the table shows. Shared with
//! `tests/demo_fleet.rs` (which includes this file), so the test checks the table against the
//! one list.

/// The steps: (name, expected outcome). Stable: tests and scripts key on them.
pub const STEPS: [(&str, &str); 9] = [
    (
        "ca_tls",
        "fleet CA up; broker TLS 1.3 listener admits fleet certificates only; cloud HTTPS up",
    ),
    (
        "enroll",
        "every device enrolls over EST and connects to the broker",
    ),
    (
        "attestation",
        "attested devices publish; a wrong measurement is quarantined and loses its topics while connected",
    ),
    (
        "sbom_gate",
        "release 1.1.0 (smallvec 1.6.0, RUSTSEC-2021-0003) is refused by the SBOM gate",
    ),
    (
        "rollout",
        "1.1.1 rolls out 1% -> 10% -> 100%; a canary's failed trial boot reverts and halts it; fixed 1.1.2 resumes to every device",
    ),
    (
        "manifest_replay",
        "a replayed old manifest is refused on every device",
    ),
    (
        "probe_detection",
        "a device probing other devices' topics is seen on the deny stream and quarantined",
    ),
    (
        "revocation",
        "a revoked device's open session is closed; it can no longer reach the broker or the cloud",
    ),
    (
        "decommission",
        "a decommissioned device is revoked, marked in the registry and wipes its keys",
    ),
];
