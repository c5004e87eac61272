//! Salted HMAC sessions with parameter encryption on swtpm: quotes whose AK is authorized
//! through a session salted to the ECC or the RSA EK are appraised trustworthy, and an
//! interposer on the link (a transport wrapper standing in for TPM Genie or a bus sniffer) that
//! flips a bit, changes nonceTPM, replays a response or strips the session area gets a typed
//! error, never a result; nor does it see the qualifying data or the quote in clear.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::BTreeMap;

use common::swtpm::{Swtpm, peers_available};
use iotsec_attest::appraise::Tier;
use iotsec_attest::device::command::{
    AuthorizedObject, TpmCommandError, quote, quote_in_session, read_pcrs, read_pcrs_in_session,
    read_public,
};
use iotsec_attest::device::session::{
    Session, SessionAttributes, SessionCommand, SessionError, flush_context,
};
use iotsec_attest::device::transport::{SwtpmTcp, TpmTransport, TransportError};
use iotsec_attest::identity::credential::OsRng;
use iotsec_attest::tpm::algorithm::HashAlg;
use iotsec_attest::tpm::pcr_selection::PcrBankSelection;
use iotsec_attest::{Attest, PcrSelectionList, PublicArea};

const EK_ECC: u32 = 0x8101_0001;
const AK_ECC: u32 = 0x8101_0002;
const AK_RSA: u32 = 0x8101_0003;
const EK_RSA: u32 = 0x8101_0004;
const EK_P384: u32 = 0x8101_0006;

/// What the interposer does to the next response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tamper {
    Nothing,
    /// Flip the low bit of the first byte after parameterSize's size field of the first TPM2B
    /// (a byte of the quoted attestation, or of pcrUpdateCounter).
    FlipParameterBit,
    /// Flip a bit of nonceTPM in the response authorization area.
    FlipNonceTpm,
    /// Answer with the response to the previous command of the same size.
    ReplayPrevious,
    /// Rewrite the tag to TPM_ST_NO_SESSIONS and cut the authorization area.
    StripSessions,
}

/// A bus interposer: sees every command and response, and tampers with the next response.
struct Interposer<'t> {
    tpm: &'t mut dyn TpmTransport,
    tamper: Tamper,
    seen: Vec<(Vec<u8>, Vec<u8>)>,
}

impl<'t> Interposer<'t> {
    fn new(tpm: &'t mut dyn TpmTransport) -> Self {
        Interposer {
            tpm,
            tamper: Tamper::Nothing,
            seen: Vec::new(),
        }
    }
}

impl TpmTransport for Interposer<'_> {
    fn transact<'r>(
        &mut self,
        command: &[u8],
        response: &'r mut [u8],
    ) -> Result<&'r [u8], TransportError> {
        let mut len = self.tpm.transact(command, response)?.len();
        let original = response[..len].to_vec();
        let param_size = u32::from_be_bytes(response[10..14].try_into().unwrap()) as usize;
        match std::mem::replace(&mut self.tamper, Tamper::Nothing) {
            Tamper::Nothing => {}
            Tamper::FlipParameterBit => response[16] ^= 1,
            Tamper::FlipNonceTpm => response[14 + param_size + 2 + 7] ^= 0x80,
            Tamper::ReplayPrevious => {
                let previous = self
                    .seen
                    .iter()
                    .rev()
                    .find(|(_, r)| r.len() == len && r[..10] == response[..10])
                    .expect("a previous response of the same shape")
                    .1
                    .clone();
                response[..len].copy_from_slice(&previous);
            }
            Tamper::StripSessions => {
                len = 14 + param_size;
                response[..2].copy_from_slice(&0x8001u16.to_be_bytes());
                response[2..6].copy_from_slice(&(len as u32).to_be_bytes());
            }
        }
        self.seen.push((command.to_vec(), original));
        Ok(&response[..len])
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn selection() -> PcrSelectionList {
    let mut sel = PcrSelectionList::default();
    sel.push(PcrBankSelection::new(HashAlg::Sha256, &[0, 2, 7, 16]).unwrap())
        .unwrap();
    sel
}

