//! Credential activation on the device: the TPM proves that the AK lives beside the EK a
//! verifier knows, by recovering the secret the verifier encrypted with MakeCredential
//! ([`crate::identity::credential::make_credential`]; TPM 2.0 Part 1 §24).
//!
//! The EK's authPolicy (TCG EK Credential Profile §2.1.5, the default templates) is
//! PolicySecret(TPM_RH_ENDORSEMENT), so its USER role is reached through a policy session:
//! - TPM2_StartAuthSession (Part 3 §11.1): TPM_SE_POLICY, no salt, no bind, no symmetric
//!   algorithm, authHash SHA-256;
//! - TPM2_PolicySecret (Part 3 §23.4): the endorsement hierarchy, authorized by the empty
//!   password, satisfies the policy session;
//! - TPM2_ActivateCredential (Part 3 §12.5): activateHandle = the AK (empty password),
//!   keyHandle = the EK (the policy session); certInfo is the secret;
//! - TPM2_FlushContext (Part 3 §28.4) of the policy session, whatever happened before.
//!
//! The policy session is neither salted nor bound: it carries no secret and authenticates no
//! response. An interposer can read or alter the recovered secret on the bus; altering makes the
//! verifier's comparison fail, and reading it gives nothing it could not get from the TPM it
//! sits beside. The command builders write into a caller's buffer (no heap); the recovered
//! secret is returned in a zeroizing buffer with `alloc`.

use crate::device::error::TpmCommandError;
use crate::device::framing::{
    MAX_COMMAND_SIZE, ST_NO_SESSIONS, ST_SESSIONS, exchange, response_body, start,
};
use crate::device::transport::TpmTransport;
use crate::error::ParseError;

const CC_START_AUTH_SESSION: u32 = 0x0000_0176;
const CC_POLICY_SECRET: u32 = 0x0000_0151;
const CC_ACTIVATE_CREDENTIAL: u32 = 0x0000_0147;
const CC_FLUSH_CONTEXT: u32 = 0x0000_0165;
/// TPM_RH_NULL: no salt key, no bind entity.
const RH_NULL: u32 = 0x4000_0007;
/// TPM_RH_ENDORSEMENT.
pub const RH_ENDORSEMENT: u32 = 0x4000_000B;
/// TPM_RS_PW.
const RS_PW: u32 = 0x4000_0009;
/// TPM_SE_POLICY.
const SE_POLICY: u8 = 0x01;
/// TPM_ALG_NULL (no symmetric algorithm).
const ALG_NULL: u16 = 0x0010;
/// TPM_ALG_SHA256 (authHash).
const ALG_SHA256: u16 = 0x000B;
/// TPM_HT_POLICY_SESSION: the top byte of a policy session's handle (Part 2 §7.2).
const HT_POLICY_SESSION: u8 = 0x03;
/// TPMA_SESSION continueSession: the policy session stays loaded after ActivateCredential, so
/// that one FlushContext frees it on every path.
const CONTINUE_SESSION: u8 = 0x01;
/// Size of nonceCaller and nonceTPM (the SHA-256 digest size; at least 16 octets required).
pub const POLICY_NONCE_LEN: usize = 32;
/// Largest TPM2B_NONCE / TPM2B_DIGEST read from a response (SHA-512 digest size).
const MAX_DIGEST: usize = 64;
/// Largest TPM2B_ID_OBJECT (integrity HMAC and encIdentity for a SHA-512 nameAlg).
pub const MAX_ID_OBJECT: usize = 2 + 64 + 2 + 64;
/// Largest TPM2B_ENCRYPTED_SECRET (an RSA-4096 OAEP ciphertext).
pub const MAX_ENCRYPTED_SECRET: usize = 512;

