//! Cloud-side staged rollout (`std`), in the manner of hawkBit and Memfault cohorts: advance
//! through stages (1% -> 10% -> 50% -> 100% by default) from reported install outcomes, and
//! halt when a stage's failures exceed its threshold. Each stage's share is signed into a
//! manifest's rollout gate (see [`crate::rollout_cohort`]), so the server decides *when* to
//! widen and devices decide *whether* they are in.

use alloc::vec::Vec;
use std::collections::HashSet;

/// One stage of a rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    /// Share of the fleet, in basis points.
    pub basis_points: u16,
    /// Distinct devices that must report before the stage may advance.
    pub min_reports: u32,
    /// Largest tolerated failure rate, in basis points of `max(reports, min_reports)`.
    pub max_failure_bps: u16,
}

/// What the device reported after trying the release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallOutcome {
    /// Installed and confirmed after a trial boot.
    Confirmed,
    /// Failed: download, verification, or trial boot reverted.
    Failed,
}

/// What the operator should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutDecision {
    /// Keep the current gate; wait for more reports.
    Hold {
        /// Current stage index.
        stage: usize,
        /// Its basis points.
        basis_points: u16,
    },
    /// Sign a manifest with this wider gate (and a higher sequence number).
    Advance {
        /// New stage index.
        stage: usize,
        /// Basis points to sign.
        basis_points: u16,
    },
    /// Stop: too many failures in this stage. Only [`RolloutPlanner::resume`] continues.
    Halted {
        /// The stage that failed.
        stage: usize,
        /// Failures reported in it.
        failures: u32,
        /// Distinct devices that reported in it.
        reports: u32,
    },
    /// The last stage met its criteria: the whole fleet is covered.
    Complete,
}

/// Why a plan was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// Stages must be non-empty, strictly widening, within 1..=10000 bps, ending at 10000.
    #[error("rollout stages must widen strictly from 1 to 10000 basis points")]
    BadStages,
}

impl PlanError {
    /// A stable snake_case code for the error, for logs and machine-readable output; codes never
    /// change and differ from every other error code of the crate.
    pub fn code(&self) -> &'static str {
        match self {
            PlanError::BadStages => "plan_bad_stages",
        }
    }

    /// Never: a rollout plan that cannot be made is bad input.
    pub fn is_refusal(&self) -> bool {
        false
    }
}

/// Tracks a rollout through its stages.
#[derive(Debug, Clone)]
pub struct RolloutPlanner {
    stages: Vec<Stage>,
    current: usize,
    confirmed: HashSet<Vec<u8>>,
    failed: HashSet<Vec<u8>>,
    halted: bool,
    complete: bool,
}

impl RolloutPlanner {
    /// The default plan: 1%, 10%, 50%, 100%; at least 20/100/500/1000 reports; halt above 2%
    /// failures.
    pub fn standard() -> Self {
        let stage = |basis_points, min_reports| Stage {
            basis_points,
            min_reports,
            max_failure_bps: 200,
        };
        RolloutPlanner::new(alloc::vec![
            stage(100, 20),
            stage(1000, 100),
            stage(5000, 500),
            stage(10_000, 1000),
        ])
        .unwrap_or_else(|_| RolloutPlanner::single())
    }

    fn single() -> Self {
        RolloutPlanner {
            stages: alloc::vec![Stage {
                basis_points: 10_000,
                min_reports: 0,
                max_failure_bps: 0,
            }],
            current: 0,
            confirmed: HashSet::new(),
            failed: HashSet::new(),
            halted: false,
            complete: false,
        }
    }

    /// A plan with these stages.
    pub fn new(stages: Vec<Stage>) -> Result<Self, PlanError> {
        let widening = stages
            .windows(2)
            .all(|w| matches!(w, [a, b] if a.basis_points < b.basis_points));
        let in_range = stages
            .iter()
            .all(|s| (1..=10_000).contains(&s.basis_points));
        if stages.is_empty()
            || !widening
            || !in_range
            || stages.last().map(|s| s.basis_points) != Some(10_000)
        {
            return Err(PlanError::BadStages);
        }
        Ok(RolloutPlanner {
            stages,
            current: 0,
            confirmed: HashSet::new(),
            failed: HashSet::new(),
            halted: false,
            complete: false,
        })
    }

    /// The gate to sign now.
    pub fn current_basis_points(&self) -> u16 {
        self.stage().basis_points
    }

    fn stage(&self) -> Stage {
        self.stages
            .get(self.current)
            .or(self.stages.last())
            .copied()
            .unwrap_or(Stage {
                basis_points: 10_000,
                min_reports: 0,
                max_failure_bps: 0,
            })
    }

    /// Records one device's outcome in the current stage. A device counts once per stage (a
    /// later report replaces its earlier one), so repeated reports cannot push a stage forward.
    pub fn report(&mut self, device_id: &[u8], outcome: InstallOutcome) -> RolloutDecision {
        if !self.halted && !self.complete {
            self.confirmed.remove(device_id);
            self.failed.remove(device_id);
            match outcome {
                InstallOutcome::Confirmed => self.confirmed.insert(device_id.to_vec()),
                InstallOutcome::Failed => self.failed.insert(device_id.to_vec()),
            };
        }
        self.decide()
    }

