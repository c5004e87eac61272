//! What the demo shows while it runs, on stderr: indicatif progress bars on a terminal (the
//! step bar and a per-device bar for the step's operation), plain lines otherwise (scripts and
//! CI logs). stdout carries only the final table or JSON.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The display.
pub struct Ui {
    bars: Option<(MultiProgress, ProgressBar)>,
    steps: u64,
}

/// Progress of one step's per-device operation.
pub struct Work {
    bar: Option<ProgressBar>,
    label: String,
    total: u64,
    done: u64,
    plain_every: u64,
}

impl Ui {
    /// Bars if stderr is a terminal, plain lines if not.
    pub fn new(steps: u64) -> Ui {
        let bars = std::io::stderr().is_terminal().then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
            let bar = multi.add(ProgressBar::new(steps));
            bar.set_style(
                ProgressStyle::with_template("{prefix:>5} [{bar:30}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_prefix("steps");
            bar.enable_steady_tick(Duration::from_millis(200));
            (multi, bar)
        });
        Ui { bars, steps }
    }

    /// Step `number` (1-based) starts.
    pub fn step(&self, number: u64, name: &str) {
        match &self.bars {
            Some((_, bar)) => {
                bar.set_position(number.saturating_sub(1));
                bar.set_message(name.to_owned());
            }
            None => eprintln!("[{number}/{}] {name}", self.steps),
        }
    }

    /// Step `number` ended with `status` after `elapsed`.
    pub fn step_done(&self, number: u64, name: &str, status: &str, elapsed: Duration) {
        match &self.bars {
            Some((multi, bar)) => {
                bar.set_position(number);
                let _ = multi.println(format!(
                    "{number} {name}: {status} ({:.2} s)",
                    elapsed.as_secs_f64()
                ));
            }
            None => eprintln!(
                "[{number}/{}] {name}: {status} ({:.2} s)",
                self.steps,
                elapsed.as_secs_f64()
            ),
        }
    }

    /// A line for people (setup, cleanup).
    pub fn note(&self, line: &str) {
        match &self.bars {
            Some((multi, _)) => {
                let _ = multi.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    /// A per-device operation of `total` devices, labelled `label`.
    pub fn work(&self, label: &str, total: u64) -> Work {
        let bar = self.bars.as_ref().map(|(multi, _)| {
            let bar = multi.add(ProgressBar::new(total));
            bar.set_style(
                ProgressStyle::with_template("{prefix:>5} [{bar:30}] {pos}/{len} {msg} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_prefix("");
            bar.set_message(label.to_owned());
            bar
        });
        Work {
            bar,
            label: label.to_owned(),
            total,
            done: 0,
            plain_every: (total / 4).max(1),
        }
    }

    /// Clears the bars.
    pub fn finish(self) {
        if let Some((multi, bar)) = self.bars {
            bar.finish_and_clear();
            let _ = multi.clear();
        }
    }
}

impl Work {
    /// One more device done.
    pub fn inc(&mut self) {
        self.done += 1;
        match &self.bar {
            Some(bar) => bar.inc(1),
            None if self.done.is_multiple_of(self.plain_every) || self.done == self.total => {
                eprintln!("      {}: {}/{}", self.label, self.done, self.total);
            }
            None => {}
        }
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
