//! The operator's staged rollout as a state machine (cloud side): which version is offered to
//! which share of the fleet, the operator's commands (start, advance, halt, resume), and the
//! automatic halt when a device inside the current stage reports that its update reverted
//! (the trial boot failed and the bootloader went back, MCUboot's revert: the canary signal
//! that the release must not widen). Each stage's share is what the signed rollout gate
//! carries ([`crate::rollout_cohort`]); the fleet-wide failure-rate planner is
//! [`crate::rollout_planner`].
//!
//! The functions are pure: a store applies them inside the transaction that reads and writes
//! the rollout, so two concurrent requests cannot both act on a stale read.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::manifest::ALL_DEVICES_BPS;

/// Longest halt reason kept.
pub const MAX_REASON_LEN: usize = 64;
/// Most stages a rollout has.
pub const MAX_STAGES: usize = 16;
/// The halt reason of the automatic halt.
pub const CANARY_REVERTED: &str = "canary_reverted";

/// Where a rollout stands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StagedRollout {
    /// The version rolled out (`None`: no rollout).
    pub version: Option<String>,
    /// Stages in basis points: strictly increasing, the first above 0, the last 10000.
    pub stages_bps: Vec<u32>,
    /// Current stage index.
    pub stage: usize,
    /// Why it is halted, if it is.
    pub halted: Option<String>,
}

/// An operator's command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutCommand<'a> {
    /// Starts rolling `version` out through `stages_bps` (replacing any rollout).
    Start {
        /// A published version.
        version: &'a str,
        /// The stages.
        stages_bps: &'a [u32],
    },
    /// Widens to the next stage.
    Advance,
    /// Halts with a reason ([`check_reason`]).
    Halt {
        /// The reason.
        reason: &'a str,
    },
    /// Lifts a halt.
    Resume,
}

/// What a device reported after an update attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// Verified, trial-booted and confirmed.
    Confirmed,
    /// The trial boot failed; the device went back to the previous image.
    Reverted,
    /// The manifest or image was refused (never installed).
    Refused,
}

/// Why a command was refused (the rollout is unchanged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RolloutRefusal {
    /// Advance or halt without a rollout.
    #[error("no rollout is running")]
    NoRollout,
    /// Advance while halted.
    #[error("the rollout is halted: resume it first")]
    Halted,
    /// Advance at the last stage.
    #[error("the rollout is at its last stage")]
    LastStage,
    /// Resume while not halted.
    #[error("the rollout is not halted")]
    NotHalted,
    /// Start of a version that is not published.
    #[error("release {version:?} is not published")]
    UnknownRelease {
        /// The version asked for.
        version: String,
    },
    /// Stages that are not 1..=16 strictly increasing basis points from above 0 to 10000.
    #[error(
        "stages must be 1..={MAX_STAGES} increasing basis points, the first above 0, the last 10000"
    )]
    BadStages,
    /// A halt reason that is not 1..=64 characters of `[A-Za-z0-9_-]`.
    #[error("a reason is 1..={MAX_REASON_LEN} characters of [A-Za-z0-9_-]")]
    BadReason,
}

impl RolloutRefusal {
    /// A stable snake_case code (the fleet API's refusal codes).
    pub fn code(&self) -> &'static str {
        match self {
            RolloutRefusal::NoRollout => "no_rollout",
            RolloutRefusal::Halted => "rollout_halted",
            RolloutRefusal::LastStage => "last_stage",
            RolloutRefusal::NotHalted => "not_halted",
            RolloutRefusal::UnknownRelease { .. } => "unknown_release",
            RolloutRefusal::BadStages => "bad_stages",
            RolloutRefusal::BadReason => "bad_reason",
        }
    }

    /// Always: the command is refused in the current state or for its arguments.
    pub fn is_refusal(&self) -> bool {
        true
    }
}

/// A halt reason from outside: short, printable ASCII, not empty (it ends up in logs and in
/// the operator's view).
pub fn check_reason(reason: &str) -> Result<(), RolloutRefusal> {
    let ok = !reason.is_empty()
        && reason.len() <= MAX_REASON_LEN
        && reason
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(RolloutRefusal::BadReason)
    }
}

fn check_stages(stages_bps: &[u32]) -> Result<(), RolloutRefusal> {
    let increasing = stages_bps.windows(2).all(|w| w.first() < w.get(1));
    if stages_bps.is_empty()
        || stages_bps.len() > MAX_STAGES
        || !increasing
        || stages_bps.first().is_some_and(|s| *s == 0)
        || stages_bps.last() != Some(&u32::from(ALL_DEVICES_BPS))
    {
        return Err(RolloutRefusal::BadStages);
    }
    Ok(())
}

impl StagedRollout {
    /// The share of the fleet (basis points) offered the release now; 0 when halted or none.
    pub fn offered_bps(&self) -> u32 {
        if self.version.is_none() || self.halted.is_some() {
            return 0;
        }
        self.stages_bps.get(self.stage).copied().unwrap_or(0)
    }

