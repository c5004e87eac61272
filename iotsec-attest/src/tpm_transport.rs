//! How TPM command bytes reach a TPM (TPM 2.0 Part 1 §18: a command is a header, handles, an
//! optional authorization area and parameters; the response mirrors it). The [`TpmTransport`]
//! trait keeps the command layer sans-IO: a device supplies SPI/I²C or `/dev/tpmrm0`, tests and
//! the cloud use [`SwtpmTcp`] (the raw command port of `swtpm socket --server type=tcp`).

/// Why a command could not be exchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The link failed (I/O error, closed connection).
    #[error("TPM link failed")]
    Link,
    /// The response is larger than the buffer or than a TPM response can be.
    #[error("TPM response of {size} bytes does not fit {capacity}")]
    ResponseTooLarge {
        /// Declared size.
        size: usize,
        /// Buffer capacity.
        capacity: usize,
    },
}

/// Sends one command and receives its response.
pub trait TpmTransport {
    /// Sends `command`, writes the response into `response` and returns the filled part.
    fn transact<'r>(
        &mut self,
        command: &[u8],
        response: &'r mut [u8],
    ) -> Result<&'r [u8], TransportError>;
}

/// Largest response accepted (TPM2 MAX_RESPONSE_SIZE on common TPMs).
pub const MAX_RESPONSE_SIZE: usize = 4096;

/// The swtpm TCP command port (`swtpm socket --server type=tcp,port=P`): raw TPM commands, no
/// framing beyond the TPM header.
#[cfg(feature = "std")]
#[derive(Debug)]
pub struct SwtpmTcp {
    stream: std::net::TcpStream,
}

#[cfg(feature = "std")]
impl SwtpmTcp {
    /// Connects to `addr` (e.g. `127.0.0.1:2321`).
    pub fn connect(addr: impl std::net::ToSocketAddrs) -> std::io::Result<Self> {
        let stream = std::net::TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
        Ok(SwtpmTcp { stream })
    }
}

#[cfg(feature = "std")]
impl TpmTransport for SwtpmTcp {
    fn transact<'r>(
        &mut self,
        command: &[u8],
        response: &'r mut [u8],
    ) -> Result<&'r [u8], TransportError> {
        use std::io::{Read, Write};
        self.stream
            .write_all(command)
            .map_err(|_| TransportError::Link)?;
        let mut header = [0u8; 10];
        self.stream
            .read_exact(&mut header)
            .map_err(|_| TransportError::Link)?;
        let size = u32::from_be_bytes([header[2], header[3], header[4], header[5]]) as usize;
        let capacity = response.len().min(MAX_RESPONSE_SIZE);
        if size < 10 || size > capacity {
            return Err(TransportError::ResponseTooLarge { size, capacity });
        }
        let out = response
            .get_mut(..size)
            .ok_or(TransportError::ResponseTooLarge { size, capacity })?;
        let (head, body) = out.split_at_mut(10);
        head.copy_from_slice(&header);
        self.stream
            .read_exact(body)
            .map_err(|_| TransportError::Link)?;
        Ok(out)
    }
}
