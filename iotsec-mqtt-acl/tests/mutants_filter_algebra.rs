//! Limits of the coverage search that mutation testing found unexercised: the step budget
//! ([`COVERAGE_STEP_LIMIT`], past it "not covered", fail closed) and the set capacity
//! ([`SET_CAPACITY`] filters, one bit each).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_mqtt_acl::filter_algebra::{
    COVERAGE_STEP_LIMIT, SET_CAPACITY, is_covered, is_covered_by_set,
};
use iotsec_mqtt_acl::topic::FilterLevel::{self, Literal, MultiWildcard, SingleWildcard};

type Filter = Vec<FilterLevel<'static>>;

/// `levels` single-level wildcards, and a set that covers it: the all-`+` filter plus, for each
/// level `k` and each of `names`, `copies` filters naming it at `k`, `then` (if any) at `k + 1`,
/// and `+` elsewhere. Deciding coverage visits every combination of a name or a fresh value per
/// level: `(names.len() + 1) ^ levels` steps when `copies` is 1 and `then` is `None`.
fn wildcards_and_a_set(
    levels: usize,
    names: &[&'static str],
    copies: usize,
    then: Option<&'static str>,
) -> (Filter, Vec<Filter>) {
    let filter = vec![SingleWildcard; levels];
    let mut set = vec![filter.clone()];
    for k in 0..levels {
        for name in names {
            let mut f = filter.clone();
            f[k] = Literal(name);
            if let (Some(then), Some(next)) = (then, f.get_mut(k + 1)) {
                *next = Literal(then);
            }
            set.extend(core::iter::repeat_n(f, copies));
        }
    }
    assert!(set.len() <= SET_CAPACITY);
    (filter, set)
}

fn both(filter: &[FilterLevel<'_>], set: &[Vec<FilterLevel<'_>>]) -> (bool, bool) {
    let refs: Vec<&[FilterLevel<'_>]> = set.iter().map(Vec::as_slice).collect();
    (
        is_covered(filter, &refs),
        is_covered_by_set(filter, refs.as_slice()),
    )
}

#[test]
fn coverage_within_the_step_budget_is_decided() {
    // 4^6 = 4096 steps.
    let (filter, set) = wildcards_and_a_set(6, &["x", "y", "w"], 1, None);
    assert_eq!(both(&filter, &set), (true, true));
}

#[test]
fn coverage_past_the_step_budget_answers_not_covered() {
    // 4^9 = 262144 steps, past the limit; the same shape as above, so only the budget decides.
    assert!(4u32.pow(9) > COVERAGE_STEP_LIMIT);
    let (filter, set) = wildcards_and_a_set(9, &["x", "y", "w"], 1, None);
    assert_eq!(both(&filter, &set), (false, false));
}

/// `count - 1` filters that do not cover `a/b`, then `#`, which does.
fn set_ending_in_hash(count: usize) -> Vec<Vec<FilterLevel<'static>>> {
    let mut set = vec![vec![Literal("other")]; count - 1];
    set.push(vec![MultiWildcard]);
    set
}

#[test]
fn a_full_set_is_read_to_its_last_filter() {
    let filter = [Literal("a"), Literal("b")];
    let set = set_ending_in_hash(SET_CAPACITY);
    assert_eq!(both(&filter, &set), (true, true));
}

#[test]
fn a_set_over_capacity_is_refused() {
    let filter = [Literal("a"), Literal("b")];
    let set = set_ending_in_hash(SET_CAPACITY + 1);
    let refs: Vec<&[FilterLevel<'_>]> = set.iter().map(Vec::as_slice).collect();
    assert!(!is_covered_by_set(&filter, refs.as_slice()));
    // The allocating form has no capacity limit.
    assert!(is_covered(&filter, &refs));
}

#[test]
fn a_literal_named_twice_is_tried_once() {
    // Every literal filter twice: tried once per name the search takes 3^8 = 6561 steps, within
    // the budget; tried once per filter it would take 5^8 = 390625, past it.
    let (filter, set) = wildcards_and_a_set(8, &["x", "y"], 2, None);
    assert!(3u32.pow(8) < COVERAGE_STEP_LIMIT && 5u32.pow(8) > COVERAGE_STEP_LIMIT);
    assert_eq!(both(&filter, &set), (true, true));
}

#[test]
fn a_literal_branch_carries_the_filters_naming_that_literal() {
    // Each literal filter names `x` or `y` at one level and `z` at the next, so a branch that
    // took `x` meets `z` one level down only if it kept the filters naming `x`: the search then
    // tries more values per level, and at 8 levels fits the budget, at 9 does not. (A branch
    // that dropped them would still answer `true` at 9, more cheaply.)
    for (levels, decided) in [(8, true), (9, false)] {
        let (filter, set) = wildcards_and_a_set(levels, &["x", "y"], 1, Some("z"));
        assert_eq!(both(&filter, &set), (decided, decided), "{levels} levels");
    }
}