fn values_of(
    read: &iotsec_attest::device::command::PcrReadResponse<'_>,
) -> BTreeMap<(HashAlg, u8), Vec<u8>> {
    read.selection
        .selected()
        .zip(read.digests())
        .map(|(k, v)| (k, v.to_vec()))
        .collect()
}

/// A TPM with PCR 2 extended, an ECC and an RSA EK and AK, all persistent.
fn provisioned(test: &str) -> Swtpm {
    let tpm = Swtpm::start(test);
    tpm.tool(
        "tpm2_pcrextend",
        &["2:sha256=00000000000000000000000000000000000000000000000000000000000000bb"],
    );
    for (kind, ek, ak) in [("ecc", EK_ECC, AK_ECC), ("rsa", EK_RSA, AK_RSA)] {
        tpm.create_ek_ak(kind);
        for (ctx, handle) in [
            (format!("ek_{kind}.ctx"), ek),
            (format!("ak_{kind}.ctx"), ak),
        ] {
            tpm.tool(
                "tpm2_evictcontrol",
                &["-C", "o", "-c", &ctx, &format!("0x{handle:08x}")],
            );
        }
    }
    // A P-384 EK (nameAlg SHA-384: a 48-byte salt).
    tpm.tool(
        "tpm2_createek",
        &["-G", "ecc384", "-c", "ek_ecc384.ctx", "-u", "ek_ecc384.pub"],
    );
    tpm.tool(
        "tpm2_evictcontrol",
        &[
            "-C",
            "o",
            "-c",
            "ek_ecc384.ctx",
            &format!("0x{EK_P384:08x}"),
        ],
    );
    tpm
}

/// Removes the persistent objects so that the harness's shutdown finds a clean TPM.
fn unprovision(tpm: &Swtpm) {
    for h in [EK_ECC, AK_ECC, AK_RSA, EK_RSA, EK_P384] {
        tpm.tool(
            "tpm2_evictcontrol",
            &["-C", "o", "-c", &format!("0x{h:08x}")],
        );
    }
}

/// TPM2_ReadPublic of `handle`, checked against the tpm2-tools file `file`.
fn public_of(
    link: &mut dyn TpmTransport,
    tpm: &Swtpm,
    handle: u32,
    file: &str,
) -> (Vec<u8>, Vec<u8>) {
    let mut b = [0u8; 4096];
    let p = read_public(link, handle, &mut b).unwrap();
    assert_eq!(p.tpm2b_public, tpm.read(file).as_slice(), "{file}");
    (p.tpm2b_public.to_vec(), p.name.to_vec())
}

#[test]
fn swtpm_quotes_through_sessions_salted_to_ecc_and_rsa_eks() {
    if !peers_available("swtpm_quotes_through_sessions_salted_to_ecc_and_rsa_eks") {
        return;
    }
    let tpm = provisioned("session-quote");
    let mut link = SwtpmTcp::connect(("127.0.0.1", tpm.port)).unwrap();
    let sel = selection();
    let mut b = [0u8; 4096];
    let reference = values_of(&read_pcrs(&mut link, &sel, &mut b).unwrap());

    for (ek_kind, ek_handle) in [("ecc", EK_ECC), ("rsa", EK_RSA), ("ecc384", EK_P384)] {
        let (ek_bytes, _) = public_of(&mut link, &tpm, ek_handle, &format!("ek_{ek_kind}.pub"));
        let ek = PublicArea::parse_tpm2b(&ek_bytes).unwrap();
        let mut session = Session::start(&mut link, &mut OsRng, ek_handle, &ek).unwrap();

        // Audited PCR_Read: the same values as the password path, HMAC-verified.
        let mut b = [0u8; 4096];
        let read = read_pcrs_in_session(&mut link, &mut session, &mut OsRng, &sel, &mut b).unwrap();
        let values = values_of(&read);
        assert_eq!(values, reference, "{ek_kind}");

        // One session serves several commands: nonces roll.
        for (ak_kind, ak_handle) in [("ecc", AK_ECC), ("rsa", AK_RSA)] {
            let (ak_bytes, ak_name) =
                public_of(&mut link, &tpm, ak_handle, &format!("ak_{ak_kind}.pub"));
            let ak = PublicArea::parse_tpm2b(&ak_bytes).unwrap();
            let nonce: Vec<u8> = (0..32u8).map(|i| i ^ 0xa5).collect();
            let quote = session_quote(
                &mut link,
                &mut session,
                &no_password(ak_handle, &ak_name),
                &nonce,
            )
            .unwrap_or_else(|e| panic!("salt {ek_kind}, AK {ak_kind}: {e}"));
            assert_eq!(
                Attest::parse(&quote.0).unwrap().extra_data,
                nonce.as_slice()
            );
            assert_eq!(
                appraise(&ak, &quote, &values, &nonce),
                Tier::Affirming,
                "salt {ek_kind}, AK {ak_kind}"
            );
        }
        let handle = session.handle();
        session.flush(&mut link).unwrap();
        // The slot is free: flushing it again is the TPM's error, typed.
        assert!(matches!(
            flush_context(&mut link, handle),
            Err(TpmCommandError::ResponseCode(_))
        ));
    }

    // A signing key cannot take a salt.
    let (ak_bytes, _) = public_of(&mut link, &tpm, AK_ECC, "ak_ecc.pub");
    let ak = PublicArea::parse_tpm2b(&ak_bytes).unwrap();
    assert_eq!(
        Session::start(&mut link, &mut OsRng, AK_ECC, &ak).unwrap_err(),
        TpmCommandError::Session(SessionError::SaltKeyNotDecrypt)
    );
    drop(link);
    unprovision(&tpm);
}

