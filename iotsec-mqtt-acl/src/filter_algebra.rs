//! Set algebra over topic filters: containment, intersection and difference, exact under
//! MQTT 5.0 §4.7.1 (`#` also matches its parent level) and §4.7.2 (a filter that starts with a
//! wildcard never matches a `$` topic).
//!
//! A filter denotes the set of topic names it matches. Containment and intersection are exact
//! and single-filter valued; the difference of two filters is in general not a filter (`+`
//! minus `x`), so [`Difference`] keeps it symbolic and answers emptiness and membership.

use alloc::string::String;
use alloc::vec::Vec;

use crate::topic::{FilterLevel, matches_levels};

/// Work limit of [`is_covered`]: past it the answer is "not covered" (fail closed).
pub const COVERAGE_STEP_LIMIT: u32 = 100_000;

fn is_reserved_literal(level: Option<&FilterLevel<'_>>) -> bool {
    matches!(level, Some(FilterLevel::Literal(l)) if l.starts_with('$'))
}

/// Whether every topic matched by `inner` is matched by `outer`.
pub fn contains(outer: &[FilterLevel<'_>], inner: &[FilterLevel<'_>]) -> bool {
    contains_at(outer, inner, true)
}

fn contains_at(outer: &[FilterLevel<'_>], inner: &[FilterLevel<'_>], first: bool) -> bool {
    use FilterLevel::*;
    match (outer.split_first(), inner.split_first()) {
        (Some((MultiWildcard, _)), _) => !(first && is_reserved_literal(inner.first())),
        (None, None) => true,
        (None, Some(_)) | (Some(_), None) => false,
        (Some((SingleWildcard, o)), Some((Literal(l), i))) => {
            !(first && l.starts_with('$')) && contains_at(o, i, false)
        }
        (Some((SingleWildcard, o)), Some((SingleWildcard, i))) => contains_at(o, i, false),
        // A leading `#` has no parent topic (topics have at least one level), so it equals `+/#`.
        (Some((SingleWildcard, o)), Some((MultiWildcard, _))) => {
            first && contains_at(o, &[MultiWildcard], false)
        }
        (Some((Literal(a), o)), Some((Literal(b), i))) => a == b && contains_at(o, i, false),
        (Some((Literal(_), _)), Some(_)) => false,
    }
}

/// The filter matching exactly the topics both filters match, or `None` if they share none.
pub fn intersection<'a>(
    a: &[FilterLevel<'a>],
    b: &[FilterLevel<'a>],
) -> Option<Vec<FilterLevel<'a>>> {
    let mut out = Vec::new();
    intersect_at(a, b, true, &mut out).then_some(out)
}

fn intersect_at<'a>(
    a: &[FilterLevel<'a>],
    b: &[FilterLevel<'a>],
    first: bool,
    out: &mut Vec<FilterLevel<'a>>,
) -> bool {
    use FilterLevel::*;
    match (a.split_first(), b.split_first()) {
        (None, None) => true,
        (Some((MultiWildcard, _)), _) => {
            if first && is_reserved_literal(b.first()) {
                return false;
            }
            out.extend_from_slice(b);
            true
        }
        (_, Some((MultiWildcard, _))) => {
            if first && is_reserved_literal(a.first()) {
                return false;
            }
            out.extend_from_slice(a);
            true
        }
        (None, Some(_)) | (Some(_), None) => false,
        (Some((Literal(x), ra)), Some((Literal(y), rb))) => {
            x == y && {
                out.push(Literal(x));
                intersect_at(ra, rb, false, out)
            }
        }
        (Some((Literal(x), ra)), Some((SingleWildcard, rb)))
        | (Some((SingleWildcard, ra)), Some((Literal(x), rb))) => {
            if first && x.starts_with('$') {
                return false;
            }
            out.push(Literal(x));
            intersect_at(ra, rb, false, out)
        }
        (Some((SingleWildcard, ra)), Some((SingleWildcard, rb))) => {
            out.push(SingleWildcard);
            intersect_at(ra, rb, false, out)
        }
    }
}

/// Whether two filters match at least one common topic (no allocation).
pub fn overlaps(a: &[FilterLevel<'_>], b: &[FilterLevel<'_>]) -> bool {
    overlaps_with(|k| a.get(k).copied(), b)
}

/// [`overlaps`] for a filter read level by level (`level(k)` is `None` past its end): both
/// filters advance in lock-step, so no state but the level index is needed.
pub fn overlaps_with<'a>(
    level: impl Fn(usize) -> Option<FilterLevel<'a>>,
    b: &[FilterLevel<'_>],
) -> bool {
    use FilterLevel::*;
    let mut k = 0;
    loop {
        let first = k == 0;
        match (level(k), b.get(k).copied()) {
            (None, None) => return true,
            (Some(MultiWildcard), _) => return !(first && is_reserved_literal(b.first())),
            (_, Some(MultiWildcard)) => return !(first && is_reserved_literal(level(0).as_ref())),
            (None, Some(_)) | (Some(_), None) => return false,
            (Some(Literal(x)), Some(Literal(y))) => {
                if x != y {
                    return false;
                }
            }
            (Some(Literal(x)), Some(SingleWildcard)) | (Some(SingleWildcard), Some(Literal(x))) => {
                if first && x.starts_with('$') {
                    return false;
                }
            }
            (Some(SingleWildcard), Some(SingleWildcard)) => {}
        }
        k += 1;
    }
}

/// The most filters [`is_covered_by_set`] takes: one bit each in a `u64`.
pub const SET_CAPACITY: usize = 64;

/// Up to [`SET_CAPACITY`] filters read level by level, so that coverage can be decided without
/// building them (a broker's SUBSCRIBE check instantiates templates level by level).
pub trait FilterSet<'a> {
    /// How many filters the set has.
    fn count(&self) -> usize;
    /// Level `k` of filter `i`, or `None` past its end (or past the set).
    fn level(&self, i: usize, k: usize) -> Option<FilterLevel<'a>>;
}

