//! The demo's verdict: one row per lifecycle step (step, expected, observed, time), as a table
//! for people or one JSON document (`--format json`). A step that could not run is a failed
//! outcome (`not run`), never a passed one.

use std::time::Duration;

use iotsec_cli_contract::{Outcome, Report};
use serde_json::{Value, json};

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Every expected outcome of the step happened.
    Passed,
    /// The step ran and an expected outcome did not happen.
    Failed,
    /// The step could not run (an earlier failure, or a component it needs is missing).
    NotRun,
}

impl Status {
    /// The word in the table and in JSON.
    pub fn word(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "FAILED",
            Status::NotRun => "not run",
        }
    }
}

/// Per-device latencies of one step's operation (enrollment, attestation, update, ...).
#[derive(Debug, Clone, Default)]
pub struct Latencies(Vec<Duration>);

impl Latencies {
    /// Records one.
    pub fn push(&mut self, d: Duration) {
        self.0.push(d);
    }

    /// The `q`-quantile (0.0..=1.0) by nearest rank, if any was recorded.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let mut sorted = self.0.clone();
        sorted.sort();
        let n = sorted.len();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        sorted.get(rank - 1).copied()
    }

    /// How many were recorded.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// One step's row.
#[derive(Debug, Clone)]
pub struct StepOutcome {
    /// Step name (stable: the tests and scripts key on it).
    pub name: &'static str,
    /// What must happen (stable text).
    pub expected: &'static str,
    /// What happened.
    pub observed: String,
    /// Passed, failed or not run.
    pub status: Status,
    /// Wall time of the step.
    pub elapsed: Duration,
    /// Per-device latencies of the step's operation.
    pub latencies: Latencies,
    /// Details for machines.
    pub details: Value,
}

impl StepOutcome {
    /// A step that did not run, and why.
    pub fn not_run(name: &'static str, expected: &'static str, why: impl Into<String>) -> Self {
        StepOutcome {
            name,
            expected,
            observed: why.into(),
            status: Status::NotRun,
            elapsed: Duration::ZERO,
            latencies: Latencies::default(),
            details: Value::Null,
        }
    }

    fn seconds(&self) -> String {
        format!("{:.2} s", self.elapsed.as_secs_f64())
    }

    fn json(&self, index: usize) -> Value {
        let ms = |d: Option<Duration>| d.map(|d| (d.as_secs_f64() * 1000.0 * 10.0).round() / 10.0);
        json!({
            "step": self.name,
            "number": index + 1,
            "expected": self.expected,
            "observed": self.observed,
            "status": match self.status {
                Status::Passed => "passed",
                Status::Failed => "failed",
                Status::NotRun => "not_run",
            },
            "ok": self.status == Status::Passed,
            "seconds": (self.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            "operations": self.latencies.len(),
            "p50_ms": ms(self.latencies.quantile(0.5)),
            "p99_ms": ms(self.latencies.quantile(0.99)),
            "details": self.details,
        })
    }
}

/// What the report says besides the steps.
pub struct Run<'a> {
    /// Devices in the fleet.
    pub devices: usize,
    /// The state directory.
    pub state: &'a str,
    /// Whether it is kept (`--keep`).
    pub kept: bool,
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// Why the run stopped early (Ctrl-C, a component that failed), if it did.
    pub interrupted: Option<String>,
}

