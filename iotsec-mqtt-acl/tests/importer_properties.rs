//! Property tests for the importers (`MosquittoAcl::parse`, `aws_iot::import_aws_policy`):
//! arbitrary text never panics and every import validates; a generated mosquitto acl_file and a
//! generated AWS IoT policy keep their decisions once imported, checked request by request
//! against the crate's mosquitto 2.0.11 evaluator and against AWS's documented rules written
//! out here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_mqtt_acl::aws_iot::import_aws_policy;
use iotsec_mqtt_acl::decision::Effect;
use iotsec_mqtt_acl::mosquitto_acl::{Imported, MosquittoAcl, MosquittoOperation, NoteKind};
use iotsec_mqtt_acl::{Action, ClientContext, CompiledPolicy, Policy, Request};
use proptest::prelude::*;

const USERS: [&str; 3] = ["alice", "bob", "carol"];
const CLIENTS: [&str; 3] = ["dev1", "dev2", "x9"];

fn compile(imported: &Imported) -> CompiledPolicy {
    CompiledPolicy::compile(Policy::from_document(imported.document.clone()).unwrap())
}

fn allowed(
    policy: &CompiledPolicy,
    client: &str,
    user: Option<&str>,
    action: Action,
    topic: &str,
) -> bool {
    let ctx = ClientContext {
        client_id: client,
        username: user,
        ..Default::default()
    };
    policy.check(&ctx, &Request::new(action, topic)).effect == Effect::Allow
}

/// Topics asked about: 1..=3 levels over a small alphabet, so that generated rules hit them.
fn topic() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![Just("a"), Just("b"), Just("dev1"), Just("alice")],
        1..=3,
    )
    .prop_map(|l| l.join("/"))
}

// ---------------------------------------------------------------- mosquitto acl_file

/// A filter of 1..=3 levels: plain words, `+`, a final `#`, and in patterns `%c`/`%u` as a
/// whole level.
fn acl_topic(pattern: bool) -> impl Strategy<Value = String> {
    let level = if pattern {
        prop_oneof![Just("a"), Just("b"), Just("+"), Just("%c"), Just("%u")].boxed()
    } else {
        prop_oneof![Just("a"), Just("b"), Just("dev1"), Just("alice"), Just("+")].boxed()
    };
    (proptest::collection::vec(level, 1..=3), any::<bool>()).prop_map(|(mut l, hash)| {
        if hash {
            l.push("#");
        }
        l.join("/")
    })
}

fn access() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("read"), Just("write"), Just("readwrite"), Just("deny")]
}

fn acl_file() -> impl Strategy<Value = String> {
    let line = |pattern| (access(), acl_topic(pattern));
    (
        proptest::collection::vec(line(false), 0..4),
        proptest::collection::vec(
            (
                proptest::sample::select(USERS.to_vec()),
                proptest::collection::vec(line(false), 0..4),
            ),
            0..3,
        ),
        proptest::collection::vec(line(true), 0..4),
    )
        .prop_map(|(anonymous, users, patterns)| {
            let mut text = String::from("# generated\n");
            for (a, t) in anonymous {
                text.push_str(&format!("topic {a} {t}\n"));
            }
            for (u, lines) in users {
                text.push_str(&format!("user {u}\n"));
                for (a, t) in lines {
                    text.push_str(&format!("topic {a} {t}\n"));
                }
            }
            for (a, t) in patterns {
                text.push_str(&format!("pattern {a} {t}\n"));
            }
            text
        })
}

// ---------------------------------------------------------------- AWS IoT policy

/// One statement: Allow?, actions, resource paths (topic form, before `arn:...:topic/`).
type Statement = (bool, Vec<&'static str>, Vec<String>);

fn aws_path() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (
            proptest::collection::vec(
                prop_oneof![Just("a"), Just("b"), Just("${iot:ClientId}")],
                1..=3,
            ),
            any::<bool>(),
        )
            .prop_map(|(mut l, star)| {
                if star {
                    l.push("*");
                }
                l.join("/")
            }),
        1 => Just("*".to_string()),
    ]
}

fn statement() -> impl Strategy<Value = Statement> {
    (
        any::<bool>(),
        proptest::sample::subsequence(vec!["iot:Publish", "iot:Receive", "iot:*"], 1..=2),
        proptest::collection::vec(aws_path(), 1..=2),
    )
}

fn aws_json(statements: &[Statement]) -> String {
    let items: Vec<String> = statements
        .iter()
        .map(|(allow, actions, paths)| {
            let resources: Vec<String> = paths
                .iter()
                .map(|p| format!("\"arn:aws:iot:eu-west-1:123456789012:topic/{p}\""))
                .collect();
            let actions: Vec<String> = actions.iter().map(|a| format!("\"{a}\"")).collect();
            format!(
                "{{\"Effect\":\"{}\",\"Action\":[{}],\"Resource\":[{}]}}",
                if *allow { "Allow" } else { "Deny" },
                actions.join(","),
                resources.join(",")
            )
        })
        .collect();
    format!(
        "{{\"Version\":\"2012-10-17\",\"Statement\":[{}]}}",
        items.join(",")
    )
}

/// AWS resource matching (IAM policy grammar): policy variables are substituted, `*` matches
/// any run of characters (`/` included), everything else literally.
fn aws_matches(pattern: &str, topic: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == topic,
        Some((head, tail)) => {
            topic.starts_with(head)
                && (head.len()..=topic.len())
                    .any(|i| topic.is_char_boundary(i) && aws_matches(tail, &topic[i..]))
        }
    }
}

