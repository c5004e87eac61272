//! Pure-Rust marshalling of the commands a device needs to attest without tpm2-tss:
//! TPM2_ReadPublic (Part 3 §12.4), TPM2_PCR_Read (Part 3 §22.4), TPM2_PCR_Extend (Part 3 §22.2),
//! TPM2_PCR_Reset (Part 3 §22.8), TPM2_Quote (Part 3 §18.4) and TPM2_Certify (Part 3 §18.2), with
//! password authorization (Part 1 §19.8.4, TPM_RS_PW) or, with `alloc`, through a salted HMAC
//! session with parameter encryption ([`crate::device::session`]: [`quote_in_session`],
//! [`read_pcrs_in_session`]). Commands are built into a caller's buffer
//! and responses are parsed in place (no heap); [`TpmTransport`] moves the bytes.

pub use crate::device::error::TpmCommandError;
pub use crate::device::framing::{MAX_COMMAND_SIZE, MAX_RETRIES};

use crate::device::framing::{ST_NO_SESSIONS, ST_SESSIONS, Writer, exchange, response_body, start};
#[cfg(feature = "alloc")]
use crate::device::session::{NamedHandle, Session, SessionAttributes, SessionCommand};
use crate::device::transport::TpmTransport;
use crate::error::ParseError;
use crate::tpm::pcr_selection::PcrSelectionList;
use crate::tpm::signature::TpmSignature;
use crate::wire::Reader;
#[cfg(feature = "alloc")]
use rand_core::CryptoRngCore;

const CC_CERTIFY: u32 = 0x0000_0148;
const CC_QUOTE: u32 = 0x0000_0158;
const CC_PCR_READ: u32 = 0x0000_017E;
const CC_READ_PUBLIC: u32 = 0x0000_0173;
const CC_PCR_EXTEND: u32 = 0x0000_0182;
const CC_PCR_RESET: u32 = 0x0000_013D;
/// TPM_ALG_SHA256.
const ALG_SHA256: u16 = 0x000B;
/// A signing scheme for Quote/Certify: TPM_ALG_NULL (the key's own) or an explicit one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigScheme {
    /// TPM_ALG_ID of the scheme (TPM_ALG_NULL = 0x0010 to use the key's scheme).
    pub scheme: u16,
    /// Hash of the scheme (ignored for NULL).
    pub hash: u16,
}

impl SigScheme {
    /// Use the key's scheme.
    pub const KEY_DEFAULT: SigScheme = SigScheme {
        scheme: 0x0010,
        hash: 0,
    };
}

/// Builds TPM2_PCR_Read.
pub fn pcr_read_command<'b>(
    selection: &PcrSelectionList,
    buf: &'b mut [u8],
) -> Result<&'b [u8], TpmCommandError> {
    let mut w = start(buf, ST_NO_SESSIONS, CC_PCR_READ)?;
    w.selection(selection)?;
    w.finish()
}

/// TPM2_PCR_Read output.
#[derive(Debug, Clone, Copy)]
pub struct PcrReadResponse<'r> {
    /// pcrUpdateCounter.
    pub update_counter: u32,
    /// The PCRs actually read (a TPM returns at most 8 digests per call).
    pub selection: PcrSelectionList,
    digests: &'r [u8],
    count: usize,
}

impl<'r> PcrReadResponse<'r> {
    /// The values, in the order of `selection`.
    pub fn digests(&self) -> impl Iterator<Item = &'r [u8]> + '_ {
        let mut r = Reader::new(self.digests);
        (0..self.count).map_while(move |_| r.sized("TPM2B_DIGEST", 64).ok())
    }
}

/// Parses a TPM2_PCR_Read response.
pub fn parse_pcr_read_response(response: &[u8]) -> Result<PcrReadResponse<'_>, TpmCommandError> {
    pcr_read_parameters(response_body(response, false)?)
}