/// The report: exit 0 only when every step passed.
pub fn report(steps: &[StepOutcome], run: &Run<'_>) -> Report {
    let ok = run.interrupted.is_none() && steps.iter().all(|s| s.status == Status::Passed);
    let mut text = table(steps);
    if let Some(why) = &run.interrupted {
        text.push_str(&format!("stopped early: {why}\n"));
    }
    let passed = steps.iter().filter(|s| s.status == Status::Passed).count();
    text.push_str(&match ok {
        true => format!(
            "every expected outcome happened: {passed}/{} steps, {} devices, {:.1} s\n",
            steps.len(),
            run.devices,
            run.elapsed.as_secs_f64()
        ),
        false => format!(
            "FAILED: {passed}/{} steps passed, {} devices, {:.1} s\n",
            steps.len(),
            run.devices,
            run.elapsed.as_secs_f64()
        ),
    });
    if run.kept {
        text.push_str(&format!("state kept in {}\n", run.state));
    }
    let json = json!({
        "ok": ok,
        "devices": run.devices,
        "state": run.state,
        "kept": run.kept,
        "seconds": (run.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
        "interrupted": run.interrupted,
        "steps": steps.iter().enumerate().map(|(i, s)| s.json(i)).collect::<Vec<_>>(),
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

/// The table: a header and one row per step; long cells are wrapped in their column.
pub fn table(steps: &[StepOutcome]) -> String {
    const EXPECTED: usize = 44;
    const OBSERVED: usize = 52;
    let name_width = steps
        .iter()
        .map(|s| s.name.len() + 3)
        .chain([6])
        .max()
        .unwrap_or(6);
    let mut out = format!(
        "{:<name_width$}  {:<EXPECTED$}  {:<OBSERVED$}  {:>9}\n",
        "step", "expected", "observed", "time"
    );
    for (i, s) in steps.iter().enumerate() {
        let expected = wrap(s.expected, EXPECTED);
        let observed = wrap(&format!("{}: {}", s.status.word(), s.observed), OBSERVED);
        let rows = expected.len().max(observed.len());
        for r in 0..rows {
            let first = r == 0;
            let name = if first {
                format!("{} {}", i + 1, s.name)
            } else {
                String::new()
            };
            let time = if first { s.seconds() } else { String::new() };
            let e = expected.get(r).map(String::as_str).unwrap_or("");
            let o = observed.get(r).map(String::as_str).unwrap_or("");
            let line = format!("{name:<name_width$}  {e:<EXPECTED$}  {o:<OBSERVED$}  {time:>9}");
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

/// `text` in lines of at most `width` characters, broken at spaces (a longer word is cut).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word: String = word.to_owned();
        while word.chars().count() > width {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            let head: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            lines.push(head);
        }
        let needed = line.chars().count() + usize::from(!line.is_empty()) + word.chars().count();
        if needed > width && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        let mut l = Latencies::default();
        assert_eq!(l.quantile(0.5), None);
        for ms in [30, 10, 20, 40, 50, 60, 70, 80, 90, 100] {
            l.push(Duration::from_millis(ms));
        }
        assert_eq!(l.quantile(0.5), Some(Duration::from_millis(50)));
        assert_eq!(l.quantile(0.99), Some(Duration::from_millis(100)));
        assert_eq!(l.quantile(0.0), Some(Duration::from_millis(10)));
    }

    #[test]
    fn cells_wrap_at_spaces_and_cut_long_words() {
        assert_eq!(wrap("a bb ccc", 4), ["a bb", "ccc"]);
        assert_eq!(wrap("abcdefgh", 3), ["abc", "def", "gh"]);
        assert_eq!(wrap("", 3), [""]);
    }

    #[test]
    fn a_step_not_run_fails_the_run() {
        let steps = [StepOutcome::not_run("enroll", "all enroll", "no agent")];
        let r = report(
            &steps,
            &Run {
                devices: 3,
                state: "/tmp/x",
                kept: false,
                elapsed: Duration::from_secs(1),
                interrupted: None,
            },
        );
        assert_eq!(r.outcome, Outcome::Rejected);
        assert_eq!(r.json["steps"][0]["status"], "not_run");
        assert_eq!(r.json["steps"][0]["ok"], false);
        assert_eq!(
            r.text.lines().nth(1).map(str::trim_end),
            Some(
                "1 enroll   all enroll                                    not run: no agent                                        0.00 s"
            )
        );
    }
}