/// AWS's decision: an explicit Deny wins, else an Allow grants, else denied by default.
fn aws_allows(statements: &[Statement], client: &str, action: &str, topic: &str) -> bool {
    let hits = |allow: bool| {
        statements.iter().any(|(a, actions, paths)| {
            *a == allow
                && actions.iter().any(|x| *x == action || *x == "iot:*")
                && paths
                    .iter()
                    .any(|p| aws_matches(&p.replace("${iot:ClientId}", client), topic))
        })
    };
    !hits(false) && hits(true)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics_and_imports_validate(text in "\\PC{0,200}") {
        if let Ok(acl) = MosquittoAcl::parse(&text) {
            let _ = acl.check("dev1", Some("alice"), MosquittoOperation::Write, "a/b");
            Policy::from_document(acl.import().document).unwrap();
        }
        if let Ok(imported) = import_aws_policy(&text) {
            Policy::from_document(imported.document).unwrap();
        }
    }

    #[test]
    fn acl_like_text_never_panics(
        lines in proptest::collection::vec(
            (
                prop_oneof![Just("topic"), Just("pattern"), Just("user"), Just("#"), Just("topic read")],
                "[ a-z%+#/$]{0,12}",
            ),
            0..8,
        ),
    ) {
        let text: String = lines.iter().map(|(d, rest)| format!("{d} {rest}\n")).collect();
        if let Ok(acl) = MosquittoAcl::parse(&text) {
            Policy::from_document(acl.import().document).unwrap();
        }
    }

    /// A generated acl_file: the imported policy never allows what mosquitto denies (publish,
    /// receive), and when the importer reports no change of meaning for these requests (no
    /// user allow overlapping a pattern deny, no `%u` pattern for an anonymous client) it
    /// decides exactly as mosquitto does.
    #[test]
    fn a_mosquitto_acl_keeps_its_decisions_once_imported(
        text in acl_file(),
        requests in proptest::collection::vec(
            (
                proptest::sample::select(CLIENTS.to_vec()),
                proptest::option::of(proptest::sample::select(USERS.to_vec())),
                any::<bool>(),
                topic(),
            ),
            1..24,
        ),
    ) {
        let acl = MosquittoAcl::parse(&text).unwrap();
        let imported = acl.import();
        let policy = compile(&imported);
        let user_beats_pattern = imported
            .notes
            .iter()
            .any(|n| n.kind == NoteKind::UserAllowNoLongerBeatsPatternDeny);
        for (client, user, publish, topic) in &requests {
            let (op, action) = if *publish {
                (MosquittoOperation::Write, Action::Publish)
            } else {
                (MosquittoOperation::Read, Action::Receive)
            };
            let theirs = acl.check(client, *user, op, topic).is_allowed();
            let ours = allowed(&policy, client, *user, action, topic);
            prop_assert!(!ours || theirs, "imported allows what mosquitto denies: {} {:?} {:?} {}\n{}", client, user, op, topic, text);
            let percent_u_anonymous = user.is_none() && text.contains("%u");
            if !user_beats_pattern && !percent_u_anonymous {
                prop_assert_eq!(ours, theirs, "{} {:?} {:?} {}\n{}", client, user, op, topic, text);
            }
        }
    }

    /// A generated AWS IoT policy (Allow/Deny, Publish/Receive/`iot:*`, literal paths with
    /// `${iot:ClientId}` levels and a trailing `/*`) imports without notes and decides publish,
    /// will and receive exactly as AWS does.
    #[test]
    fn an_aws_policy_keeps_its_decisions_once_imported(
        statements in proptest::collection::vec(statement(), 1..5),
        requests in proptest::collection::vec(
            (proptest::sample::select(CLIENTS.to_vec()), any::<bool>(), topic()),
            1..24,
        ),
    ) {
        let json = aws_json(&statements);
        let imported = import_aws_policy(&json).unwrap();
        prop_assert!(imported.notes.is_empty(), "{:?}", imported.notes);
        let policy = compile(&imported);
        for (client, publish, topic) in &requests {
            let (aws_action, actions) = if *publish {
                ("iot:Publish", &[Action::Publish, Action::Will][..])
            } else {
                ("iot:Receive", &[Action::Receive][..])
            };
            let theirs = aws_allows(&statements, client, aws_action, topic);
            for action in actions {
                let ours = allowed(&policy, client, None, *action, topic);
                prop_assert_eq!(ours, theirs, "{} {:?} {}\n{}", client, action, topic, json);
            }
        }
    }
}

/// AWS `topic/things/*` matches `things/` and `things/x`, never `things` itself; so does the
/// import (`things/+/#`; `things/#` would also grant `things`).
#[test]
fn a_trailing_star_does_not_reach_the_parent_level() {
    let json = r#"{"Statement":[{"Effect":"Allow","Action":"iot:Publish",
        "Resource":"arn:aws:iot:eu-west-1:123456789012:topic/things/*"}]}"#;
    let imported = import_aws_policy(json).unwrap();
    let policy = compile(&imported);
    for (topic, granted) in [
        ("things/x", true),
        ("things/", true),
        ("things/x/y", true),
        ("things", false),
        ("thingsx", false),
    ] {
        assert_eq!(
            allowed(&policy, "dev1", None, Action::Publish, topic),
            granted,
            "{topic}"
        );
    }
}

#[test]
fn aws_matching_reference_is_the_iam_one() {
    assert!(aws_matches("a/*", "a/b/c"));
    assert!(aws_matches("a/*", "a/"));
    assert!(!aws_matches("a/*", "a"));
    assert!(aws_matches("*", "anything/at/all"));
    assert!(!aws_matches("a/b", "a/b/c"));
}
