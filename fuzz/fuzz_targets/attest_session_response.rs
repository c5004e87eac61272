//! Device-side session responses on arbitrary bytes (TPM 2.0 Part 1 §19.6, Part 3 §11.1): the
//! TPM2_StartAuthSession parser, and a session's response check, which a bus interposer feeds.
//! Neither may panic; without the session key no response may be accepted, and a refused
//! response leaves the session refusing to go on.
//!
//! Speed: the EK is parsed once per process. Each input still starts a session (an ephemeral
//! P-256 key and an ECDH for the salt), since a refused response ends it and the public API has
//! no way to resume one; salting to the RSA EK instead was measured slower (RSA-OAEP in the
//! `rsa` crate), see FUZZING.md.
#![no_main]
use iotsec_attest::PublicArea;
use iotsec_attest::device::command::TpmCommandError;
use iotsec_attest::device::session::{
    NamedHandle, Session, SessionAttributes, SessionCommand, SessionError,
    parse_start_auth_session_response,
};
use iotsec_attest::device::transport::{TpmTransport, TransportError};
use iotsec_attest::identity::credential::OsRng;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// swtpm's ECC EK, the salt key.
const EK: &[u8] = include_bytes!("../../iotsec-attest/tests/data/swtpm-ek_ecc.pub");

fn ek() -> &'static PublicArea<'static> {
    static EK_AREA: OnceLock<PublicArea<'static>> = OnceLock::new();
    EK_AREA.get_or_init(|| PublicArea::parse_tpm2b(EK).expect("recorded EK"))
}

/// Answers TPM2_StartAuthSession with a fixed HMAC session.
struct Canned;

impl TpmTransport for Canned {
    fn transact<'r>(
        &mut self,
        _command: &[u8],
        response: &'r mut [u8],
    ) -> Result<&'r [u8], TransportError> {
        let mut r = vec![0x80, 0x01, 0, 0, 0, 48, 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 32];
        r.extend_from_slice(&[0x5a; 32]);
        let out = response.get_mut(..r.len()).ok_or(TransportError::Link)?;
        out.copy_from_slice(&r);
        Ok(out)
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = parse_start_auth_session_response(data) {
        assert_eq!(r.handle >> 24, 0x02);
        assert_eq!(r.nonce_tpm.len(), 32);
        assert_eq!(data.len(), 16 + 32);
    }

    let mut session = Session::start(&mut Canned, &mut OsRng, 0x8101_0001, ek()).expect("session");
    let mut params = [0, 4, 1, 2, 3, 4, 0, 0x10];
    let name = [0x40, 0, 0, 7];
    let command = SessionCommand {
        code: 0x158,
        handles: &[NamedHandle {
            handle: 0x8101_0002,
            name: &name,
        }],
        authorizes: Some(&[]),
        attributes: SessionAttributes(SessionAttributes::DECRYPT | SessionAttributes::ENCRYPT),
    };
    let mut buf = [0u8; 256];
    session
        .command(&mut OsRng, &command, &mut params, &mut buf)
        .expect("command");
    let mut response = data.to_vec();
    match session.response(&mut response) {
        Ok(()) => panic!("a forged response was accepted"),
        // An error code carries no HMAC and leaves the session usable.
        Err(TpmCommandError::ResponseCode(_)) => {
            assert!(
                session
                    .command(&mut OsRng, &command, &mut params, &mut buf)
                    .is_ok()
            )
        }
        Err(_) => assert_eq!(
            session
                .command(&mut OsRng, &command, &mut params, &mut buf)
                .map(|_| ()),
            Err(TpmCommandError::Session(SessionError::Desynchronised))
        ),
    }
});
