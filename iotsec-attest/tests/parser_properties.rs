//! Property tests of the parsers: arbitrary and mutated input never panics, encoders and
//! parsers round-trip, and the structural rules (caps, duplicates, trailing bytes) hold.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_attest::tpm::algorithm::HashAlg;
use iotsec_attest::tpm::attest::{Attested, QuoteInfo};
use iotsec_attest::tpm::pcr_file::{SerializedPcrs, serialize_pcrs};
use iotsec_attest::tpm::pcr_selection::PcrBankSelection;
use iotsec_attest::{Attest, ClockInfo, ParseError, PcrSelectionList, PublicArea, TpmSignature};
use proptest::prelude::*;

const QUOTE: &[u8] = include_bytes!("data/swtpm-q_ecc.msg");
const AK: &[u8] = include_bytes!("data/swtpm-ak_rsa.pub");
const SIG: &[u8] = include_bytes!("data/swtpm-q_ecc.sig");
const PCRS: &[u8] = include_bytes!("data/swtpm-q_rsa.pcrs");

fn hash() -> impl Strategy<Value = HashAlg> {
    prop_oneof![
        Just(HashAlg::Sha1),
        Just(HashAlg::Sha256),
        Just(HashAlg::Sha384),
        Just(HashAlg::Sha512)
    ]
}

fn selection() -> impl Strategy<Value = PcrSelectionList> {
    proptest::collection::btree_map(hash(), proptest::collection::vec(0u8..24, 0..6), 0..4)
        .prop_map(|m| {
            let mut l = PcrSelectionList::default();
            for (h, pcrs) in m {
                l.push(PcrBankSelection::new(h, &pcrs).unwrap()).unwrap();
            }
            l
        })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..700)) {
        let _ = Attest::parse(&data);
        let _ = TpmSignature::parse(&data);
        let _ = PublicArea::parse_tpm2b(&data);
        let _ = PcrSelectionList::parse(&data);
        let _ = SerializedPcrs::parse(&data);
    }

    #[test]
    fn mutated_real_structures_never_panic(pos in 0usize..1200, byte in any::<u8>(), cut in 0usize..1200) {
        for base in [QUOTE, AK, SIG, PCRS] {
            let mut m = base.to_vec();
            let len = m.len();
            m[pos % len] = byte;
            m.truncate(cut.max(1));
            let _ = Attest::parse(&m);
            let _ = PublicArea::parse_tpm2b(&m);
            let _ = TpmSignature::parse(&m);
            if let Ok(f) = SerializedPcrs::parse(&m) {
                prop_assert_eq!(f.values().count(), f.selection.total_selected());
            }
        }
    }

    #[test]
    fn tpm_responses_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = iotsec_attest::device::command::parse_pcr_read_response(&data);
        let _ = iotsec_attest::device::command::parse_signed_attestation(&data);
    }

    #[test]
    fn selection_round_trips(sel in selection()) {
        prop_assert_eq!(PcrSelectionList::parse(&sel.to_bytes()).unwrap(), sel);
    }

    #[test]
    fn attest_round_trips(sel in selection(), nonce in proptest::collection::vec(any::<u8>(), 0..=66),
                          digest in proptest::collection::vec(any::<u8>(), 0..=64),
                          clock in any::<u64>(), reset in any::<u32>(), restart in any::<u32>(), safe in any::<bool>(),
                          fw in any::<u64>()) {
        let signer = [0u8, 0x0b, 1, 2, 3];
        let a = Attest {
            qualified_signer: &signer,
            extra_data: &nonce,
            clock_info: ClockInfo { clock, reset_count: reset, restart_count: restart, safe },
            firmware_version: fw,
            attested: Attested::Quote(QuoteInfo { pcr_select: sel, pcr_digest: &digest }),
        };
        let bytes = a.to_bytes();
        prop_assert_eq!(Attest::parse(&bytes).unwrap(), a);
        let mut longer = bytes.clone();
        longer.push(0);
        prop_assert!(
            matches!(Attest::parse(&longer), Err(ParseError::TrailingBytes { count: 1, .. })),
            "trailing byte accepted"
        );
    }

    #[test]
    fn signature_round_trips(r in proptest::collection::vec(any::<u8>(), 0..=48), s in proptest::collection::vec(any::<u8>(), 0..=48), h in hash()) {
        let sig = TpmSignature::Ecdsa { hash: h, r: &r, s: &s };
        let b = sig.to_bytes();
        prop_assert_eq!(TpmSignature::parse(&b).unwrap(), sig);
        let rsa = TpmSignature::RsaPss { hash: h, sig: &r };
        let b = rsa.to_bytes();
        prop_assert_eq!(TpmSignature::parse(&b).unwrap(), rsa);
    }

    #[test]
    fn pcr_file_round_trips(sel in selection()) {
        // Every value distinct: its position, then bank and index.
        let values: Vec<Vec<u8>> = sel
            .selected()
            .enumerate()
            .map(|(pos, (h, i))| {
                let mut v = vec![i; h.digest_len()];
                v[..2].copy_from_slice(&(pos as u16).to_be_bytes());
                v[2] = h.id() as u8;
                v
            })
            .collect();
        let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
        let bytes = serialize_pcrs(&sel, &refs);
        let file = SerializedPcrs::parse(&bytes).unwrap();
        prop_assert_eq!(file.selection, sel);
        let got: Vec<Vec<u8>> = file.values().map(|v| v.digest.to_vec()).collect();
        prop_assert_eq!(&got, &values);
        // Lookup by bank and index: the value at its position, nothing for unselected PCRs
        // or banks.
        let selected: Vec<(HashAlg, u8)> = sel.selected().collect();
        for h in [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512] {
            for i in 0..32u8 {
                let expected = selected
                    .iter()
                    .position(|&p| p == (h, i))
                    .map(|pos| values[pos].as_slice());
                prop_assert_eq!(file.get(h, i), expected, "{:?} {}", h, i);
            }
        }
    }
}

