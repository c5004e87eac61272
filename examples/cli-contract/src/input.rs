//! Reading the files named on the command line (README.md, "Command-line contract", "Input
//! size caps"): each kind of input has a size cap that is checked before anything is read (the
//! file's length, when it has one) and while reading (never more than the cap plus one byte
//! is read, so a device such as `/dev/zero` or a pipe cannot grow the process), and every I/O
//! error names the file and what the tool was doing with it.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::BadInput;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// What a file given on the command line holds; each kind has its own size cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputKind {
    /// A gate or ACL policy (TOML or JSON): 1 MiB.
    Policy,
    /// An SBOM (CycloneDX or SPDX): 64 MiB (the SBOM parser's own cap).
    Sbom,
    /// A VEX document (OpenVEX or CycloneDX VEX): 64 MiB (the VEX parser's own cap).
    Vex,
    /// A mosquitto ACL file: 16 MiB.
    AclFile,
    /// A key file (JSON or PEM): 64 KiB.
    Key,
    /// A signed trust root or manifest (`COSE_Sign`): 64 KiB (above iotsec-ota's document cap,
    /// which then refuses with its own error).
    SignedDocument,
    /// A device state file (JSON): 64 KiB.
    DeviceState,
    /// A certificate signing request (PKCS#10, DER or PEM): 64 KiB.
    CertificateRequest,
    /// A firmware image (streamed, or hashed): 256 MiB.
    Image,
    /// A certificate, a chain or a bundle of trust anchors (DER or PEM): 1 MiB.
    Certificate,
    /// TPM attestation evidence (a quote, its signature, a public area, PCR values, a clock, a
    /// credential's secret): 64 KiB.
    Attestation,
    /// A TCG event log (binary, crypto-agile): 16 MiB.
    EventLog,
}

impl InputKind {
    /// The largest file of this kind a command reads, in bytes.
    pub fn cap(self) -> u64 {
        match self {
            InputKind::Policy | InputKind::Certificate => MIB,
            InputKind::Sbom | InputKind::Vex => 64 * MIB,
            InputKind::AclFile | InputKind::EventLog => 16 * MIB,
            InputKind::Key
            | InputKind::SignedDocument
            | InputKind::DeviceState
            | InputKind::CertificateRequest
            | InputKind::Attestation => 64 * KIB,
            InputKind::Image => 256 * MIB,
        }
    }

    /// What the file is, in messages ("reading policy file x.toml: ...").
    pub fn what(self) -> &'static str {
        match self {
            InputKind::Policy => "policy file",
            InputKind::Sbom => "SBOM file",
            InputKind::Vex => "VEX file",
            InputKind::AclFile => "ACL file",
            InputKind::Key => "key file",
            InputKind::SignedDocument => "signed document",
            InputKind::DeviceState => "state file",
            InputKind::CertificateRequest => "certificate request",
            InputKind::Image => "image file",
            InputKind::Certificate => "certificate file",
            InputKind::Attestation => "attestation file",
            InputKind::EventLog => "event log",
        }
    }
}

/// A human size ("64 KiB", "1 MiB").
fn human(bytes: u64) -> String {
    if bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{} KiB", bytes / KIB)
    }
}

/// `doing kind path: reason`, the one shape of every I/O error.
pub fn io_error(
    doing: &str,
    kind: InputKind,
    path: &Path,
    reason: impl std::fmt::Display,
) -> BadInput {
    BadInput::new(format!(
        "{doing} {} {}: {reason}",
        kind.what(),
        path.display()
    ))
}

/// An I/O error in words, without the `(os error N)` suffix of its `Display`.
fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.split_once(" (os error ") {
        Some((words, _)) => words.to_owned(),
        None => text,
    }
}

fn too_large(kind: InputKind, path: &Path) -> BadInput {
    io_error(
        "reading",
        kind,
        path,
        format!(
            "larger than the {} cap on {}s",
            human(kind.cap()),
            kind.what()
        ),
    )
}

