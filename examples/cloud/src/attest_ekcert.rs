//! `iotsec-cloud attest ekcert`: is this EK certificate (as read from the TPM's NV index) a
//! TCG EK certificate for this EK, issued through a chain to a trusted manufacturer root?
//!
//! Exit 0 when it is, 1 when the certificate is refused (the reason is in the output: the
//! certificate is evidence from the device), 2 when a file cannot be read or a root or
//! intermediate the operator gave is not a certificate.

use std::path::PathBuf;

use clap::Args;
use iotsec_attest::identity::ek_certificate::{
    EkQuirks, certificate_der, validate_ek_certificate_at,
};
use iotsec_attest::{ErrorCode, PublicArea};
use iotsec_cli_contract::input::{InputKind, read_input};
use iotsec_cli_contract::{BadInput, Outcome, Report};

/// Arguments of `attest ekcert`.
#[derive(Args, Debug)]
pub struct EkCertArgs {
    /// The EK certificate: DER as `tpm2_nvread 0x1c00002` (RSA) or `0x1c0000a`/`0x1c00016`
    /// (ECC) writes it, or PEM.
    #[arg(long)]
    cert: PathBuf,
    /// The EK public area the TPM presents (TPM2B_PUBLIC from `tpm2_createek -u`).
    #[arg(long)]
    ek: PathBuf,
    /// A trusted root certificate (PEM or DER); repeat for several manufacturers.
    #[arg(long = "root", required = true)]
    roots: Vec<PathBuf>,
    /// An intermediate certificate (PEM or DER); repeat as needed, in any order.
    #[arg(long = "intermediate")]
    intermediates: Vec<PathBuf>,
    /// Tolerate 0xFF filler after the certificate (fixed-size NV indexes).
    #[arg(long)]
    allow_ff_padding: bool,
    /// Tolerate a serial number with redundant leading zero bytes.
    #[arg(long)]
    allow_non_minimal_serial: bool,
    /// Tolerate a certificate without the EK extended key usage (older TPMs).
    #[arg(long)]
    allow_missing_eku: bool,
    /// Tolerate certificates outside their validity period.
    #[arg(long)]
    allow_outside_validity: bool,
    /// Validate at this time (unix seconds) instead of now.
    #[arg(long)]
    at: Option<u64>,
}

fn anchors(paths: &[PathBuf]) -> Result<Vec<Vec<u8>>, BadInput> {
    paths
        .iter()
        .map(|p| {
            certificate_der(&read_input(p, InputKind::Certificate)?)
                .map_err(|e| BadInput::new(format!("{}: {e}", p.display())))
        })
        .collect()
}

/// Runs `attest ekcert`.
pub fn run(args: EkCertArgs) -> Result<Report, BadInput> {
    let ek_bytes = read_input(&args.ek, InputKind::Attestation)?;
    let ek = PublicArea::parse_tpm2b(&ek_bytes)
        .map_err(|e| BadInput::new(format!("{}: not a TPM2B_PUBLIC: {e}", args.ek.display())))?;
    let mut cert = read_input(&args.cert, InputKind::Certificate)?;
    if cert.starts_with(b"-----BEGIN") {
        cert = certificate_der(&cert)
            .map_err(|e| BadInput::new(format!("{}: {e}", args.cert.display())))?;
    }
    let roots = anchors(&args.roots)?;
    let intermediates = anchors(&args.intermediates)?;
    let quirks = EkQuirks {
        allow_ff_padding: args.allow_ff_padding,
        allow_non_minimal_serial: args.allow_non_minimal_serial,
        allow_missing_eku: args.allow_missing_eku,
        allow_outside_validity: args.allow_outside_validity,
    };
    let at = match args.at {
        Some(t) => t,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|_| BadInput::new("the system clock is before 1970"))?
            .as_secs(),
    };
    let ek_name: String = ek
        .name()
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let roots: Vec<&[u8]> = roots.iter().map(Vec::as_slice).collect();
    let intermediates: Vec<&[u8]> = intermediates.iter().map(Vec::as_slice).collect();
    Ok(
        match validate_ek_certificate_at(&cert, &ek, &intermediates, &roots, &quirks, at) {
            Ok(id) => Report {
                outcome: Outcome::Accepted,
                text: format!(
                    "EK certificate valid: manufacturer {} model {} version {} serial {}{}",
                    id.manufacturer,
                    id.model,
                    id.version,
                    id.serial,
                    if id.quirks_used.is_empty() {
                        String::new()
                    } else {
                        format!(" (tolerated: {})", id.quirks_used.join(", "))
                    }
                ),
                json: serde_json::json!({
                    "valid": true,
                    "ek_name": ek_name,
                    "identity": id,
                }),
            },
            // The certificate is the device's evidence: whatever is wrong with it, even
            // bytes that are no certificate at all, is a refusal of the device.
            Err(e) => Report {
                outcome: Outcome::Rejected,
                text: format!("EK certificate REJECTED: {e}"),
                json: serde_json::json!({
                    "valid": false,
                    "ek_name": ek_name,
                    "code": e.code(),
                    "reason": e.to_string(),
                }),
            },
        },
    )
}