/// The response parameters of TPM2_PCR_Read.
fn pcr_read_parameters(mut r: Reader<'_>) -> Result<PcrReadResponse<'_>, TpmCommandError> {
    let update_counter = r.u32("pcrUpdateCounter")?;
    let selection = PcrSelectionList::decode(&mut r)?;
    let count = r.u32("TPML_DIGEST.count")? as usize;
    if count > 8 || count != selection.total_selected() {
        return Err(ParseError::ValueCountMismatch {
            field: "TPML_DIGEST",
            found: count,
            expected: selection.total_selected(),
        }
        .into());
    }
    let digests = r.rest();
    let mut check = Reader::new(digests);
    for (bank, _) in selection.selected() {
        let d = check.sized("TPM2B_DIGEST", 64)?;
        if d.len() != bank.digest_len() {
            return Err(ParseError::DigestLengthMismatch {
                field: "TPM2B_DIGEST",
                size: d.len(),
                expected: bank.digest_len(),
            }
            .into());
        }
    }
    check.finish("TPM2_PCR_Read response")?;
    Ok(PcrReadResponse {
        update_counter,
        selection,
        digests,
        count,
    })
}

/// Builds TPM2_Quote for `ak_handle` (empty password auth).
pub fn quote_command<'b>(
    ak_handle: u32,
    nonce: &[u8],
    scheme: SigScheme,
    selection: &PcrSelectionList,
    buf: &'b mut [u8],
) -> Result<&'b [u8], TpmCommandError> {
    let mut w = start(buf, ST_SESSIONS, CC_QUOTE)?;
    w.put(&ak_handle.to_be_bytes())?;
    w.password_sessions(1)?;
    w.sized(nonce)?;
    put_scheme(&mut w, scheme)?;
    w.selection(selection)?;
    w.finish()
}

/// Builds TPM2_Certify: `ak_handle` certifies `object_handle` (both with empty passwords).
pub fn certify_command<'b>(
    object_handle: u32,
    ak_handle: u32,
    nonce: &[u8],
    scheme: SigScheme,
    buf: &'b mut [u8],
) -> Result<&'b [u8], TpmCommandError> {
    let mut w = start(buf, ST_SESSIONS, CC_CERTIFY)?;
    w.put(&object_handle.to_be_bytes())?;
    w.put(&ak_handle.to_be_bytes())?;
    w.password_sessions(2)?;
    w.sized(nonce)?;
    put_scheme(&mut w, scheme)?;
    w.finish()
}

fn put_scheme(w: &mut Writer<'_>, s: SigScheme) -> Result<(), TpmCommandError> {
    w.put(&s.scheme.to_be_bytes())?;
    if s.scheme != SigScheme::KEY_DEFAULT.scheme {
        w.put(&s.hash.to_be_bytes())?;
    }
    Ok(())
}

/// Signed attestation output of Quote or Certify: the TPMS_ATTEST bytes and the TPMT_SIGNATURE
/// bytes, the same as `tpm2_quote -m` and `-s` write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedAttestation<'r> {
    /// TPMS_ATTEST.
    pub attest: &'r [u8],
    /// TPMT_SIGNATURE.
    pub signature: &'r [u8],
}

/// Parses a TPM2_Quote or TPM2_Certify response.
pub fn parse_signed_attestation(response: &[u8]) -> Result<SignedAttestation<'_>, TpmCommandError> {
    let mut r = response_body(response, true)?;
    let attest = r.sized("TPM2B_ATTEST", 1024)?;
    let signature = r.rest();
    TpmSignature::parse(signature)?;
    Ok(SignedAttestation { attest, signature })
}

/// Runs TPM2_PCR_Read.
pub fn read_pcrs<'r>(
    tpm: &mut dyn TpmTransport,
    selection: &PcrSelectionList,
    response: &'r mut [u8],
) -> Result<PcrReadResponse<'r>, TpmCommandError> {
    let mut cmd = [0u8; MAX_COMMAND_SIZE];
    let command = pcr_read_command(selection, &mut cmd)?;
    parse_pcr_read_response(exchange(tpm, command, response)?)
}

/// Runs TPM2_Quote.
pub fn quote<'r>(
    tpm: &mut dyn TpmTransport,
    ak_handle: u32,
    nonce: &[u8],
    selection: &PcrSelectionList,
    response: &'r mut [u8],
) -> Result<SignedAttestation<'r>, TpmCommandError> {
    let mut cmd = [0u8; MAX_COMMAND_SIZE];
    let command = quote_command(
        ak_handle,
        nonce,
        SigScheme::KEY_DEFAULT,
        selection,
        &mut cmd,
    )?;
    parse_signed_attestation(exchange(tpm, command, response)?)
}

