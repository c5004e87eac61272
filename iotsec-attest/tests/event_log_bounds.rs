//! The event-log reader's limits and the StartupLocality recognition, pinned exactly (TCG PC
//! Client Platform Firmware Profile 1.05 §10.4.5.1 TCG_EfiSpecIDEvent, §10.2.2 TCG_PCR_EVENT2,
//! §3.3.2 StartupLocality): each limit is inclusive, one past it is refused with the error that
//! names it, and an error names the event that broke.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use iotsec_attest::error::ParseError;
use iotsec_attest::tpm::algorithm::{DigestBytes, HashAlg};
use iotsec_attest::tpm::event_log::{
    EV_IPL, EV_NO_ACTION, EV_S_CRTM_VERSION, EventLog, EventLogError, EventLogWriter,
    MAX_EVENT_DATA, MAX_LOG_ALGORITHMS,
};

/// TPM_ALG_SM3_256 and other IDs this crate cannot hash: the header's digest sizes are taken
/// as declared for them.
const SM3_256: u16 = 0x0012;

/// The TCG_PCClientPCREvent header carrying a TCG_EfiSpecIDEvent that declares `algs`
/// (`declared` as numberOfAlgorithms, which may differ from the list for refusal tests).
fn header(declared: u32, algs: &[(u16, u16)]) -> Vec<u8> {
    let mut spec = Vec::new();
    spec.extend_from_slice(b"Spec ID Event03\0");
    spec.extend_from_slice(&0u32.to_le_bytes());
    spec.extend_from_slice(&[0, 2, 0, 2]);
    spec.extend_from_slice(&declared.to_le_bytes());
    for (alg, len) in algs {
        spec.extend_from_slice(&alg.to_le_bytes());
        spec.extend_from_slice(&len.to_le_bytes());
    }
    spec.push(0);
    header_with_spec(&spec)
}

fn header_with_spec(spec: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&EV_NO_ACTION.to_le_bytes());
    out.extend_from_slice(&[0u8; 20]);
    out.extend_from_slice(&(spec.len() as u32).to_le_bytes());
    out.extend_from_slice(spec);
    out
}

/// One TCG_PCR_EVENT2 with the digest list as given (count = its length).
fn raw_event(pcr: u32, event_type: u32, digests: &[(u16, &[u8])], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&pcr.to_le_bytes());
    out.extend_from_slice(&event_type.to_le_bytes());
    out.extend_from_slice(&(digests.len() as u32).to_le_bytes());
    for (alg, d) in digests {
        out.extend_from_slice(&alg.to_le_bytes());
        out.extend_from_slice(d);
    }
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    out
}

fn extend(pcr: &[u8], data: &[u8]) -> DigestBytes {
    HashAlg::Sha256.digest(&[pcr, HashAlg::Sha256.digest(&[data]).as_bytes()])
}

#[test]
fn a_header_only_log_is_empty_and_one_with_events_is_not() {
    let bytes = EventLogWriter::new(&[HashAlg::Sha256]).finish();
    let log = EventLog::parse(&bytes).unwrap();
    assert_eq!(log.len(), 0);
    assert!(log.is_empty());
    let mut w = EventLogWriter::new(&[HashAlg::Sha256]);
    w.event(8, EV_IPL, b"x");
    let bytes = w.finish();
    let log = EventLog::parse(&bytes).unwrap();
    assert_eq!(log.len(), 1);
    assert!(!log.is_empty());
}

#[test]
fn the_algorithm_count_is_one_to_eight() {
    assert_eq!(
        EventLog::parse(&header(0, &[])).unwrap_err(),
        EventLogError::BadAlgorithmList { count: 0 }
    );
    // Eight distinct algorithms, four this crate hashes and four it does not.
    let eight: Vec<(u16, u16)> = [
        (0x0004, 20),
        (0x000B, 32),
        (0x000C, 48),
        (0x000D, 64),
        (SM3_256, 32),
        (0x0013, 32),
        (0x0014, 32),
        (0x0027, 32),
    ]
    .into();
    assert_eq!(eight.len(), MAX_LOG_ALGORITHMS);
    let bytes = header(8, &eight);
    let log = EventLog::parse(&bytes).unwrap();
    assert_eq!(log.algorithms().collect::<Vec<_>>(), eight);
    assert_eq!(
        log.unsupported_algorithms().collect::<Vec<_>>(),
        [SM3_256, 0x0013, 0x0014, 0x0027]
    );
    let mut nine = eight.clone();
    nine.push((0x0028, 32));
    assert_eq!(
        EventLog::parse(&header(9, &nine)).unwrap_err(),
        EventLogError::BadAlgorithmList { count: 9 }
    );
}