/// Starts a session salted to the ECC EK and returns it with the AK's Name.
fn session_and_ak(link: &mut dyn TpmTransport, tpm: &Swtpm) -> (Session, Vec<u8>) {
    let (ek_bytes, _) = public_of(link, tpm, EK_ECC, "ek_ecc.pub");
    let ek = PublicArea::parse_tpm2b(&ek_bytes).unwrap();
    let session = Session::start(link, &mut OsRng, EK_ECC, &ek).unwrap();
    let (_, name) = public_of(link, tpm, AK_ECC, "ak_ecc.pub");
    (session, name)
}

/// The AK at `handle` with the Name `name` and an empty authValue (`tpm2_createak`'s default).
fn no_password(handle: u32, name: &[u8]) -> AuthorizedObject<'_> {
    AuthorizedObject {
        handle,
        name,
        auth_value: &[],
    }
}

/// A quote by `ak` through `session`: TPMS_ATTEST, TPMT_SIGNATURE.
fn session_quote(
    link: &mut dyn TpmTransport,
    session: &mut Session,
    ak: &AuthorizedObject<'_>,
    nonce: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), TpmCommandError> {
    let mut resp = [0u8; 4096];
    quote_in_session(
        link,
        session,
        &mut OsRng,
        ak,
        nonce,
        &selection(),
        &mut resp,
    )
    .map(|q| (q.attest.to_vec(), q.signature.to_vec()))
}

/// `appraise_quote` under the default policy of a quote (TPMS_ATTEST, TPMT_SIGNATURE) by `ak`.
fn appraise(
    ak: &PublicArea<'_>,
    (attest, signature): &(Vec<u8>, Vec<u8>),
    values: &BTreeMap<(HashAlg, u8), Vec<u8>>,
    nonce: &[u8],
) -> Tier {
    let a = common::appraise_read_values(ak, attest, signature, values, nonce);
    if a.status != Tier::Affirming {
        eprintln!("{:#?}", a.claims);
    }
    a.status
}

