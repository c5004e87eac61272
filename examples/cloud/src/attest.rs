//! `iotsec-cloud attest`: appraisal of TPM 2.0 evidence as tpm2-tools writes it.
//!
//! `attest quote --ak FILE --message Q.msg --signature Q.sig --pcrs Q.pcrs --nonce HEX
//! [--reference FILE] [--previous-clock FILE]`: exit 0 when the quote is trustworthy, 1 when it
//! is rejected (the reasons are in the output), 2 when a file or argument cannot be read. The
//! AK is a TPM2B_PUBLIC (`tpm2_createak -u`, `tpm2_readpublic -o`) or a PEM key
//! (`tpm2_readpublic -f pem`); a PEM key carries no TPM attributes, so it is refused unless the
//! reference file sets `accept_bare_ak`. The signed message and signature are evidence: if they
//! are malformed the quote is rejected (exit 1), not reported as bad input.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use iotsec_attest::appraise::policy::AppraisalPolicy;
use iotsec_attest::appraise::{QuoteAppraisal, QuoteEvidence, Tier, appraise_quote};
use iotsec_attest::identity::bare_key::BareKey;
use iotsec_attest::tpm::pcr_file::SerializedPcrs;
use iotsec_attest::verify::ring::RingVerifier;
use iotsec_attest::{ClockInfo, ErrorCode, PublicArea};
use iotsec_cli_contract::input::{InputKind, read_input, read_input_text};
use iotsec_cli_contract::{BadInput, Outcome, Report};

/// Attestation subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Appraises a TPM2_Quote made by `tpm2_quote -m -s -o` against a nonce and reference values.
    Quote(QuoteArgs),
    /// Checks a TCG crypto-agile event log (event data against digests) and replays it to PCR
    /// values. Appraise it against a quote with `attest quote --event-log`: only a quote
    /// authenticates PCR values.
    Eventlog(EventLogArgs),
    /// Encrypts a secret to an EK for an AK (TPM2_MakeCredential in software), writing the
    /// credential blob `tpm2_activatecredential -i` reads.
    Makecredential(MakeCredentialArgs),
    /// Validates an EK certificate: TCG EK profile, the EK it certifies, the chain to a
    /// trusted root, validity periods.
    Ekcert(crate::attest_ekcert::EkCertArgs),
}

/// Arguments of `attest makecredential`.
#[derive(Args, Debug)]
pub struct MakeCredentialArgs {
    /// The EK public area (TPM2B_PUBLIC from `tpm2_createek -u` or `tpm2_readpublic -o`).
    #[arg(long)]
    ek: PathBuf,
    /// The AK public area (TPM2B_PUBLIC); its Name is computed.
    #[arg(long, conflicts_with = "ak_name", required_unless_present = "ak_name")]
    ak: Option<PathBuf>,
    /// The AK Name as `tpm2_createak -n` writes it.
    #[arg(long)]
    ak_name: Option<PathBuf>,
    /// File holding the secret (1 to 32 bytes for a SHA-256 EK).
    #[arg(long)]
    secret: PathBuf,
    /// Where to write the credential blob.
    #[arg(long, short = 'o')]
    output: PathBuf,
}

/// Arguments of `attest eventlog`.
#[derive(Args, Debug)]
pub struct EventLogArgs {
    /// The binary log (e.g. /sys/kernel/security/tpm0/binary_bios_measurements).
    #[arg(long)]
    log: PathBuf,
}

/// Arguments of `attest quote`.
#[derive(Args, Debug)]
pub struct QuoteArgs {
    /// Attestation key: TPM2B_PUBLIC (tpm2_readpublic -o) or PEM (tpm2_readpublic -f pem).
    #[arg(long)]
    ak: PathBuf,
    /// TPMS_ATTEST written by `tpm2_quote -m`.
    #[arg(long)]
    message: PathBuf,
    /// TPMT_SIGNATURE written by `tpm2_quote -s`.
    #[arg(long)]
    signature: PathBuf,
    /// PCR values in tpm2-tools' serialized format (`tpm2_quote -o`).
    #[arg(long)]
    pcrs: PathBuf,
    /// The nonce the verifier gave (`tpm2_quote -q`), hex.
    #[arg(long)]
    nonce: String,
    /// Appraisal policy (JSON): reference values per bank and PCR, qualified_signer,
    /// firmware_versions, allow_sha1, accept_bare_ak.
    #[arg(long)]
    reference: Option<PathBuf>,
    /// `clock_info` of the last accepted quote of this TPM (JSON), for freshness.
    #[arg(long)]
    previous_clock: Option<PathBuf>,
    /// Tolerate SHA-1 PCR banks (also settable in the reference file).
    #[arg(long)]
    allow_sha1: bool,
    /// TCG crypto-agile event log to replay against the quoted PCRs (after signature and nonce).
    #[arg(long)]
    event_log: Option<PathBuf>,
}

