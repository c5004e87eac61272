//! Crypto-agile event log parser and replay on arbitrary bytes: no panic, and replay of an
//! accepted log is deterministic.
#![no_main]
use iotsec_attest::tpm::algorithm::HashAlg;
use iotsec_attest::tpm::event_log::EventLog;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(log) = EventLog::parse(data) {
        assert_eq!(log.events().count(), log.len());
        for bank in [
            HashAlg::Sha1,
            HashAlg::Sha256,
            HashAlg::Sha384,
            HashAlg::Sha512,
        ] {
            let a = log.replay(bank);
            assert_eq!(a, log.replay(bank));
        }
    }
});