impl<'a> FilterSet<'a> for [&[FilterLevel<'a>]] {
    fn count(&self) -> usize {
        self.len()
    }
    fn level(&self, i: usize, k: usize) -> Option<FilterLevel<'a>> {
        self.get(i).and_then(|f| f.get(k)).copied()
    }
}

/// [`is_covered`] without allocation: whether every topic `filter` matches is matched by a
/// filter of `set`. A set larger than [`SET_CAPACITY`], or a search past
/// [`COVERAGE_STEP_LIMIT`] steps, answers `false` (fail closed).
pub fn is_covered_by_set<'a, S: FilterSet<'a> + ?Sized>(
    filter: &[FilterLevel<'a>],
    set: &S,
) -> bool {
    let n = set.count();
    if n > SET_CAPACITY {
        return false;
    }
    let mask = if n == SET_CAPACITY {
        u64::MAX
    } else {
        (1u64 << n) - 1
    };
    let mut budget = COVERAGE_STEP_LIMIT;
    covered_masked(filter, set, mask, 0, true, &mut budget)
}

fn members(mask: u64) -> impl Iterator<Item = usize> {
    (0..SET_CAPACITY).filter(move |i| (mask >> i) & 1 == 1)
}

fn select(mask: u64, keep: impl Fn(usize) -> bool) -> u64 {
    members(mask)
        .filter(|&i| keep(i))
        .fold(0, |acc, i| acc | (1u64 << i))
}

// The filters of a set all advance one level per step (exactly as `covered_at` advances its
// slices), so the active filters are a bit mask and a common level index `k`.
fn covered_masked<'a, S: FilterSet<'a> + ?Sized>(
    a: &[FilterLevel<'a>],
    set: &S,
    mask: u64,
    k: usize,
    first: bool,
    budget: &mut u32,
) -> bool {
    use FilterLevel::*;
    if *budget == 0 {
        return false;
    }
    *budget -= 1;
    let head = |i: usize| set.level(i, k);
    let any_hash = members(mask).any(|i| head(i) == Some(MultiWildcard));
    match a.split_first() {
        None => members(mask).any(|i| match head(i) {
            None => true,
            Some(MultiWildcard) => set.level(i, k + 1).is_none(),
            _ => false,
        }),
        Some((Literal(l), rest)) => {
            let reserved = first && l.starts_with('$');
            if !reserved && any_hash {
                return true;
            }
            let next = select(mask, |i| match head(i) {
                Some(Literal(x)) => x == *l,
                Some(SingleWildcard) => !reserved,
                _ => false,
            });
            next != 0 && covered_masked(rest, set, next, k + 1, false, budget)
        }
        Some((SingleWildcard, rest)) => {
            if any_hash {
                return true;
            }
            // As in `covered_at`: each literal the set names at this level, then a fresh value.
            for i in members(mask) {
                let Some(Literal(x)) = head(i) else {
                    continue;
                };
                if (first && x.starts_with('$'))
                    || members(mask)
                        .take_while(|&j| j < i)
                        .any(|j| head(j) == Some(Literal(x)))
                {
                    continue;
                }
                let next = select(mask, |j| match head(j) {
                    Some(Literal(y)) => y == x,
                    Some(SingleWildcard) => true,
                    _ => false,
                });
                if next == 0 || !covered_masked(rest, set, next, k + 1, false, budget) {
                    return false;
                }
            }
            let fresh = select(mask, |j| head(j) == Some(SingleWildcard));
            fresh != 0 && covered_masked(rest, set, fresh, k + 1, false, budget)
        }
        Some((MultiWildcard, _)) => {
            if any_hash {
                return true;
            }
            if mask == 0 {
                return false;
            }
            let parent_ok = first || covered_masked(&[], set, mask, k, first, budget);
            parent_ok
                && covered_masked(
                    &[SingleWildcard, MultiWildcard],
                    set,
                    mask,
                    k,
                    first,
                    budget,
                )
        }
    }
}

/// Whether every topic matched by `filter` is matched by at least one filter of `by`
/// (the union). Exact; answers `false` if the search exceeds [`COVERAGE_STEP_LIMIT`] steps.
pub fn is_covered(filter: &[FilterLevel<'_>], by: &[&[FilterLevel<'_>]]) -> bool {
    let mut budget = COVERAGE_STEP_LIMIT;
    covered_at(filter, by.to_vec(), true, &mut budget)
}

fn covered_at(
    a: &[FilterLevel<'_>],
    bs: Vec<&[FilterLevel<'_>]>,
    first: bool,
    budget: &mut u32,
) -> bool {
    use FilterLevel::*;
    if *budget == 0 {
        return false;
    }
    *budget -= 1;
    let head_is_hash = |b: &&[FilterLevel<'_>]| matches!(b.first(), Some(MultiWildcard));
    match a.split_first() {
        None => bs
            .iter()
            .any(|b| b.is_empty() || matches!(b, [MultiWildcard])),
        Some((Literal(l), rest)) => {
            let reserved = first && l.starts_with('$');
            if !reserved && bs.iter().any(head_is_hash) {
                return true;
            }
            let next: Vec<_> = bs
                .iter()
                .filter_map(|b| match b.split_first() {
                    Some((Literal(x), r)) if x == l => Some(r),
                    Some((SingleWildcard, r)) if !reserved => Some(r),
                    _ => None,
                })
                .collect();
            !next.is_empty() && covered_at(rest, next, false, budget)
        }
        Some((SingleWildcard, rest)) => {
            if bs.iter().any(head_is_hash) {
                return true;
            }
            // `+` stands for infinitely many values; only the literals the union names can be
            // treated differently from a fresh value, so try each of them and one fresh value.
            let mut literals: Vec<&str> = bs
                .iter()
                .filter_map(|b| match b.first() {
                    Some(Literal(x)) if !(first && x.starts_with('$')) => Some(*x),
                    _ => None,
                })
                .collect();
            literals.sort_unstable();
            literals.dedup();
            for value in literals {
                let next: Vec<_> = bs
                    .iter()
                    .filter_map(|b| match b.split_first() {
                        Some((Literal(x), r)) if *x == value => Some(r),
                        Some((SingleWildcard, r)) => Some(r),
                        _ => None,
                    })
                    .collect();
                if next.is_empty() || !covered_at(rest, next, false, budget) {
                    return false;
                }
            }
            let fresh: Vec<_> = bs
                .iter()
                .filter_map(|b| match b.split_first() {
                    Some((SingleWildcard, r)) => Some(r),
                    _ => None,
                })
                .collect();
            !fresh.is_empty() && covered_at(rest, fresh, false, budget)
        }
        Some((MultiWildcard, _)) => {
            if bs.iter().any(head_is_hash) {
                return true;
            }
            if bs.is_empty() {
                return false;
            }
            // `#` = the parent (no further level; not a topic at the first level) plus `+/#`.
            let parent_ok = first || covered_at(&[], bs.clone(), first, budget);
            parent_ok && covered_at(&[SingleWildcard, MultiWildcard], bs, first, budget)
        }
    }
}

/// The topics of `base` that none of `minus` match, kept symbolic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference<'a> {
    /// The filter topics are taken from.
    pub base: Vec<FilterLevel<'a>>,
    /// The filters whose topics are removed.
    pub minus: Vec<Vec<FilterLevel<'a>>>,
}

impl<'a> Difference<'a> {
    /// `base` minus the union of `minus`.
    pub fn new(base: &[FilterLevel<'a>], minus: &[&[FilterLevel<'a>]]) -> Self {
        Difference {
            base: base.to_vec(),
            minus: minus
                .iter()
                .filter(|m| overlaps(base, m))
                .map(|m| m.to_vec())
                .collect(),
        }
    }

    /// Whether no topic is left.
    pub fn is_empty(&self) -> bool {
        let by: Vec<&[FilterLevel<'a>]> = self.minus.iter().map(Vec::as_slice).collect();
        is_covered(&self.base, &by)
    }

    /// Whether a topic name (assumed valid) is in the difference.
    pub fn matches(&self, topic: &str) -> bool {
        matches_levels(self.base.iter().copied(), topic)
            && !self
                .minus
                .iter()
                .any(|m| matches_levels(m.iter().copied(), topic))
    }
}

/// Joins filter levels back into filter text.
pub fn to_filter_string(levels: &[FilterLevel<'_>]) -> String {
    let mut s = String::new();
    for (i, level) in levels.iter().enumerate() {
        if i > 0 {
            s.push('/');
        }
        s.push_str(match level {
            FilterLevel::Literal(l) => l,
            FilterLevel::SingleWildcard => "+",
            FilterLevel::MultiWildcard => "#",
        });
    }
    s
}
