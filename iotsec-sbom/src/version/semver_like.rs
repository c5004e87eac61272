//! Semantic Versioning 2.0.0 precedence (§11), lenient as OSV `SEMVER` ranges need it: an
//! optional `v` prefix, any number of numeric components (missing ones are 0), numbers of any
//! size, build metadata (`+...`) ignored. Text after the numeric core that is not introduced by
//! `-` is treated as a pre-release, so `1.0.0rc1` sorts before `1.0.0`.

use core::cmp::Ordering;

use super::compare_digit_runs;

/// Splits a version into its dotted numeric core and its pre-release (if any), without allocating.
fn split(version: &str) -> (&str, Option<&str>) {
    let v = version.strip_prefix('v').unwrap_or(version);
    let v = v.split_once('+').map_or(v, |(head, _build)| head);
    let bytes = v.as_bytes();
    let mut end = 0;
    loop {
        let run = bytes
            .get(end..)
            .map_or(0, |r| r.iter().take_while(|c| c.is_ascii_digit()).count());
        if run == 0 {
            break;
        }
        end += run;
        let dot_then_digit =
            bytes.get(end) == Some(&b'.') && bytes.get(end + 1).is_some_and(u8::is_ascii_digit);
        if !dot_then_digit {
            break;
        }
        end += 1;
    }
    let (core, rest) = v.split_at(end);
    let pre = if rest.is_empty() {
        None
    } else {
        Some(rest.strip_prefix('-').unwrap_or(rest))
    };
    (core, pre)
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
    let (a_core, a_pre) = split(a);
    let (b_core, b_pre) = split(b);
    let mut xs = a_core.split('.').filter(|c| !c.is_empty());
    let mut ys = b_core.split('.').filter(|c| !c.is_empty());
    loop {
        let (x, y) = match (xs.next(), ys.next()) {
            (None, None) => break,
            (x, y) => (x.unwrap_or("0"), y.unwrap_or("0")),
        };
        let ord = compare_digit_runs(x, y);
        if ord != Ordering::Equal {
            return ord;
        }
    }
    match (a_pre, b_pre) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => compare_prerelease(x, y),
    }
}
