//! A firmware requirement read as the range it denotes, by SemVer precedence (SemVer 2.0.0 §11),
//! pre-releases included.
//!
//! `semver`'s `VersionReq::matches` follows Cargo: a pre-release version satisfies a requirement
//! only when one of its comparators names the same major.minor.patch with a pre-release, so
//! `1.3.0-rc.1` is outside `<1.4.0` although it precedes `1.4.0`. That is the right, stricter
//! reading for allow rules; a deny rule must also catch the pre-releases inside its range
//! (fail closed), so deny rules use [`in_range`] as well. The bounds are `semver`'s own
//! (its comparator semantics without the pre-release gate; `tests/version_range.rs` checks the
//! two agree). By precedence `1.4.0-dev` is below `1.4.0`, so it is inside `<1.4.0`: a deny rule
//! errs towards denying.

use core::cmp::Ordering;

use semver::{Comparator, Op, Version, VersionReq};

/// Whether `version` lies in the range every comparator of `req` bounds, comparing by
/// precedence (build metadata ignored). An operator this crate does not know (`semver::Op` is
/// non-exhaustive) counts as holding: the function serves deny rules, which must fail closed.
pub fn in_range(req: &VersionReq, version: &Version) -> bool {
    req.comparators.iter().all(|c| holds(c, version))
}

fn holds(c: &Comparator, v: &Version) -> bool {
    match c.op {
        Op::Exact | Op::Wildcard => exact(c, v),
        Op::Greater => beyond(c, v, Ordering::Greater),
        Op::GreaterEq => exact(c, v) || beyond(c, v, Ordering::Greater),
        Op::Less => beyond(c, v, Ordering::Less),
        Op::LessEq => exact(c, v) || beyond(c, v, Ordering::Less),
        Op::Tilde => tilde(c, v),
        Op::Caret => caret(c, v),
        _ => true,
    }
}

/// Equal on every part the comparator names (the pre-release included).
fn exact(c: &Comparator, v: &Version) -> bool {
    v.major == c.major
        && c.minor.is_none_or(|m| v.minor == m)
        && c.patch.is_none_or(|p| v.patch == p)
        && v.pre == c.pre
}

/// Strictly past the comparator in direction `side` (`Greater` or `Less`) on the parts it names;
/// a part it leaves out covers every value, so equality up to there is not past it.
fn beyond(c: &Comparator, v: &Version, side: Ordering) -> bool {
    if v.major != c.major {
        return v.major.cmp(&c.major) == side;
    }
    let Some(minor) = c.minor else {
        return false;
    };
    if v.minor != minor {
        return v.minor.cmp(&minor) == side;
    }
    let Some(patch) = c.patch else {
        return false;
    };
    if v.patch != patch {
        return v.patch.cmp(&patch) == side;
    }
    v.pre.cmp(&c.pre) == side
}

/// `~I.J.K`: at least I.J.K (its pre-release), below I.(J+1).0; `~I.J` = `=I.J`; `~I` = `=I`.
fn tilde(c: &Comparator, v: &Version) -> bool {
    if v.major != c.major || c.minor.is_some_and(|m| v.minor != m) {
        return false;
    }
    match c.patch {
        Some(p) if v.patch != p => v.patch > p,
        _ => v.pre >= c.pre,
    }
}

/// `^I.J.K`: at least I.J.K, below the next version that changes the leftmost non-zero part.
fn caret(c: &Comparator, v: &Version) -> bool {
    if v.major != c.major {
        return false;
    }
    let Some(minor) = c.minor else {
        return true;
    };
    let Some(patch) = c.patch else {
        return if c.major > 0 {
            v.minor >= minor
        } else {
            v.minor == minor
        };
    };
    if c.major > 0 {
        if v.minor != minor {
            return v.minor > minor;
        }
        if v.patch != patch {
            return v.patch > patch;
        }
    } else if minor > 0 {
        if v.minor != minor {
            return false;
        }
        if v.patch != patch {
            return v.patch > patch;
        }
    } else if v.minor != minor || v.patch != patch {
        return false;
    }
    v.pre >= c.pre
}
