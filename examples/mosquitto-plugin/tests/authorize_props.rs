//! Property test: `authorize()` never panics on arbitrary bytes from the broker, and denies
//! every request whose topic (or client id) holds U+0000 or is not UTF-8.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_mosquitto_plugin::{AclRequest, authorize};
use iotsec_mqtt_acl::{CompiledPolicy, Policy, SubscribeMode};
use proptest::prelude::*;

const POLICY: &str = include_str!("data/policy.toml");

/// Bytes biased towards MQTT structure: separators, wildcards, `$`, NUL, invalid UTF-8.
fn mqtt_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"/".to_vec()),
        Just(b"+".to_vec()),
        Just(b"#".to_vec()),
        Just(b"$".to_vec()),
        Just(b"\0".to_vec()),
        Just(b"\xff".to_vec()),
        Just(b"\xc3".to_vec()),
        Just("é".as_bytes().to_vec()),
        Just(b"devices".to_vec()),
        Just(b"dev1".to_vec()),
        Just(b"cmd".to_vec()),
        Just(b"telemetry".to_vec()),
        Just(b"$share/g".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..4),
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

fn access() -> impl Strategy<Value = i32> {
    prop_oneof![Just(1), Just(2), Just(4), Just(8), any::<i32>()]
}

fn mode() -> impl Strategy<Value = SubscribeMode> {
    prop_oneof![
        Just(SubscribeMode::Strict),
        Just(SubscribeMode::Narrow),
        Just(SubscribeMode::Mosquitto)
    ]
}

fn bad(bytes: &[u8]) -> bool {
    bytes.contains(&0) || std::str::from_utf8(bytes).is_err()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_and_denies_nul_or_invalid_utf8(
        client_id in proptest::option::weighted(0.95, mqtt_bytes()),
        username in proptest::option::of(prop_oneof![
            Just(b"monitor".to_vec()), Just(b"backend".to_vec()), mqtt_bytes()
        ]),
        topic in proptest::option::weighted(0.95, mqtt_bytes()),
        access in access(),
        qos in any::<u8>(),
        retain in any::<bool>(),
        mode in mode(),
    ) {
        let policy = CompiledPolicy::compile(Policy::from_toml_str(POLICY).unwrap());
        let req = AclRequest {
            client_id: client_id.as_deref(),
            username: username.as_deref(),
            access,
            topic: topic.as_deref(),
            qos,
            retain,
        };
        let verdict = authorize(&policy, mode, &req);
        let must_deny = topic.as_deref().is_none_or(bad)
            || client_id.as_deref().is_none_or(bad)
            || username.as_deref().is_some_and(bad)
            || ![1, 2, 4, 8].contains(&access);
        if must_deny {
            prop_assert!(!verdict.is_allowed(), "{req:?}");
        }
    }
}
