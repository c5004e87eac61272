//! A natural version ordering for ecosystems without a dedicated comparator: the string is cut
//! into digit runs and letter runs (any other character separates), digit runs compare as
//! numbers, letter runs bytewise, a letter run sorts before a number (so `1.0rc1 < 1.0 < 1.0.1`),
//! and a missing run counts as `0` (so `1.0 == 1.0.0`).

use core::cmp::Ordering;

#[derive(Clone, Copy)]
enum Run<'a> {
    Text(&'a str),
    Number(&'a str),
}

fn runs(s: &str) -> impl Iterator<Item = Run<'_>> {
    let mut rest = s;
    core::iter::from_fn(move || {
        rest = rest.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
        let first = rest.chars().next()?;
        let digit = first.is_ascii_digit();
        let end = rest
            .find(|c: char| !c.is_ascii_alphanumeric() || c.is_ascii_digit() != digit)
            .unwrap_or(rest.len());
        let (run, after) = rest.split_at(end);
        rest = after;
        Some(if digit {
            Run::Number(run)
        } else {
            Run::Text(run)
        })
    })
}

/// Compares two versions with the natural ordering of the module doc.
pub fn compare_generic(a: &str, b: &str) -> Ordering {
    let mut xs = runs(a);
    let mut ys = runs(b);
    loop {
        let (x, y) = match (xs.next(), ys.next()) {
            (None, None) => return Ordering::Equal,
            (x, y) => (x.unwrap_or(Run::Number("0")), y.unwrap_or(Run::Number("0"))),
        };
        let ord = match (x, y) {
            (Run::Number(p), Run::Number(q)) => super::compare_digit_runs(p, q),
            (Run::Text(_), Run::Number(_)) => Ordering::Less,
            (Run::Number(_), Run::Text(_)) => Ordering::Greater,
            (Run::Text(p), Run::Text(q)) => p.cmp(q),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
}
