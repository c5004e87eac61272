//! The session arithmetic against values computed independently (Python `hashlib`/`hmac` and
//! `cryptography`'s AES-CFB, from the formulas of TPM 2.0 Part 1 §11.4.10.2, §19.6, §21.3), the
//! exact TPM2_StartAuthSession bytes, and properties of the response parsers. No TPM needed:
//! swtpm accepting our HMACs is `swtpm_session.rs`'s proof.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_attest::PublicArea;
use iotsec_attest::device::command::TpmCommandError;
use iotsec_attest::device::session::{
    NamedHandle, Session, SessionAttributes, SessionCommand, SessionError,
    StartAuthSessionResponse, cfb_first_parameter, cp_hash, parse_start_auth_session_response,
    rp_hash, session_hmac, session_key, start_auth_session_command,
};
use iotsec_attest::device::transport::{TpmTransport, TransportError};
use iotsec_attest::error::ParseError;
use proptest::prelude::*;

use iotsec_test_support::hex::decode as hex;

fn salt() -> Vec<u8> {
    (0..32).collect()
}
fn nonce_tpm() -> Vec<u8> {
    (0x40..0x60).collect()
}
fn nonce_caller() -> Vec<u8> {
    (0x80..0xa0).collect()
}

/// The parameters of a TPM2_Quote: qualifyingData "iotsec!!", scheme NULL, one bank SHA-256
/// with PCR 7.
fn quote_parameters() -> Vec<u8> {
    let mut p = hex("0008");
    p.extend_from_slice(b"iotsec!!");
    p.extend_from_slice(&hex("001000000001000b03800000"));
    p
}

const SESSION_KEY: &str = "4cfbf4144b94620cadfb0b65f86d9772cd5c3fd3adb70f6cdf5ac455e51b0485";

#[test]
fn session_key_is_kdfa_ath_over_the_salt_and_both_nonces() {
    let key = session_key(&salt(), &nonce_tpm(), &nonce_caller());
    assert_eq!(key.as_slice(), hex(SESSION_KEY));
    // Nonce order matters: nonceTPM is contextU.
    assert_ne!(
        session_key(&salt(), &nonce_caller(), &nonce_tpm()).as_slice(),
        hex(SESSION_KEY)
    );
}

#[test]
fn cp_hash_rp_hash_and_the_session_hmac_match_independent_values() {
    let mut name = hex("000b");
    name.extend_from_slice(&[0x33; 32]);
    let cp = cp_hash(0x158, &[&name], &quote_parameters());
    assert_eq!(
        cp.to_vec(),
        hex("f4f39bb49784afd66ab6600140266092ad330f2b885427020699eda2306a3c94")
    );
    assert_eq!(
        rp_hash(0x158, &hex("0004deadbeef")).to_vec(),
        hex("d9e6829bbbc455ab71ef6dd9a27c250dca24cf5dd0a571f4068fddc91d12c61f")
    );
    // continueSession | decrypt | encrypt.
    let hmac = session_hmac(&hex(SESSION_KEY), &cp, &nonce_caller(), &nonce_tpm(), 0x61).unwrap();
    assert_eq!(
        hmac.to_vec(),
        hex("102a0eecaf7dbad797c2e4b403fdc4c528b6a674bb512b8a9de62d8247e97c9a")
    );
    // Every input is bound: another attribute byte, another HMAC.
    assert_ne!(
        session_hmac(&hex(SESSION_KEY), &cp, &nonce_caller(), &nonce_tpm(), 0x21).unwrap(),
        hmac
    );
}

#[test]
fn cfb_encrypts_the_data_of_the_first_tpm2b_only() {
    let mut p = quote_parameters();
    cfb_first_parameter(
        &hex(SESSION_KEY),
        &nonce_caller(),
        &nonce_tpm(),
        &mut p,
        true,
    )
    .unwrap();
    assert_eq!(p, hex("0008935683dd8fd5cff3001000000001000b03800000"));
    cfb_first_parameter(
        &hex(SESSION_KEY),
        &nonce_caller(),
        &nonce_tpm(),
        &mut p,
        false,
    )
    .unwrap();
    assert_eq!(p, quote_parameters());
    // A size prefix that runs past the parameters, or no size at all: nothing to encrypt.
    for bad in [hex("0009aabb"), hex("00")] {
        let mut b = bad.clone();
        assert_eq!(
            cfb_first_parameter(
                &hex(SESSION_KEY),
                &nonce_caller(),
                &nonce_tpm(),
                &mut b,
                true
            ),
            Err(SessionError::NoSizedParameter)
        );
        assert_eq!(b, bad);
    }
}

