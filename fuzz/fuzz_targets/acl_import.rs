//! Importers: mosquitto acl_file text and AWS IoT policy JSON, then evaluation of the result.
#![no_main]
#![allow(clippy::expect_used)]

use iotsec_mqtt_acl::aws_iot::import_aws_policy;
use iotsec_mqtt_acl::mosquitto_acl::{MosquittoAcl, MosquittoOperation};
use iotsec_mqtt_acl::{Action, ClientContext, CompiledPolicy, Policy, Request};
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
        let compiled = CompiledPolicy::compile(policy);
        let _ = compiled.check(
            &ClientContext::new("dev1"),
            &Request::new(Action::Publish, "a/b"),
        );
    }
});
