//! tpm2-tools serialized PCR file parser on arbitrary bytes: accepted files yield one value of
//! the bank's digest length per selected PCR.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = iotsec_attest::tpm::pcr_file::SerializedPcrs::parse(data) {
        let mut n = 0;
        for v in f.values() {
            assert_eq!(v.digest.len(), v.bank.digest_len());
            n += 1;
        }
        assert_eq!(n, f.selection.total_selected());
    }
});
