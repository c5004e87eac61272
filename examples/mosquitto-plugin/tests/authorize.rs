//! `authorize()` without mosquitto: the exact allow/deny for each access type, the fail-closed
//! inputs (null, non-UTF-8, U+0000, unknown access) and the deny log line.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_mosquitto_plugin::access::{
    MOSQ_ACL_READ, MOSQ_ACL_SUBSCRIBE, MOSQ_ACL_UNSUBSCRIBE, MOSQ_ACL_WRITE,
};
use iotsec_mosquitto_plugin::{AclRequest, Verdict, authorize};
use iotsec_mqtt_acl::{CompiledPolicy, Policy, SubscribeMode};

const POLICY: &str = include_str!("data/policy.toml");

fn policy() -> CompiledPolicy {
    CompiledPolicy::compile(Policy::from_toml_str(POLICY).unwrap())
}

fn req<'a>(id: &'a str, user: Option<&'a str>, access: i32, topic: &'a str) -> AclRequest<'a> {
    AclRequest {
        client_id: Some(id.as_bytes()),
        username: user.map(str::as_bytes),
        access,
        topic: Some(topic.as_bytes()),
        qos: 0,
        retain: false,
    }
}

fn decide(mode: SubscribeMode, r: &AclRequest<'_>) -> bool {
    authorize(&policy(), mode, r).is_allowed()
}

fn strict(id: &str, user: Option<&str>, access: i32, topic: &str) -> bool {
    decide(SubscribeMode::Strict, &req(id, user, access, topic))
}