    /// Whether a device in cohort `cohort_bps` is inside the current stage (halted or not).
    pub fn in_stage(&self, cohort_bps: u32) -> bool {
        self.version.is_some() && cohort_bps < self.stages_bps.get(self.stage).copied().unwrap_or(0)
    }

    /// The rollout after `command`, or why it is refused. `published` says whether a version
    /// is published.
    pub fn apply(
        &self,
        command: RolloutCommand<'_>,
        published: impl Fn(&str) -> bool,
    ) -> Result<StagedRollout, RolloutRefusal> {
        let has_rollout = self.version.is_some();
        match command {
            RolloutCommand::Start {
                version,
                stages_bps,
            } => {
                check_stages(stages_bps)?;
                if !published(version) {
                    return Err(RolloutRefusal::UnknownRelease {
                        version: version.to_string(),
                    });
                }
                Ok(StagedRollout {
                    version: Some(version.to_string()),
                    stages_bps: stages_bps.to_vec(),
                    stage: 0,
                    halted: None,
                })
            }
            RolloutCommand::Advance => {
                if !has_rollout {
                    return Err(RolloutRefusal::NoRollout);
                }
                if self.halted.is_some() {
                    return Err(RolloutRefusal::Halted);
                }
                if self.stage.saturating_add(1) >= self.stages_bps.len() {
                    return Err(RolloutRefusal::LastStage);
                }
                Ok(StagedRollout {
                    stage: self.stage.saturating_add(1),
                    ..self.clone()
                })
            }
            RolloutCommand::Halt { reason } => {
                if !has_rollout {
                    return Err(RolloutRefusal::NoRollout);
                }
                check_reason(reason)?;
                Ok(StagedRollout {
                    halted: Some(reason.to_string()),
                    ..self.clone()
                })
            }
            RolloutCommand::Resume => {
                if self.halted.is_none() {
                    return Err(RolloutRefusal::NotHalted);
                }
                Ok(StagedRollout {
                    halted: None,
                    ..self.clone()
                })
            }
        }
    }