#[test]
fn start_auth_session_is_marshalled_as_part_3_table_11_says() {
    let mut buf = [0u8; 256];
    let cmd =
        start_auth_session_command(0x8101_0001, &nonce_caller(), &[0xee; 4], &mut buf).unwrap();
    let mut expected = hex("8001 00000043 00000176 81010001 40000007 0020"
        .replace(' ', "")
        .as_str());
    expected.extend_from_slice(&nonce_caller());
    // encryptedSalt, TPM_SE_HMAC, AES 128 CFB, SHA-256.
    expected.extend_from_slice(&hex("0004eeeeeeee00000600800043000b"));
    assert_eq!(cmd, expected.as_slice());
}

/// A TPM2_StartAuthSession response.
fn start_response(handle: u32, nonce: &[u8]) -> Vec<u8> {
    let mut r = hex("8001000000000000000000");
    r.truncate(10);
    r.extend_from_slice(&handle.to_be_bytes());
    r.extend_from_slice(&(nonce.len() as u16).to_be_bytes());
    r.extend_from_slice(nonce);
    let len = r.len() as u32;
    r[2..6].copy_from_slice(&len.to_be_bytes());
    r
}

#[test]
fn start_auth_session_responses_are_checked() {
    let ok = start_response(0x0200_0000, &nonce_tpm());
    assert_eq!(
        parse_start_auth_session_response(&ok).unwrap(),
        StartAuthSessionResponse {
            handle: 0x0200_0000,
            nonce_tpm: &nonce_tpm()
        }
    );
    // A policy session's handle (0x03...).
    assert_eq!(
        parse_start_auth_session_response(&start_response(0x0300_0000, &nonce_tpm())),
        Err(TpmCommandError::Session(SessionError::NotAnHmacSession {
            handle: 0x0300_0000
        }))
    );
    assert_eq!(
        parse_start_auth_session_response(&start_response(0x0200_0000, &[1; 16])),
        Err(TpmCommandError::Session(SessionError::NonceSize {
            size: 16,
            expected: 32
        }))
    );
    let mut trailing = ok.clone();
    trailing.push(0);
    trailing[5] += 1;
    assert!(matches!(
        parse_start_auth_session_response(&trailing),
        Err(TpmCommandError::Malformed(ParseError::TrailingBytes { .. }))
    ));
    let error = hex("80010000000a00000101");
    assert_eq!(
        parse_start_auth_session_response(&error),
        Err(TpmCommandError::ResponseCode(0x101))
    );
}

/// A TPM that answers TPM2_StartAuthSession with a fixed handle and nonce, and everything else
/// with `answer`.
struct CannedTpm {
    answer: Vec<u8>,
    seen: Vec<Vec<u8>>,
}

impl TpmTransport for CannedTpm {
    fn transact<'r>(
        &mut self,
        command: &[u8],
        response: &'r mut [u8],
    ) -> Result<&'r [u8], TransportError> {
        self.seen.push(command.to_vec());
        let r = if command[6..10] == [0, 0, 1, 0x76] {
            start_response(0x0200_0000, &nonce_tpm())
        } else {
            self.answer.clone()
        };
        response[..r.len()].copy_from_slice(&r);
        Ok(&response[..r.len()])
    }
}

/// A session salted to the recorded swtpm ECC EK, started against [`CannedTpm`].
fn canned_session() -> Session {
    let ek = std::fs::read("tests/data/swtpm-ek_ecc.pub").unwrap();
    let ek = PublicArea::parse_tpm2b(&ek).unwrap();
    let mut tpm = CannedTpm {
        answer: Vec::new(),
        seen: Vec::new(),
    };
    Session::start(&mut tpm, &mut rand_core::OsRng, 0x8101_0001, &ek).unwrap()
}