#[test]
fn a_repeated_algorithm_or_a_digest_over_64_bytes_is_refused() {
    assert_eq!(
        EventLog::parse(&header(2, &[(0x000B, 32), (0x000B, 32)])).unwrap_err(),
        EventLogError::BadAlgorithmList { count: 2 }
    );
    // An algorithm this crate cannot hash: its declared size is bounded by 64 bytes only.
    let bytes = header(2, &[(0x000B, 32), (SM3_256, 64)]);
    let log = EventLog::parse(&bytes).unwrap();
    assert_eq!(
        log.algorithms().collect::<Vec<_>>(),
        [(0x000B, 32), (SM3_256, 64)]
    );
    assert_eq!(
        EventLog::parse(&header(2, &[(0x000B, 32), (SM3_256, 65)])).unwrap_err(),
        EventLogError::BadAlgorithmList { count: 2 }
    );
    // One it can hash must declare its own size.
    assert_eq!(
        EventLog::parse(&header(1, &[(0x000B, 48)])).unwrap_err(),
        EventLogError::BadAlgorithmList { count: 1 }
    );
}

#[test]
fn a_header_of_exactly_the_cap_is_read_one_byte_more_is_not() {
    // At the cap the Spec ID event is read, and refused for what follows its vendor info.
    let mut spec = header(1, &[(0x000B, 32)])[32..].to_vec();
    let used = spec.len();
    spec.resize(MAX_EVENT_DATA, 0);
    assert_eq!(
        EventLog::parse(&header_with_spec(&spec)).unwrap_err(),
        EventLogError::Malformed(ParseError::TrailingBytes {
            structure: "TCG_EfiSpecIDEvent",
            count: MAX_EVENT_DATA - used,
        })
    );
    spec.push(0);
    assert_eq!(
        EventLog::parse(&header_with_spec(&spec)).unwrap_err(),
        EventLogError::Malformed(ParseError::SizeExceeded {
            field: "TCG_PCClientPCREvent.eventDataSize",
            size: MAX_EVENT_DATA + 1,
            cap: MAX_EVENT_DATA,
        })
    );
}

#[test]
fn event_data_of_exactly_the_cap_is_read_one_byte_more_is_not() {
    let data = vec![0x5a; MAX_EVENT_DATA];
    let mut w = EventLogWriter::new(&[HashAlg::Sha256]);
    w.event(8, EV_IPL, &data);
    let bytes = w.finish();
    let log = EventLog::parse(&bytes).unwrap();
    assert_eq!(log.len(), 1);
    let replay = log.replay(HashAlg::Sha256).unwrap();
    assert_eq!(replay.get(8).unwrap(), extend(&[0; 32], &data).as_bytes());

    let data = vec![0x5a; MAX_EVENT_DATA + 1];
    let mut w = EventLogWriter::new(&[HashAlg::Sha256]);
    w.event(8, EV_IPL, &data);
    assert_eq!(
        EventLog::parse(&w.finish()).unwrap_err(),
        EventLogError::Malformed(ParseError::SizeExceeded {
            field: "TCG_PCR_EVENT2.eventSize",
            size: MAX_EVENT_DATA + 1,
            cap: MAX_EVENT_DATA,
        })
    );
}

#[test]
fn a_digest_list_error_names_the_event_that_breaks() {
    let mut w = EventLogWriter::new(&[HashAlg::Sha256]);
    w.event(8, EV_IPL, b"one").event(8, EV_IPL, b"two");
    let good = w.finish();
    let d = [0u8; 32];
    // Event 3 lists two digests where the header declares one bank.
    let mut bytes = good.clone();
    bytes.extend(raw_event(8, EV_IPL, &[(0x000B, &d), (0x000B, &d)], b"3"));
    assert_eq!(
        EventLog::parse(&bytes).unwrap_err(),
        EventLogError::DigestListMismatch { event: 3 }
    );
    // Event 3 lists a digest of another algorithm.
    let mut bytes = good;
    bytes.extend(raw_event(8, EV_IPL, &[(0x000C, &d)], b"3"));
    assert_eq!(
        EventLog::parse(&bytes).unwrap_err(),
        EventLogError::DigestListMismatch { event: 3 }
    );
}