/// An open input whose reads stop at the kind's cap; reading past it is an error.
pub struct CappedInput {
    reader: std::io::Take<File>,
    kind: InputKind,
    path: PathBuf,
    /// The file's length when it is a regular file (before reading).
    pub len: Option<u64>,
}

/// Opens `path` as a `kind` input: refused when its length is known and above the cap.
pub fn open_input(path: &Path, kind: InputKind) -> Result<CappedInput, BadInput> {
    let failed = |e: std::io::Error| io_error("reading", kind, path, io_reason(&e));
    let file = File::open(path).map_err(failed)?;
    let meta = file.metadata().map_err(failed)?;
    let len = meta.is_file().then_some(meta.len());
    if len.is_some_and(|l| l > kind.cap()) {
        return Err(too_large(kind, path));
    }
    Ok(CappedInput {
        reader: file.take(kind.cap().saturating_add(1)),
        kind,
        path: path.to_path_buf(),
        len,
    })
}

impl CappedInput {
    /// Reads the next chunk into `buffer` (0 at the end), or fails once the input passes its cap.
    pub fn read_chunk(&mut self, buffer: &mut [u8]) -> Result<usize, BadInput> {
        let n = self
            .reader
            .read(buffer)
            .map_err(|e| io_error("reading", self.kind, &self.path, io_reason(&e)))?;
        if n > 0 && self.reader.limit() == 0 {
            return Err(too_large(self.kind, &self.path));
        }
        Ok(n)
    }

    /// Reads the rest of the input.
    pub fn read_all(mut self) -> Result<Vec<u8>, BadInput> {
        let mut bytes = Vec::new();
        self.reader
            .read_to_end(&mut bytes)
            .map_err(|e| io_error("reading", self.kind, &self.path, io_reason(&e)))?;
        if bytes.len() as u64 > self.kind.cap() {
            return Err(too_large(self.kind, &self.path));
        }
        Ok(bytes)
    }
}

/// Reads a whole `kind` input (at most its cap).
pub fn read_input(path: &Path, kind: InputKind) -> Result<Vec<u8>, BadInput> {
    open_input(path, kind)?.read_all()
}

/// Reads a whole `kind` input as UTF-8 text.
pub fn read_input_text(path: &Path, kind: InputKind) -> Result<String, BadInput> {
    String::from_utf8(read_input(path, kind)?)
        .map_err(|e| io_error("reading", kind, path, format!("not UTF-8 text ({e})")))
}

/// Parses a `kind` input that holds one JSON document.
pub fn read_json(path: &Path, kind: InputKind) -> Result<serde_json::Value, BadInput> {
    serde_json::from_slice(&read_input(path, kind)?).map_err(|e| io_error("parsing", kind, path, e))
}

/// Writes `bytes` to `path`, naming the file and what it holds on failure.
pub fn write_output(path: &Path, what: &str, bytes: &[u8]) -> Result<(), BadInput> {
    std::fs::write(path, bytes).map_err(|e| {
        BadInput::new(format!(
            "writing {what} {}: {}",
            path.display(),
            io_reason(&e)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_are_checked_before_and_while_reading() {
        let dir = std::env::temp_dir().join(format!("iotsec-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let big = dir.join("big.toml");
        std::fs::write(&big, vec![b'#'; (MIB + 1) as usize]).unwrap_or_default();
        let err = read_input(&big, InputKind::Policy)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err,
            Some(format!(
                "reading policy file {}: larger than the 1 MiB cap on policy files",
                big.display()
            ))
        );
        let missing = dir.join("missing.toml");
        let err = read_input(&missing, InputKind::Policy)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err,
            Some(format!(
                "reading policy file {}: No such file or directory",
                missing.display()
            ))
        );
        // A character device has no length: the cap stops the read.
        let err = read_input(Path::new("/dev/zero"), InputKind::Key)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err,
            Some("reading key file /dev/zero: larger than the 64 KiB cap on key files".into())
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