/// Why a credential could not be activated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ActivationError {
    /// A command failed (the link, the TPM, a malformed response).
    #[error(transparent)]
    Command(#[from] TpmCommandError),
    /// The TPM refused the credential itself: it was made for another AK's Name (integrity
    /// check) or encrypted to another EK (the seed does not decrypt). The AK and the EK the
    /// verifier names are not one TPM's, or the credential was altered.
    #[error(
        "the TPM refused the credential (response code {response_code:#x}): made for another AK or EK"
    )]
    CredentialRefused {
        /// The TPM's response code, which names the refused parameter.
        response_code: u32,
    },
    /// TPM2_StartAuthSession returned a handle that is not a policy session's.
    #[error("handle {handle:#010x} is not a policy session")]
    NotAPolicySession {
        /// The handle returned.
        handle: u32,
    },
    /// A credential part is empty or larger than a TPM accepts.
    #[error("credential {field} of {len} bytes: must be 1..={max}")]
    CredentialSize {
        /// TPM2B_ID_OBJECT or TPM2B_ENCRYPTED_SECRET.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The largest accepted.
        max: usize,
    },
    /// certInfo (the recovered secret) is empty.
    #[error("the TPM returned an empty secret")]
    EmptySecret,
}

crate::error::error_codes!(ActivationError {
    ActivationError::Command(e) => e.code(), e.kind();
    ActivationError::CredentialRefused { .. } => "credential_refused", Refusal;
    ActivationError::NotAPolicySession { .. } => "not_a_policy_session", Refusal;
    ActivationError::CredentialSize { .. } => "credential_size", BadInput;
    ActivationError::EmptySecret => "empty_secret", Refusal;
});

/// Builds TPM2_StartAuthSession for an unsalted, unbound policy session: no symmetric
/// algorithm, authHash SHA-256.
pub fn start_policy_session_command<'b>(
    nonce_caller: &[u8; POLICY_NONCE_LEN],
    buf: &'b mut [u8],
) -> Result<&'b [u8], TpmCommandError> {
    let mut w = start(buf, ST_NO_SESSIONS, CC_START_AUTH_SESSION)?;
    w.put(&RH_NULL.to_be_bytes())?; // tpmKey: no salt
    w.put(&RH_NULL.to_be_bytes())?; // bind: none
    w.sized(nonce_caller)?;
    w.sized(&[])?; // encryptedSalt
    w.put(&[SE_POLICY])?;
    w.put(&ALG_NULL.to_be_bytes())?; // symmetric: TPM_ALG_NULL (no keyBits, no mode)
    w.put(&ALG_SHA256.to_be_bytes())?;
    w.finish()
}

/// Parses a TPM2_StartAuthSession response for a policy session: its handle (a policy
/// session's) and a nonceTPM of [`POLICY_NONCE_LEN`] bytes, nothing after.
pub fn parse_start_policy_session_response(response: &[u8]) -> Result<u32, ActivationError> {
    let mut r = response_body(response, false)?;
    let handle = r.u32("sessionHandle").map_err(TpmCommandError::from)?;
    if handle.to_be_bytes()[0] != HT_POLICY_SESSION {
        return Err(ActivationError::NotAPolicySession { handle });
    }
    let nonce_tpm = r
        .sized("nonceTPM", MAX_DIGEST)
        .map_err(TpmCommandError::from)?;
    r.finish("TPM2_StartAuthSession response")
        .map_err(TpmCommandError::from)?;
    if nonce_tpm.len() != POLICY_NONCE_LEN {
        return Err(TpmCommandError::from(ParseError::DigestLengthMismatch {
            field: "nonceTPM",
            size: nonce_tpm.len(),
            expected: POLICY_NONCE_LEN,
        })
        .into());
    }
    Ok(handle)
}

/// Builds TPM2_PolicySecret(TPM_RH_ENDORSEMENT, `policy_session`) with the empty password: no
/// nonceTPM, cpHashA or policyRef, expiration 0 (no ticket wanted).
pub fn policy_secret_endorsement_command(
    policy_session: u32,
    buf: &mut [u8],
) -> Result<&[u8], TpmCommandError> {
    let mut w = start(buf, ST_SESSIONS, CC_POLICY_SECRET)?;
    w.put(&RH_ENDORSEMENT.to_be_bytes())?;
    w.put(&policy_session.to_be_bytes())?;
    w.password_sessions(1)?;
    w.sized(&[])?; // nonceTPM
    w.sized(&[])?; // cpHashA
    w.sized(&[])?; // policyRef
    w.put(&0i32.to_be_bytes())?; // expiration
    w.finish()
}