fn send(session: &mut Session) -> Result<(), TpmCommandError> {
    let mut params = quote_parameters();
    let name = [0x40, 0, 0, 7];
    let mut buf = [0u8; 512];
    session
        .command(
            &mut rand_core::OsRng,
            &SessionCommand {
                code: 0x158,
                handles: &[NamedHandle {
                    handle: 0x8101_0002,
                    name: &name,
                }],
                authorizes: Some(&[]),
                attributes: SessionAttributes(SessionAttributes::DECRYPT),
            },
            &mut params,
            &mut buf,
        )
        .map(|_| ())
}

#[test]
fn the_session_state_machine_fails_closed() {
    let mut s = canned_session();
    assert_eq!(s.handle(), 0x0200_0000);
    let mut nothing = hex("80020000000a00000000");
    assert_eq!(
        s.response(&mut nothing),
        Err(TpmCommandError::Session(SessionError::NoCommandOutstanding))
    );
    // A TPM error code leaves the session usable.
    send(&mut s).unwrap();
    assert_eq!(
        s.response(&mut hex("80010000000a0000098e")),
        Err(TpmCommandError::ResponseCode(0x98e))
    );
    // Sending twice without a response: the TPM may have rolled its nonce.
    send(&mut s).unwrap();
    assert_eq!(
        send(&mut s),
        Err(TpmCommandError::Session(SessionError::Desynchronised))
    );
    let mut s = canned_session();
    send(&mut s).unwrap();
    // Success without a session area.
    assert_eq!(
        s.response(&mut hex("80010000000a00000000")),
        Err(TpmCommandError::Session(SessionError::MissingResponseAuth))
    );
    assert_eq!(
        send(&mut s),
        Err(TpmCommandError::Session(SessionError::Desynchronised))
    );
}

/// Bytes 01 02 03 ... : a deterministic RNG, so that a whole exchange has exact bytes.
struct CountingRng(u8);

