//! StartupLocality sets PCR 0's value at TPM2_Startup: it can only come before anything touched
//! PCR 0, once. Honoured anywhere, it rewinds PCR 0 so that forged events placed before it
//! replay to the genuine values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use iotsec_attest::tpm::algorithm::HashAlg;
use iotsec_attest::tpm::event_log::{
    EV_EFI_ACTION, EV_S_CRTM_VERSION, EV_SEPARATOR, EventLog, EventLogError, EventLogWriter,
};
use proptest::prelude::*;

const BANKS: [HashAlg; 2] = [HashAlg::Sha1, HashAlg::Sha256];

fn genuine_events(w: &mut EventLogWriter) {
    w.event(0, EV_S_CRTM_VERSION, b"1.0\0")
        .event(0, EV_SEPARATOR, &[0; 4])
        .event(
            4,
            EV_EFI_ACTION,
            b"Calling EFI Application from Boot Option",
        );
}

#[test]
fn startup_locality_first_is_replayed() {
    let mut w = EventLogWriter::new(&BANKS);
    w.startup_locality(3);
    genuine_events(&mut w);
    let log = w.finish();
    let replay = EventLog::parse(&log)
        .unwrap()
        .replay(HashAlg::Sha256)
        .unwrap();
    assert_eq!(replay.touched & 1, 1);
}

#[test]
fn forged_events_before_a_late_startup_locality_are_refused() {
    let mut w = EventLogWriter::new(&BANKS);
    w.event(0, EV_S_CRTM_VERSION, b"FORGED 9.9\0")
        .startup_locality(3);
    genuine_events(&mut w);
    let forged = w.finish();
    // Header is event 0, the forged CRTM event 1, the StartupLocality event 2.
    assert_eq!(
        EventLog::parse(&forged).unwrap().replay(HashAlg::Sha256),
        Err(EventLogError::StartupLocalityOutOfOrder { event: 2 })
    );
}

#[test]
fn a_second_startup_locality_is_refused() {
    let mut w = EventLogWriter::new(&BANKS);
    w.startup_locality(0).startup_locality(3);
    genuine_events(&mut w);
    let log = w.finish();
    assert_eq!(
        EventLog::parse(&log).unwrap().replay(HashAlg::Sha1),
        Err(EventLogError::StartupLocalityOutOfOrder { event: 2 })
    );
}

proptest! {
    /// Whatever comes first, a StartupLocality after any PCR 0 event is refused, and one
    /// after events on other PCRs only is honoured.
    #[test]
    fn startup_locality_is_honoured_only_before_pcr0_is_touched(
        before in proptest::collection::vec((0u32..8, proptest::collection::vec(any::<u8>(), 0..16)), 0..6),
        locality in 0u8..5,
    ) {
        let mut w = EventLogWriter::new(&BANKS);
        for (pcr, data) in &before {
            w.event(*pcr, EV_EFI_ACTION, data);
        }
        w.startup_locality(locality);
        let log = w.finish();
        let replay = EventLog::parse(&log).unwrap().replay(HashAlg::Sha256);
        if before.iter().any(|(pcr, _)| *pcr == 0) {
            prop_assert_eq!(
                replay,
                Err(EventLogError::StartupLocalityOutOfOrder { event: before.len() + 1 })
            );
        } else {
            let replay = replay.unwrap();
            let mut expected = vec![0u8; 32];
            expected[31] = locality;
            prop_assert_eq!(replay.get(0).unwrap(), expected.as_slice());
        }
    }
}
