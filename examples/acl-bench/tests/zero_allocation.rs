//! A compiled check allocates nothing: proven with a counting global allocator.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use iotsec_mqtt_acl::{Action, ClientContext, CompiledPolicy, Effect, Policy, Request};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// Forwards to the system allocator and counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn checks_allocate_nothing() {
    let policy = Policy::from_toml_str(
        r##"
[[rule]]
effect = "allow"
actions = ["publish", "receive", "will", "subscribe"]
topics = ["devices/${client_id}/#", "tenant/${attr.tenant}/+/data", "fleet/broadcast"]
firmware = ">=1.0.0"
max_qos = 1
[[rule]]
effect = "deny"
actions = ["publish"]
topics = ["devices/+/admin/#"]
"##,
    )
    .unwrap();
    let compiled = CompiledPolicy::compile(policy);
    let attrs = [("tenant", "acme")];
    let mut ctx = ClientContext {
        client_id: "dev1",
        attributes: &attrs,
        ..Default::default()
    };
    ctx.posture.firmware = Some(semver::Version::new(1, 2, 3));
    // Deeper than any template: analysed through its first 64 levels and `+/#`.
    let deep = format!("devices/dev1/{}", ["x"; 100].join("/"));
    let requests = [
        (
            Request::new(Action::Publish, "devices/dev1/a/b/c/d/e/f"),
            Effect::Allow,
        ),
        (
            Request::new(Action::Publish, "devices/dev1/admin/x"),
            Effect::Deny,
        ),
        (
            Request::new(Action::Receive, "tenant/acme/s/data"),
            Effect::Allow,
        ),
        (Request::new(Action::Will, "devices/dev2/x"), Effect::Deny),
        (Request::new(Action::Publish, "a/+"), Effect::Deny),
        (
            Request::new(Action::Subscribe, "devices/dev1/#"),
            Effect::Allow,
        ),
        (Request::new(Action::Subscribe, "devices/#"), Effect::Deny),
        (
            Request::new(Action::Subscribe, "$share/g/tenant/acme/+/data"),
            Effect::Allow,
        ),
        (Request::new(Action::Subscribe, &deep), Effect::Allow),
    ];
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    let mut effects = [Effect::Deny; 9];
    for _ in 0..100 {
        for (i, (req, _)) in requests.iter().enumerate() {
            effects[i] = compiled.check(&ctx, req).effect;
        }
    }
    let after = ALLOCATIONS.load(Ordering::SeqCst);
    assert_eq!(after - before, 0, "allocations during 900 checks");
    for (i, (_, want)) in requests.iter().enumerate() {
        assert_eq!(effects[i], *want, "request {i}");
    }
    // The counter does count.
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    std::hint::black_box(vec![1u8; 3]);
    assert!(ALLOCATIONS.load(Ordering::SeqCst) > before);
}