#[test]
fn selection_rejects_duplicates_too_many_banks_big_bitmaps_and_trailing_bytes() {
    let dup = [0, 0, 0, 2, 0, 0x0b, 3, 1, 0, 0, 0, 0x0b, 3, 0, 0, 1];
    assert_eq!(
        PcrSelectionList::parse(&dup),
        Err(ParseError::DuplicateBank { alg: 0x0b })
    );
    let many = [0, 0, 0, 17];
    assert_eq!(
        PcrSelectionList::parse(&many),
        Err(ParseError::TooManyBanks { count: 17, cap: 16 })
    );
    let huge = (u32::MAX).to_be_bytes();
    assert!(matches!(
        PcrSelectionList::parse(&huge),
        Err(ParseError::TooManyBanks { .. })
    ));
    let wide = [0, 0, 0, 1, 0, 0x0b, 5, 1, 1, 1, 1, 1];
    assert_eq!(
        PcrSelectionList::parse(&wide),
        Err(ParseError::PcrBitmapTooLarge { size: 5, cap: 4 })
    );
    let trailing = [0, 0, 0, 1, 0, 0x0b, 3, 1, 0, 0, 9];
    assert_eq!(
        PcrSelectionList::parse(&trailing),
        Err(ParseError::TrailingBytes {
            structure: "TPML_PCR_SELECTION",
            count: 1
        })
    );
    let unknown = [0, 0, 0, 1, 0x12, 0x34, 3, 1, 0, 0];
    assert!(matches!(
        PcrSelectionList::parse(&unknown),
        Err(ParseError::UnsupportedAlgorithm { alg: 0x1234, .. })
    ));
}

#[test]
fn attest_rejects_wrong_magic_type_and_bad_boolean() {
    let mut m = QUOTE.to_vec();
    m[0] = 0;
    assert!(matches!(
        Attest::parse(&m),
        Err(ParseError::NotTpmGenerated { found: 0x0054_4347 })
    ));
    let mut m = QUOTE.to_vec();
    m[5] = 0x14; // TPM_ST_ATTEST_NV
    assert!(matches!(
        Attest::parse(&m),
        Err(ParseError::UnsupportedAttestationType { found: 0x8014 })
    ));
    let mut m = QUOTE.to_vec();
    // safe flag: magic 4, type 2, name 2+34, data 2+8, clock 8, reset 4, restart 4.
    m[4 + 2 + 36 + 10 + 16] = 2;
    assert!(matches!(
        Attest::parse(&m),
        Err(ParseError::NotABoolean { value: 2, .. })
    ));
    let mut m = QUOTE.to_vec();
    m[6] = 0xff; // qualifiedSigner size 0xff22
    assert!(matches!(
        Attest::parse(&m),
        Err(ParseError::SizeExceeded { .. })
    ));
}

#[test]
fn tpm2b_public_size_must_cover_exactly_the_tpmt() {
    let mut short = AK.to_vec();
    short[1] -= 1;
    assert!(PublicArea::parse_tpm2b(&short).is_err());
    let mut long = AK.to_vec();
    long.push(0);
    assert!(matches!(
        PublicArea::parse_tpm2b(&long),
        Err(ParseError::TrailingBytes { .. })
    ));
}

#[test]
fn null_signature_is_refused() {
    assert!(matches!(
        TpmSignature::parse(&[0, 0x10]),
        Err(ParseError::UnsupportedAlgorithm { alg: 0x10, .. })
    ));
}