/// Runs TPM2_Certify.
pub fn certify<'r>(
    tpm: &mut dyn TpmTransport,
    object_handle: u32,
    ak_handle: u32,
    nonce: &[u8],
    response: &'r mut [u8],
) -> Result<SignedAttestation<'r>, TpmCommandError> {
    let mut cmd = [0u8; MAX_COMMAND_SIZE];
    let command = certify_command(
        object_handle,
        ak_handle,
        nonce,
        SigScheme::KEY_DEFAULT,
        &mut cmd,
    )?;
    parse_signed_attestation(exchange(tpm, command, response)?)
}

/// Runs TPM2_PCR_Read with `session` as an audit session (PCR_Read has no authorization handle,
/// and neither its first command nor its first response parameter is a TPM2B, so the session
/// can only audit): the PCR values are returned only if the response HMAC verifies.
#[cfg(feature = "alloc")]
pub fn read_pcrs_in_session<'r>(
    tpm: &mut dyn TpmTransport,
    session: &mut Session,
    rng: &mut dyn CryptoRngCore,
    selection: &PcrSelectionList,
    response: &'r mut [u8],
) -> Result<PcrReadResponse<'r>, TpmCommandError> {
    let mut params = [0u8; MAX_COMMAND_SIZE];
    let params = parameters(&mut params, |w| w.selection(selection))?;
    let command = SessionCommand {
        code: CC_PCR_READ,
        handles: &[],
        authorizes: None,
        attributes: SessionAttributes(SessionAttributes::AUDIT),
    };
    let response = session_exchange(tpm, session, rng, &command, params, response)?;
    pcr_read_parameters(response_body(response, true)?)
}

/// Runs TPM2_Quote with the AK authorized through `session`, the qualifying data encrypted on
/// the way in and the quoted TPMS_ATTEST on the way out; the attestation is returned only if the
/// response HMAC verifies. `ak` names the AK by its Name (from TPM2_ReadPublic, checked against
/// the AK the verifier knows) and carries its authValue (empty for `tpm2_createak` keys).
#[cfg(feature = "alloc")]
pub fn quote_in_session<'r>(
    tpm: &mut dyn TpmTransport,
    session: &mut Session,
    rng: &mut dyn CryptoRngCore,
    ak: &AuthorizedObject<'_>,
    nonce: &[u8],
    selection: &PcrSelectionList,
    response: &'r mut [u8],
) -> Result<SignedAttestation<'r>, TpmCommandError> {
    let mut params = [0u8; MAX_COMMAND_SIZE];
    let params = parameters(&mut params, |w| {
        w.sized(nonce)?;
        put_scheme(w, SigScheme::KEY_DEFAULT)?;
        w.selection(selection)
    })?;
    let handles = [NamedHandle {
        handle: ak.handle,
        name: ak.name,
    }];
    let command = SessionCommand {
        code: CC_QUOTE,
        handles: &handles,
        authorizes: Some(ak.auth_value),
        attributes: SessionAttributes(SessionAttributes::DECRYPT | SessionAttributes::ENCRYPT),
    };
    let response = session_exchange(tpm, session, rng, &command, params, response)?;
    parse_signed_attestation(response)
}

/// Marshals a parameter area apart from its header, for a session command to encrypt and hash.
#[cfg(feature = "alloc")]
fn parameters(
    buf: &mut [u8],
    fill: impl FnOnce(&mut Writer<'_>) -> Result<(), TpmCommandError>,
) -> Result<&mut [u8], TpmCommandError> {
    let mut w = Writer::new(buf);
    fill(&mut w)?;
    w.into_written()
}

/// Sends a command in `session` and returns the response once the session has verified (and
/// decrypted) it.
#[cfg(feature = "alloc")]
fn session_exchange<'r>(
    tpm: &mut dyn TpmTransport,
    session: &mut Session,
    rng: &mut dyn CryptoRngCore,
    command: &SessionCommand<'_>,
    params: &mut [u8],
    response: &'r mut [u8],
) -> Result<&'r [u8], TpmCommandError> {
    let mut cmd = [0u8; MAX_COMMAND_SIZE];
    let bytes = session.command(rng, command, params, &mut cmd)?;
    let len = exchange(tpm, bytes, response)?.len();
    let response = response.get_mut(..len).ok_or(TpmCommandError::TooLarge)?;
    session.response(response)?;
    Ok(response)
}

