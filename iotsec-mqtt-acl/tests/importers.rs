//! Importers: mosquitto acl_file parsing errors and notes, AWS IoT subset, lint findings.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_mqtt_acl::aws_iot::{AwsImportError, import_aws_policy};
use iotsec_mqtt_acl::lint::{FindingKind, lint};
use iotsec_mqtt_acl::mosquitto_acl::{
    MosquittoAcl, MosquittoAclError, MosquittoOperation, MosquittoReason, NoteKind,
};
use iotsec_mqtt_acl::{Action, ClientContext, CompiledPolicy, Effect, Policy, Request};

#[test]
fn mosquitto_parse_errors_are_typed() {
    assert_eq!(
        MosquittoAcl::parse("topic maybe a/b"),
        Err(MosquittoAclError::UnknownAccess {
            line: 1,
            access: "maybe".into()
        })
    );
    assert_eq!(
        MosquittoAcl::parse("\ntopic"),
        Err(MosquittoAclError::MissingTopic { line: 2 })
    );
    assert_eq!(
        MosquittoAcl::parse("user"),
        Err(MosquittoAclError::MissingUsername { line: 1 })
    );
    assert!(matches!(
        MosquittoAcl::parse("topik read a"),
        Err(MosquittoAclError::UnknownDirective { .. })
    ));
    assert!(matches!(
        MosquittoAcl::parse("topic read a/#/b"),
        Err(MosquittoAclError::InvalidTopic { .. })
    ));
    assert!(matches!(
        MosquittoAcl::parse(&"a".repeat(2000)),
        Err(MosquittoAclError::LineTooLong { line: 1 })
    ));
}

#[test]
fn mosquitto_semantics_quirks() {
    let acl = MosquittoAcl::parse("pattern readwrite d/%c/#\n").unwrap();
    assert_eq!(
        acl.check("x+", None, MosquittoOperation::Write, "d/x/a"),
        MosquittoReason::DangerousIdentity
    );
    assert_eq!(
        acl.check("any", None, MosquittoOperation::Subscribe, "#"),
        MosquittoReason::SubscribeAlwaysGranted
    );
    assert_eq!(
        acl.check("x", None, MosquittoOperation::Write, "$SYS/x"),
        MosquittoReason::NoMatch
    );
    let empty = MosquittoAcl::parse("# nothing\n").unwrap();
    assert_eq!(
        empty.check("x", None, MosquittoOperation::Write, "a"),
        MosquittoReason::NoMatch
    );
    let notes = empty.import().notes;
    assert_eq!(notes[0].kind, NoteKind::EmptyFileDeniesAll);
}

#[test]
fn mosquitto_import_reports_meaning_changes() {
    let acl = MosquittoAcl::parse(
        "topic read pub/#\nuser alice\ntopic readwrite x/#\npattern deny x/%c\npattern write d/pre-%c\npattern deny q/pre-%c/z\npattern write d/%c/#\n",
    )
    .unwrap();
    let imported = acl.import();
    let kinds: Vec<NoteKind> = imported.notes.iter().map(|n| n.kind).collect();
    for k in [
        NoteKind::UserAllowNoLongerBeatsPatternDeny,
        NoteKind::MidLevelPlaceholderDropped,
        NoteKind::MidLevelPlaceholderWidened,
        NoteKind::PlaceholderNowWholeLevel,
        NoteKind::SubscribeNowChecked,
    ] {
        assert!(kinds.contains(&k), "{k:?} missing from {kinds:?}");
    }
    let policy = CompiledPolicy::compile(Policy::from_document(imported.document).unwrap());
    let alice = ClientContext {
        client_id: "secret",
        username: Some("alice"),
        ..Default::default()
    };
    // mosquitto: alice's own allow wins over the pattern deny; here the deny wins.
    assert!(
        acl.check(
            "secret",
            Some("alice"),
            MosquittoOperation::Write,
            "x/secret"
        )
        .is_allowed()
    );
    assert_eq!(
        policy
            .check(&alice, &Request::new(Action::Publish, "x/secret"))
            .effect,
        Effect::Deny
    );
    assert_eq!(
        policy
            .check(&alice, &Request::new(Action::Publish, "x/other"))
            .effect,
        Effect::Allow
    );
    // The widened deny (q/+/z) refuses more than mosquitto did.
    let c = ClientContext::new("c");
    assert_eq!(
        policy
            .check(&c, &Request::new(Action::Publish, "d/c/t"))
            .effect,
        Effect::Allow
    );
    assert_eq!(
        policy
            .check(&c, &Request::new(Action::Publish, "d/pre-c"))
            .effect,
        Effect::Deny
    );
    // Anonymous read lines apply only to clients without a username.
    assert_eq!(
        policy
            .check(&c, &Request::new(Action::Receive, "pub/x"))
            .effect,
        Effect::Allow
    );
    assert_eq!(
        policy
            .check(&alice, &Request::new(Action::Receive, "pub/x"))
            .effect,
        Effect::Deny
    );
}

