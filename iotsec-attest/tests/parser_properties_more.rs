//! Property tests for the TCG crypto-agile event log (`EventLog::parse`, `check_event_data`,
//! `replay`): random bytes and mutations of generated logs never panic; a generated log parses
//! to exactly its events and replays to the PCR values recomputed here with sha1/sha2; a changed
//! byte in hashed event data is named as that event.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use digest::Digest;
use iotsec_attest::tpm::algorithm::HashAlg;
use iotsec_attest::tpm::event_log::{
    DATA_HASHED_EVENTS, EV_EFI_VARIABLE_AUTHORITY, EV_IPL, EV_NO_ACTION, EV_SEPARATOR, EventLog,
    EventLogError, EventLogWriter, PCR_COUNT,
};
use proptest::prelude::*;

const ALL_BANKS: [HashAlg; 4] = [
    HashAlg::Sha1,
    HashAlg::Sha256,
    HashAlg::Sha384,
    HashAlg::Sha512,
];

/// One event: PCR, type, data.
type Spec = (u32, u32, Vec<u8>);

fn banks() -> impl Strategy<Value = Vec<HashAlg>> {
    proptest::sample::subsequence(ALL_BANKS.to_vec(), 1..=4).prop_shuffle()
}

fn event() -> impl Strategy<Value = Spec> {
    let kinds = prop_oneof![
        proptest::sample::select(DATA_HASHED_EVENTS.to_vec()),
        Just(EV_IPL),
        Just(EV_EFI_VARIABLE_AUTHORITY),
    ];
    (
        0u32..PCR_COUNT as u32,
        kinds,
        proptest::collection::vec(any::<u8>(), 0..48),
    )
}

/// Hash of the concatenated parts with the sha1/sha2 crates (not the crate's own `digest`).
fn hash(bank: HashAlg, parts: &[&[u8]]) -> Vec<u8> {
    fn run<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
        let mut d = D::new();
        for p in parts {
            d.update(p);
        }
        d.finalize().to_vec()
    }
    match bank {
        HashAlg::Sha1 => run::<sha1::Sha1>(parts),
        HashAlg::Sha256 => run::<sha2::Sha256>(parts),
        HashAlg::Sha384 => run::<sha2::Sha384>(parts),
        HashAlg::Sha512 => run::<sha2::Sha512>(parts),
    }
}

fn write(banks: &[HashAlg], locality: Option<u8>, events: &[Spec]) -> Vec<u8> {
    let mut w = EventLogWriter::new(banks);
    if let Some(l) = locality {
        w.startup_locality(l);
    }
    for (pcr, t, data) in events {
        w.event(*pcr, *t, data);
    }
    w.finish()
}

