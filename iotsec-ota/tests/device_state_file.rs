//! The device state file: unknown keys refused, counters from one place only, and the device's
//! time either given (`now`, a host clock) or declared absent, never assumed.

use iotsec_ota::{DeviceStateFile, DeviceStateFileError, HostTime, TrustedTime};

const VENDOR: &str = "fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe";
const CLASS: &str = "1492af14-2569-5e48-bf42-9b2d51f2ab45";

fn host_state(extra: &str) -> String {
    format!(
        r#"{{"vendor_id":"{VENDOR}","class_id":"{CLASS}","device_id":"dev-1",
            "security_counter":3,"last_sequence":7,"trusted_root_version":1,
            "slot_capacity":65536{extra}}}"#
    )
}

#[test]
fn a_full_state_reads_into_the_verifiers_view() {
    let file = DeviceStateFile::from_json(host_state(r#","now":1700000000"#).as_bytes()).unwrap();
    let now = file.trusted_time(HostTime::Clock(1)).unwrap();
    assert_eq!(now, TrustedTime::At(1_700_000_000));
    let state = file.device_state(now).unwrap();
    assert_eq!(state.vendor_id[..4], [0xfa, 0x6b, 0x4a, 0x53]);
    assert_eq!(state.class_id[15], 0x45);
    assert_eq!(state.device_id, b"dev-1");
    assert_eq!(
        (state.security_counter, state.last_sequence),
        (3, 7),
        "counters from the file"
    );
    assert_eq!(
        (state.trusted_root_version, state.slot_capacity),
        (1, 65536)
    );
}

#[test]
fn an_unknown_key_is_refused_not_ignored() {
    // "Now" read as absent would turn the freeze-attack check off.
    let err =
        DeviceStateFile::from_json(host_state(r#","Now":1700000000"#).as_bytes()).unwrap_err();
    assert!(
        matches!(err, DeviceStateFileError::Malformed(ref m) if m.contains("unknown field `Now`")),
        "{err}"
    );
    assert_eq!(err.code(), "state_malformed");
    assert!(!err.is_refusal());
}

#[test]
fn malformed_fields_are_refused() {
    // A `now` that is not seconds is malformed, never read as "no time".
    for now in [r#""1700000000""#, "-1", "1.5", "[]"] {
        let v: serde_json::Value =
            serde_json::from_str(&host_state(&format!(r#","now":{now}"#))).unwrap();
        let err = DeviceStateFile::from_value(v).unwrap_err();
        assert_eq!(
            err.to_string(),
            "now must be an unsigned integer (seconds since the epoch)",
            "{now}"
        );
    }
    let bad_uuid = host_state("").replace(VENDOR, "not-a-uuid");
    assert!(DeviceStateFile::from_json(bad_uuid.as_bytes()).is_err());
    let no_device = host_state("").replace(r#""device_id":"dev-1","#, "");
    let err = DeviceStateFile::from_json(no_device.as_bytes()).unwrap_err();
    assert!(
        err.to_string().contains("missing field `device_id`"),
        "{err}"
    );
    assert!(DeviceStateFile::from_json(b"[1]").is_err());
}

#[test]
fn now_null_is_absent() {
    let file = DeviceStateFile::from_json(host_state(r#","now":null"#).as_bytes()).unwrap();
    assert_eq!(file.now, None);
}

#[test]
fn without_now_the_host_clock_is_the_time() {
    let file = DeviceStateFile::from_json(host_state("").as_bytes()).unwrap();
    assert_eq!(
        file.trusted_time(HostTime::Clock(1_800_000_000)),
        Ok(TrustedTime::At(1_800_000_000))
    );
}

#[test]
fn no_trusted_time_is_declared_not_defaulted() {
    let file = DeviceStateFile::from_json(host_state("").as_bytes()).unwrap();
    assert_eq!(
        file.trusted_time(HostTime::NoTrustedTime),
        Ok(TrustedTime::NoTrustedClock)
    );
    // A state that gives `now` contradicts a device declared without trusted time.
    let file = DeviceStateFile::from_json(host_state(r#","now":5"#).as_bytes()).unwrap();
    assert_eq!(
        file.trusted_time(HostTime::NoTrustedTime),
        Err(DeviceStateFileError::TimeContradiction)
    );
}

#[test]
fn counters_come_from_exactly_one_place() {
    let without = host_state("").replace(r#""security_counter":3,"last_sequence":7,"#, "");
    let file = DeviceStateFile::from_json(without.as_bytes()).unwrap();
    assert_eq!(
        file.device_state(TrustedTime::NoTrustedClock).unwrap_err(),
        DeviceStateFileError::MissingCounter {
            field: "security_counter"
        }
    );
    let state = file
        .device_state_with_counters(9, 11, TrustedTime::NoTrustedClock)
        .unwrap();
    assert_eq!((state.security_counter, state.last_sequence), (9, 11));
    // A file that holds them too would have one copy ignored.
    let file = DeviceStateFile::from_json(host_state("").as_bytes()).unwrap();
    assert_eq!(
        file.device_state_with_counters(9, 11, TrustedTime::NoTrustedClock)
            .unwrap_err(),
        DeviceStateFileError::CounterNotHere {
            field: "security_counter"
        }
    );
}
