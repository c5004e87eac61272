//! Progress of long work on stderr ("long work shows progress"), for people only: it is drawn
//! only when stderr is a terminal, so scripts and CI logs (and the one-line error contract)
//! never see it. One line, redrawn at most ten times a second, cleared when the work ends.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// A byte counter drawn as `LABEL: 12.5 / 40.0 MiB (31%)`.
#[derive(Debug)]
pub struct Progress {
    label: String,
    total: u64,
    done: u64,
    drawn_at: Option<Instant>,
    visible: bool,
}

impl Progress {
    /// Progress of `total` bytes of work named `label`; drawn only if stderr is a terminal.
    pub fn bytes(label: impl Into<String>, total: u64) -> Self {
        Self::with_visibility(label, total, std::io::stderr().is_terminal())
    }

    /// The same with the visibility chosen by the caller (tests).
    pub fn with_visibility(label: impl Into<String>, total: u64, visible: bool) -> Self {
        Progress {
            label: label.into(),
            total,
            done: 0,
            drawn_at: None,
            visible,
        }
    }

    /// Counts `n` more bytes done and redraws if the last drawing is 100 ms old.
    pub fn advance(&mut self, n: u64) {
        self.done = self.done.saturating_add(n);
        if !self.visible {
            return;
        }
        let now = Instant::now();
        if self
            .drawn_at
            .is_some_and(|t| now.duration_since(t) < Duration::from_millis(100))
        {
            return;
        }
        self.drawn_at = Some(now);
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{}", self.line());
        let _ = err.flush();
    }

    /// Bytes done so far.
    pub fn done(&self) -> u64 {
        self.done
    }

    /// The text of the progress line.
    pub fn line(&self) -> String {
        const MIB: f64 = 1024.0 * 1024.0;
        let percent = if self.total == 0 {
            100
        } else {
            (u128::from(self.done.min(self.total)) * 100 / u128::from(self.total)) as u64
        };
        format!(
            "{}: {:.1} / {:.1} MiB ({percent}%)",
            self.label,
            self.done as f64 / MIB,
            self.total as f64 / MIB
        )
    }
}

impl Drop for Progress {
    /// Clears the line, so that what follows on stderr starts on a clean line.
    fn drop(&mut self) {
        if self.visible && self.drawn_at.is_some() {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_counts_mebibytes_and_percent() {
        let mut p = Progress::with_visibility("writing slot B", 4 * 1024 * 1024, false);
        assert_eq!(p.line(), "writing slot B: 0.0 / 4.0 MiB (0%)");
        p.advance(1024 * 1024 + 512 * 1024);
        assert_eq!(p.line(), "writing slot B: 1.5 / 4.0 MiB (37%)");
        p.advance(u64::MAX);
        assert_eq!(p.done(), u64::MAX);
        assert_eq!(
            p.line(),
            "writing slot B: 17592186044416.0 / 4.0 MiB (100%)"
        );
        let empty = Progress::with_visibility("x", 0, false);
        assert_eq!(empty.line(), "x: 0.0 / 0.0 MiB (100%)");
    }
}
