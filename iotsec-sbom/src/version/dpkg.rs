//! Debian version ordering, Debian Policy Manual §5.6.12 (`[epoch:]upstream[-revision]`), the
//! algorithm of `dpkg --compare-versions` (`verrevcmp`): alternating non-digit and digit parts;
//! in non-digit parts `~` sorts before everything (even the end), letters before other
//! characters; digit parts compare numerically.

use core::cmp::Ordering;

use super::{compare_digit_runs, split_digits};

struct DebianVersion<'a> {
    epoch: &'a str,
    upstream: &'a str,
    revision: &'a str,
}

fn parse(version: &str) -> DebianVersion<'_> {
    let version = version.trim();
    let (epoch, rest) = match version.split_once(':') {
        Some((e, rest)) if e.bytes().all(|c| c.is_ascii_digit()) => (e, rest),
        _ => ("0", version),
    };
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((u, r)) => (u, r),
        None => (rest, ""),
    };
    DebianVersion {
        epoch,
        upstream,
        revision,
    }
}

fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn verrevcmp(mut a: &str, mut b: &str) -> Ordering {
    while !a.is_empty() || !b.is_empty() {
        let a_end = a
            .bytes()
            .position(|c| c.is_ascii_digit())
            .unwrap_or(a.len());
        let b_end = b
            .bytes()
            .position(|c| c.is_ascii_digit())
            .unwrap_or(b.len());
        let (a_text, a_rest) = a.split_at(a_end);
        let (b_text, b_rest) = b.split_at(b_end);
        let (mut at, mut bt) = (a_text.bytes(), b_text.bytes());
        loop {
            let (x, y) = (at.next(), bt.next());
            if x.is_none() && y.is_none() {
                break;
            }
            let ord = order(x).cmp(&order(y));
            if ord != Ordering::Equal {
                return ord;
            }
        }
        let (a_num, a_after) = split_digits(a_rest);
        let (b_num, b_after) = split_digits(b_rest);
        let ord = compare_digit_runs(a_num, b_num);
        if ord != Ordering::Equal {
            return ord;
        }
        a = a_after;
        b = b_after;
    }
    Ordering::Equal
}

/// Compares two Debian package versions like `dpkg --compare-versions` (module doc).
pub fn compare_dpkg(a: &str, b: &str) -> Ordering {
    let a = parse(a);
    let b = parse(b);
    compare_digit_runs(a.epoch, b.epoch)
        .then_with(|| verrevcmp(a.upstream, b.upstream))
        .then_with(|| verrevcmp(a.revision, b.revision))
}