    /// The automatic halt: the rollout after a report of `outcome` for `version` from a device
    /// in cohort `cohort_bps`, when it halts ([`CANARY_REVERTED`]): a revert of the version
    /// rolled out, from a device inside the current stage, while not halted already. A revert
    /// of another version, or from a device outside the stage (it cannot have been offered
    /// this release), halts nothing.
    pub fn halt_on_report(
        &self,
        version: &str,
        outcome: UpdateOutcome,
        cohort_bps: u32,
    ) -> Option<StagedRollout> {
        let canary_reverted = outcome == UpdateOutcome::Reverted
            && self.version.as_deref() == Some(version)
            && self.halted.is_none()
            && self.in_stage(cohort_bps);
        canary_reverted.then(|| StagedRollout {
            halted: Some(CANARY_REVERTED.to_string()),
            ..self.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    fn start(stages: &[u32]) -> StagedRollout {
        StagedRollout::default()
            .apply(
                RolloutCommand::Start {
                    version: "1.1.0",
                    stages_bps: stages,
                },
                |v| v == "1.1.0",
            )
            .unwrap()
    }

    #[test]
    fn commands_move_through_the_stages() {
        let r = start(&[100, 1000, 10_000]);
        assert_eq!((r.offered_bps(), r.stage), (100, 0));
        let r = r.apply(RolloutCommand::Advance, |_| true).unwrap();
        assert_eq!(r.offered_bps(), 1000);
        let halted = r
            .apply(
                RolloutCommand::Halt {
                    reason: "ops-check",
                },
                |_| true,
            )
            .unwrap();
        assert_eq!(
            (halted.offered_bps(), halted.halted.as_deref()),
            (0, Some("ops-check"))
        );
        assert_eq!(
            halted.apply(RolloutCommand::Advance, |_| true),
            Err(RolloutRefusal::Halted)
        );
        let resumed = halted.apply(RolloutCommand::Resume, |_| true).unwrap();
        let last = resumed.apply(RolloutCommand::Advance, |_| true).unwrap();
        assert_eq!(last.offered_bps(), 10_000);
        let refused = last.apply(RolloutCommand::Advance, |_| true).unwrap_err();
        assert_eq!(
            (refused.code(), refused.to_string().as_str()),
            ("last_stage", "the rollout is at its last stage")
        );
        assert_eq!(
            last.apply(RolloutCommand::Resume, |_| true)
                .map_err(|e| e.code()),
            Err("not_halted")
        );
    }

    #[test]
    fn bad_commands_are_refused_with_their_codes() {
        let none = StagedRollout::default();
        let code = |r: Result<StagedRollout, RolloutRefusal>| r.map_err(|e| e.code()).err();
        assert_eq!(
            code(none.apply(RolloutCommand::Advance, |_| true)),
            Some("no_rollout")
        );
        assert_eq!(
            code(none.apply(RolloutCommand::Halt { reason: "x" }, |_| true)),
            Some("no_rollout")
        );
        for stages in [
            &[][..],
            &[0, 10_000],
            &[500, 500, 10_000],
            &[1000, 100, 10_000],
            &[100, 9_999],
            &[100, 10_001],
            &[1; 17],
        ] {
            let r = none.apply(
                RolloutCommand::Start {
                    version: "1.1.0",
                    stages_bps: stages,
                },
                |_| true,
            );
            assert_eq!(code(r), Some("bad_stages"), "{stages:?}");
        }
        let unknown = none.apply(
            RolloutCommand::Start {
                version: "9.9.9",
                stages_bps: &[10_000],
            },
            |v| v == "1.1.0",
        );
        assert_eq!(
            unknown.unwrap_err().to_string(),
            "release \"9.9.9\" is not published"
        );
        let r = start(&[10_000]);
        for reason in ["", "has space", "semi;colon", "ünïcode", &"x".repeat(65)] {
            assert_eq!(
                code(r.apply(RolloutCommand::Halt { reason }, |_| true)),
                Some("bad_reason"),
                "{reason:?}"
            );
        }
        assert!(check_reason(&"x".repeat(64)).is_ok());
    }

    #[test]
    fn a_revert_inside_the_stage_halts_the_rollout() {
        let r = start(&[100, 10_000]);
        let halted = r
            .halt_on_report("1.1.0", UpdateOutcome::Reverted, 99)
            .unwrap();
        assert_eq!(halted.halted.as_deref(), Some(CANARY_REVERTED));
        assert_eq!(halted.offered_bps(), 0);
        assert_eq!((halted.stage, &halted.stages_bps), (0, &vec![100, 10_000]));
        // Not a canary of this stage, not this version, not a revert, or halted already.
        assert_eq!(
            r.halt_on_report("1.1.0", UpdateOutcome::Reverted, 100),
            None
        );
        assert_eq!(r.halt_on_report("1.0.0", UpdateOutcome::Reverted, 0), None);
        assert_eq!(r.halt_on_report("1.1.0", UpdateOutcome::Refused, 0), None);
        assert_eq!(r.halt_on_report("1.1.0", UpdateOutcome::Confirmed, 0), None);
        assert_eq!(
            halted.halt_on_report("1.1.0", UpdateOutcome::Reverted, 0),
            None
        );
        assert_eq!(
            StagedRollout::default().halt_on_report("1.1.0", UpdateOutcome::Reverted, 0),
            None
        );
    }

    #[derive(Debug, Clone)]
    enum Step {
        Start(Vec<u32>),
        Advance,
        Halt,
        Resume,
        Report(UpdateOutcome, u32),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            proptest::collection::vec(0u32..=10_000, 0..5).prop_map(|mut v| {
                v.sort_unstable();
                v.push(10_000);
                Step::Start(v)
            }),
            Just(Step::Advance),
            Just(Step::Halt),
            Just(Step::Resume),
            (
                prop_oneof![
                    Just(UpdateOutcome::Confirmed),
                    Just(UpdateOutcome::Reverted),
                    Just(UpdateOutcome::Refused)
                ],
                0u32..10_000
            )
                .prop_map(|(o, c)| Step::Report(o, c)),
        ]
    }

    proptest! {
        /// Invariants over any sequence: the stage index stays within the stages, the offer is
        /// one of the stages (or 0 when halted or none), a refused command changes nothing,
        /// only a revert from inside the stage halts automatically, and an offer never
        /// widens while halted.
        #[test]
        fn any_sequence_keeps_the_invariants(steps in proptest::collection::vec(step(), 1..40)) {
            let mut r = StagedRollout::default();
            for s in steps {
                let before = r.clone();
                let next = match &s {
                    Step::Start(stages) => r.apply(
                        RolloutCommand::Start { version: "1.1.0", stages_bps: stages },
                        |_| true,
                    ),
                    Step::Advance => r.apply(RolloutCommand::Advance, |_| true),
                    Step::Halt => r.apply(RolloutCommand::Halt { reason: "op" }, |_| true),
                    Step::Resume => r.apply(RolloutCommand::Resume, |_| true),
                    Step::Report(outcome, cohort) => {
                        let halted = r.halt_on_report("1.1.0", *outcome, *cohort);
                        let expected = *outcome == UpdateOutcome::Reverted
                            && r.version.is_some()
                            && r.halted.is_none()
                            && *cohort < r.stages_bps[r.stage];
                        prop_assert_eq!(halted.is_some(), expected);
                        Ok(halted.unwrap_or_else(|| r.clone()))
                    }
                };
                match next {
                    Ok(n) => r = n,
                    Err(_) => prop_assert_eq!(&r, &before),
                }
                if r.version.is_some() {
                    prop_assert!(r.stage < r.stages_bps.len());
                    if before.halted.is_some() && r.halted.is_some() {
                        prop_assert!(r.offered_bps() == 0);
                    }
                    prop_assert!(r.offered_bps() == 0 || r.stages_bps.contains(&r.offered_bps()));
                }
            }
        }
    }
}
