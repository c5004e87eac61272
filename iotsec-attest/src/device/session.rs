//! Salted HMAC sessions with parameter encryption, against an interposer on the TPM bus (TPM
//! Genie, SPI/LPC sniffers) that reads and alters the bytes between the host and the TPM.
//!
//! - TPM2_StartAuthSession (Part 3 §11.1) for an unbound HMAC session, salted to a loaded
//!   decryption key (the EK): the salt is encrypted with RSA-OAEP (label "SECRET\0") or one-pass
//!   ECDH + KDFe (label "SECRET") (Part 1 §11.4.10, Annex B.10.3 and C.6.2); symmetric
//!   AES-128-CFB, authHash SHA-256. sessionKey = KDFa(SHA-256, salt, "ATH", nonceTPM,
//!   nonceCaller, 256) (Part 1 §19.6.11; the session is unbound, so bind.authValue is empty).
//! - Command and response HMACs over cpHash/rpHash, the nonces and the session attributes
//!   (Part 1 §19.6.5, §19.6.12-13). A fresh nonceCaller comes from the caller's RNG for every
//!   command; nonceTPM rolls with every verified response. The response HMAC is compared in
//!   constant time, and a response whose HMAC does not verify is never handed back: the session
//!   is then desynchronised and refuses further use (flush it and start another).
//! - Parameter encryption (Part 1 §21.3, CFB): the first TPM2B command parameter (`decrypt`) and
//!   the first TPM2B response parameter (`encrypt`), key and IV from KDFa(SHA-256, sessionValue,
//!   "CFB", nonceNewer, nonceOlder, 128 + 128).
//! - TPM2_FlushContext (Part 3 §28.4) when done.
//!
//! The session is sans-IO where it matters: [`Session::command`] turns marshalled parameters into
//! command bytes, [`Session::response`] verifies and decrypts response bytes; only
//! [`Session::start`] and [`Session::flush`] move bytes over a [`TpmTransport`].

use alloc::vec::Vec;

use aes::cipher::{AsyncStreamCipher, KeyIvInit};
use hmac::{Hmac, Mac};
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

pub use crate::device::error::SessionError;
use crate::tpm::algorithm::HashAlg;
use crate::tpm::public::{ObjectAttributes, PublicArea};

use crate::device::error::TpmCommandError;
use crate::device::framing::{
    MAX_COMMAND_SIZE, ST_NO_SESSIONS, ST_SESSIONS, exchange, response_body, response_header, start,
};
use crate::device::transport::TpmTransport;

const CC_START_AUTH_SESSION: u32 = 0x0000_0176;
const CC_FLUSH_CONTEXT: u32 = 0x0000_0165;
/// TPM_RH_NULL: no bind entity.
const RH_NULL: u32 = 0x4000_0007;
/// TPM_SE_HMAC.
const SE_HMAC: u8 = 0x00;
const ALG_AES: u16 = 0x0006;
const ALG_CFB: u16 = 0x0043;
const AES_KEY_BITS: u16 = 128;
/// TPM_HT_HMAC_SESSION: the top byte of an HMAC session's handle (Part 2 §7.2).
const HT_HMAC_SESSION: u8 = 0x02;
/// Size of sessionKey, nonces and HMACs: the digest size of authHash (SHA-256).
pub const DIGEST_LEN: usize = 32;
/// Largest TPM2B_NONCE / TPM2B_DIGEST read from a response (SHA-512 digest size).
const MAX_DIGEST: usize = 64;

type HmacSha256 = Hmac<Sha256>;

/// TPMA_SESSION (Part 2 §8.4): what a session does in one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionAttributes(pub u8);

impl SessionAttributes {
    /// continueSession: the session outlives the command (always set by [`Session::command`]).
    pub const CONTINUE_SESSION: u8 = 0x01;
    /// decrypt: the first command parameter is encrypted.
    pub const DECRYPT: u8 = 0x20;
    /// encrypt: the TPM encrypts the first response parameter.
    pub const ENCRYPT: u8 = 0x40;
    /// audit: the session audits the command (and may then be an extra session of a command
    /// with no authorization handle).
    pub const AUDIT: u8 = 0x80;