/// (client id, username, access, topic, allowed?) in strict mode.
type Case = (&'static str, Option<&'static str>, i32, &'static str, bool);

fn check_table(cases: &[Case]) {
    for &(id, user, access, topic, allowed) in cases {
        assert_eq!(
            strict(id, user, access, topic),
            allowed,
            "{id:?} {user:?} access {access} {topic:?}"
        );
    }
}

const BACKEND: Option<&str> = Some("backend");
const MONITOR: Option<&str> = Some("monitor");

#[test]
fn write_is_publish() {
    check_table(&[
        ("dev1", None, MOSQ_ACL_WRITE, "devices/dev1/telemetry", true),
        (
            "dev1",
            None,
            MOSQ_ACL_WRITE,
            "devices/dev2/telemetry",
            false,
        ),
        ("dev1", None, MOSQ_ACL_WRITE, "devices/dev1/cmd/x", false),
        (
            "dev1",
            None,
            MOSQ_ACL_WRITE,
            "devices/dev1/telemetry/x",
            false,
        ),
        ("dev1", None, MOSQ_ACL_WRITE, "devices/+/telemetry", false),
        (
            "b",
            BACKEND,
            MOSQ_ACL_WRITE,
            "devices/dev7/cmd/reboot",
            true,
        ),
        // any deny beats any allow
        (
            "b",
            BACKEND,
            MOSQ_ACL_WRITE,
            "devices/dev7/cmd/firmware/go",
            false,
        ),
        // the monitor reads, it does not write
        (
            "m",
            MONITOR,
            MOSQ_ACL_WRITE,
            "devices/dev1/telemetry",
            false,
        ),
    ]);
}

#[test]
fn retained_write_is_publish_retained() {
    let mut r = req("dev1", None, MOSQ_ACL_WRITE, "devices/dev1/telemetry");
    r.retain = true;
    assert!(
        !decide(SubscribeMode::Strict, &r),
        "no rule grants publish_retained"
    );
}

#[test]
fn read_is_receive() {
    check_table(&[
        ("dev1", None, MOSQ_ACL_READ, "devices/dev1/cmd/reboot", true),
        (
            "dev1",
            None,
            MOSQ_ACL_READ,
            "devices/dev1/cmd/firmware/x",
            true,
        ),
        (
            "dev1",
            None,
            MOSQ_ACL_READ,
            "devices/dev2/cmd/reboot",
            false,
        ),
        ("dev1", None, MOSQ_ACL_READ, "devices/dev1/telemetry", false),
        ("m", MONITOR, MOSQ_ACL_READ, "devices/dev1/telemetry", true),
        ("m", MONITOR, MOSQ_ACL_READ, "anything/else", true),
        // `#` does not reach `$SYS` (MQTT 4.7.2)
        ("m", MONITOR, MOSQ_ACL_READ, "$SYS/broker/uptime", false),
        // wildcards are not topic names
        ("m", MONITOR, MOSQ_ACL_READ, "devices/+/telemetry", false),
    ]);
}

#[test]
fn subscribe_strict() {
    check_table(&[
        ("dev1", None, MOSQ_ACL_SUBSCRIBE, "devices/dev1/cmd/#", true),
        ("dev1", None, MOSQ_ACL_SUBSCRIBE, "devices/dev1/cmd/+", true),
        (
            "dev1",
            None,
            MOSQ_ACL_SUBSCRIBE,
            "devices/dev1/cmd/reboot",
            true,
        ),
        (
            "dev1",
            None,
            MOSQ_ACL_SUBSCRIBE,
            "$share/g/devices/dev1/cmd/#",
            true,
        ),
        ("dev1", None, MOSQ_ACL_SUBSCRIBE, "devices/+/cmd/#", false),
        ("dev1", None, MOSQ_ACL_SUBSCRIBE, "#", false),
        ("dev1", None, MOSQ_ACL_SUBSCRIBE, "devices/dev1/#", false),
        ("dev1", None, MOSQ_ACL_SUBSCRIBE, "$share/g/#", false),
        // not a filter (`#` must be last)
        (
            "dev1",
            None,
            MOSQ_ACL_SUBSCRIBE,
            "devices/dev1/cmd/#/x",
            false,
        ),
        ("m", MONITOR, MOSQ_ACL_SUBSCRIBE, "#", true),
        (
            "m",
            MONITOR,
            MOSQ_ACL_SUBSCRIBE,
            "devices/+/telemetry",
            true,
        ),
        ("m", MONITOR, MOSQ_ACL_SUBSCRIBE, "$SYS/#", false),
        ("b", BACKEND, MOSQ_ACL_SUBSCRIBE, "devices/+/cmd/#", false),
    ]);
}

#[test]
fn subscribe_narrow_and_mosquitto_modes() {
    let broad = req("dev1", None, MOSQ_ACL_SUBSCRIBE, "devices/+/cmd/#");
    assert!(!decide(SubscribeMode::Strict, &broad));
    assert!(decide(SubscribeMode::Narrow, &broad));
    assert!(decide(SubscribeMode::Mosquitto, &broad));
    // narrow: every delivery is still checked
    let other = req("dev1", None, MOSQ_ACL_READ, "devices/dev2/cmd/reboot");
    assert!(!decide(SubscribeMode::Narrow, &other));
    let unrelated = req("dev1", None, MOSQ_ACL_SUBSCRIBE, "other/#");
    assert!(!decide(SubscribeMode::Narrow, &unrelated));
}

#[test]
fn unsubscribe_needs_only_a_well_formed_filter() {
    assert!(strict(
        "dev1",
        None,
        MOSQ_ACL_UNSUBSCRIBE,
        "devices/+/cmd/#"
    ));
    assert!(strict("dev1", None, MOSQ_ACL_UNSUBSCRIBE, "#"));
    assert!(strict("x/y", None, MOSQ_ACL_UNSUBSCRIBE, "$share/g/a/b"));
    assert!(!strict("dev1", None, MOSQ_ACL_UNSUBSCRIBE, "a/#/b"));
    assert!(!strict("dev1", None, MOSQ_ACL_UNSUBSCRIBE, "a/b+"));
    assert!(!strict("dev1", None, MOSQ_ACL_UNSUBSCRIBE, ""));
}

#[test]
fn client_ids_with_wildcards_or_separators_get_nothing() {
    // CVE-2017-7650 class: mosquitto's `%c` would paste these into the pattern.
    for id in ["dev1/x", "+", "#", "dev1/+", ""] {
        for (access, topic) in [
            (MOSQ_ACL_SUBSCRIBE, "devices/+/cmd/#".to_string()),
            (MOSQ_ACL_SUBSCRIBE, format!("devices/{id}/cmd/#")),
            (MOSQ_ACL_WRITE, format!("devices/{id}/telemetry")),
            (MOSQ_ACL_WRITE, "devices/dev1/x/telemetry".to_string()),
            (MOSQ_ACL_READ, "devices/dev1/x/cmd/a".to_string()),
            (MOSQ_ACL_READ, "devices/dev1/cmd/a".to_string()),
        ] {
            for mode in [SubscribeMode::Strict, SubscribeMode::Narrow] {
                let r = req(id, None, access, &topic);
                assert!(!decide(mode, &r), "{id:?} {access} {topic} {mode:?}");
            }
        }
    }
    let v = authorize(
        &policy(),
        SubscribeMode::Strict,
        &req("dev1/x", None, MOSQ_ACL_WRITE, "devices/dev1/telemetry"),
    );
    let Verdict::Deny(iotsec_mosquitto_plugin::Denial { line, .. }) = v else {
        panic!()
    };
    assert_eq!(
        line,
        r#"iotsec-mqtt-acl: DENY publish client_id="dev1/x" username=(null) topic="devices/dev1/telemetry" qos=0: rule 0 ("device-telemetry"): placeholder ${client_id} unusable for this client: contains '/'"#
    );
}

#[test]
fn malformed_inputs_are_denied() {
    let p = policy();
    let ok = req("dev1", None, MOSQ_ACL_WRITE, "devices/dev1/telemetry");
    assert!(authorize(&p, SubscribeMode::Strict, &ok).is_allowed());
    let cases: [(&str, AclRequest<'_>); 9] = [
        (
            "null client id",
            AclRequest {
                client_id: None,
                ..ok
            },
        ),
        ("null topic", AclRequest { topic: None, ..ok }),
        (
            "non-UTF-8 client id",
            AclRequest {
                client_id: Some(b"dev\xff"),
                ..ok
            },
        ),
        (
            "non-UTF-8 username",
            AclRequest {
                username: Some(b"\xc3"),
                ..ok
            },
        ),
        (
            "non-UTF-8 topic",
            AclRequest {
                topic: Some(b"devices/dev1/tele\xffmetry"),
                ..ok
            },
        ),
        (
            "NUL in topic",
            AclRequest {
                topic: Some(b"devices/dev1/telemetry\0x"),
                ..ok
            },
        ),
        (
            "NUL in client id",
            AclRequest {
                client_id: Some(b"dev1\0"),
                ..ok
            },
        ),
        ("QoS 3", AclRequest { qos: 3, ..ok }),
        ("access 0", AclRequest { access: 0, ..ok }),
    ];
    for (what, r) in cases {
        assert!(
            !authorize(&p, SubscribeMode::Strict, &r).is_allowed(),
            "{what}"
        );
    }
    for access in [0, 3, 5, 16, -1, i32::MAX] {
        let r = AclRequest { access, ..ok };
        assert!(
            !authorize(&p, SubscribeMode::Strict, &r).is_allowed(),
            "{access}"
        );
    }
}

#[test]
fn deny_line_names_the_request_and_escapes_client_text() {
    let r = req(
        "dev1\nFAKE LINE",
        None,
        MOSQ_ACL_WRITE,
        "devices/dev2/telemetry\r",
    );
    let Verdict::Deny(iotsec_mosquitto_plugin::Denial { line, .. }) =
        authorize(&policy(), SubscribeMode::Strict, &r)
    else {
        panic!("allowed");
    };
    assert!(line.starts_with("iotsec-mqtt-acl: DENY publish "), "{line}");
    assert!(!line.contains('\n') && !line.contains('\r'), "{line}");
    assert!(line.contains(r#"client_id="dev1\nFAKE LINE""#), "{line}");
    let Verdict::Deny(iotsec_mosquitto_plugin::Denial { line, .. }) = authorize(
        &policy(),
        SubscribeMode::Strict,
        &req("dev1", None, MOSQ_ACL_WRITE, "devices/dev2/telemetry"),
    ) else {
        panic!("allowed");
    };
    assert_eq!(
        line,
        r#"iotsec-mqtt-acl: DENY publish client_id="dev1" username=(null) topic="devices/dev2/telemetry" qos=0: no_matching_rule: no rule grants this (default deny)"#
    );
}

#[test]
fn a_revoked_identity_is_denied_everything_whatever_the_policy_grants() {
    use iotsec_mosquitto_plugin::Context;
    use iotsec_mosquitto_plugin::authorize_in;
    use iotsec_mqtt_acl::posture_feed::PostureFeed;
    let feed = PostureFeed::from_toml_str(
        "[[device]]\nclient_id = \"dev1\"\nrevoked = true\n\n\
         [[device]]\ncert_cn = \"monitor\"\nrevoked = true\n",
    )
    .unwrap();
    let p = policy();
    let decide = |id: &str, user: Option<&str>, access: i32, topic: &str, cn: bool| {
        let cx = Context {
            posture: Some(&feed),
            now: 0,
            username_is_cert_cn: cn,
            deny_stream: None,
        };
        authorize_in(
            &p,
            SubscribeMode::Strict,
            &req(id, user, access, topic),
            &cx,
        )
    };
    // Granted by the policy before revocation; every action refused after it.
    assert!(strict(
        "dev1",
        None,
        MOSQ_ACL_WRITE,
        "devices/dev1/telemetry"
    ));
    for (access, topic) in [
        (MOSQ_ACL_WRITE, "devices/dev1/telemetry"),
        (MOSQ_ACL_SUBSCRIBE, "devices/dev1/cmd/#"),
        (MOSQ_ACL_READ, "devices/dev1/cmd/reboot"),
        (MOSQ_ACL_UNSUBSCRIBE, "devices/dev1/cmd/#"),
    ] {
        let Verdict::Deny(d) = decide("dev1", None, access, topic, false) else {
            panic!("revoked dev1 allowed access {access} to {topic}");
        };
        assert!(d.reason.starts_with("identity_revoked: "), "{}", d.reason);
    }
    // The CN entry covers every client id of that certificate, only when the username is the CN.
    assert!(!decide("mon-1", MONITOR, MOSQ_ACL_READ, "devices/x", true).is_allowed());
    assert!(decide("mon-1", MONITOR, MOSQ_ACL_READ, "devices/x", false).is_allowed());
    // Other devices are untouched.
    assert!(decide("dev2", None, MOSQ_ACL_WRITE, "devices/dev2/telemetry", true).is_allowed());
}
