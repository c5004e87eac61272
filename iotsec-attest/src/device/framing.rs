//! Command and response framing (TPM 2.0 Part 1 §18: tag, size, code, then handles, an
//! optional authorization area and parameters; Part 2 §6.6.3 for the warnings that ask for a
//! command to be sent again). A leaf under the commands and the sessions: both build their
//! bytes with [`Writer`] and check responses with [`response_header`], neither imports the
//! other's.

use crate::device::error::TpmCommandError;
use crate::device::transport::TpmTransport;
use crate::error::ParseError;
use crate::tpm::pcr_selection::PcrSelectionList;
use crate::wire::Reader;

pub(crate) const ST_NO_SESSIONS: u16 = 0x8001;
pub(crate) const ST_SESSIONS: u16 = 0x8002;
const RS_PW: u32 = 0x4000_0009;
/// Largest command built here.
pub const MAX_COMMAND_SIZE: usize = 1024;

/// Writes a command into a caller's buffer, refusing to write past its end.
pub(crate) struct Writer<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> Writer<'b> {
    /// A writer at the start of `buf` (for a parameter area built apart from its header).
    pub(crate) fn new(buf: &'b mut [u8]) -> Self {
        Writer { buf, len: 0 }
    }
    /// The bytes written so far, still mutable (to encrypt a parameter in place).
    #[cfg(feature = "alloc")]
    pub(crate) fn into_written(self) -> Result<&'b mut [u8], TpmCommandError> {
        self.buf
            .get_mut(..self.len)
            .ok_or(TpmCommandError::TooLarge)
    }
    pub(crate) fn put(&mut self, data: &[u8]) -> Result<(), TpmCommandError> {
        let dst = self
            .buf
            .get_mut(self.len..self.len + data.len())
            .ok_or(TpmCommandError::TooLarge)?;
        dst.copy_from_slice(data);
        self.len += data.len();
        Ok(())
    }
    pub(crate) fn sized(&mut self, data: &[u8]) -> Result<(), TpmCommandError> {
        let n = u16::try_from(data.len()).map_err(|_| TpmCommandError::TooLarge)?;
        self.put(&n.to_be_bytes())?;
        self.put(data)
    }
    pub(crate) fn selection(&mut self, sel: &PcrSelectionList) -> Result<(), TpmCommandError> {
        self.put(&(sel.len() as u32).to_be_bytes())?;
        for b in sel.banks() {
            self.put(&b.hash.id().to_be_bytes())?;
            self.put(&[b.size_of_select])?;
            self.put(b.bitmap.get(..usize::from(b.size_of_select)).unwrap_or(&[]))?;
        }
        Ok(())
    }
    /// Password sessions with empty auth, one per authorized handle.
    pub(crate) fn password_sessions(&mut self, count: usize) -> Result<(), TpmCommandError> {
        let one = 4 + 2 + 1 + 2;
        self.put(&((one * count) as u32).to_be_bytes())?;
        for _ in 0..count {
            self.put(&RS_PW.to_be_bytes())?;
            self.put(&[0, 0, 0, 0, 0])?; // empty nonce, attributes 0, empty hmac (password)
        }
        Ok(())
    }
    pub(crate) fn finish(self) -> Result<&'b [u8], TpmCommandError> {
        let size = (self.len as u32).to_be_bytes();
        self.buf
            .get_mut(2..6)
            .ok_or(TpmCommandError::TooLarge)?
            .copy_from_slice(&size);
        self.buf.get(..self.len).ok_or(TpmCommandError::TooLarge)
    }
}

pub(crate) fn start<'b>(
    buf: &'b mut [u8],
    tag: u16,
    cc: u32,
) -> Result<Writer<'b>, TpmCommandError> {
    let mut w = Writer::new(buf);
    w.put(&tag.to_be_bytes())?;
    w.put(&[0; 4])?;
    w.put(&cc.to_be_bytes())?;
    Ok(w)
}

/// TPM_RC_RETRY, TPM_RC_YIELDED, TPM_RC_TESTING: warnings that ask the caller to send the same
/// command again (Part 2 §6.6.3); tpm2-tss retries them too.
const RETRYABLE: [u32; 3] = [0x922, 0x908, 0x90A];
/// How many times a command is re-sent on a retryable warning.
pub const MAX_RETRIES: usize = 8;

/// Sends `command`, re-sending it while the TPM answers with a retryable warning.
pub(crate) fn exchange<'r>(
    tpm: &mut dyn TpmTransport,
    command: &[u8],
    response: &'r mut [u8],
) -> Result<&'r [u8], TpmCommandError> {
    let mut len = 0;
    for _ in 0..=MAX_RETRIES {
        let r = tpm.transact(command, response)?;
        len = r.len();
        let rc = r
            .get(6..10)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map_or(0, u32::from_be_bytes);
        if !RETRYABLE.contains(&rc) {
            break;
        }
    }
    response.get(..len).ok_or(TpmCommandError::TooLarge)
}

/// Checks the response header and returns the reader after it (and after parameterSize for
/// session responses).
pub(crate) fn response_body(
    response: &[u8],
    sessions: bool,
) -> Result<Reader<'_>, TpmCommandError> {
    let (_tag, mut r) = response_header(response)?;
    if sessions {
        let params = r.u32("parameterSize")? as usize;
        let body = r.bytes(params, "response parameters")?;
        return Ok(Reader::new(body));
    }
    Ok(r)
}

/// Checks the response size and code; returns the tag and the reader after the header.
pub(crate) fn response_header(response: &[u8]) -> Result<(u16, Reader<'_>), TpmCommandError> {
    let mut r = Reader::new(response);
    let tag = r.u16("TPM response tag")?;
    let size = r.u32("TPM response size")? as usize;
    if size != response.len() {
        return Err(ParseError::SizeExceeded {
            field: "TPM response size",
            size,
            cap: response.len(),
        }
        .into());
    }
    let rc = r.u32("TPM response code")?;
    if rc != 0 {
        return Err(TpmCommandError::ResponseCode(rc));
    }
    Ok((tag, r))
}