    /// Whether every bit of `mask` is set.
    pub fn has(self, mask: u8) -> bool {
        self.0 & mask == mask
    }
}

/// A handle of the command's handle area with the Name cpHash binds it to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamedHandle<'a> {
    /// The handle.
    pub handle: u32,
    /// Its Name: nameAlg || H(TPMT_PUBLIC) for an object (TPM2_ReadPublic), the 4 handle bytes
    /// for a PCR, a session or a permanent handle.
    pub name: &'a [u8],
}

/// How a session takes part in one command.
#[derive(Debug, Clone, Copy)]
pub struct SessionCommand<'a> {
    /// The command code (TPM_CC).
    pub code: u32,
    /// The handle area, in order.
    pub handles: &'a [NamedHandle<'a>],
    /// `Some(authValue)` when the session authorizes the first handle (the only authorization
    /// handle supported); `None` when the command has no authorization handle and the session
    /// is an extra one (it must then audit or encrypt).
    pub authorizes: Option<&'a [u8]>,
    /// decrypt / encrypt / audit (continueSession is added).
    pub attributes: SessionAttributes,
}

/// The parsed TPM2_StartAuthSession response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartAuthSessionResponse<'r> {
    /// The session handle.
    pub handle: u32,
    /// nonceTPM.
    pub nonce_tpm: &'r [u8],
}

/// Builds TPM2_StartAuthSession: an unbound HMAC session salted to `salt_key_handle`,
/// AES-128-CFB, SHA-256.
pub fn start_auth_session_command<'b>(
    salt_key_handle: u32,
    nonce_caller: &[u8],
    encrypted_salt: &[u8],
    buf: &'b mut [u8],
) -> Result<&'b [u8], TpmCommandError> {
    let mut w = start(buf, ST_NO_SESSIONS, CC_START_AUTH_SESSION)?;
    w.put(&salt_key_handle.to_be_bytes())?;
    w.put(&RH_NULL.to_be_bytes())?;
    w.sized(nonce_caller)?;
    w.sized(encrypted_salt)?;
    w.put(&[SE_HMAC])?;
    w.put(&ALG_AES.to_be_bytes())?;
    w.put(&AES_KEY_BITS.to_be_bytes())?;
    w.put(&ALG_CFB.to_be_bytes())?;
    w.put(&HashAlg::Sha256.id().to_be_bytes())?;
    w.finish()
}

/// Parses a TPM2_StartAuthSession response: an HMAC session handle and a nonceTPM of
/// [`DIGEST_LEN`] bytes, nothing after.
pub fn parse_start_auth_session_response(
    response: &[u8],
) -> Result<StartAuthSessionResponse<'_>, TpmCommandError> {
    let mut r = response_body(response, false)?;
    let handle = r.u32("sessionHandle")?;
    if handle.to_be_bytes()[0] != HT_HMAC_SESSION {
        return Err(SessionError::NotAnHmacSession { handle }.into());
    }
    let nonce_tpm = r.sized("nonceTPM", MAX_DIGEST)?;
    r.finish("TPM2_StartAuthSession response")?;
    if nonce_tpm.len() != DIGEST_LEN {
        return Err(SessionError::NonceSize {
            size: nonce_tpm.len(),
            expected: DIGEST_LEN,
        }
        .into());
    }
    Ok(StartAuthSessionResponse { handle, nonce_tpm })
}

/// sessionKey of an unbound session: KDFa(SHA-256, salt, "ATH", nonceTPM, nonceCaller, 256).
pub fn session_key(salt: &[u8], nonce_tpm: &[u8], nonce_caller: &[u8]) -> Zeroizing<Vec<u8>> {
    crate::identity::credential::kdfa(
        HashAlg::Sha256,
        salt,
        "ATH",
        nonce_tpm,
        nonce_caller,
        (DIGEST_LEN * 8) as u32,
    )
}

