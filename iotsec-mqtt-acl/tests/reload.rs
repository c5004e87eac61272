//! Atomic reload: a check that holds the old policy keeps it; new checks see the new one; a
//! broken policy leaves the old one serving.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;

use iotsec_mqtt_acl::reload::PolicyHandle;
use iotsec_mqtt_acl::{Action, ClientContext, CompiledPolicy, Effect, Policy, Request};

const V1: &str = "[[rule]]\neffect = \"allow\"\nactions = [\"publish\"]\ntopics = [\"a/#\"]\n";
const V2: &str = "[[rule]]\neffect = \"allow\"\nactions = [\"publish\"]\ntopics = [\"b/#\"]\n";

#[test]
fn reload_swaps_atomically_and_keeps_old_on_error() {
    let handle = Arc::new(PolicyHandle::new(CompiledPolicy::compile(
        Policy::from_toml_str(V1).unwrap(),
    )));
    let ctx = ClientContext::new("d");
    let a = Request::new(Action::Publish, "a/x");
    let b = Request::new(Action::Publish, "b/x");
    let held = handle.current();
    let old = handle.reload_toml(V2).unwrap();
    assert_eq!(old.check(&ctx, &a).effect, Effect::Allow);
    assert_eq!(
        held.check(&ctx, &a).effect,
        Effect::Allow,
        "in-flight holder keeps v1"
    );
    assert_eq!(handle.current().check(&ctx, &a).effect, Effect::Deny);
    assert_eq!(handle.current().check(&ctx, &b).effect, Effect::Allow);
    assert!(
        handle
            .reload_toml("[[rule]]\neffect = \"allow\"\n")
            .is_err()
    );
    assert_eq!(
        handle.current().check(&ctx, &b).effect,
        Effect::Allow,
        "v2 still serves"
    );

    // Readers on other threads always see a whole policy, v1 or v2, never a mix.
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let h = Arc::clone(&handle);
            std::thread::spawn(move || {
                let ctx = ClientContext::new("d");
                for _ in 0..2000 {
                    let p = h.current();
                    let (ea, eb) = (
                        p.check(&ctx, &Request::new(Action::Publish, "a/x")).effect,
                        p.check(&ctx, &Request::new(Action::Publish, "b/x")).effect,
                    );
                    assert_ne!(ea, eb);
                }
            })
        })
        .collect();
    for i in 0..200 {
        handle
            .reload_toml(if i % 2 == 0 { V1 } else { V2 })
            .unwrap();
    }
    for r in readers {
        r.join().unwrap();
    }
}
