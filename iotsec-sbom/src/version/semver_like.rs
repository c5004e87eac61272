//! Semantic Versioning 2.0.0 precedence (§11), lenient as OSV `SEMVER` ranges need it: an
//! optional `v` prefix, any number of numeric components (missing ones are 0), numbers of any
//! size, build metadata (`+...`) ignored. Text after the numeric core that is not introduced by
//! `-` is treated as a pre-release, so `1.0.0rc1` sorts before `1.0.0`.

use core::cmp::Ordering;

use super::{compare_digit_runs, split_digits};

struct SemverParts<'a> {
    core: Vec<&'a str>,
    pre: Option<&'a str>,
}

fn parse(version: &str) -> SemverParts<'_> {
    let v = version.strip_prefix('v').unwrap_or(version);
    let v = v.split_once('+').map_or(v, |(head, _build)| head);
    let mut core = Vec::with_capacity(3);
    let mut rest = v;
    loop {
        let (digits, after) = split_digits(rest);
        if digits.is_empty() {
            break;
        }
        core.push(digits);
        rest = after;
        match rest.strip_prefix('.') {
            Some(after_dot) if after_dot.starts_with(|c: char| c.is_ascii_digit()) => {
                rest = after_dot;
            }
            _ => break,
        }
    }
    let pre = if rest.is_empty() {
        None
    } else {
        Some(rest.strip_prefix('-').unwrap_or(rest))
    };
    SemverParts { core, pre }
}

fn compare_identifier(a: &str, b: &str) -> Ordering {
    let a_num = !a.is_empty() && a.bytes().all(|c| c.is_ascii_digit());
    let b_num = !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit());
    match (a_num, b_num) {
        (true, true) => compare_digit_runs(a, b),
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.cmp(b),
    }
}

fn compare_prerelease(a: &str, b: &str) -> Ordering {
    let mut a_ids = a.split('.');
    let mut b_ids = b.split('.');
    loop {
        match (a_ids.next(), b_ids.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let ord = compare_identifier(x, y);
                if ord != Ordering::Equal {
                    return ord;
                }
            }
        }
    }
}

/// Compares two versions by Semantic Versioning 2.0.0 precedence (§11), leniently (module doc).
pub fn compare_semver(a: &str, b: &str) -> Ordering {
    let a = parse(a);
    let b = parse(b);
    let n = a.core.len().max(b.core.len());
    for i in 0..n {
        let x = a.core.get(i).copied().unwrap_or("0");
        let y = b.core.get(i).copied().unwrap_or("0");
        let ord = compare_digit_runs(x, y);
        if ord != Ordering::Equal {
            return ord;
        }
    }
    match (a.pre, b.pre) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => compare_prerelease(x, y),
    }
}
