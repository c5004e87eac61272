//! How TPM command bytes reach a TPM (TPM 2.0 Part 1 §18: a command is a header, handles, an
//! optional authorization area and parameters; the response mirrors it). The [`TpmTransport`]
//! trait keeps the command layer sans-IO: a microcontroller supplies SPI/I²C; with `std`,
//! [`TpmDevice`] carries commands over a TPM character device (`/dev/tpmrm0`), and
//! [`TpmStream`] over swtpm's command port ([`SwtpmTcp`], [`SwtpmUnix`]).

/// Why a command could not be exchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The link failed (I/O error, closed connection).
    #[error("TPM link failed")]
    Link,
    /// A character device returned another number of bytes than its response header
    /// declares (or fewer than a header).
    #[error("TPM device returned {read} bytes for a response whose header declares {declared}")]
    SizeMismatch {
        /// Bytes read.
        read: usize,
        /// Size in the response header (0 when no whole header arrived).
        declared: usize,
    },
    /// The response is larger than the buffer or than a TPM response can be.
    #[error("TPM response of {size} bytes does not fit {capacity}")]
    ResponseTooLarge {
        /// Declared size.
        size: usize,
        /// Buffer capacity.
        capacity: usize,
    },
}

crate::error::error_codes!(TransportError {
    TransportError::Link => "link", Unavailable;
    TransportError::SizeMismatch { .. } => "size_mismatch", Unavailable;
    TransportError::ResponseTooLarge { .. } => "response_too_large", Unavailable;
});

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
/// framing beyond the TPM header: swtpm's command port over TCP (`swtpm socket --server
/// type=tcp`) or over a Unix socket (`--server type=unixio`). A response may arrive in pieces;
/// the header's size says when it is complete.
#[cfg(feature = "std")]
#[derive(Debug)]
pub struct TpmStream<S> {
    stream: S,
}

/// swtpm's TCP command port.
#[cfg(feature = "std")]
pub type SwtpmTcp = TpmStream<std::net::TcpStream>;

/// swtpm's command port on a Unix socket.
#[cfg(all(feature = "std", unix))]
pub type SwtpmUnix = TpmStream<std::os::unix::net::UnixStream>;

/// A TPM character device: `/dev/tpmrm0` (the kernel's resource manager), `/dev/tpm0`, or a
/// CUSE/chardev TPM such as `swtpm chardev`. A device takes one whole command per `write` and
/// returns one whole response per `read`, so this transport writes once and reads once into a
/// buffer of [`MAX_RESPONSE_SIZE`] bytes, as tpm2-tss's device TCTI does: Linux before 4.20
/// drops the rest of a response after a short read, so reading the header first (as
/// [`TpmStream`] does) would lose responses there.
#[cfg(feature = "std")]
#[derive(Debug)]
pub struct TpmDevice {
    file: std::fs::File,
}

#[cfg(feature = "std")]
impl TpmDevice {
    /// Opens a TPM character device for reading and writing (`/dev/tpmrm0`: the kernel's
    /// resource manager, which flushes what a client leaves behind, is the one to use).
    pub fn open(path: impl AsRef<std::path::Path>) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)?;
        Ok(TpmDevice { file })
    }

    /// Wraps a file that already speaks the device protocol (an inherited descriptor of a
    /// TPM device, or one end of a socket pair whose other end is `swtpm chardev --fd`).
    pub fn from_file(file: std::fs::File) -> Self {
        TpmDevice { file }
    }
}

#[cfg(feature = "std")]
impl TpmTransport for TpmDevice {
    /// One `write` of the whole command, one `read` of the whole response; the response must be
    /// exactly as long as its header says.
    fn transact<'r>(
        &mut self,
        command: &[u8],
        response: &'r mut [u8],
    ) -> Result<&'r [u8], TransportError> {
        use std::io::{Read, Write};
        let written = self.file.write(command).map_err(|_| TransportError::Link)?;
        if written != command.len() {
            return Err(TransportError::Link);
        }
        let capacity = response.len().min(MAX_RESPONSE_SIZE);
        let buffer = response.get_mut(..capacity).ok_or(TransportError::Link)?;
        let read = self.file.read(buffer).map_err(|_| TransportError::Link)?;
        let out = buffer.get(..read).ok_or(TransportError::Link)?;
        let declared = match out.get(2..6) {
            Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]) as usize,
            _ => {
                return Err(TransportError::SizeMismatch { read, declared: 0 });
            }
        };
        if declared > capacity {
            return Err(TransportError::ResponseTooLarge {
                size: declared,
                capacity,
            });
        }
        if declared != read || read < 10 {
            return Err(TransportError::SizeMismatch { read, declared });
        }
        Ok(out)
    }
}

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
    /// Writes the command, then reads the 10-byte response header and the rest of the
    /// declared size.
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
