//! `iotsec-device attest quote`: a device makes a TPM quote with iotsec-attest's own TPM command
//! marshalling (no tpm2-tss) and writes the files the cloud appraises, in tpm2-tools' formats:
//! `PREFIX.msg` (TPMS_ATTEST), `PREFIX.sig` (TPMT_SIGNATURE), `PREFIX.pcrs` (serialized PCR
//! values) and `PREFIX.ak.pub` (TPM2B_PUBLIC of the AK, from TPM2_ReadPublic).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use iotsec_attest::ErrorCode;
use iotsec_attest::PcrSelectionList;
use iotsec_attest::device::command::{TpmCommandError, quote, read_pcrs, read_public};
use iotsec_attest::tpm::algorithm::HashAlg;
use iotsec_attest::tpm::pcr_file::serialize_pcrs;
use iotsec_attest::tpm::pcr_selection::PcrBankSelection;
use iotsec_cli_contract::{BadInput, Outcome, Report};
use iotsec_device::agent::open_tpm;

/// Attestation subcommands of the device.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Quotes PCRs with a persistent AK and writes the evidence files.
    Quote(QuoteArgs),
}

/// Arguments of `attest quote`.
#[derive(Args, Debug)]
pub struct QuoteArgs {
    /// The TPM: a character device (`/dev/tpmrm0`), `unix:PATH` (swtpm `--server
    /// type=unixio`) or HOST:PORT (swtpm `--server type=tcp`, e.g. 127.0.0.1:2321).
    #[arg(long)]
    tpm: String,
    /// Persistent handle of the AK, e.g. 0x81010002.
    #[arg(long)]
    ak_handle: String,
    /// The verifier's nonce, hex.
    #[arg(long)]
    nonce: String,
    /// PCR selection in tpm2-tools syntax, e.g. `sha256:0,1,7+sha384:0`.
    #[arg(long)]
    pcrs: String,
    /// Output prefix for PREFIX.msg, PREFIX.sig, PREFIX.pcrs, PREFIX.ak.pub.
    #[arg(long)]
    out: PathBuf,
}

/// Runs an `attest` subcommand.
pub fn run(command: Command) -> Result<Report, BadInput> {
    match command {
        Command::Quote(args) => quote_command(args),
    }
}

fn parse_selection(text: &str) -> Result<PcrSelectionList, BadInput> {
    let mut list = PcrSelectionList::default();
    for bank in text.split('+') {
        let (alg, pcrs) = bank
            .split_once(':')
            .ok_or_else(|| BadInput::new(format!("--pcrs: {bank:?} is not BANK:N,N")))?;
        let hash = HashAlg::from_name(alg)
            .ok_or_else(|| BadInput::new(format!("--pcrs: unknown bank {alg:?}")))?;
        let indices: Vec<u8> = pcrs
            .split(',')
            .map(|p| p.trim().parse::<u8>().ok().filter(|i| *i < 24))
            .collect::<Option<_>>()
            .ok_or_else(|| BadInput::new(format!("--pcrs: bad PCR list {pcrs:?}")))?;
        let sel = PcrBankSelection::new(hash, &indices)
            .ok_or_else(|| BadInput::new("--pcrs: PCR out of range"))?;
        list.push(sel).map_err(BadInput::new)?;
    }
    Ok(list)
}

fn decode_hex(text: &str) -> Result<Vec<u8>, BadInput> {
    let t = text.trim().trim_start_matches("0x");
    if !t.len().is_multiple_of(2) || t.len() > 128 {
        return Err(BadInput::new(
            "--nonce must be an even number of hex digits, at most 64 bytes",
        ));
    }
    (0..t.len())
        .step_by(2)
        .map(|i| {
            t.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
                .ok_or_else(|| BadInput::new("--nonce is not hex"))
        })
        .collect()
}

fn quote_command(args: QuoteArgs) -> Result<Report, BadInput> {
    let nonce = decode_hex(&args.nonce)?;
    let selection = parse_selection(&args.pcrs)?;
    let handle = u32::from_str_radix(args.ak_handle.trim_start_matches("0x"), 16)
        .map_err(|_| BadInput::new("--ak-handle must be a hex handle such as 0x81010002"))?;
    let mut tpm = open_tpm(&args.tpm)
        .map_err(|e| BadInput::new(format!("cannot reach the TPM at {}: {e}", args.tpm)))?;
    // Nothing the TPM answers here is judged on the device: every error, a refusal included,
    // means no evidence was produced (exit 2), named by its stable code.
    let tpm_error =
        |e: TpmCommandError| BadInput::new(format!("TPM at {} ({}): {e}", args.tpm, e.code()));

    let mut buf = vec![0u8; 4096];
    let ak_public = read_public(tpm.as_mut(), handle, &mut buf)
        .map_err(tpm_error)?
        .tpm2b_public
        .to_vec();
    let mut buf = vec![0u8; 4096];
    let q = quote(tpm.as_mut(), handle, &nonce, &selection, &mut buf).map_err(tpm_error)?;
    let (msg, sig) = (q.attest.to_vec(), q.signature.to_vec());

    // A TPM returns at most 8 digests per TPM2_PCR_Read: read bank by bank, 8 PCRs at a time.
    let mut values: Vec<Vec<u8>> = Vec::new();
    for bank in selection.banks() {
        let pcrs: Vec<u8> = bank.pcrs().collect();
        for chunk in pcrs.chunks(8) {
            let mut part = PcrSelectionList::default();
            part.push(
                PcrBankSelection::new(bank.hash, chunk)
                    .ok_or_else(|| BadInput::new("PCR out of range"))?,
            )
            .map_err(BadInput::new)?;
            let mut buf = vec![0u8; 4096];
            let read = read_pcrs(tpm.as_mut(), &part, &mut buf).map_err(tpm_error)?;
            if read.selection.total_selected() != chunk.len() {
                return Err(BadInput::new(format!(
                    "TPM did not return all PCRs of bank {}",
                    bank.hash.name()
                )));
            }
            values.extend(read.digests().map(<[u8]>::to_vec));
        }
    }
    let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
    let pcr_file = serialize_pcrs(&selection, &refs);

    let prefix = args.out.display().to_string();
    for (suffix, data) in [
        ("msg", &msg),
        ("sig", &sig),
        ("pcrs", &pcr_file),
        ("ak.pub", &ak_public),
    ] {
        let path = format!("{prefix}.{suffix}");
        std::fs::write(&path, data)
            .map_err(|e| BadInput::new(format!("cannot write {path}: {e}")))?;
    }
    Ok(Report {
        outcome: Outcome::Accepted,
        json: serde_json::json!({
            "message": format!("{prefix}.msg"),
            "signature": format!("{prefix}.sig"),
            "pcrs": format!("{prefix}.pcrs"),
            "ak": format!("{prefix}.ak.pub"),
            "pcr_count": values.len(),
        }),
        text: format!(
            "quote written to {prefix}.msg/.sig/.pcrs/.ak.pub ({} PCRs)",
            values.len()
        ),
    })
}