#[test]
fn swtpm_session_refuses_tampered_replayed_and_stripped_responses() {
    if !peers_available("swtpm_session_refuses_tampered_replayed_and_stripped_responses") {
        return;
    }
    let tpm = provisioned("session-tamper");
    let mut link = SwtpmTcp::connect(("127.0.0.1", tpm.port)).unwrap();
    let nonce = [0x5au8; 20];
    let sel = selection();

    let cases = [
        (Tamper::FlipParameterBit, SessionError::ResponseHmacMismatch),
        (Tamper::FlipNonceTpm, SessionError::ResponseHmacMismatch),
        (Tamper::ReplayPrevious, SessionError::ResponseHmacMismatch),
        (Tamper::StripSessions, SessionError::MissingResponseAuth),
    ];
    for (tamper, expected) in cases {
        for command in ["quote", "pcr_read"] {
            let mut bus = Interposer::new(&mut link);
            let (mut session, name) = session_and_ak(&mut bus, &tpm);
            // An honest exchange first (also the response a replay sends again).
            let mut b = [0u8; 4096];
            if command == "quote" {
                session_quote(&mut bus, &mut session, &no_password(AK_ECC, &name), &nonce).unwrap();
            } else {
                read_pcrs_in_session(&mut bus, &mut session, &mut OsRng, &sel, &mut b).unwrap();
            }
            bus.tamper = tamper;
            let got = if command == "quote" {
                session_quote(&mut bus, &mut session, &no_password(AK_ECC, &name), &nonce)
                    .map(|_| ())
            } else {
                read_pcrs_in_session(&mut bus, &mut session, &mut OsRng, &sel, &mut b).map(|_| ())
            };
            assert_eq!(
                got,
                Err(TpmCommandError::Session(expected)),
                "{tamper:?} on {command}"
            );
            // The session no longer knows the TPM's nonce: it refuses to go on.
            assert_eq!(
                session_quote(&mut bus, &mut session, &no_password(AK_ECC, &name), &nonce),
                Err(TpmCommandError::Session(SessionError::Desynchronised)),
                "{tamper:?} on {command}"
            );
            session.flush(&mut bus).unwrap();
        }
    }
    drop(link);
    unprovision(&tpm);
}

#[test]
fn swtpm_session_hides_the_qualifying_data_and_the_quote_on_the_wire() {
    if !peers_available("swtpm_session_hides_the_qualifying_data_and_the_quote_on_the_wire") {
        return;
    }
    let tpm = provisioned("session-hide");
    let mut link = SwtpmTcp::connect(("127.0.0.1", tpm.port)).unwrap();
    let nonce: Vec<u8> = b"qualifying data the bus must not see".to_vec();
    let mut bus = Interposer::new(&mut link);
    let (_, name) = public_of(&mut bus, &tpm, AK_ECC, "ak_ecc.pub");

    // Control: with a password session the interposer reads the nonce both ways.
    let mut resp = [0u8; 4096];
    let plain = quote(&mut bus, AK_ECC, &nonce, &selection(), &mut resp).unwrap();
    let plain_attest = plain.attest.to_vec();
    let (cmd, rsp) = bus.seen.last().unwrap();
    assert!(contains(cmd, &nonce) && contains(rsp, &nonce));
    assert!(contains(rsp, &plain_attest));

    let (mut session, _) = session_and_ak(&mut bus, &tpm);
    let (attest, _) =
        session_quote(&mut bus, &mut session, &no_password(AK_ECC, &name), &nonce).unwrap();
    assert_eq!(Attest::parse(&attest).unwrap().extra_data, nonce.as_slice());
    let (cmd, rsp) = bus.seen.last().unwrap().clone();
    assert!(
        !contains(&cmd, &nonce),
        "qualifyingData in clear on the wire"
    );
    assert!(!contains(&rsp, &nonce), "extraData in clear on the wire");
    // The TPMS_ATTEST header (magic, type) is not on the wire either.
    assert!(!contains(&rsp, &attest[..6]));
    // Same length: the sizes stay in clear, the bytes do not.
    assert_eq!(
        u16::from_be_bytes([rsp[14], rsp[15]]) as usize,
        attest.len()
    );
    session.flush(&mut bus).unwrap();
    drop(link);
    unprovision(&tpm);
}

