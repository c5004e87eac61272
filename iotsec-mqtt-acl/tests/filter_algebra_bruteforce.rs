//! Containment, intersection, coverage and difference checked against brute-force enumeration
//! of topics over a small alphabet (3 literals incl. a `$` one, plus one fresh value), up to
//! 4 filter levels.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_mqtt_acl::filter_algebra::{
    Difference, contains, intersection, is_covered, is_covered_by_set, overlaps, overlaps_with,
    to_filter_string,
};
use iotsec_mqtt_acl::topic::{FilterLevel, matches_levels};
use proptest::prelude::*;

const VALUES: [&str; 4] = ["a", "b", "$s", "z"];

fn all_topics() -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut layer: Vec<String> = VALUES.iter().map(|v| v.to_string()).collect();
    for _ in 0..5 {
        out.extend(layer.iter().cloned());
        layer = layer
            .iter()
            .flat_map(|t| VALUES.iter().map(move |v| format!("{t}/{v}")))
            .collect();
    }
    out
}

fn filter_strategy() -> impl Strategy<Value = Vec<FilterLevel<'static>>> {
    let level = prop_oneof![
        Just(FilterLevel::Literal("a")),
        Just(FilterLevel::Literal("b")),
        Just(FilterLevel::Literal("$s")),
        Just(FilterLevel::SingleWildcard),
    ];
    (prop::collection::vec(level, 1..=4), any::<bool>()).prop_map(|(mut v, hash)| {
        if hash {
            v.pop();
            v.push(FilterLevel::MultiWildcard);
        }
        v
    })
}

fn set(f: &[FilterLevel<'_>], topics: &[String]) -> Vec<bool> {
    topics
        .iter()
        .map(|t| matches_levels(f.iter().copied(), t))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// The allocation-free engine a SUBSCRIBE check runs agrees with enumeration.
    #[test]
    fn set_coverage_and_streamed_overlap_match_enumeration(
        filter in filter_strategy(),
        union in prop::collection::vec(filter_strategy(), 0..5),
    ) {
        let topics = all_topics();
        let target = set(&filter, &topics);
        let covered_sets: Vec<Vec<bool>> = union.iter().map(|u| set(u, &topics)).collect();
        let brute = target
            .iter()
            .enumerate()
            .all(|(t, hit)| !*hit || covered_sets.iter().any(|s| s[t]));
        let refs: Vec<&[FilterLevel<'_>]> = union.iter().map(Vec::as_slice).collect();
        prop_assert_eq!(is_covered_by_set(&filter, refs.as_slice()), brute);
        prop_assert_eq!(is_covered(&filter, &refs), brute);
        for u in &union {
            let shares = set(u, &topics).iter().zip(&target).any(|(x, y)| *x && *y);
            prop_assert_eq!(overlaps_with(|k| u.get(k).copied(), &filter), shares);
        }
    }

    #[test]
    fn containment_matches_enumeration(a in filter_strategy(), b in filter_strategy()) {
        let topics = all_topics();
        let (sa, sb) = (set(&a, &topics), set(&b, &topics));
        let brute = sa.iter().zip(&sb).all(|(x, y)| !*y || *x);
        prop_assert_eq!(contains(&a, &b), brute, "{} contains {}", to_filter_string(&a), to_filter_string(&b));
        prop_assert_eq!(is_covered(&b, &[&a]), brute);
    }

    #[test]
    fn intersection_matches_enumeration(a in filter_strategy(), b in filter_strategy()) {
        let topics = all_topics();
        let (sa, sb) = (set(&a, &topics), set(&b, &topics));
        let brute: Vec<bool> = sa.iter().zip(&sb).map(|(x, y)| *x && *y).collect();
        match intersection(&a, &b) {
            Some(i) => prop_assert_eq!(set(&i, &topics), brute.clone()),
            None => prop_assert!(brute.iter().all(|x| !x)),
        }
        prop_assert_eq!(overlaps(&a, &b), brute.iter().any(|x| *x));
    }

    #[test]
    fn union_coverage_and_difference_match_enumeration(
        a in filter_strategy(),
        bs in prop::collection::vec(filter_strategy(), 0..4),
    ) {
        let topics = all_topics();
        let sa = set(&a, &topics);
        let sets: Vec<Vec<bool>> = bs.iter().map(|b| set(b, &topics)).collect();
        let brute = (0..topics.len()).all(|i| !sa[i] || sets.iter().any(|s| s[i]));
        let refs: Vec<&[FilterLevel<'_>]> = bs.iter().map(Vec::as_slice).collect();
        prop_assert_eq!(is_covered(&a, &refs), brute);
        let diff = Difference::new(&a, &refs);
        prop_assert_eq!(diff.is_empty(), brute);
        for (i, t) in topics.iter().enumerate() {
            prop_assert_eq!(diff.matches(t), sa[i] && !sets.iter().any(|s| s[i]));
        }
    }
}

#[test]
fn known_cases() {
    let f = |s: &'static str| -> Vec<FilterLevel<'static>> {
        iotsec_mqtt_acl::TopicFilter::new(s)
            .unwrap()
            .levels()
            .collect()
    };
    assert!(
        !contains(&f("a/+"), &f("a/#")),
        "a/+ must not admit a/# (EMQX/VerneMQ/HiveMQ slip)"
    );
    assert!(!contains(&f("+"), &f("#")));
    assert!(contains(&f("a/#"), &f("a")), "# matches the parent");
    assert!(!contains(&f("#"), &f("$SYS/#")));
    assert!(is_covered(&f("a/#"), &[&f("a"), &f("a/+/#")]));
    assert!(!is_covered(&f("a/#"), &[&f("a/+/#")]));
    assert_eq!(
        to_filter_string(&intersection(&f("a/#"), &f("+/b")).unwrap()),
        "a/b"
    );
    assert_eq!(intersection(&f("#"), &f("$SYS/x")), None);
}
