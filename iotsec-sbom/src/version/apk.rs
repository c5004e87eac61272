//! Alpine package version ordering (`apk-package(5)`, "pkgver"):
//! `number{.number}...{letter}{_suffix{number}}...{~hash}{-r#}` with suffix order
//! `_alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git < _hg < _p`.
//! Versions that do not fit the grammar are compared as whole strings with each other, and by
//! their parsed prefix with valid ones (the behaviour of the OSV reference comparator).

use core::cmp::Ordering;

use super::{compare_digit_runs, split_digits};

const SUFFIXES: [&str; 10] = [
    "alpha", "beta", "pre", "rc", "", "cvs", "svn", "git", "hg", "p",
];
const NO_SUFFIX_WEIGHT: usize = 4;

struct ApkVersion<'a> {
    original: &'a str,
    components: Vec<&'a str>,
    letter: Option<u8>,
    suffixes: Vec<(usize, &'a str)>,
    build: &'a str,
    remainder: &'a str,
    invalid: bool,
}

/// Finds the suffix `_name[digits]` at the start of `s` (names tried in the order the reference
/// grammar lists them: `pre` before `p`).
fn suffix_at(s: &str) -> Option<(usize, &str, usize)> {
    let body = s.strip_prefix('_')?;
    for (weight, name) in SUFFIXES.iter().enumerate() {
        if name.is_empty() {
            continue;
        }
        if let Some(after) = body.strip_prefix(name) {
            let (digits, _) = split_digits(after);
            return Some((weight, digits, 1 + name.len() + digits.len()));
        }
    }
    None
}

fn parse(original: &str) -> ApkVersion<'_> {
    let mut components = Vec::new();
    let mut rest = original;
    loop {
        let (digits, after) = split_digits(rest);
        if digits.is_empty() {
            break;
        }
        components.push(digits);
        rest = after;
        match rest.strip_prefix('.') {
            Some(after_dot) => {
                rest = after_dot;
                if !after_dot.starts_with(|c: char| c.is_ascii_digit()) {
                    break;
                }
            }
            None => break,
        }
    }
    let mut letter = None;
    if let Some(&c) = rest.as_bytes().first()
        && c.is_ascii_lowercase()
    {
        letter = Some(c);
        rest = rest.get(1..).unwrap_or("");
    }
    // Suffixes are collected wherever they occur, but only consumed while they lead.
    let mut suffixes = Vec::new();
    let mut scan = rest;
    while let Some(pos) = scan.find('_') {
        let Some(tail) = scan.get(pos..) else { break };
        match suffix_at(tail) {
            Some((weight, number, len)) => {
                suffixes.push((weight, number));
                let matched = tail.get(..len).unwrap_or("");
                if let Some(r) = rest.strip_prefix(matched) {
                    rest = r;
                }
                scan = tail.get(len..).unwrap_or("");
            }
            None => scan = tail.get(1..).unwrap_or(""),
        }
    }
    if let Some(hash) = rest.strip_prefix('~') {
        let end = hash
            .bytes()
            .position(|c| !matches!(c, b'0'..=b'9' | b'a'..=b'f'))
            .unwrap_or(hash.len());
        if end > 0 {
            rest = hash.get(end..).unwrap_or("");
        }
    }
    let mut build = "0";
    let mut invalid = false;
    if !rest.is_empty() {
        match rest.strip_prefix("-r") {
            Some(after) => {
                let (digits, tail) = split_digits(after);
                if !digits.is_empty() {
                    build = digits;
                }
                rest = tail;
            }
            None => invalid = true,
        }
    }
    ApkVersion {
        original,
        components,
        letter,
        suffixes,
        build,
        remainder: rest,
        invalid,
    }
}

fn compare_component(index: usize, a: &str, b: &str) -> Ordering {
    // After the first component a leading zero makes the comparison textual (apk: "1.01" < "1.1").
    if index != 0 && (a.starts_with('0') || b.starts_with('0')) {
        return a.cmp(b);
    }
    compare_digit_runs(a, b)
}

/// Compares two Alpine package versions like `apk version -t` (module doc).
pub fn compare_apk(a: &str, b: &str) -> Ordering {
    let a = parse(a);
    let b = parse(b);
    if a.invalid && b.invalid {
        return a.original.cmp(b.original);
    }
    let n = a.components.len().max(b.components.len());
    for i in 0..n {
        let x = a.components.get(i).copied().unwrap_or("0");
        let y = b.components.get(i).copied().unwrap_or("0");
        let ord = compare_component(i, x, y);
        if ord != Ordering::Equal {
            return ord;
        }
    }
    let ord = match (a.letter, b.letter) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => x.cmp(&y),
    };
    if ord != Ordering::Equal {
        return ord;
    }
    let n = a.suffixes.len().max(b.suffixes.len());
    for i in 0..n {
        let (xw, xn) = a
            .suffixes
            .get(i)
            .copied()
            .unwrap_or((NO_SUFFIX_WEIGHT, "0"));
        let (yw, yn) = b
            .suffixes
            .get(i)
            .copied()
            .unwrap_or((NO_SUFFIX_WEIGHT, "0"));
        let ord = xw.cmp(&yw).then_with(|| compare_digit_runs(xn, yn));
        if ord != Ordering::Equal {
            return ord;
        }
    }
    let ord = compare_digit_runs(a.build, b.build);
    if ord != Ordering::Equal {
        return ord;
    }
    match (a.remainder.is_empty(), b.remainder.is_empty()) {
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => Ordering::Equal,
    }
}