#[test]
fn swtpm_session_carries_the_authvalue_of_an_ak_with_a_password() {
    if !peers_available("swtpm_session_carries_the_authvalue_of_an_ak_with_a_password") {
        return;
    }
    const AK_PASSWORD: u32 = 0x8101_0005;
    let tpm = provisioned("session-password");
    tpm.tool(
        "tpm2_createak",
        &[
            "-C",
            "0x81010001",
            "-c",
            "akp.ctx",
            "-G",
            "ecc",
            "-g",
            "sha256",
            "-s",
            "ecdsa",
            "-p",
            "s3cret",
            "-u",
            "akp.pub",
            "-n",
            "akp.name",
            "-r",
            "akp.priv",
        ],
    );
    tpm.tool(
        "tpm2_evictcontrol",
        &["-C", "o", "-c", "akp.ctx", &format!("0x{AK_PASSWORD:08x}")],
    );
    let mut link = SwtpmTcp::connect(("127.0.0.1", tpm.port)).unwrap();
    let (ek_bytes, _) = public_of(&mut link, &tpm, EK_ECC, "ek_ecc.pub");
    let ek = PublicArea::parse_tpm2b(&ek_bytes).unwrap();
    let (ak_bytes, name) = public_of(&mut link, &tpm, AK_PASSWORD, "akp.pub");
    let ak = PublicArea::parse_tpm2b(&ak_bytes).unwrap();
    let mut session = Session::start(&mut link, &mut OsRng, EK_ECC, &ek).unwrap();
    let mut b = [0u8; 4096];
    let values = values_of(
        &read_pcrs_in_session(&mut link, &mut session, &mut OsRng, &selection(), &mut b).unwrap(),
    );
    let nonce = [0x17u8; 16];

    let password = |auth| AuthorizedObject {
        handle: AK_PASSWORD,
        name: &name,
        auth_value: auth,
    };
    // The wrong password: the TPM's TPM_RC_AUTH_FAIL (session 1), typed; the session goes on.
    assert_eq!(
        session_quote(&mut link, &mut session, &password(b"wrong"), &nonce),
        Err(TpmCommandError::ResponseCode(0x98e))
    );
    let quote = session_quote(&mut link, &mut session, &password(b"s3cret"), &nonce).unwrap();
    assert_eq!(appraise(&ak, &quote, &values, &nonce), Tier::Affirming);
    session.flush(&mut link).unwrap();
    drop(link);
    tpm.tool(
        "tpm2_evictcontrol",
        &["-C", "o", "-c", &format!("0x{AK_PASSWORD:08x}")],
    );
    unprovision(&tpm);
}

#[test]
fn swtpm_pcr_read_takes_a_session_only_for_audit() {
    if !peers_available("swtpm_pcr_read_takes_a_session_only_for_audit") {
        return;
    }
    let tpm = provisioned("session-pcr-read");
    let mut link = SwtpmTcp::connect(("127.0.0.1", tpm.port)).unwrap();
    let (ek_bytes, _) = public_of(&mut link, &tpm, EK_ECC, "ek_ecc.pub");
    let ek = PublicArea::parse_tpm2b(&ek_bytes).unwrap();
    let mut session = Session::start(&mut link, &mut OsRng, EK_ECC, &ek).unwrap();
    // TPML_PCR_SELECTION: SHA-256, PCR 7.
    let pcr7 = [0, 0, 0, 1, 0, 0x0b, 3, 0x80, 0, 0];
    // Neither parameter of PCR_Read is a TPM2B and there is no handle to authorize: a session
    // that neither audits nor encrypts has nothing to do (TPM_RC_ATTRIBUTES, session 1), and
    // the TPM refuses to encrypt a response that does not start with a TPM2B.
    for (attributes, rc) in [(0u8, 0x982), (SessionAttributes::ENCRYPT, 0x982)] {
        let mut params = pcr7;
        let mut cmd = [0u8; 256];
        let bytes = session
            .command(
                &mut OsRng,
                &SessionCommand {
                    code: 0x17e,
                    handles: &[],
                    authorizes: None,
                    attributes: SessionAttributes(attributes),
                },
                &mut params,
                &mut cmd,
            )
            .unwrap();
        let mut resp = [0u8; 4096];
        let len = link.transact(bytes, &mut resp).unwrap().len();
        assert_eq!(
            session.response(&mut resp[..len]),
            Err(TpmCommandError::ResponseCode(rc)),
            "attributes {attributes:#04x}"
        );
    }
    // As an audit session it works, and the session went on after the refusals.
    let mut b = [0u8; 4096];
    read_pcrs_in_session(&mut link, &mut session, &mut OsRng, &selection(), &mut b).unwrap();
    session.flush(&mut link).unwrap();
    drop(link);
    unprovision(&tpm);
}
