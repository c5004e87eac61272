//! One record of the broker's deny stream: never a panic; an accepted record's probe, if any,
//! names a requester and an owner that differ, and the detector counts it at most once.
#![no_main]

use std::num::NonZeroU32;

use iotsec_mqtt_acl::probe::{MAX_DENY_RECORD, ProbeDetector, parse_deny_record};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse_deny_record(data) {
        Ok(record) => {
            assert!(data.len() <= MAX_DENY_RECORD);
            let mut detector = ProbeDetector::new(NonZeroU32::MIN);
            match record.probe() {
                Some(probe) => {
                    assert_ne!(probe.prober, probe.owner);
                    assert_eq!(detector.observe(&record), Some(probe.clone()));
                    assert_eq!(detector.observe(&record), None);
                    assert_eq!(detector.count(&probe.prober), 2);
                }
                None => assert_eq!(detector.observe(&record), None),
            }
        }
        Err(e) => {
            let _ = e.code();
        }
    }
});
