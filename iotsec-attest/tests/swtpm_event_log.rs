//! A quote with an event log: swtpm has no firmware, so the test measures a boot itself
//! (`tpm2_pcrextend` with each event's digests) and writes the matching crypto-agile log. The
//! genuine log replays to the quoted PCRs; a log whose event data was altered while its digest
//! was kept (accepted by `tpm2_checkquote`) is named and rejected; so is a log missing an event.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::swtpm::{Swtpm, peers_available};
use iotsec_attest::appraise::policy::AppraisalPolicy;
use iotsec_attest::appraise::{Claim, Finding, Tier};
use iotsec_attest::tpm::algorithm::HashAlg;
use iotsec_attest::tpm::event_log::{
    EV_EFI_ACTION, EV_EFI_VARIABLE_DRIVER_CONFIG, EV_IPL, EV_S_CRTM_VERSION, EV_SEPARATOR,
    EventLogWriter,
};
use iotsec_attest::verify::ring::RingVerifier;

const BANKS: [HashAlg; 2] = [HashAlg::Sha256, HashAlg::Sha384];

struct Boot {
    events: Vec<(u32, u32, Vec<u8>)>,
}

fn boot() -> Boot {
    let mut events = vec![
        (0, EV_S_CRTM_VERSION, b"swtpm CRTM 1.0\0".to_vec()),
        (7, EV_EFI_VARIABLE_DRIVER_CONFIG, b"SecureBoot\x01".to_vec()),
        (
            4,
            EV_EFI_ACTION,
            b"Calling EFI Application from Boot Option".to_vec(),
        ),
    ];
    for pcr in [0, 4, 7] {
        events.push((pcr, EV_SEPARATOR, vec![0, 0, 0, 0]));
    }
    events.push((
        8,
        EV_IPL,
        b"grub_cmd: linux /vmlinuz root=/dev/sda1".to_vec(),
    ));
    Boot { events }
}

fn write_log(events: &[(u32, u32, Vec<u8>)]) -> Vec<u8> {
    let mut w = EventLogWriter::new(&BANKS);
    w.startup_locality(0);
    for (pcr, t, data) in events {
        w.event(*pcr, *t, data);
    }
    w.finish()
}

fn appraise(tpm: &Swtpm, log: &[u8]) -> iotsec_attest::appraise::QuoteAppraisal {
    let (ak, message, signature, pcrs) = (
        tpm.read("ak_ecc.pub"),
        tpm.read("q.msg"),
        tpm.read("q.sig"),
        tpm.read("q.pcrs"),
    );
    let files = common::QuoteFiles {
        ak: &ak,
        message: &message,
        signature: &signature,
        pcrs: &pcrs,
        event_log: Some(log),
    };
    common::appraise_tpm2_tools(
        &RingVerifier,
        &AppraisalPolicy::default(),
        &files,
        &[0x5a; 8],
        None,
    )
}

#[test]
fn swtpm_quote_with_event_log_replays_and_altered_data_is_named() {
    if !peers_available("swtpm_quote_with_event_log_replays_and_altered_data_is_named") {
        return;
    }
    let tpm = Swtpm::start("eventlog");
    let b = boot();
    for (pcr, _, data) in &b.events {
        let digests: Vec<String> = BANKS
            .iter()
            .map(|h| {
                format!(
                    "{}={}",
                    h.name(),
                    h.digest(&[data])
                        .as_bytes()
                        .iter()
                        .map(|x| format!("{x:02x}"))
                        .collect::<String>()
                )
            })
            .collect();
        tpm.tool("tpm2_pcrextend", &[&format!("{pcr}:{}", digests.join(","))]);
    }
    tpm.create_ek_ak("ecc");
    tpm.quote(
        "ak_ecc.ctx",
        "sha256:0,4,7,8+sha384:0,4,7,8",
        &"5a".repeat(8),
        "q",
    );

    let genuine = write_log(&b.events);
    let a = appraise(&tpm, &genuine);
    assert_eq!(a.status, Tier::Affirming, "{:#?}", a.claims);
    assert_eq!(a.claim(Claim::EventLog).unwrap().tier, Tier::Affirming);

    // EV_EFI_ACTION data altered, digest kept: event 3 (header 0, StartupLocality 1).
    let mut altered = b.events.clone();
    let d: Vec<Vec<u8>> = BANKS
        .iter()
        .map(|h| h.digest(&[&altered[2].2]).as_bytes().to_vec())
        .collect();
    altered[2].2 = b"Calling EFI Application from Evil Option".to_vec();
    let mut w = EventLogWriter::new(&BANKS);
    w.startup_locality(0);
    for (i, (pcr, t, data)) in altered.iter().enumerate() {
        if i == 2 {
            w.event_with_digests(*pcr, *t, &[&d[0], &d[1]], data);
        } else {
            w.event(*pcr, *t, data);
        }
    }
    let a = appraise(&tpm, &w.finish());
    assert_eq!(a.status, Tier::Contraindicated);
    assert_eq!(
        a.claim(Claim::EventLog).unwrap().findings,
        vec![Finding::EventDataAltered {
            event: 4,
            event_type: EV_EFI_ACTION,
            pcr: 4,
            bank: HashAlg::Sha256
        }]
    );

    // A log that hides the boot loader event does not replay to PCR 8.
    let hidden = write_log(&b.events[..b.events.len() - 1]);
    let a = appraise(&tpm, &hidden);
    assert_eq!(a.status, Tier::Contraindicated);
    let banks: Vec<(HashAlg, u8)> = a
        .claim(Claim::EventLog)
        .unwrap()
        .findings
        .iter()
        .map(|f| match f {
            Finding::EventLogReplayMismatch { bank, index, .. } => (*bank, *index),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(banks, vec![(HashAlg::Sha256, 8), (HashAlg::Sha384, 8)]);

    // Garbage log: malformed, after the signature and nonce passed.
    let a = appraise(&tpm, &genuine[..genuine.len() - 3]);
    assert!(matches!(
        a.claim(Claim::EventLog).unwrap().findings[..],
        [Finding::EventLogMalformed { .. }]
    ));
    std::fs::write(tpm.path("boot.log"), &genuine).unwrap();
}