/// Checks a TPM2_PolicySecret response: TPM2B_TIMEOUT and TPMT_TK_AUTH, nothing after.
pub fn parse_policy_secret_response(response: &[u8]) -> Result<(), TpmCommandError> {
    let mut r = response_body(response, true)?;
    let _timeout = r.sized("TPM2B_TIMEOUT", 8)?;
    let _tag = r.u16("TPMT_TK_AUTH.tag")?;
    let _hierarchy = r.u32("TPMT_TK_AUTH.hierarchy")?;
    let _digest = r.sized("TPMT_TK_AUTH.digest", MAX_DIGEST)?;
    r.finish("TPM2_PolicySecret response")?;
    Ok(())
}

/// Builds TPM2_ActivateCredential: `ak_handle` authorized by the empty password, `ek_handle`
/// by `policy_session` (satisfied by [`policy_secret_endorsement_command`]); the parameters are
/// the credential's TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET contents
/// ([`crate::identity::credential::CredentialBlob`]'s fields).
pub fn activate_credential_command<'b>(
    ak_handle: u32,
    ek_handle: u32,
    policy_session: u32,
    id_object: &[u8],
    encrypted_secret: &[u8],
    buf: &'b mut [u8],
) -> Result<&'b [u8], ActivationError> {
    check_size("TPM2B_ID_OBJECT", id_object, MAX_ID_OBJECT)?;
    check_size(
        "TPM2B_ENCRYPTED_SECRET",
        encrypted_secret,
        MAX_ENCRYPTED_SECRET,
    )?;
    let mut w = start(buf, ST_SESSIONS, CC_ACTIVATE_CREDENTIAL)?;
    w.put(&ak_handle.to_be_bytes())?;
    w.put(&ek_handle.to_be_bytes())?;
    // Two authorizations: the password for the AK, then the policy session for the EK, whose
    // HMAC is empty (no PolicyAuthValue, no PolicyPassword) and whose nonceCaller may be empty.
    let one = 4 + 2 + 1 + 2;
    w.put(&((2 * one) as u32).to_be_bytes())?;
    w.put(&RS_PW.to_be_bytes())?;
    w.put(&[0, 0, 0, 0, 0])?;
    w.put(&policy_session.to_be_bytes())?;
    w.put(&[0, 0, CONTINUE_SESSION, 0, 0])?;
    w.sized(id_object)?;
    w.sized(encrypted_secret)?;
    Ok(w.finish()?)
}

fn check_size(field: &'static str, data: &[u8], max: usize) -> Result<(), ActivationError> {
    if data.is_empty() || data.len() > max {
        return Err(ActivationError::CredentialSize {
            field,
            len: data.len(),
            max,
        });
    }
    Ok(())
}

/// Parses a TPM2_ActivateCredential response: certInfo, the recovered secret (1 to 64 bytes).
/// A response code that names the credentialBlob or the secret parameter is
/// [`ActivationError::CredentialRefused`].
pub fn parse_activate_credential_response(response: &[u8]) -> Result<&[u8], ActivationError> {
    let mut r = match response_body(response, true) {
        Err(TpmCommandError::ResponseCode(rc)) if names_a_parameter(rc) => {
            return Err(ActivationError::CredentialRefused { response_code: rc });
        }
        other => other?,
    };
    let cert_info = r
        .sized("certInfo", MAX_DIGEST)
        .map_err(TpmCommandError::from)?;
    r.finish("TPM2_ActivateCredential response")
        .map_err(TpmCommandError::from)?;
    if cert_info.is_empty() {
        return Err(ActivationError::EmptySecret);
    }
    Ok(cert_info)
}

/// A format-one response code (bit 7) about parameter 1 or 2 (bit 6 set, number in bits 8-11;
/// Part 2 §6.6.2): the TPM refused credentialBlob or secret, not the handles or sessions.
fn names_a_parameter(rc: u32) -> bool {
    rc & 0x080 != 0 && rc & 0x040 != 0 && matches!((rc >> 8) & 0xF, 1 | 2)
}

/// Builds TPM2_FlushContext of `handle`.
pub fn flush_context_command(handle: u32, buf: &mut [u8]) -> Result<&[u8], TpmCommandError> {
    let mut w = start(buf, ST_NO_SESSIONS, CC_FLUSH_CONTEXT)?;
    w.put(&handle.to_be_bytes())?;
    w.finish()
}