impl rand_core::RngCore for CountingRng {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for CountingRng {}

/// One whole exchange computed independently in Python (`cryptography` for ECDH and AES-CFB,
/// `hashlib`/`hmac` for KDFe, KDFa, cpHash, rpHash and the HMACs): a P-256 salt key with a known
/// private key, the ephemeral key and the nonces from [`CountingRng`], nonceTPM 40..5f.
#[test]
fn a_whole_salted_exchange_matches_an_independent_implementation() {
    // swtpm's ECC EK template with the point of the private key 0x2b7e1516...0cfe.
    let mut ek = std::fs::read("tests/data/swtpm-ek_ecc.pub").unwrap();
    let point_at = ek.len() - 68;
    ek.truncate(point_at);
    ek.extend_from_slice(&hex(
        "0020e48813e656219b4090c282a020f40e07b4e1efd60a3dd17492a1667c5758ee5b\
         0020760f9b9b1c840b4f4f63ab4043c0537ca29b3512c32e50e56f5e4e8d42d0d31e",
    ));
    let ek = PublicArea::parse_tpm2b(&ek).unwrap();
    let mut tpm = CannedTpm {
        answer: Vec::new(),
        seen: Vec::new(),
    };
    let mut rng = CountingRng(0);
    let mut session = Session::start(&mut tpm, &mut rng, 0x8101_0001, &ek).unwrap();
    // nonceCaller 21..40 and the ephemeral point (TPMS_ECC_POINT) as encryptedSalt.
    assert_eq!(
        tpm.seen[0],
        hex(
            "80010000008300000176810100014000000700202122232425262728292a2b2c2d2e2f3031\
             32333435363738393a3b3c3d3e3f4000440020515c3d6eb9e396b904d3feca7f54fdcd0cc1e997\
             bf375dca515ad0a6c3b4035f00204536be3a50f318fbf9a5475902a221502bef0d57e08c53b2cc\
             0a56f17d9f935400000600800043000b"
        )
    );

    let mut name = hex("000b");
    name.extend_from_slice(&[0x33; 32]);
    let handles = [NamedHandle {
        handle: 0x8101_0002,
        name: &name,
    }];
    let quote = SessionCommand {
        code: 0x158,
        handles: &handles,
        authorizes: Some(&[]),
        attributes: SessionAttributes(SessionAttributes::DECRYPT | SessionAttributes::ENCRYPT),
    };
    let mut params = quote_parameters();
    let mut buf = [0u8; 512];
    let command = session
        .command(&mut rng, &quote, &mut params, &mut buf)
        .unwrap();
    // The auth area (nonceCaller 41..60, continueSession|decrypt|encrypt, the HMAC), then the
    // parameters with "iotsec!!" encrypted.
    assert_eq!(
        command,
        hex(
            "8002000000710000015881010002000000490200000000204142434445464748494a4b4c4d4e4f\
             505152535455565758595a5b5c5d5e5f606100203efd47c7d649a7446b0c759fccbe1eaeb122a8\
             3114f99072c3df57ade9de9ca20008705b3327e5c9abd1001000000001000b03800000"
        )
    );

    // The TPM's answer: nonceTPM 70..8f, the attestation encrypted, the response HMAC.
    let response = hex(
        "80020000007700000000000000240020ef059427e24aff64a611a109897249d75bf4ebe6e8d5542e2a\
         699fcf2fc9ba3f00100020707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d\
         8e8f610020c4c80492cb8c9828e9aa9d8f9ae7daa0cc3572f03bbdeb8622e1288b8c037f5e",
    );
    let mut r = response.clone();
    session.response(&mut r).unwrap();
    assert_eq!(&r[16..48], b"TPMS_ATTEST stand-in, 32 bytes!!");
    assert_eq!(r[48..], response[48..]);

    // The same answer to the next command is a replay.
    let mut params = quote_parameters();
    session
        .command(&mut rng, &quote, &mut params, &mut buf)
        .unwrap();
    let mut r = response.clone();
    assert_eq!(
        session.response(&mut r),
        Err(TpmCommandError::Session(SessionError::ResponseHmacMismatch))
    );
}

/// A successful session response with `params` and an auth area of the given parts.
fn session_response(params: &[u8], nonce: &[u8], attributes: u8, hmac: &[u8]) -> Vec<u8> {
    let mut r = hex("80020000000000000000");
    r.extend_from_slice(&(params.len() as u32).to_be_bytes());
    r.extend_from_slice(params);
    r.extend_from_slice(&(nonce.len() as u16).to_be_bytes());
    r.extend_from_slice(nonce);
    r.push(attributes);
    r.extend_from_slice(&(hmac.len() as u16).to_be_bytes());
    r.extend_from_slice(hmac);
    let len = r.len() as u32;
    r[2..6].copy_from_slice(&len.to_be_bytes());
    r
}

proptest! {
    #[test]
    fn start_auth_session_responses_round_trip(low in 0u32..0x0100_0000, nonce in any::<[u8; 32]>()) {
        let handle = 0x0200_0000 | low;
        let bytes = start_response(handle, &nonce);
        let parsed = parse_start_auth_session_response(&bytes).unwrap();
        prop_assert_eq!(parsed.handle, handle);
        prop_assert_eq!(parsed.nonce_tpm, &nonce[..]);
    }

    #[test]
    fn a_start_auth_session_parse_is_exactly_its_input(data in proptest::collection::vec(any::<u8>(), 0..80)) {
        if let Ok(p) = parse_start_auth_session_response(&data) {
            prop_assert_eq!(start_response(p.handle, p.nonce_tpm), data);
        }
    }

    /// Whatever the bus answers, without the session key no response is accepted and none
    /// panics; a refused success leaves the session refusing to go on.
    #[test]
    fn forged_session_responses_are_never_accepted(
        params in proptest::collection::vec(any::<u8>(), 0..40),
        nonce in proptest::collection::vec(any::<u8>(), 0..40),
        attributes in any::<u8>(),
        hmac in proptest::collection::vec(any::<u8>(), 0..40),
        cut in 0usize..200,
    ) {
        let mut s = canned_session();
        send(&mut s).unwrap();
        let mut r = session_response(&params, &nonce, attributes, &hmac);
        r.truncate(r.len().saturating_sub(cut % 8));
        let got = s.response(&mut r);
        prop_assert!(got.is_err());
        prop_assert_eq!(
            send(&mut s),
            Err(TpmCommandError::Session(SessionError::Desynchronised))
        );
    }
}
