//! The EK certificate a manufacturer stores in the TPM's NV memory (TCG EK Credential Profile
//! 2.5 §2.2.1.4 "Low Range": RSA 2048 at [`RSA_EK_CERTIFICATE_INDEX`], ECC NIST P-256 at
//! [`ECC_EK_CERTIFICATE_INDEX`]), read with TPM2_NV_ReadPublic (TPM 2.0 Part 3 §31.6) for its
//! size and TPM2_NV_Read (§31.13) in chunks, authorized by the index itself with the empty
//! password (EK certificate indices carry TPMA_NV_AUTHREAD and no authValue).

use crate::device::command::TpmCommandError;
use crate::device::framing::{ST_NO_SESSIONS, ST_SESSIONS, exchange, response_body, start};
use crate::device::transport::TpmTransport;

/// NV index of the RSA 2048 EK certificate.
pub const RSA_EK_CERTIFICATE_INDEX: u32 = 0x01C0_0002;
/// NV index of the ECC NIST P-256 EK certificate.
pub const ECC_EK_CERTIFICATE_INDEX: u32 = 0x01C0_000A;
/// Largest certificate read (the cloud's cap on an EK certificate).
pub const MAX_EK_CERTIFICATE: usize = 4096;
/// Bytes asked for per TPM2_NV_Read (below every TPM's MAX_NV_BUFFER_SIZE, 1024 on most).
pub const NV_CHUNK: u16 = 512;

const CC_NV_READ_PUBLIC: u32 = 0x0000_0169;
const CC_NV_READ: u32 = 0x0000_014E;
/// TPM_RC_HANDLE (format 1, Part 2 §6.6.3): the low 6 bits of a handle error.
const RC_HANDLE: u32 = 0x0B;
/// Format-1 response codes have bit 7 set (Part 2 §6.6.2).
const RC_FMT1: u32 = 0x80;

/// Builds TPM2_NV_ReadPublic of `index`.
pub fn nv_read_public_command(index: u32, buf: &mut [u8]) -> Result<&[u8], TpmCommandError> {
    let mut w = start(buf, ST_NO_SESSIONS, CC_NV_READ_PUBLIC)?;
    w.put(&index.to_be_bytes())?;
    w.finish()
}

/// The dataSize of a TPM2_NV_ReadPublic response (TPM2B_NV_PUBLIC, then TPM2B_NAME).
pub fn parse_nv_read_public_response(response: &[u8]) -> Result<u16, TpmCommandError> {
    let mut r = response_body(response, false)?;
    let public = r.sized("TPM2B_NV_PUBLIC", 2 + 4 + 2 + 4 + 2 + 64 + 2)?;
    let _name = r.sized("TPM2B_NAME", 66)?;
    r.finish("TPM2_NV_ReadPublic response")?;
    let mut p = crate::wire::Reader::new(public);
    let _index = p.u32("TPMS_NV_PUBLIC.nvIndex")?;
    let _name_alg = p.u16("TPMS_NV_PUBLIC.nameAlg")?;
    let _attributes = p.u32("TPMS_NV_PUBLIC.attributes")?;
    let _policy = p.sized("TPMS_NV_PUBLIC.authPolicy", 64)?;
    let size = p.u16("TPMS_NV_PUBLIC.dataSize")?;
    p.finish("TPMS_NV_PUBLIC")?;
    Ok(size)
}

/// Builds TPM2_NV_Read of `size` bytes at `offset` of `index`, authorized by the index with
/// the empty password.
pub fn nv_read_command(
    index: u32,
    offset: u16,
    size: u16,
    buf: &mut [u8],
) -> Result<&[u8], TpmCommandError> {
    let mut w = start(buf, ST_SESSIONS, CC_NV_READ)?;
    w.put(&index.to_be_bytes())?; // authHandle
    w.put(&index.to_be_bytes())?; // nvIndex
    w.password_sessions(1)?;
    w.put(&size.to_be_bytes())?;
    w.put(&offset.to_be_bytes())?;
    w.finish()
}

/// The data of a TPM2_NV_Read response (TPM2B_MAX_NV_BUFFER).
pub fn parse_nv_read_response(response: &[u8]) -> Result<&[u8], TpmCommandError> {
    let mut r = response_body(response, true)?;
    let data = r.sized("TPM2B_MAX_NV_BUFFER", usize::from(NV_CHUNK))?;
    r.finish("TPM2_NV_Read response")?;
    Ok(data)
}

/// Whether `rc` is TPM_RC_HANDLE on a handle: the index is not defined.
fn no_such_index(rc: u32) -> bool {
    rc & RC_FMT1 != 0 && rc & 0x3F == RC_HANDLE
}

/// Reads the certificate at `index` into `out`: its length, or `None` when the TPM has no such
/// index. A certificate larger than `out` (or [`MAX_EK_CERTIFICATE`]) is refused, not cut.
pub fn read_ek_certificate_into(
    tpm: &mut dyn TpmTransport,
    index: u32,
    out: &mut [u8],
) -> Result<Option<usize>, TpmCommandError> {
    let mut cmd = [0u8; 64];
    let mut resp = [0u8; 128 + NV_CHUNK as usize];
    let command = nv_read_public_command(index, &mut cmd)?;
    let size = match exchange(tpm, command, &mut resp).and_then(parse_nv_read_public_response) {
        Ok(size) => usize::from(size),
        Err(TpmCommandError::ResponseCode(rc)) if no_such_index(rc) => return Ok(None),
        Err(e) => return Err(e),
    };
    if size > out.len().min(MAX_EK_CERTIFICATE) {
        return Err(TpmCommandError::TooLarge);
    }
    let mut at = 0usize;
    while at < size {
        let want = (size - at).min(usize::from(NV_CHUNK));
        let offset = u16::try_from(at).map_err(|_| TpmCommandError::TooLarge)?;
        let want16 = u16::try_from(want).map_err(|_| TpmCommandError::TooLarge)?;
        let command = nv_read_command(index, offset, want16, &mut cmd)?;
        let data = parse_nv_read_response(exchange(tpm, command, &mut resp)?)?;
        // A TPM answering with more or fewer bytes than asked is not read on.
        if data.len() != want {
            return Err(crate::error::ParseError::Truncated {
                field: "TPM2B_MAX_NV_BUFFER",
                needed: want,
                remaining: data.len(),
            }
            .into());
        }
        out.get_mut(at..at + want)
            .ok_or(TpmCommandError::TooLarge)?
            .copy_from_slice(data);
        at += want;
    }
    Ok(Some(size))
}

/// [`read_ek_certificate_into`] into a new buffer.
#[cfg(feature = "alloc")]
pub fn read_ek_certificate(
    tpm: &mut dyn TpmTransport,
    index: u32,
) -> Result<Option<alloc::vec::Vec<u8>>, TpmCommandError> {
    let mut out = alloc::vec![0u8; MAX_EK_CERTIFICATE];
    Ok(read_ek_certificate_into(tpm, index, &mut out)?.map(|n| {
        out.truncate(n);
        out
    }))
}