/// An object a session authorizes: its handle, Name and authValue.
#[derive(Clone, Copy)]
pub struct AuthorizedObject<'a> {
    /// The loaded or persistent handle.
    pub handle: u32,
    /// Its Name (TPM2_ReadPublic's, which cpHash binds the command to).
    pub name: &'a [u8],
    /// Its authValue (empty for keys made by `tpm2_createak`).
    pub auth_value: &'a [u8],
}

impl core::fmt::Debug for AuthorizedObject<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AuthorizedObject")
            .field("handle", &self.handle)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// TPM2_ReadPublic output: the object's TPM2B_PUBLIC (what `tpm2_readpublic -o` writes) and Name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadPublicResponse<'r> {
    /// The TPM2B_PUBLIC bytes, size prefix included.
    pub tpm2b_public: &'r [u8],
    /// The Name the TPM computed.
    pub name: &'r [u8],
}

/// Runs TPM2_ReadPublic for `handle` (e.g. the persistent AK), the key a device reports.
pub fn read_public<'r>(
    tpm: &mut dyn TpmTransport,
    handle: u32,
    response: &'r mut [u8],
) -> Result<ReadPublicResponse<'r>, TpmCommandError> {
    let mut cmd = [0u8; 16];
    let mut w = start(&mut cmd, ST_NO_SESSIONS, CC_READ_PUBLIC)?;
    w.put(&handle.to_be_bytes())?;
    let command = w.finish()?;
    let response = exchange(tpm, command, response)?;
    let mut r = response_body(response, false)?;
    let start_len = r.rest();
    let public = r.sized("TPM2B_PUBLIC", 2048)?;
    let tpm2b_public = start_len
        .get(..2 + public.len())
        .ok_or(TpmCommandError::TooLarge)?;
    let name = r.sized("TPM2B_NAME", 66)?;
    let _qualified = r.sized("TPM2B_NAME", 66)?;
    r.finish("TPM2_ReadPublic response")?;
    Ok(ReadPublicResponse { tpm2b_public, name })
}

/// Builds TPM2_PCR_Extend of SHA-256 PCR `pcr` with `digest` (empty password auth; the other
/// banks are left alone).
pub fn pcr_extend_sha256_command<'b>(
    pcr: u8,
    digest: &[u8; 32],
    buf: &'b mut [u8],
) -> Result<&'b [u8], TpmCommandError> {
    let mut w = start(buf, ST_SESSIONS, CC_PCR_EXTEND)?;
    w.put(&u32::from(pcr).to_be_bytes())?;
    w.password_sessions(1)?;
    w.put(&1u32.to_be_bytes())?; // TPML_DIGEST_VALUES.count
    w.put(&ALG_SHA256.to_be_bytes())?;
    w.put(digest)?;
    w.finish()
}

/// Builds TPM2_PCR_Reset of PCR `pcr` (empty password auth; only PCRs resettable in the
/// current locality, e.g. 16 and 23 at locality 0 on a PC Client TPM).
pub fn pcr_reset_command(pcr: u8, buf: &mut [u8]) -> Result<&[u8], TpmCommandError> {
    let mut w = start(buf, ST_SESSIONS, CC_PCR_RESET)?;
    w.put(&u32::from(pcr).to_be_bytes())?;
    w.password_sessions(1)?;
    w.finish()
}

/// Runs TPM2_PCR_Extend of SHA-256 PCR `pcr` with `digest`.
pub fn pcr_extend_sha256(
    tpm: &mut dyn TpmTransport,
    pcr: u8,
    digest: &[u8; 32],
) -> Result<(), TpmCommandError> {
    let mut cmd = [0u8; MAX_COMMAND_SIZE];
    let command = pcr_extend_sha256_command(pcr, digest, &mut cmd)?;
    let mut response = [0u8; 256];
    response_body(exchange(tpm, command, &mut response)?, true)?
        .finish("TPM2_PCR_Extend response")?;
    Ok(())
}

/// Runs TPM2_PCR_Reset of PCR `pcr`.
pub fn pcr_reset(tpm: &mut dyn TpmTransport, pcr: u8) -> Result<(), TpmCommandError> {
    let mut cmd = [0u8; MAX_COMMAND_SIZE];
    let command = pcr_reset_command(pcr, &mut cmd)?;
    let mut response = [0u8; 256];
    response_body(exchange(tpm, command, &mut response)?, true)?
        .finish("TPM2_PCR_Reset response")?;
    Ok(())
}