/// The log of `events` after the header, with a SHA-256 bank.
fn sha256_log(events: &[Vec<u8>]) -> Vec<u8> {
    let mut bytes = header(1, &[(0x000B, 32)]);
    for e in events {
        bytes.extend_from_slice(e);
    }
    bytes
}

fn hashed_event(pcr: u32, event_type: u32, data: &[u8]) -> Vec<u8> {
    let d = HashAlg::Sha256.digest(&[data]);
    raw_event(pcr, event_type, &[(0x000B, d.as_bytes())], data)
}

#[test]
fn startup_locality_is_only_an_ev_no_action_on_pcr_0_with_its_signature() {
    let crtm = hashed_event(0, EV_S_CRTM_VERSION, b"1.0\0");
    let locality_data = b"StartupLocality\0\x03";
    let mut pcr0_at_3 = [0u8; 32];
    pcr0_at_3[31] = 3;

    // The genuine event sets PCR 0 to the locality before the first extend.
    let genuine = sha256_log(&[hashed_event(0, EV_NO_ACTION, locality_data), crtm.clone()]);
    let r = EventLog::parse(&genuine)
        .unwrap()
        .replay(HashAlg::Sha256)
        .unwrap();
    assert_eq!(r.get(0).unwrap(), extend(&pcr0_at_3, b"1.0\0").as_bytes());
    assert_eq!(r.touched, 1);

    let plain = extend(&[0; 32], b"1.0\0");
    // The same data on another PCR is an EV_NO_ACTION like any other: not replayed.
    let other_pcr = sha256_log(&[hashed_event(7, EV_NO_ACTION, locality_data), crtm.clone()]);
    let r = EventLog::parse(&other_pcr)
        .unwrap()
        .replay(HashAlg::Sha256)
        .unwrap();
    assert_eq!(r.get(0).unwrap(), plain.as_bytes());
    assert_eq!(r.get(7).unwrap(), &[0u8; 32][..]);
    assert_eq!(r.touched, 1);

    // The same data in another event type on PCR 0 is a measurement, extended.
    let measured = sha256_log(&[hashed_event(0, EV_IPL, locality_data), crtm.clone()]);
    let r = EventLog::parse(&measured)
        .unwrap()
        .replay(HashAlg::Sha256)
        .unwrap();
    let twice = extend(extend(&[0; 32], locality_data).as_bytes(), b"1.0\0");
    assert_eq!(r.get(0).unwrap(), twice.as_bytes());
    assert_eq!(r.touched, 1);

    // Another signature of the same length, or the signature with no or two locality bytes,
    // is no StartupLocality: ignored, also after PCR 0 was extended.
    for data in [
        &b"StartupLocalitX\0\x03"[..],
        &b"StartupLocality\0"[..],
        &b"StartupLocality\0\x03\x03"[..],
    ] {
        let log = sha256_log(&[hashed_event(0, EV_NO_ACTION, data), crtm.clone()]);
        let r = EventLog::parse(&log)
            .unwrap()
            .replay(HashAlg::Sha256)
            .unwrap();
        assert_eq!(r.get(0).unwrap(), plain.as_bytes(), "{data:?}");
        let late = sha256_log(&[crtm.clone(), hashed_event(0, EV_NO_ACTION, data)]);
        let r = EventLog::parse(&late)
            .unwrap()
            .replay(HashAlg::Sha256)
            .unwrap();
        assert_eq!(r.get(0).unwrap(), plain.as_bytes(), "{data:?}");
    }
}

#[test]
fn every_event_is_named_by_its_position() {
    let mut w = EventLogWriter::new(&[HashAlg::Sha256]);
    w.event(8, EV_IPL, b"a")
        .event(9, EV_IPL, b"b")
        .event(10, EV_IPL, b"c");
    let bytes = w.finish();
    let log = EventLog::parse(&bytes).unwrap();
    let seen: Vec<(usize, u32, &[u8])> = log.events().map(|e| (e.index, e.pcr, e.data)).collect();
    assert_eq!(
        seen,
        [(1, 8, &b"a"[..]), (2, 9, &b"b"[..]), (3, 10, &b"c"[..])]
    );
}