#[test]
fn aws_import_subset() {
    let json = r#"{"Version":"2012-10-17","Statement":[
      {"Effect":"Allow","Action":["iot:Subscribe"],"Resource":["arn:aws:iot:r:1:topicfilter/things/${iot:Connection.Thing.ThingName}/+"]},
      {"Effect":"Allow","Action":"iot:Receive","Resource":"arn:aws:iot:r:1:topic/things/*/x*"},
      {"Effect":"Deny","Action":"iot:*","Resource":"arn:aws:iot:r:1:topic/$aws/*"}]}"#;
    let imported = import_aws_policy(json).unwrap();
    let p = Policy::from_document(imported.document.clone()).unwrap();
    assert!(
        imported
            .notes
            .iter()
            .any(|n| n.kind == NoteKind::Unsupported),
        "{:?}",
        imported.notes
    );
    assert!(
        imported
            .notes
            .iter()
            .any(|n| n.kind == NoteKind::Approximated)
    );
    let c = CompiledPolicy::compile(p);
    let attrs = [("thing_name", "t1")];
    let ctx = ClientContext {
        client_id: "t1",
        attributes: &attrs,
        ..Default::default()
    };
    assert_eq!(
        c.check(&ctx, &Request::new(Action::Subscribe, "things/t1/a"))
            .effect,
        Effect::Allow
    );
    assert_eq!(
        c.check(&ctx, &Request::new(Action::Subscribe, "things/t2/a"))
            .effect,
        Effect::Deny
    );
    assert!(matches!(
        import_aws_policy(
            r#"{"Statement":[{"Effect":"Deny","Action":"iot:Publish","Resource":"arn:aws:iot:r:1:topic/a*b"}]}"#
        ),
        Err(AwsImportError::UnsupportedDeny { statement: 0, .. })
    ));
    assert!(matches!(
        import_aws_policy("[]"),
        Err(AwsImportError::Malformed(_))
    ));
}

#[test]
fn lint_findings() {
    let p = Policy::from_toml_str(
        r##"
[[rule]]
name = "broad"
effect = "allow"
actions = ["publish"]
topics = ["devices/+/#"]
[[rule]]
name = "narrow"
effect = "allow"
actions = ["publish"]
topics = ["devices/${client_id}/t"]
[[rule]]
name = "share"
effect = "allow"
actions = ["receive"]
topics = ["$share/g/#"]
"##,
    )
    .unwrap();
    let findings = lint(&p);
    let has =
        |k: FindingKind, rule: &str| findings.iter().any(|f| f.kind == k && f.rules[0] == rule);
    assert!(has(FindingKind::Shadowed, "narrow"), "{findings:?}");
    assert!(
        has(FindingKind::CrossTenantOverlap, "broad"),
        "{findings:?}"
    );
    assert!(has(FindingKind::ReachesReserved, "share"), "{findings:?}");
    assert!(!has(FindingKind::Shadowed, "broad"));
    let empty = lint(&Policy::from_toml_str("").unwrap());
    assert_eq!(empty[0].kind, FindingKind::EmptyPolicy);
}

#[test]
fn a_deny_inside_an_allowed_subscription_is_reported_and_really_narrows_strict_mode() {
    use iotsec_mqtt_acl::{Action, ClientContext, CompiledPolicy, Effect, Request, SubscribeMode};
    let policy = r##"
[[rule]]
name = "own-cmd"
effect = "allow"
actions = ["subscribe", "receive"]
topics = ["devices/${client_id}/cmd/#"]
[[rule]]
name = "no-firmware-cmd"
effect = "deny"
actions = ["receive"]
topics = ["devices/+/cmd/firmware/#"]
[[rule]]
name = "no-other"
effect = "deny"
actions = ["subscribe"]
topics = ["other/#"]
"##;
    let p = Policy::from_toml_str(policy).unwrap();
    let narrowed: Vec<_> = lint(&p)
        .into_iter()
        .filter(|f| f.kind == FindingKind::StrictSubscribeNarrowed)
        .collect();
    assert_eq!(narrowed.len(), 1, "{narrowed:?}");
    assert_eq!(narrowed[0].rules, ["own-cmd", "no-firmware-cmd"]);
    assert_eq!(
        narrowed[0].detail,
        r#"strict mode refuses SUBSCRIBE "devices/${client_id}/cmd/#" because deny "no-firmware-cmd" removes "devices/+/cmd/firmware/#" from it; clients must subscribe to narrower filters (or use narrow mode)"#
    );
    // What the finding says is what the engine does.
    let c = CompiledPolicy::compile(p);
    let ctx = ClientContext::new("dev1");
    let sub = |t: &str, mode| {
        c.check_with_mode(&ctx, &Request::new(Action::Subscribe, t), mode)
            .effect
    };
    assert_eq!(
        sub("devices/dev1/cmd/#", SubscribeMode::Strict),
        Effect::Deny
    );
    assert_eq!(
        sub("devices/dev1/cmd/reboot", SubscribeMode::Strict),
        Effect::Allow
    );
    assert_eq!(
        sub("devices/dev1/cmd/#", SubscribeMode::Narrow),
        Effect::Allow
    );
    // A deny that does not overlap the allowed filter is not reported.
    let clean = Policy::from_toml_str(
        r##"
[[rule]]
name = "own-cmd"
effect = "allow"
actions = ["subscribe", "receive"]
topics = ["devices/${client_id}/cmd/#"]
[[rule]]
name = "no-other"
effect = "deny"
actions = ["subscribe", "receive"]
topics = ["other/#"]
"##,
    )
    .unwrap();
    assert!(
        !lint(&clean)
            .iter()
            .any(|f| f.kind == FindingKind::StrictSubscribeNarrowed)
    );
}
