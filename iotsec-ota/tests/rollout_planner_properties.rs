//! Property tests for the staged-rollout state machine: the signed share only widens, a halt is
//! sticky, and a stage advances only on enough distinct reports within its failure threshold.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_ota::rollout_planner::{InstallOutcome, RolloutDecision, RolloutPlanner, Stage};
use proptest::prelude::*;

fn stages() -> Vec<Stage> {
    vec![
        Stage {
            basis_points: 100,
            min_reports: 5,
            max_failure_bps: 2000,
        },
        Stage {
            basis_points: 1000,
            min_reports: 10,
            max_failure_bps: 1000,
        },
        Stage {
            basis_points: 10_000,
            min_reports: 20,
            max_failure_bps: 500,
        },
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn share_only_widens_and_halts_are_sticky(
        reports in proptest::collection::vec((0u8..30, proptest::bool::weighted(0.1)), 1..200),
    ) {
        let plan = stages();
        let mut planner = RolloutPlanner::new(plan.clone()).unwrap();
        let mut last_bps = planner.current_basis_points();
        let mut halted = false;
        let mut complete = false;
        // Distinct devices (and their latest outcome) in the current stage.
        let mut seen: std::collections::HashMap<u8, bool> = Default::default();
        let mut stage = 0usize;
        for (device, failed) in reports {
            let outcome = if failed { InstallOutcome::Failed } else { InstallOutcome::Confirmed };
            if !halted && !complete {
                seen.insert(device, failed);
            }
            let decision = planner.report(&[device], outcome);
            let bps = planner.current_basis_points();
            prop_assert!(bps >= last_bps, "share narrowed: {last_bps} -> {bps}");
            last_bps = bps;
            match decision {
                RolloutDecision::Halted { stage: s, failures, reports } => {
                    prop_assert_eq!(s, stage);
                    let expected_failures = seen.values().filter(|f| **f).count() as u32;
                    prop_assert_eq!(failures, expected_failures);
                    prop_assert_eq!(reports, seen.len() as u32);
                    let sample = u64::from(reports.max(plan[stage].min_reports)).max(1);
                    prop_assert!(u64::from(failures) * 10_000 > u64::from(plan[stage].max_failure_bps) * sample);
                    halted = true;
                }
                RolloutDecision::Advance { stage: s, basis_points } => {
                    prop_assert!(!halted, "advanced after a halt");
                    prop_assert_eq!(s, stage + 1);
                    prop_assert!(seen.len() as u32 >= plan[stage].min_reports);
                    prop_assert_eq!(basis_points, plan[s].basis_points);
                    stage = s;
                    seen.clear();
                }
                RolloutDecision::Hold { stage: s, .. } => {
                    prop_assert!(!halted);
                    prop_assert_eq!(s, stage);
                    prop_assert!((seen.len() as u32) < plan[stage].min_reports);
                }
                RolloutDecision::Complete => {
                    prop_assert!(!halted);
                    prop_assert_eq!(stage, plan.len() - 1);
                    complete = true;
                }
            }
        }
    }
}
