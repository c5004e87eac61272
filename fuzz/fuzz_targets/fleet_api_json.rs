//! The fleet API's request bodies (`iotsec-fleet-api`) as `iotsec-cloud serve` reads them (and
//! the TPM registration answers the device agent reads):
//! never a panic, unknown fields refused, and what parses serializes back to the same value.
#![no_main]

use iotsec_fleet_api::{
    DeviceReport, Evidence, PublishRelease, Quarantine, RolloutCommand, TpmActivate, TpmChallenge,
    TpmRegister, TpmRegistered,
};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn round_trip<T: DeserializeOwned + Serialize + PartialEq + core::fmt::Debug>(data: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<T>(data) {
        let text = serde_json::to_vec(&value).expect("a parsed body serializes");
        let again: T = serde_json::from_slice(&text).expect("what serializes parses");
        assert_eq!(again, value);
    }
}

fuzz_target!(|data: &[u8]| {
    round_trip::<Evidence>(data);
    round_trip::<DeviceReport>(data);
    round_trip::<PublishRelease>(data);
    round_trip::<RolloutCommand>(data);
    round_trip::<Quarantine>(data);
    round_trip::<TpmRegister>(data);
    round_trip::<TpmActivate>(data);
    // What the device agent reads back.
    round_trip::<TpmChallenge>(data);
    round_trip::<TpmRegistered>(data);
});