/// PC Client PFP replay, written out: PCRs reset to 0 (17..=22 to all ones), PCR 0 starts at
/// the StartupLocality, each event extends `PCR = H(PCR || H(data))`.
fn expected_replay(bank: HashAlg, locality: Option<u8>, events: &[Spec]) -> Vec<Vec<u8>> {
    let len = bank.digest_len();
    let mut pcrs: Vec<Vec<u8>> = (0..PCR_COUNT)
        .map(|i| vec![if (17..=22).contains(&i) { 0xff } else { 0 }; len])
        .collect();
    if let Some(l) = locality {
        pcrs[0][len - 1] = l;
    }
    for (pcr, _, data) in events {
        let p = &mut pcrs[*pcr as usize];
        *p = hash(bank, &[p, &hash(bank, &[data])]);
    }
    pcrs
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(log) = EventLog::parse(&data) {
            prop_assert_eq!(log.events().count(), log.len());
            for bank in ALL_BANKS {
                let _ = log.replay(bank);
            }
        }
    }

    #[test]
    fn a_generated_log_parses_to_its_events_and_replays_exactly(
        banks in banks(),
        locality in proptest::option::of(0u8..=4),
        events in proptest::collection::vec(event(), 0..12),
    ) {
        let bytes = write(&banks, locality, &events);
        let log = EventLog::parse(&bytes).unwrap();
        let declared: Vec<(u16, u16)> = banks
            .iter()
            .map(|b| (b.id(), b.digest_len() as u16))
            .collect();
        prop_assert_eq!(log.algorithms().collect::<Vec<_>>(), declared);
        prop_assert_eq!(log.len(), events.len() + usize::from(locality.is_some()));
        let parsed: Vec<_> = log.events().collect();
        let offset = usize::from(locality.is_some());
        if locality.is_some() {
            prop_assert_eq!(parsed[0].event_type, EV_NO_ACTION);
            prop_assert_eq!(parsed[0].startup_locality(), locality);
        }
        for (i, (pcr, t, data)) in events.iter().enumerate() {
            let e = &parsed[i + offset];
            prop_assert_eq!(e.index, i + offset + 1);
            prop_assert_eq!((e.pcr, e.event_type, e.data), (*pcr, *t, data.as_slice()));
            for b in &banks {
                let want = hash(*b, &[data]);
                prop_assert_eq!(e.digest(*b).unwrap(), want.as_slice());
            }
        }
        prop_assert_eq!(log.check_event_data(), Ok(()));
        for bank in ALL_BANKS {
            match log.replay(bank) {
                Ok(replayed) => {
                    prop_assert!(banks.contains(&bank));
                    let want = expected_replay(bank, locality, &events);
                    for (i, value) in want.iter().enumerate() {
                        prop_assert_eq!(replayed.get(i as u8).unwrap(), value.as_slice(), "PCR {}", i);
                    }
                    let touched = events.iter().fold(
                        u32::from(locality.is_some()),
                        |t, (pcr, _, _)| t | 1 << pcr,
                    );
                    prop_assert_eq!(replayed.touched, touched);
                }
                Err(e) => {
                    prop_assert!(!banks.contains(&bank));
                    prop_assert_eq!(e, EventLogError::BankNotInLog(bank));
                }
            }
        }
    }

    /// Changing one byte of a hashed event's data keeps the log well-formed, and the check names
    /// that event, its type and PCR, in the first bank of the header.
    #[test]
    fn altered_event_data_is_named(
        banks in banks(),
        events in proptest::collection::vec(event(), 1..8),
        pick in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        xor in 1u8..=255,
    ) {
        let mut events = events;
        let i = pick.index(events.len());
        events[i].1 = EV_SEPARATOR;
        if events[i].2.is_empty() {
            events[i].2.push(0);
        }
        let bytes = write(&banks, Some(0), &events);
        // The event's data is the last `len` bytes of its record; find the record by walking.
        let log = EventLog::parse(&bytes).unwrap();
        let target = log.events().nth(i + 1).unwrap();
        let start = target.data.as_ptr() as usize - bytes.as_ptr() as usize;
        let (pcr, data_len) = (target.pcr, target.data.len());
        let mut altered = bytes.clone();
        altered[start + at.index(data_len)] ^= xor;
        let log = EventLog::parse(&altered).unwrap();
        let want = EventLogError::EventDataAltered {
            event: i + 2,
            event_type: EV_SEPARATOR,
            pcr,
            bank: banks[0],
        };
        prop_assert_eq!(log.check_event_data(), Err(want));
        prop_assert_eq!(log.replay(banks[0]), Err(want));
    }

    /// Up to three random byte changes anywhere in a generated log never panic; whatever still
    /// parses iterates exactly `len()` events and replays (or refuses) without panicking.
    #[test]
    fn mutated_logs_never_panic(
        banks in banks(),
        events in proptest::collection::vec(event(), 0..8),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = write(&banks, Some(3), &events);
        for (at, value) in &flips {
            let i = at.index(bytes.len());
            bytes[i] = *value;
        }
        for candidate in [&bytes[..], &bytes[..cut.index(bytes.len())]] {
            if let Ok(log) = EventLog::parse(candidate) {
                prop_assert_eq!(log.events().count(), log.len());
                for bank in ALL_BANKS {
                    let _ = log.replay(bank);
                }
            }
        }
    }
}
