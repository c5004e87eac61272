//! A whole quote appraisal with attacker-controlled evidence: the TPMS_ATTEST message, the
//! TPMT_SIGNATURE, the PCR values and the event log are fuzz bytes; the AK is fixed (the swtpm
//! ECC or RSA AK of iotsec-attest/benches/data). `appraise_quote` never panics, and a quote it
//! calls trustworthy carries a signature the other verifier backend (RustCrypto) accepts and
//! echoes the verifier's nonce.
//!
//! Input layout: `flags (1) | msg_len (u16 BE) | msg | sig_len (u16 BE) | sig | rest`, where
//! flags bit 0 picks the RSA AK, bit 1 says `rest = pcr_len (u16 BE) | pcrs | event log`
//! (otherwise `rest` is all PCRs), bit 2 uses a pinned policy instead of the default one and
//! bit 3 passes a previous clock. PCRs are tpm2-tools' serialized file when that parses, else
//! `index | len | value` sha256 records of any length (a map source), so that values moved
//! between PCRs can be tried: a trusted quote reports only values of its bank's digest length.
#![no_main]

use std::collections::BTreeMap;

use iotsec_attest::appraise::policy::AppraisalPolicy;
use iotsec_attest::appraise::{QuoteEvidence, appraise_quote};
use iotsec_attest::tpm::algorithm::HashAlg;
use iotsec_attest::tpm::pcr_file::SerializedPcrs;
use iotsec_attest::verify::ring::RingVerifier;
use iotsec_attest::verify::{RustCryptoVerifier, SignatureVerifier};
use iotsec_attest::{Attest, ClockInfo, PublicArea, TpmSignature};
use libfuzzer_sys::fuzz_target;

const AK_ECC: &[u8] = include_bytes!("../../iotsec-attest/benches/data/ak_ecc.pub");
const AK_RSA: &[u8] = include_bytes!("../../iotsec-attest/benches/data/ak_rsa.pub");
const NONCE: &[u8] = b"nonce-01";

fn split(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = data.split_first_chunk::<2>()?;
    let len = usize::from(u16::from_be_bytes(*len));
    (rest.len() >= len).then(|| rest.split_at(len))
}

fn pinned_policy() -> AppraisalPolicy {
    let mut policy = AppraisalPolicy {
        qualified_signer: Some(vec![0x00, 0x0b, 0xaa]),
        firmware_versions: vec![0x2019_1023_0016_3636],
        ..AppraisalPolicy::default()
    };
    let mut sha256 = BTreeMap::new();
    sha256.insert(0u8, vec![vec![0u8; 32], vec![0xffu8; 32]]);
    policy.reference.insert(HashAlg::Sha256, sha256);
    policy
}

fn appraise(
    ak: &PublicArea<'_>,
    msg: &[u8],
    sig: &[u8],
    pcrs: &[u8],
    event_log: Option<&[u8]>,
    policy: &AppraisalPolicy,
    previous: Option<&ClockInfo>,
) {
    let appraisal = if let Ok(serialized) = SerializedPcrs::parse(pcrs) {
        let evidence = QuoteEvidence {
            ak,
            message: msg,
            signature: sig,
            pcrs: &serialized,
            event_log,
        };
        appraise_quote(&RingVerifier, policy, &evidence, NONCE, previous)
    } else {
        let mut map: BTreeMap<(HashAlg, u8), Vec<u8>> = BTreeMap::new();
        let mut rest = pcrs;
        while let Some((&[index, len], tail)) = rest.split_first_chunk::<2>() {
            let Some((value, tail)) = tail.split_at_checked(usize::from(len)) else {
                break;
            };
            map.insert((HashAlg::Sha256, index), value.to_vec());
            rest = tail;
        }
        let evidence = QuoteEvidence {
            ak,
            message: msg,
            signature: sig,
            pcrs: &map,
            event_log,
        };
        appraise_quote(&RingVerifier, policy, &evidence, NONCE, previous)
    };
    let _ = appraisal.to_json();
    if appraisal.is_trustworthy() {
        let signature = TpmSignature::parse(sig).expect("trusted quote with a malformed signature");
        assert!(
            RustCryptoVerifier.verify(ak, msg, &signature).is_ok(),
            "trusted quote whose signature RustCrypto refuses"
        );
        let attest = Attest::parse(msg).expect("trusted quote with a malformed TPMS_ATTEST");
        assert_eq!(attest.extra_data, NONCE);
        for (bank, values) in &appraisal.pcrs {
            for value in values.values() {
                assert_eq!(
                    value.as_bytes().len(),
                    bank.digest_len(),
                    "trusted quote reporting a PCR value of another length"
                );
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Some((msg, rest)) = split(rest) else {
        return;
    };
    let Some((sig, rest)) = split(rest) else {
        return;
    };
    let (pcrs, event_log) = if flags & 2 != 0 {
        match split(rest) {
            Some((pcrs, log)) => (pcrs, Some(log)),
            None => return,
        }
    } else {
        (rest, None)
    };
    let ak_bytes = if flags & 1 != 0 { AK_RSA } else { AK_ECC };
    let Ok(ak) = PublicArea::parse_tpm2b(ak_bytes) else {
        panic!("the fixed AK no longer parses");
    };
    let policy = if flags & 4 != 0 {
        pinned_policy()
    } else {
        AppraisalPolicy::default()
    };
    let previous = ClockInfo {
        clock: 1 << 20,
        reset_count: 3,
        restart_count: 0,
        safe: true,
    };
    let previous = (flags & 8 != 0).then_some(&previous);
    appraise(&ak, msg, sig, pcrs, event_log, &policy, previous);
});