/// Runs an `attest` subcommand.
pub fn run(command: Command) -> Result<Report, BadInput> {
    match command {
        Command::Quote(args) => quote(args),
        Command::Eventlog(args) => event_log(args),
        Command::Makecredential(args) => make_credential(args),
        Command::Ekcert(args) => crate::attest_ekcert::run(args),
    }
}

fn decode_hex(text: &str) -> Result<Vec<u8>, BadInput> {
    let t = text.trim();
    let t = t.strip_prefix("0x").unwrap_or(t);
    if !t.len().is_multiple_of(2) || t.len() > 2 * 66 {
        return Err(BadInput::new(
            "--nonce must be an even number of hex digits, at most 66 bytes",
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

fn quote(args: QuoteArgs) -> Result<Report, BadInput> {
    let nonce = decode_hex(&args.nonce)?;
    let mut policy = match &args.reference {
        Some(p) => {
            let text = read_input_text(p, InputKind::Policy)?;
            AppraisalPolicy::from_json(&text)
                .map_err(|e| BadInput::new(format!("{}: {e}", p.display())))?
        }
        None => AppraisalPolicy::default(),
    };
    policy.allow_sha1 |= args.allow_sha1;
    let previous: Option<ClockInfo> = match &args.previous_clock {
        Some(p) => Some(
            serde_json::from_slice(&read_input(p, InputKind::Attestation)?)
                .map_err(|e| BadInput::new(format!("{}: not a clock_info: {e}", p.display())))?,
        ),
        None => None,
    };
    let ak_bytes = read_input(&args.ak, InputKind::Attestation)?;
    let bare;
    let ak = if ak_bytes.starts_with(b"-----BEGIN") {
        let text =
            std::str::from_utf8(&ak_bytes).map_err(|_| BadInput::new("the PEM AK is not UTF-8"))?;
        bare = BareKey::from_pem(text)
            .map_err(|e| BadInput::new(format!("{}: {e}", args.ak.display())))?;
        bare.as_public_area()
    } else {
        PublicArea::parse_tpm2b(&ak_bytes)
            .map_err(|e| BadInput::new(format!("{}: not a TPM2B_PUBLIC: {e}", args.ak.display())))?
    };
    let pcr_bytes = read_input(&args.pcrs, InputKind::Attestation)?;
    let pcrs = SerializedPcrs::parse(&pcr_bytes).map_err(|e| {
        BadInput::new(format!(
            "{}: not a tpm2-tools PCR file: {e}",
            args.pcrs.display()
        ))
    })?;
    let log = match &args.event_log {
        Some(p) => Some(read_input(p, InputKind::EventLog)?),
        None => None,
    };
    let message = read_input(&args.message, InputKind::Attestation)?;
    let signature = read_input(&args.signature, InputKind::Attestation)?;
    let evidence = QuoteEvidence {
        ak: &ak,
        message: &message,
        signature: &signature,
        pcrs: &pcrs,
        event_log: log.as_deref(),
    };
    let appraisal = appraise_quote(&RingVerifier, &policy, &evidence, &nonce, previous.as_ref());
    Ok(report(&appraisal))
}

fn make_credential(args: MakeCredentialArgs) -> Result<Report, BadInput> {
    use iotsec_attest::identity::credential::{OsRng, make_credential};
    let ek_bytes = read_input(&args.ek, InputKind::Attestation)?;
    let ek = PublicArea::parse_tpm2b(&ek_bytes)
        .map_err(|e| BadInput::new(format!("{}: not a TPM2B_PUBLIC: {e}", args.ek.display())))?;
    let name = match (&args.ak, &args.ak_name) {
        (Some(p), _) => {
            let b = read_input(p, InputKind::Attestation)?;
            PublicArea::parse_tpm2b(&b)
                .map_err(|e| BadInput::new(format!("{}: not a TPM2B_PUBLIC: {e}", p.display())))?
                .name()
                .as_bytes()
                .to_vec()
        }
        (None, Some(p)) => read_input(p, InputKind::Attestation)?,
        (None, None) => return Err(BadInput::new("--ak or --ak-name is required")),
    };
    let secret = read_input(&args.secret, InputKind::Attestation)?;
    let blob = make_credential(&ek, &name, &secret, &mut OsRng).map_err(BadInput::new)?;
    let bytes = blob.to_tpm2_tools();
    std::fs::write(&args.output, &bytes)
        .map_err(|e| BadInput::new(format!("cannot write {}: {e}", args.output.display())))?;
    let name_hex: String = name.iter().map(|b| format!("{b:02x}")).collect();
    Ok(Report {
        outcome: Outcome::Accepted,
        json: serde_json::json!({
            "credential": args.output.display().to_string(),
            "bytes": bytes.len(),
            "ak_name": name_hex,
        }),
        text: format!(
            "credential for AK {name_hex} written to {}",
            args.output.display()
        ),
    })
}

/// The contract's answer to an iotsec-attest error about evidence, decided by the error itself:
/// a refusal is a rejected report (exit 1) carrying the error's stable code; input that could
/// not be read, or a TPM that could not be reached, is bad input (exit 2).
pub(crate) fn refused_or_bad_input<E: ErrorCode + std::fmt::Display>(
    e: &E,
    context: &str,
    refused: impl FnOnce(&E) -> (serde_json::Value, String),
) -> Result<Report, BadInput> {
    if !e.is_refusal() {
        return Err(BadInput::new(format!("{context}: {e}")));
    }
    let (mut json, text) = refused(e);
    if let Some(object) = json.as_object_mut() {
        object.insert("code".into(), e.code().into());
    }
    Ok(Report {
        outcome: Outcome::Rejected,
        json,
        text,
    })
}

fn event_log(args: EventLogArgs) -> Result<Report, BadInput> {
    use iotsec_attest::tpm::algorithm::HashAlg;
    use iotsec_attest::tpm::event_log::{EventLog, EventLogError};
    let bytes = read_input(&args.log, InputKind::EventLog)?;
    let context = args.log.display().to_string();
    let log = match EventLog::parse(&bytes) {
        Ok(log) => log,
        Err(e) => {
            return refused_or_bad_input(&e, &context, |e| {
                (
                    serde_json::json!({ "intact": false, "error": e.to_string() }),
                    format!("event log REJECTED: {e}"),
                )
            });
        }
    };
    // Banks whose hash this verifier cannot compute are neither checked nor replayed: say so.
    let skipped: Vec<String> = log
        .unsupported_algorithms()
        .map(|a| format!("{a:#06x}"))
        .collect();
    let rejected = |e: EventLogError| {
        refused_or_bad_input(&e, &context, |e| {
            if *e == EventLogError::NoSupportedBank {
                (
                    serde_json::json!({
                        "intact": false,
                        "unverifiable": true,
                        "events": log.len(),
                        "skipped_banks": skipped,
                        "error": e.to_string(),
                    }),
                    format!(
                        "event log UNVERIFIABLE: {e}\n  skipped banks: {}",
                        skipped.join(" ")
                    ),
                )
            } else {
                (
                    serde_json::json!({ "intact": false, "error": e.to_string() }),
                    format!("event log REJECTED: {e}"),
                )
            }
        })
    };
    if let Err(e) = log.check_event_data() {
        return rejected(e);
    }
    let mut banks = serde_json::Map::new();
    let mut text = format!("event log: {} events\n", log.len());
    for (alg, _) in log.algorithms() {
        let Some(bank) = HashAlg::from_id(alg) else {
            continue;
        };
        match log.replay(bank) {
            Ok(r) => {
                let mut values = serde_json::Map::new();
                for i in 0..24u8 {
                    if r.touched & (1 << i) != 0
                        && let Some(v) = r.get(i)
                    {
                        let hex: String = v.iter().map(|b| format!("{b:02x}")).collect();
                        text.push_str(&format!("  {}:{i:<2} {hex}\n", bank.name()));
                        values.insert(i.to_string(), hex.into());
                    }
                }
                banks.insert(bank.name().to_string(), values.into());
            }
            Err(e) => return rejected(e),
        }
    }
    let mut json = serde_json::Map::new();
    json.insert("intact".into(), true.into());
    json.insert("events".into(), log.len().into());
    json.insert("pcrs".into(), banks.into());
    if !skipped.is_empty() {
        text.push_str(&format!("  skipped banks: {}\n", skipped.join(" ")));
        json.insert("skipped_banks".into(), skipped.into());
    }
    Ok(Report {
        outcome: Outcome::Accepted,
        json: json.into(),
        text,
    })
}

fn report(a: &QuoteAppraisal) -> Report {
    let outcome = if a.is_trustworthy() {
        Outcome::Accepted
    } else {
        Outcome::Rejected
    };
    let mut text = format!(
        "quote: {}\n",
        match a.status {
            Tier::Affirming => "trustworthy",
            Tier::Warning => "trustworthy with warnings",
            _ => "REJECTED",
        }
    );
    for c in &a.claims {
        let claim = serde_json::to_value(c.claim).unwrap_or_default();
        let tier = serde_json::to_value(c.tier).unwrap_or_default();
        text.push_str(&format!(
            "  {:<18} {}\n",
            claim.as_str().unwrap_or("?"),
            tier.as_str().unwrap_or("?")
        ));
        for f in &c.findings {
            text.push_str(&format!(
                "    - {}\n",
                serde_json::to_string(f).unwrap_or_default()
            ));
        }
    }
    Report {
        outcome,
        json: a.to_json(),
        text,
    }
}