/// cpHash = SHA-256(commandCode || Name of each handle || parameters).
pub fn cp_hash(code: u32, names: &[&[u8]], parameters: &[u8]) -> [u8; DIGEST_LEN] {
    let mut h = Sha256::new();
    h.update(code.to_be_bytes());
    for n in names {
        h.update(n);
    }
    h.update(parameters);
    h.finalize().into()
}

/// rpHash = SHA-256(responseCode (0) || commandCode || parameters).
pub fn rp_hash(code: u32, parameters: &[u8]) -> [u8; DIGEST_LEN] {
    let mut h = Sha256::new();
    h.update(0u32.to_be_bytes());
    h.update(code.to_be_bytes());
    h.update(parameters);
    h.finalize().into()
}

/// The session HMAC: HMAC-SHA-256(sessionKey || authValue, pHash || nonceNewer || nonceOlder ||
/// sessionAttributes) (one session: no nonceTPMdecrypt/nonceTPMencrypt).
pub fn session_hmac(
    key: &[u8],
    p_hash: &[u8],
    nonce_newer: &[u8],
    nonce_older: &[u8],
    attributes: u8,
) -> Result<[u8; DIGEST_LEN], SessionError> {
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).map_err(|_| SessionError::Primitive)?;
    m.update(p_hash);
    m.update(nonce_newer);
    m.update(nonce_older);
    m.update(&[attributes]);
    Ok(m.finalize().into_bytes().into())
}

/// Encrypts (`encrypt`) or decrypts in place the data of the TPM2B that opens `parameters`, with
/// AES-128-CFB keyed by KDFa(SHA-256, sessionValue, "CFB", nonceNewer, nonceOlder, 256).
pub fn cfb_first_parameter(
    session_value: &[u8],
    nonce_newer: &[u8],
    nonce_older: &[u8],
    parameters: &mut [u8],
    encrypt: bool,
) -> Result<(), SessionError> {
    let size = match parameters.get(..2) {
        Some(&[a, b]) => usize::from(u16::from_be_bytes([a, b])),
        _ => return Err(SessionError::NoSizedParameter),
    };
    let data = parameters
        .get_mut(2..2 + size)
        .ok_or(SessionError::NoSizedParameter)?;
    let key_iv = crate::identity::credential::kdfa(
        HashAlg::Sha256,
        session_value,
        "CFB",
        nonce_newer,
        nonce_older,
        u32::from(AES_KEY_BITS) + 128,
    );
    let (key, iv) = match (key_iv.get(..16), key_iv.get(16..32)) {
        (Some(k), Some(i)) => (k, i),
        _ => return Err(SessionError::Primitive),
    };
    if encrypt {
        cfb_mode::Encryptor::<aes::Aes128>::new_from_slices(key, iv)
            .map_err(|_| SessionError::Primitive)?
            .encrypt(data);
    } else {
        cfb_mode::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
            .map_err(|_| SessionError::Primitive)?
            .decrypt(data);
    }
    Ok(())
}

/// What the session remembers of the command it sent.
struct Outstanding {
    code: u32,
    nonce_caller: [u8; DIGEST_LEN],
    attributes: u8,
    /// sessionKey || authValue: the HMAC key and sessionValue of this command.
    session_value: Zeroizing<Vec<u8>>,
}

enum State {
    Ready,
    Sent(Outstanding),
    Desynchronised,
    Closed,
}

/// A salted, unbound HMAC session (authHash SHA-256, AES-128-CFB) loaded in a TPM. sessionKey is
/// zeroized when the session is dropped; [`Session::flush`] frees the TPM's slot.
pub struct Session {
    handle: u32,
    session_key: Zeroizing<Vec<u8>>,
    nonce_tpm: [u8; DIGEST_LEN],
    state: State,
}

