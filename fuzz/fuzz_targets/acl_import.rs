//! Importers: mosquitto acl_file text and AWS IoT policy JSON, then evaluation of the result;
//! in `mosquitto` mode the compiled trie must decide exactly as the reference evaluator.
#![no_main]
#![allow(clippy::expect_used)]

use iotsec_mqtt_acl::aws_iot::import_aws_policy;
use iotsec_mqtt_acl::mosquitto_acl::{MosquittoAcl, MosquittoOperation};
use iotsec_mqtt_acl::reference::evaluate;
use iotsec_mqtt_acl::{Action, ClientContext, CompiledPolicy, Policy, Request, SubscribeMode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let mut imported = Vec::new();
    if let Ok(acl) = MosquittoAcl::parse(text) {
        let _ = acl.check(
            "dev1/x",
            Some("u"),
            MosquittoOperation::Write,
            "devices/dev1/x/t",
        );
        imported.push(acl.import());
    }
    if let Ok(i) = import_aws_policy(text) {
        imported.push(i);
    }
    for i in imported {
        // An importer must only ever emit policies that validate.
        let policy = Policy::from_document(i.document).expect("importer emitted an invalid policy");
        let compiled = CompiledPolicy::compile(policy.clone());
        let _ = compiled.check(
            &ClientContext::new("dev1"),
            &Request::new(Action::Publish, "a/b"),
        );
        let anonymous = ClientContext::new("");
        let slash = ClientContext {
            username: Some("u"),
            ..ClientContext::new("dev1/x")
        };
        let wildcard = ClientContext {
            username: Some("u/+"),
            ..ClientContext::new("$SYS")
        };
        for ctx in [&anonymous, &slash, &wildcard] {
            for topic in ["a/b", "devices/dev1/x/t", "$SYS/x", "/", "u/dev1/x"] {
                for action in [Action::Publish, Action::Receive] {
                    let req = Request::new(action, topic);
                    assert_eq!(
                        compiled.check_with_mode(ctx, &req, SubscribeMode::Mosquitto),
                        evaluate(&policy, ctx, &req, SubscribeMode::Mosquitto),
                        "mosquitto mode: compiled and reference disagree"
                    );
                }
            }
        }
    }
});
