//! Policy loading from TOML and JSON, then compilation; the compiled matcher must agree with
//! the reference evaluator on a few identities and topics.
#![no_main]

use iotsec_mqtt_acl::reference::evaluate;
use iotsec_mqtt_acl::{Action, ClientContext, CompiledPolicy, Policy, Request, SubscribeMode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    for policy in [Policy::from_toml_str(text), Policy::from_json_str(text)]
        .into_iter()
        .flatten()
    {
        let compiled = CompiledPolicy::compile(policy.clone());
        for client in ["dev1", "dev1/x", "#", ""] {
            let ctx = ClientContext::new(client);
            for (action, topic) in [
                (Action::Publish, "devices/dev1/t"),
                (Action::Receive, "a/b/c"),
                (Action::Will, "$SYS/x"),
                (Action::Subscribe, "devices/#"),
            ] {
                let req = Request::new(action, topic);
                assert_eq!(
                    compiled.check(&ctx, &req),
                    evaluate(&policy, &ctx, &req, SubscribeMode::Strict)
                );
            }
        }
    }
});
