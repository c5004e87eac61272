//! `iotsec-cloud sbom gate`: the SBOM/VEX deploy gate (iotsec-sbom) on files.
//!
//! The global `--format text|json|sarif` chooses what is printed: the report for people, the
//! report as JSON, or a SARIF 2.1.0 log.
//!
//! The `cyclonedx-bom` cross-check (a second parser and validator for CycloneDX 1.3-1.5) runs by
//! default on SBOMs up to [`DEFAULT_CROSS_CHECK_MAX_BYTES`]; it builds a `serde_json::Value` and
//! its own model (about 15x the file in memory, 35 ms per MB), so on larger SBOMs it is skipped
//! and the report says so (`cross_check.status = "skipped"`, and a note on stderr with
//! `--verbose` or on a terminal). Our own
//! validation always runs. `--cross-check-max-bytes 0` forces it at any size, `--no-cross-check`
//! turns it off.
//!
//! stderr carries notes (component and advisory counts, cross-check notes) only when it is a
//! terminal or with `--verbose`, so that a script sees exactly the one error line of the contract.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use iotsec_cli_contract::input::{InputKind, read_input, write_output};
use iotsec_cli_contract::{BadInput, Format, Outcome, Report};
use iotsec_sbom::advisory::load_advisory_dir;
use iotsec_sbom::gate::{GateInputs, decide};
use iotsec_sbom::report::{
    decision_to_json, decision_to_sarif, decision_to_text, not_affected_to_cyclonedx_vex,
};
use iotsec_sbom::sbom::{CrossCheck, cross_check_with_cyclonedx_bom};
use iotsec_sbom::vex::VexDocument;
use iotsec_sbom::{Decision, Policy, parse_sbom};
use serde_json::{Value, json};

/// Largest SBOM the `cyclonedx-bom` cross-check runs on by default (8 MiB: about 11,000
/// components at most; the cross-check then adds about 0.25 s and 100 MiB).
pub const DEFAULT_CROSS_CHECK_MAX_BYTES: u64 = 8 * 1024 * 1024;

/// SBOM deploy gate commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Decides pass/warn/fail for an SBOM against an OSV advisory database, VEX and a policy.
    /// Exit 0 = pass or warn, 1 = fail, 2 = bad input.
    Gate(GateArgs),
}

/// Arguments of `sbom gate`.
#[derive(Args, Debug)]
pub struct GateArgs {
    /// The SBOM: CycloneDX JSON 1.2-1.7 / XML 1.0-1.7, or SPDX 2.3 JSON.
    #[arg(long)]
    sbom: PathBuf,
    /// OSV advisory database: a directory of *.json files (searched recursively) or one file.
    #[arg(long)]
    advisories: PathBuf,
    /// Gate policy (TOML).
    #[arg(long)]
    policy: PathBuf,
    /// VEX documents (OpenVEX 0.2 or CycloneDX VEX); repeatable.
    #[arg(long)]
    vex: Vec<PathBuf>,
    /// The firmware image being released (its SHA-256 is bound to the decision).
    #[arg(long)]
    firmware: Option<PathBuf>,
    /// Also write a CycloneDX VEX document of the findings VEX marked not affected / fixed.
    #[arg(long)]
    vex_out: Option<PathBuf>,
    /// Evaluate expiry dates as of this day (YYYY-MM-DD) instead of today (UTC).
    #[arg(long)]
    today: Option<String>,
    /// Skip the cyclonedx-bom cross-check of CycloneDX 1.3-1.5 documents (not with
    /// --cross-check-max-bytes, which it would make meaningless).
    #[arg(long, conflicts_with = "cross_check_max_bytes")]
    no_cross_check: bool,
    /// Run the cyclonedx-bom cross-check only on SBOMs up to this many bytes (0 = any size);
    /// larger SBOMs skip it with a note in the report (`cross_check`) and on stderr.
    #[arg(long, default_value_t = DEFAULT_CROSS_CHECK_MAX_BYTES)]
    cross_check_max_bytes: u64,
    /// Print notes (counts, cross-check) on stderr even when it is not a terminal.
    #[arg(long)]
    verbose: bool,
}

impl GateArgs {
    /// Prints a note on stderr when it is wanted (`--verbose`, or stderr is a terminal).
    fn note(&self, text: impl FnOnce() -> String) {
        if self.verbose || std::io::stderr().is_terminal() {
            eprintln!("sbom: {}", text());
        }
    }
}

/// Runs an `sbom` subcommand; `format` selects which form of the report is built.
pub fn run(command: Command, format: Format) -> Result<Report, BadInput> {
    match command {
        Command::Gate(args) => gate(args, format),
    }
}

