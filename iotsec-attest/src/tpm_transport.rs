//! How TPM command bytes reach a TPM (TPM 2.0 Part 1 §18: a command is a header, handles, an
//! optional authorization area and parameters; the response mirrors it). The [`TpmTransport`]
//! trait keeps the command layer sans-IO: a microcontroller supplies SPI/I²C; with `std`,
//! [`TpmStream`] carries commands over `/dev/tpmrm0` ([`TpmDevice`]) or swtpm's command port
//! ([`SwtpmTcp`], [`SwtpmUnix`]).

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

/// A TPM reached through a byte stream that carries raw TPM commands and responses with no
/// framing beyond the TPM header: the Linux kernel's resource manager `/dev/tpmrm0` (or
/// `/dev/tpm0`), swtpm's command port over TCP (`swtpm socket --server type=tcp`) or over a
/// Unix socket (`--server type=unixio`).
#[cfg(feature = "std")]
#[derive(Debug)]
pub struct TpmStream<S> {
    stream: S,
}

/// swtpm's TCP command port.
#[cfg(feature = "std")]
pub type SwtpmTcp = TpmStream<std::net::TcpStream>;

/// A TPM character device such as `/dev/tpmrm0`.
#[cfg(feature = "std")]
pub type TpmDevice = TpmStream<std::fs::File>;

/// swtpm's command port on a Unix socket.
#[cfg(all(feature = "std", unix))]
pub type SwtpmUnix = TpmStream<std::os::unix::net::UnixStream>;

#[cfg(feature = "std")]
impl<S> TpmStream<S> {
    /// Wraps a stream that is already connected to a TPM command port.
    pub fn new(stream: S) -> Self {
        TpmStream { stream }
    }
}

#[cfg(feature = "std")]
impl TpmStream<std::net::TcpStream> {
    /// Connects to `addr` (e.g. `127.0.0.1:2321`).
    pub fn connect(addr: impl std::net::ToSocketAddrs) -> std::io::Result<Self> {
        let stream = std::net::TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
        Ok(TpmStream { stream })
    }
}

#[cfg(feature = "std")]
impl TpmStream<std::fs::File> {
    /// Opens a TPM character device for reading and writing (`/dev/tpmrm0`: the kernel's
    /// resource manager, which flushes what a client leaves behind, is the one to use).
    pub fn open(path: impl AsRef<std::path::Path>) -> std::io::Result<Self> {
        let stream = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)?;
        Ok(TpmStream { stream })
    }
}

#[cfg(all(feature = "std", unix))]
impl TpmStream<std::os::unix::net::UnixStream> {
    /// Connects to a Unix socket (e.g. swtpm's `--server type=unixio,path=P`).
    pub fn connect_unix(path: impl AsRef<std::path::Path>) -> std::io::Result<Self> {
        let stream = std::os::unix::net::UnixStream::connect(path)?;
        stream.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
        Ok(TpmStream { stream })
    }
}

#[cfg(feature = "std")]
impl<S: std::io::Read + std::io::Write> TpmTransport for TpmStream<S> {
    /// Writes the command in one call (a TPM device file takes a whole command per write),
    /// then reads the 10-byte response header and the rest of the declared size.
    fn transact<'r>(
        &mut self,
        command: &[u8],
        response: &'r mut [u8],
    ) -> Result<&'r [u8], TransportError> {
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