/// Runs the activation into `secret_out` and returns the length of the secret: a policy
/// session is started, satisfied with PolicySecret(TPM_RH_ENDORSEMENT), spent on
/// ActivateCredential and flushed, on success and on failure alike. `nonce_caller` must be
/// fresh for every activation (a random value, or a digest of the credential).
pub fn activate_credential_into(
    tpm: &mut dyn TpmTransport,
    ek_handle: u32,
    ak_handle: u32,
    id_object: &[u8],
    encrypted_secret: &[u8],
    nonce_caller: &[u8; POLICY_NONCE_LEN],
    secret_out: &mut [u8; MAX_DIGEST],
) -> Result<usize, ActivationError> {
    let mut cmd = [0u8; MAX_COMMAND_SIZE];
    let mut resp = [0u8; 256];
    let command = start_policy_session_command(nonce_caller, &mut cmd)?;
    let session = parse_start_policy_session_response(exchange(tpm, command, &mut resp)?)?;
    let result = activate_in(
        tpm,
        ek_handle,
        ak_handle,
        session,
        id_object,
        encrypted_secret,
        secret_out,
    );
    let mut flush = [0u8; 14];
    let command = flush_context_command(session, &mut flush)?;
    let flushed = exchange(tpm, command, &mut resp).and_then(|r| {
        response_body(r, false)?
            .finish("TPM2_FlushContext response")
            .map_err(TpmCommandError::from)
    });
    let len = result?;
    flushed?;
    Ok(len)
}

fn activate_in(
    tpm: &mut dyn TpmTransport,
    ek_handle: u32,
    ak_handle: u32,
    session: u32,
    id_object: &[u8],
    encrypted_secret: &[u8],
    secret_out: &mut [u8; MAX_DIGEST],
) -> Result<usize, ActivationError> {
    let mut cmd = [0u8; MAX_COMMAND_SIZE];
    let mut resp = [0u8; 512];
    let command = policy_secret_endorsement_command(session, &mut cmd)?;
    parse_policy_secret_response(exchange(tpm, command, &mut resp)?)?;
    let command = activate_credential_command(
        ak_handle,
        ek_handle,
        session,
        id_object,
        encrypted_secret,
        &mut cmd,
    )?;
    let result = exchange(tpm, command, &mut resp)
        .map_err(ActivationError::from)
        .and_then(|r| {
            let secret = parse_activate_credential_response(r)?;
            let out = secret_out
                .get_mut(..secret.len())
                .ok_or(TpmCommandError::TooLarge)?;
            out.copy_from_slice(secret);
            Ok(secret.len())
        });
    // The secret passed through the response buffer: scrub it.
    zeroize::Zeroize::zeroize(&mut resp);
    result
}

/// Activates a credential ([`crate::identity::credential::CredentialBlob`]: `id_object`,
/// `encrypted_secret`) with the EK at `ek_handle` for the AK at `ak_handle`, and returns the
/// secret. nonceCaller is a SHA-256 digest of the credential: it needs to be fresh, not secret,
/// for an unsalted session, and every credential is new.
#[cfg(feature = "alloc")]
pub fn activate_credential(
    tpm: &mut dyn TpmTransport,
    ek_handle: u32,
    ak_handle: u32,
    id_object: &[u8],
    encrypted_secret: &[u8],
) -> Result<zeroize::Zeroizing<alloc::vec::Vec<u8>>, ActivationError> {
    use sha2::Digest;
    let nonce_caller: [u8; POLICY_NONCE_LEN] = sha2::Sha256::new()
        .chain_update(id_object)
        .chain_update(encrypted_secret)
        .finalize()
        .into();
    let mut secret = zeroize::Zeroizing::new([0u8; MAX_DIGEST]);
    let len = activate_credential_into(
        tpm,
        ek_handle,
        ak_handle,
        id_object,
        encrypted_secret,
        &nonce_caller,
        &mut secret,
    )?;
    Ok(zeroize::Zeroizing::new(
        secret.get(..len).unwrap_or(&[]).to_vec(),
    ))
}