/// Runs the `cyclonedx-bom` cross-check where it applies and says what happened (the
/// `cross_check` member of the JSON report).
fn cross_check(args: &GateArgs, bytes: &[u8], is_spdx: bool) -> Result<Value, BadInput> {
    if is_spdx {
        return Ok(json!({"status": "not-applicable", "reason": "SPDX document"}));
    }
    if args.no_cross_check {
        return Ok(json!({"status": "disabled", "reason": "--no-cross-check"}));
    }
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if args.cross_check_max_bytes != 0 && size > args.cross_check_max_bytes {
        let reason = format!(
            "SBOM is {size} bytes, over --cross-check-max-bytes {} (the cyclonedx-bom cross-check \
             costs about 15x the file in memory); our own validation ran in full",
            args.cross_check_max_bytes
        );
        args.note(|| format!("cyclonedx-bom cross-check skipped: {reason}"));
        return Ok(json!({"status": "skipped", "reason": reason}));
    }
    match cross_check_with_cyclonedx_bom(bytes) {
        Ok(CrossCheck::Passed { defaults_added }) => {
            if !defaults_added.is_empty() {
                args.note(|| {
                    format!(
                        "cyclonedx-bom cross-check passed after adding {} schema defaults",
                        defaults_added.len()
                    )
                });
            }
            Ok(json!({"status": "passed", "defaults_added": defaults_added}))
        }
        Ok(CrossCheck::NotApplicable { reason }) => {
            Ok(json!({"status": "not-applicable", "reason": reason}))
        }
        Ok(other) => Ok(json!({"status": "not-applicable", "reason": format!("{other:?}")})),
        Err(e) => Err(BadInput(format!("SBOM {}: {e}", args.sbom.display()))),
    }
}

fn gate(args: GateArgs, format: Format) -> Result<Report, BadInput> {
    let today = match &args.today {
        Some(t) => iotsec_sbom::date::parse_day(t)
            .ok_or_else(|| BadInput(format!("--today {t:?} is not YYYY-MM-DD")))?,
        None => iotsec_sbom::time::OffsetDateTime::now_utc().date(),
    };
    // The policy first: it is small, and a mistake in it should not wait for the SBOM.
    let policy_bytes = read_input(&args.policy, InputKind::Policy)?;
    let policy_text = std::str::from_utf8(&policy_bytes).map_err(|_| {
        BadInput(format!(
            "reading policy file {}: not UTF-8 text",
            args.policy.display()
        ))
    })?;
    let policy = Policy::from_toml(policy_text)
        .map_err(|e| BadInput(format!("policy file {}: {e}", args.policy.display())))?;
    let sbom_bytes = read_input(&args.sbom, InputKind::Sbom)?;
    // The advisory database loads beside the parse (2 cores); parse_sbom hashes the SBOM on a
    // thread of its own.
    let (parsed, db) = std::thread::scope(|s| {
        let db = s.spawn(|| load_advisory_dir(&args.advisories));
        let parsed = parse_sbom(&sbom_bytes);
        (parsed, db.join())
    });
    let panicked = |what: &str| BadInput(format!("{what}: worker thread panicked"));
    let mut sbom = parsed.map_err(|e| BadInput(format!("SBOM {}: {e}", args.sbom.display())))?;
    let cross_check = cross_check(
        &args,
        &sbom_bytes,
        sbom.format == iotsec_sbom::sbom::SbomFormat::SpdxJson,
    )?;
    // The normalized SBOM owns what the gate needs: release the document before gating.
    drop(sbom_bytes);
    args.note(|| {
        format!(
            "{} components (CycloneDX/SPDX {})",
            sbom.components.len(),
            sbom.spec_version
        )
    });
    let db = db
        .map_err(|_| panicked("advisory database"))?
        .map_err(BadInput::new)?;
    args.note(|| {
        format!(
            "{} advisories loaded ({} withdrawn ignored)",
            db.advisories().len(),
            db.withdrawn_count()
        )
    });
    let mut vex = Vec::new();
    for path in &args.vex {
        let bytes = read_input(path, InputKind::Vex)?;
        let name = path.display().to_string();
        vex.push(VexDocument::parse(&bytes, &name).map_err(BadInput::new)?);
    }
    let firmware_sha256 = match &args.firmware {
        Some(p) => Some(hex::encode(crate::ota::hash_file(p)?.0)),
        None => None,
    };
    let decision = decide(&GateInputs {
        sbom: &sbom,
        advisories: &db,
        vex: &vex,
        policy: &policy,
        firmware_sha256: firmware_sha256.as_deref(),
        today,
    });
    if let Some(out) = &args.vex_out {
        let serial = iotsec_sbom::report::decision_vex_serial(&decision);
        let vex = not_affected_to_cyclonedx_vex(&decision, &serial);
        let text = serde_json::to_string_pretty(&vex).map_err(BadInput::new)?;
        write_output(out, "--vex-out VEX document", (text + "\n").as_bytes())?;
    }
    let outcome = match decision.verdict {
        Decision::Fail => Outcome::Rejected,
        Decision::Pass | Decision::Warn => Outcome::Accepted,
    };
    // Only the findings are reported from here on: release the component list.
    sbom.components = Vec::new();
    Ok(match format {
        Format::Sarif => Report {
            outcome,
            json: decision_to_sarif(&decision),
            text: String::new(),
        },
        Format::Text | Format::Json => {
            let mut json = decision_to_json(&decision, &sbom);
            if let Some(obj) = json.as_object_mut() {
                obj.insert("cross_check".to_owned(), cross_check.clone());
            }
            // Build only the form that will be printed (the other is never shown).
            let text = match format {
                Format::Text => {
                    let mut text = decision_to_text(&decision);
                    if let Some(status) = cross_check.get("status").and_then(Value::as_str) {
                        text.push_str(&format!("\ncyclonedx-bom cross-check: {status}"));
                        if let Some(reason) = cross_check.get("reason").and_then(Value::as_str) {
                            text.push_str(&format!(" ({reason})"));
                        }
                        text.push('\n');
                    }
                    text
                }
                Format::Json | Format::Sarif => String::new(),
            };
            Report {
                outcome,
                json,
                text,
            }
        }
    })
}
