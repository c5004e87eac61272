//! TPML_PCR_SELECTION parser on arbitrary bytes: accepted lists have no duplicate bank and at
//! most 16 banks.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(l) = iotsec_attest::PcrSelectionList::parse(data) {
        assert!(l.len() <= 16);
        let banks: Vec<_> = l.banks().map(|b| b.hash).collect();
        for (i, b) in banks.iter().enumerate() {
            assert!(!banks[i + 1..].contains(b));
        }
        assert_eq!(l.selected().count(), l.total_selected());
    }
});