impl core::fmt::Debug for Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Session")
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Starts a session salted to the loaded decryption key `salt_key_handle` whose public area
    /// is `salt_key` (the EK: read it with TPM2_ReadPublic and check it against the EK
    /// certificate, or an interposer can substitute its own key and learn the salt).
    pub fn start(
        tpm: &mut dyn TpmTransport,
        rng: &mut dyn CryptoRngCore,
        salt_key_handle: u32,
        salt_key: &PublicArea<'_>,
    ) -> Result<Session, TpmCommandError> {
        if !salt_key.attributes.has(ObjectAttributes::DECRYPT) {
            return Err(SessionError::SaltKeyNotDecrypt.into());
        }
        let (salt, encrypted_salt) =
            crate::identity::credential::share_seed(salt_key, "SECRET", rng)
                .map_err(|_| SessionError::InvalidSaltKey)?;
        let mut nonce_caller = [0u8; DIGEST_LEN];
        rng.fill_bytes(&mut nonce_caller);
        let mut cmd = [0u8; MAX_COMMAND_SIZE];
        let command =
            start_auth_session_command(salt_key_handle, &nonce_caller, &encrypted_salt, &mut cmd)?;
        let mut resp = [0u8; 256];
        let started = parse_start_auth_session_response(exchange(tpm, command, &mut resp)?)?;
        let mut nonce_tpm = [0u8; DIGEST_LEN];
        nonce_tpm.copy_from_slice(started.nonce_tpm);
        Ok(Session {
            handle: started.handle,
            session_key: session_key(&salt, &nonce_tpm, &nonce_caller),
            nonce_tpm,
            state: State::Ready,
        })
    }

    /// The session's handle.
    pub fn handle(&self) -> u32 {
        self.handle
    }

    /// Builds a command in this session into `buf`: a fresh nonceCaller, the first parameter
    /// encrypted if `decrypt` is asked, and the command HMAC over cpHash. `parameters` holds the
    /// marshalled parameter area and is encrypted in place.
    pub fn command<'b>(
        &mut self,
        rng: &mut dyn CryptoRngCore,
        command: &SessionCommand<'_>,
        parameters: &mut [u8],
        buf: &'b mut [u8],
    ) -> Result<&'b [u8], TpmCommandError> {
        match self.state {
            State::Ready => {}
            State::Closed => return Err(SessionError::Closed.into()),
            State::Sent(_) | State::Desynchronised => {
                self.state = State::Desynchronised;
                return Err(SessionError::Desynchronised.into());
            }
        }
        let mut nonce_caller = [0u8; DIGEST_LEN];
        rng.fill_bytes(&mut nonce_caller);
        // The TPM ignores trailing zero octets of an authValue; they need no trimming here:
        // sessionKey (32 bytes) and an authValue (at most 32 for a SHA-256 object) never
        // exceed the HMAC-SHA-256 block, whose zero padding makes them irrelevant. A longer
        // authValue (a SHA-384 object's) must come without trailing zeros.
        let auth_value = command.authorizes.unwrap_or(&[]);
        let mut session_value = Zeroizing::new(Vec::with_capacity(
            self.session_key.len() + auth_value.len(),
        ));
        session_value.extend_from_slice(&self.session_key);
        session_value.extend_from_slice(auth_value);
        let attributes = command.attributes.0 | SessionAttributes::CONTINUE_SESSION;
        if SessionAttributes(attributes).has(SessionAttributes::DECRYPT) {
            cfb_first_parameter(
                &session_value,
                &nonce_caller,
                &self.nonce_tpm,
                parameters,
                true,
            )?;
        }
        let names: Vec<&[u8]> = command.handles.iter().map(|h| h.name).collect();
        let cp = cp_hash(command.code, &names, parameters);
        let hmac = session_hmac(
            &session_value,
            &cp,
            &nonce_caller,
            &self.nonce_tpm,
            attributes,
        )?;

        let mut w = start(buf, ST_SESSIONS, command.code)?;
        for h in command.handles {
            w.put(&h.handle.to_be_bytes())?;
        }
        let auth_size = 4 + 2 + DIGEST_LEN + 1 + 2 + DIGEST_LEN;
        w.put(&(auth_size as u32).to_be_bytes())?;
        w.put(&self.handle.to_be_bytes())?;
        w.sized(&nonce_caller)?;
        w.put(&[attributes])?;
        w.sized(&hmac)?;
        w.put(parameters)?;
        let bytes = w.finish()?;
        self.state = State::Sent(Outstanding {
            code: command.code,
            nonce_caller,
            attributes,
            session_value,
        });
        Ok(bytes)
    }

    /// Checks the response to the outstanding command (a response with no handle area): the
    /// response HMAC over rpHash is verified in constant time, nonceTPM rolls, and the first
    /// response parameter is decrypted in place if `encrypt` was asked. On any refusal the
    /// response must be thrown away and the session is desynchronised; a TPM error code is
    /// returned as [`TpmCommandError::ResponseCode`] (it carries no HMAC: nothing but the code
    /// may be trusted) and leaves the session usable.
    pub fn response(&mut self, response: &mut [u8]) -> Result<(), TpmCommandError> {
        let outstanding = match core::mem::replace(&mut self.state, State::Desynchronised) {
            State::Sent(o) => o,
            State::Ready => {
                self.state = State::Ready;
                return Err(SessionError::NoCommandOutstanding.into());
            }
            State::Closed => {
                self.state = State::Closed;
                return Err(SessionError::Closed.into());
            }
            State::Desynchronised => return Err(SessionError::Desynchronised.into()),
        };
        let (params, nonce_tpm, attributes) = {
            let (tag, mut r) = match response_header(response) {
                Err(e @ TpmCommandError::ResponseCode(_)) => {
                    // The TPM keeps its nonce when a command fails.
                    self.state = State::Ready;
                    return Err(e);
                }
                header => header?,
            };
            if tag != ST_SESSIONS {
                return Err(SessionError::MissingResponseAuth.into());
            }
            let param_size = r.u32("parameterSize")? as usize;
            let params = r.bytes(param_size, "response parameters")?;
            let nonce_tpm = r.sized("nonceTPM", MAX_DIGEST)?;
            let attributes = r.u8("sessionAttributes")?;
            let hmac = r.sized("TPM2B_AUTH hmac", MAX_DIGEST)?;
            r.finish("TPM response authorization area")?;
            let nonce: [u8; DIGEST_LEN] =
                nonce_tpm.try_into().map_err(|_| SessionError::NonceSize {
                    size: nonce_tpm.len(),
                    expected: DIGEST_LEN,
                })?;
            let rp = rp_hash(outstanding.code, params);
            let expected = session_hmac(
                &outstanding.session_value,
                &rp,
                &nonce,
                &outstanding.nonce_caller,
                attributes,
            )?;
            if !bool::from(expected.as_slice().ct_eq(hmac)) {
                return Err(SessionError::ResponseHmacMismatch.into());
            }
            (param_size, nonce, attributes)
        };
        self.nonce_tpm = nonce_tpm;
        self.state = if SessionAttributes(attributes).has(SessionAttributes::CONTINUE_SESSION) {
            State::Ready
        } else {
            State::Closed
        };
        if SessionAttributes(outstanding.attributes).has(SessionAttributes::ENCRYPT) {
            let params = response
                .get_mut(14..14 + params)
                .ok_or(TpmCommandError::TooLarge)?;
            if let Err(e) = cfb_first_parameter(
                &outstanding.session_value,
                &self.nonce_tpm,
                &outstanding.nonce_caller,
                params,
                false,
            ) {
                // Authentic but undecryptable: scrub what the TPM encrypted.
                params.fill(0);
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// Ends the session: TPM2_FlushContext, unless the TPM already closed it.
    pub fn flush(self, tpm: &mut dyn TpmTransport) -> Result<(), TpmCommandError> {
        if matches!(self.state, State::Closed) {
            return Ok(());
        }
        flush_context(tpm, self.handle)
    }
}

/// TPM2_FlushContext: frees a loaded session or transient object.
pub fn flush_context(tpm: &mut dyn TpmTransport, handle: u32) -> Result<(), TpmCommandError> {
    let mut cmd = [0u8; 14];
    let mut w = start(&mut cmd, ST_NO_SESSIONS, CC_FLUSH_CONTEXT)?;
    w.put(&handle.to_be_bytes())?;
    let command = w.finish()?;
    let mut resp = [0u8; 64];
    let r = response_body(exchange(tpm, command, &mut resp)?, false)?;
    r.finish("TPM2_FlushContext response")?;
    Ok(())
}
