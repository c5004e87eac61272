//! Freshness across quotes from TPMS_CLOCK_INFO (TPM 2.0 Part 1 §36.3-§36.6; Part 2 §10.11.1).
//!
//! resetCount grows on every TPM Reset (reboot). restartCount grows on TPM Restart or Resume
//! and returns to 0 on a Reset, so after a reboot any restartCount is legitimate (even one lower
//! than before a resume: the case Keylime reports wrongly). Clock only moves forward within one
//! boot; after an unorderly shutdown it may fall back, which the TPM admits by clearing `safe`.

use crate::tpm::attest::ClockInfo;

/// How a new quote's clock relates to the last accepted one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "std", derive(serde::Serialize))]
#[cfg_attr(feature = "std", serde(tag = "verdict", rename_all = "snake_case"))]
pub enum ClockVerdict {
    /// Same boot, clock moved forward.
    SameBoot,
    /// A reboot (TPM Reset) happened in between.
    Rebooted,
    /// A restart or resume happened in between.
    Resumed,
    /// Counters moved forward but Clock fell back while `safe` is clear: time lost in an
    /// unorderly shutdown. Acceptable, worth a warning.
    ClockLostUnsafe,
    /// resetCount went down: the quote is older than the last one (replay) or from another TPM.
    ResetCountDecreased {
        /// Last accepted.
        previous: u32,
        /// This quote.
        current: u32,
    },
    /// restartCount went down within one boot.
    RestartCountDecreased {
        /// Last accepted.
        previous: u32,
        /// This quote.
        current: u32,
    },
    /// Clock did not advance within one boot, or fell back while the TPM claims `safe`.
    ClockNotAdvancing {
        /// Last accepted.
        previous: u64,
        /// This quote.
        current: u64,
    },
}

impl ClockVerdict {
    /// Whether the verdict allows the quote.
    pub fn is_fresh(&self) -> bool {
        matches!(
            self,
            ClockVerdict::SameBoot
                | ClockVerdict::Rebooted
                | ClockVerdict::Resumed
                | ClockVerdict::ClockLostUnsafe
        )
    }
}

/// Compares the clock of a new quote with the last accepted quote of the same TPM.
pub fn check_freshness(previous: &ClockInfo, current: &ClockInfo) -> ClockVerdict {
    use core::cmp::Ordering::*;
    let boot = match current.reset_count.cmp(&previous.reset_count) {
        Less => {
            return ClockVerdict::ResetCountDecreased {
                previous: previous.reset_count,
                current: current.reset_count,
            };
        }
        Greater => ClockVerdict::Rebooted,
        Equal => match current.restart_count.cmp(&previous.restart_count) {
            Less => {
                return ClockVerdict::RestartCountDecreased {
                    previous: previous.restart_count,
                    current: current.restart_count,
                };
            }
            Greater => ClockVerdict::Resumed,
            Equal => ClockVerdict::SameBoot,
        },
    };
    let not_advancing = ClockVerdict::ClockNotAdvancing {
        previous: previous.clock,
        current: current.clock,
    };
    match boot {
        ClockVerdict::SameBoot if current.clock <= previous.clock => not_advancing,
        ClockVerdict::Rebooted | ClockVerdict::Resumed if current.clock < previous.clock => {
            if current.safe {
                not_advancing
            } else {
                ClockVerdict::ClockLostUnsafe
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ci(clock: u64, reset_count: u32, restart_count: u32, safe: bool) -> ClockInfo {
        ClockInfo {
            clock,
            reset_count,
            restart_count,
            safe,
        }
    }

    #[test]
    fn reboot_after_resume_is_fresh_even_though_restart_count_drops() {
        let after_resume = ci(5000, 3, 1, true);
        let after_reboot = ci(9000, 4, 0, true);
        assert_eq!(
            check_freshness(&after_resume, &after_reboot),
            ClockVerdict::Rebooted
        );
    }

    #[test]
    fn counters_going_back_are_refused() {
        assert_eq!(
            check_freshness(&ci(10, 4, 0, true), &ci(20, 3, 0, true)),
            ClockVerdict::ResetCountDecreased {
                previous: 4,
                current: 3
            }
        );
        assert_eq!(
            check_freshness(&ci(10, 4, 2, true), &ci(20, 4, 1, true)),
            ClockVerdict::RestartCountDecreased {
                previous: 2,
                current: 1
            }
        );
    }

    #[test]
    fn same_boot_needs_an_advancing_clock() {
        assert_eq!(
            check_freshness(&ci(10, 1, 0, true), &ci(11, 1, 0, true)),
            ClockVerdict::SameBoot
        );
        assert!(!check_freshness(&ci(10, 1, 0, true), &ci(10, 1, 0, true)).is_fresh());
        assert!(!check_freshness(&ci(10, 1, 0, false), &ci(9, 1, 0, false)).is_fresh());
    }

    #[test]
    fn clock_may_fall_back_across_boots_only_when_not_safe() {
        assert_eq!(
            check_freshness(&ci(100, 1, 0, true), &ci(50, 1, 1, false)),
            ClockVerdict::ClockLostUnsafe
        );
        assert!(!check_freshness(&ci(100, 1, 0, true), &ci(50, 2, 0, true)).is_fresh());
        assert_eq!(
            check_freshness(&ci(100, 1, 0, true), &ci(150, 1, 1, true)),
            ClockVerdict::Resumed
        );
    }

    #[test]
    fn only_the_four_orderly_verdicts_are_fresh() {
        let verdicts = [
            (ClockVerdict::SameBoot, true),
            (ClockVerdict::Rebooted, true),
            (ClockVerdict::Resumed, true),
            (ClockVerdict::ClockLostUnsafe, true),
            (
                ClockVerdict::ResetCountDecreased {
                    previous: 2,
                    current: 1,
                },
                false,
            ),
            (
                ClockVerdict::RestartCountDecreased {
                    previous: 2,
                    current: 1,
                },
                false,
            ),
            (
                ClockVerdict::ClockNotAdvancing {
                    previous: 2,
                    current: 2,
                },
                false,
            ),
        ];
        for (verdict, fresh) in verdicts {
            assert_eq!(verdict.is_fresh(), fresh, "{verdict:?}");
        }
    }

    #[test]
    fn across_a_boot_an_unchanged_clock_is_not_a_step_back() {
        // Within one boot Clock must advance; across a reset or resume it must only not fall
        // back (a TPM that reboots within the same millisecond tick reports the same value).
        assert_eq!(
            check_freshness(&ci(5000, 3, 0, true), &ci(5000, 4, 0, true)),
            ClockVerdict::Rebooted
        );
        assert_eq!(
            check_freshness(&ci(5000, 3, 0, true), &ci(5000, 3, 1, true)),
            ClockVerdict::Resumed
        );
        assert_eq!(
            check_freshness(&ci(5000, 3, 0, true), &ci(5000, 3, 0, true)),
            ClockVerdict::ClockNotAdvancing {
                previous: 5000,
                current: 5000
            }
        );
    }
}