    /// The decision for the reports so far (advancing the stage when its criteria are met).
    pub fn decide(&mut self) -> RolloutDecision {
        let stage = self.stage();
        let failures = self.failed.len() as u32;
        let reports = failures + self.confirmed.len() as u32;
        if self.complete {
            return RolloutDecision::Complete;
        }
        let sample = u64::from(reports.max(stage.min_reports)).max(1);
        if self.halted || u64::from(failures) * 10_000 > u64::from(stage.max_failure_bps) * sample {
            self.halted = true;
            return RolloutDecision::Halted {
                stage: self.current,
                failures,
                reports,
            };
        }
        if reports < stage.min_reports {
            return RolloutDecision::Hold {
                stage: self.current,
                basis_points: stage.basis_points,
            };
        }
        if self.current + 1 >= self.stages.len() {
            self.complete = true;
            return RolloutDecision::Complete;
        }
        self.current += 1;
        self.confirmed.clear();
        self.failed.clear();
        RolloutDecision::Advance {
            stage: self.current,
            basis_points: self.stage().basis_points,
        }
    }

    /// Continues a halted rollout in the same stage with fresh counts (after a fix).
    pub fn resume(&mut self) {
        self.halted = false;
        self.confirmed.clear();
        self.failed.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> Vec<u8> {
        n.to_be_bytes().to_vec()
    }

    #[test]
    fn a_healthy_rollout_walks_1_10_50_100() {
        let mut p = RolloutPlanner::standard();
        assert_eq!(p.current_basis_points(), 100);
        let mut seen = Vec::new();
        let mut n = 0;
        loop {
            n += 1;
            match p.report(&id(n), InstallOutcome::Confirmed) {
                RolloutDecision::Advance { basis_points, .. } => seen.push(basis_points),
                RolloutDecision::Complete => break,
                RolloutDecision::Hold { .. } => {}
                RolloutDecision::Halted { .. } => panic!("healthy rollout halted"),
            }
        }
        assert_eq!(seen, [1000, 5000, 10_000]);
        assert_eq!(n, 20 + 100 + 500 + 1000);
    }

    #[test]
    fn failures_above_the_threshold_halt_and_stay_halted() {
        let mut p = RolloutPlanner::standard();
        for n in 0..19 {
            p.report(&id(n), InstallOutcome::Confirmed);
        }
        // 2% of 20 is 0.4: the first failure halts the canary.
        assert_eq!(
            p.report(&id(99), InstallOutcome::Failed),
            RolloutDecision::Halted {
                stage: 0,
                failures: 1,
                reports: 20
            }
        );
        assert!(matches!(
            p.report(&id(100), InstallOutcome::Confirmed),
            RolloutDecision::Halted { .. }
        ));
        p.resume();
        assert!(matches!(p.decide(), RolloutDecision::Hold { stage: 0, .. }));
    }

    #[test]
    fn repeated_reports_from_one_device_count_once() {
        let mut p = RolloutPlanner::standard();
        for _ in 0..100 {
            assert!(matches!(
                p.report(b"same", InstallOutcome::Confirmed),
                RolloutDecision::Hold { stage: 0, .. }
            ));
        }
    }

    #[test]
    fn tolerated_failures_in_a_large_stage_do_not_halt() {
        let stages = alloc::vec![
            Stage {
                basis_points: 5000,
                min_reports: 100,
                max_failure_bps: 200
            },
            Stage {
                basis_points: 10_000,
                min_reports: 1,
                max_failure_bps: 200
            },
        ];
        let mut p = RolloutPlanner::new(stages).unwrap();
        p.report(&id(1), InstallOutcome::Failed);
        p.report(&id(2), InstallOutcome::Failed);
        for n in 3..=100 {
            let d = p.report(&id(n), InstallOutcome::Confirmed);
            if n < 100 {
                assert!(matches!(d, RolloutDecision::Hold { .. }), "{n}: {d:?}");
            } else {
                assert_eq!(
                    d,
                    RolloutDecision::Advance {
                        stage: 1,
                        basis_points: 10_000
                    }
                );
            }
        }
        // A third failure in 100 (3%) would have halted.
        let stages = alloc::vec![Stage {
            basis_points: 10_000,
            min_reports: 100,
            max_failure_bps: 200
        }];
        let mut p = RolloutPlanner::new(stages).unwrap();
        for n in 0..3 {
            p.report(&id(n), InstallOutcome::Failed);
        }
        assert!(matches!(
            p.decide(),
            RolloutDecision::Halted { failures: 3, .. }
        ));
    }

    #[test]
    fn plans_must_widen_to_the_whole_fleet() {
        let s = |basis_points| Stage {
            basis_points,
            min_reports: 1,
            max_failure_bps: 100,
        };
        // PlanError has one variant today; each refusal is still checked to be a typed plan
        // error, and the valid plan to start at its first stage.
        let refused = [
            alloc::vec![],
            alloc::vec![s(100), s(100), s(10_000)],
            alloc::vec![s(5000), s(100), s(10_000)],
            alloc::vec![s(100), s(5000)],
            alloc::vec![s(0), s(10_000)],
            alloc::vec![s(100), s(10_001)],
        ];
        for stages in refused {
            let shown = alloc::format!("{stages:?}");
            assert!(
                matches!(RolloutPlanner::new(stages), Err(PlanError::BadStages)),
                "{shown}"
            );
        }
        let mut plan = RolloutPlanner::new(alloc::vec![s(100), s(10_000)]).unwrap();
        assert_eq!(plan.current_basis_points(), 100);
        assert_eq!(
            plan.decide(),
            RolloutDecision::Hold {
                stage: 0,
                basis_points: 100
            }
        );
    }
}
