//! Topic names, filters and shared subscriptions from raw bytes; the filter algebra on pairs.
#![no_main]

use iotsec_mqtt_acl::filter_algebra::{contains, intersection};
use iotsec_mqtt_acl::topic::FilterLevel;
use iotsec_mqtt_acl::{Subscription, TopicFilter, TopicName};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (left, right) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let name = TopicName::from_bytes(left);
    let filter = TopicFilter::from_bytes(left);
    if let Ok(n) = name {
        assert!(filter.is_ok_and(|f| f.matches(&n)));
    }
    if let Ok(s) = core::str::from_utf8(left) {
        let _ = Subscription::parse(s);
    }
    if let (Ok(a), Ok(b)) = (
        TopicFilter::from_bytes(left),
        TopicFilter::from_bytes(right),
    ) {
        let a: Vec<FilterLevel<'_>> = a.levels().collect();
        let b: Vec<FilterLevel<'_>> = b.levels().collect();
        if let Some(i) = intersection(&a, &b) {
            assert!(contains(&a, &i) && contains(&b, &i));
        }
    }
});
