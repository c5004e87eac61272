//! Fuzzes the device state file reader (`DeviceStateFile::from_json`, iotsec-ota feature
//! `serde`), which every host tool runs on the JSON an operator (or an attacker with write
//! access to it) hands over. Nothing may panic, and an accepted file keeps the fail-closed
//! rules: a file with `now` contradicts a device declared without trusted time, a file without
//! it never yields a trusted time the caller did not offer, and the counters come from exactly
//! one place. Seeds: `corpus/ota_device_state/seed-*` (a host state with `now`, a device state
//! without counters).
#![no_main]

use iotsec_ota::{DeviceStateFile, DeviceStateFileError, HostTime, TrustedTime};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(file) = DeviceStateFile::from_json(data) else {
        return;
    };
    match (file.now, file.trusted_time(HostTime::NoTrustedTime)) {
        (Some(_), Err(DeviceStateFileError::TimeContradiction)) => {}
        (None, Ok(TrustedTime::NoTrustedClock)) => {}
        (now, other) => panic!("now {now:?} without trusted time gave {other:?}"),
    }
    let time = file
        .trusted_time(HostTime::Clock(7))
        .expect("a clock is always a time");
    assert_eq!(time, TrustedTime::At(file.now.unwrap_or(7)));
    let both = file.security_counter.is_some() && file.last_sequence.is_some();
    let none = file.security_counter.is_none() && file.last_sequence.is_none();
    match file.device_state(time) {
        Ok(state) => {
            assert!(both);
            assert_eq!(Some(state.security_counter), file.security_counter);
            assert_eq!(state.device_id, file.device_id.as_bytes());
        }
        Err(_) => assert!(!both),
    }
    assert_eq!(file.device_state_with_counters(1, 2, time).is_ok(), none);
});
