//! Policy loading from TOML and JSON, then compilation and one check.
#![no_main]

use iotsec_mqtt_acl::{Action, ClientContext, CompiledPolicy, Policy, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    for policy in [Policy::from_toml_str(text), Policy::from_json_str(text)]
        .into_iter()
        .flatten()
    {
        let compiled = CompiledPolicy::compile(policy);
        let ctx = ClientContext::new("dev1");
        let _ = compiled.check(&ctx, &Request::new(Action::Publish, "devices/dev1/t"));
        let _ = compiled.check(&ctx, &Request::new(Action::Subscribe, "devices/#"));
    }
});
