//! `iotsec-cloud tour`: one device through the fleet's life, the five crates composed in one
//! process (the cloud side and a simulated device side, state in a temporary directory, no
//! network). Each step prints its verdict; the attacks shown along the way must be refused.
//!
//! Exit 0 when every step gave the expected verdict (attacks refused included), 1 when one did
//! not (a regression), 2 for usage errors (`--keep DIR` already holding a tour CA, say).

mod attestation;
mod authorization;
mod deploy_gate;
mod identity;
mod update;

use std::path::{Path, PathBuf};

use iotsec_cli_contract::{BadInput, Outcome, Report};
use serde_json::{Value, json};
use time::OffsetDateTime;

/// The enrolled device (its certificate CN and MQTT client id).
pub const DEVICE_ID: &str = "dev-0042";
/// The firmware the device runs from the factory.
pub const FACTORY_VERSION: &str = "1.0.0";

/// Arguments of `tour`.
#[derive(clap::Args, Debug)]
pub struct TourArgs {
    /// Keep the state (CA, device certificate, signed documents) in DIR instead of a temporary
    /// directory that is removed afterwards.
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
}

/// What the steps share: where state goes (paths in the report are relative to it), the time of the run, and what earlier steps found.
pub struct Fleet {
    /// The state directory.
    pub dir: PathBuf,
    /// Time of the run.
    pub now: OffsetDateTime,
    /// The CN of the certificate step 1 issued, once issued.
    pub cert_cn: Option<String>,
    /// Seconds since the last accepted attestation, once step 2 accepted one.
    pub attestation_age: Option<u64>,
    /// The release the deploy gate let through: (version, image).
    pub released: Option<(String, Vec<u8>)>,
}

/// The verdict of one step.
pub struct Step {
    /// Step name (`identity`, `attestation`, ...).
    pub name: &'static str,
    /// Whether the step gave the expected verdict.
    pub ok: bool,
    /// One line for people.
    pub summary: String,
    /// Details for machines.
    pub details: Value,
}

/// An attack a step staged, and how it ended.
pub struct Attack {
    /// Attack name (`evidence_replay`, ...).
    pub name: &'static str,
    /// The step that staged it.
    pub step: &'static str,
    /// Whether it was refused.
    pub refused: bool,
    /// The reason it must be refused with; any other is a regression.
    pub expected: &'static str,
    /// The typed reason of the refusal (the error's code), or `accepted`.
    pub kind: String,
    /// The refusal message.
    pub reason: String,
}

impl Attack {
    /// An attack refused with the error code `code` (the error's stable `code()`), which must be
    /// `expected`.
    pub fn refused(
        name: &'static str,
        step: &'static str,
        expected: &'static str,
        code: &'static str,
    ) -> Self {
        Attack {
            name,
            step,
            refused: true,
            expected,
            kind: code.to_owned(),
            reason: String::new(),
        }
    }

    /// Whether the attack ended as expected: refused, for the expected reason.
    pub fn as_expected(&self) -> bool {
        self.refused && self.kind == self.expected
    }

    /// The same with the human-readable reason.
    pub fn because(mut self, reason: impl std::fmt::Display) -> Self {
        self.reason = reason.to_string();
        self
    }

    /// An attack that got through: a regression.
    pub fn accepted(name: &'static str, step: &'static str, expected: &'static str) -> Self {
        Attack {
            name,
            step,
            refused: false,
            expected,
            kind: "accepted".into(),
            reason: "the attack was not refused".into(),
        }
    }
}

/// A failed step: the error that stopped it.
pub fn failed(name: &'static str, error: impl std::fmt::Display) -> Step {
    Step {
        name,
        ok: false,
        summary: format!("FAILED: {error}"),
        details: json!({ "error": error.to_string() }),
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// The firmware image of `version` (64 KiB, the version stamped through it).
pub fn firmware_image(version: &str) -> Vec<u8> {
    let line = format!("iotsec demo sensor firmware {version}\n");
    line.as_bytes()
        .iter()
        .copied()
        .cycle()
        .take(64 * 1024)
        .collect()
}

/// Runs the tour.
pub fn run(args: TourArgs) -> Result<Report, BadInput> {
    let dir = crate::demo::state_dir(args.keep.as_deref(), "tour")?;
    let mut fleet = Fleet {
        dir: dir.clone(),
        now: OffsetDateTime::now_utc(),
        cert_cn: None,
        attestation_age: None,
        released: None,
    };
    let mut attacks = Vec::new();
    let steps = vec![
        identity::run(&mut fleet),
        attestation::run(&mut fleet, &mut attacks),
        authorization::run(&fleet),
        deploy_gate::run(&mut fleet),
        update::run(&fleet, &mut attacks),
    ];
    if args.keep.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(report(&steps, &attacks, &dir, args.keep.is_some()))
}

fn report(steps: &[Step], attacks: &[Attack], dir: &Path, kept: bool) -> Report {
    let ok = steps.iter().all(|s| s.ok) && attacks.iter().all(Attack::as_expected);
    let mut text = String::new();
    for (i, s) in steps.iter().enumerate() {
        let verdict = if s.ok { "ok" } else { "FAIL" };
        text.push_str(&format!(
            "{} {:<14} {:<4} {}\n",
            i + 1,
            s.name,
            verdict,
            s.summary
        ));
    }
    for a in attacks {
        let verdict = match (a.refused, a.as_expected()) {
            (true, true) => "refused".to_owned(),
            (true, false) => format!("refused, but not as {} (REGRESSION)", a.expected),
            (false, _) => "ACCEPTED".to_owned(),
        };
        text.push_str(&format!(
            "attack {:<16} {:<8} {}: {}\n",
            a.name, verdict, a.kind, a.reason
        ));
    }
    text.push_str(match ok {
        true => "every step gave the expected verdict\n",
        false => "REGRESSION: a step did not give the expected verdict\n",
    });
    if kept {
        text.push_str(&format!("state kept in {}\n", dir.display()));
    }
    let json = json!({
        "ok": ok,
        "device": DEVICE_ID,
        "state": dir.display().to_string(),
        "kept": kept,
        "steps": steps.iter().map(step_json).collect::<Vec<_>>(),
        "attacks": attacks.iter().map(|a| json!({
            "attack": a.name, "step": a.step, "refused": a.refused,
            "kind": a.kind, "expected": a.expected, "reason": a.reason,
        })).collect::<Vec<_>>(),
    });
    Report {
        outcome: if ok {
            Outcome::Accepted
        } else {
            Outcome::Rejected
        },
        json,
        text,
    }
}

fn step_json(s: &Step) -> Value {
    let mut v = json!({ "step": s.name, "ok": s.ok, "summary": s.summary });
    if let (Some(obj), Some(details)) = (v.as_object_mut(), s.details.as_object()) {
        for (k, d) in details {
            obj.insert(k.clone(), d.clone());
        }
    }
    v
}
