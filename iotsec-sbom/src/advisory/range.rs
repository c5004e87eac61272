//! OSV range evaluation (OSV schema §"Evaluation"): events sorted by version, `introduced`
//! opens, `fixed` closes at the version, `last_affected` closes after it, `limit` caps the
//! whole range; `introduced: "0"` is below every version.

use core::cmp::Ordering;

use crate::version::{VersionError, VersionScheme};

/// The range type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RangeKind {
    /// Semantic versions.
    Semver,
    /// The ecosystem's own ordering.
    Ecosystem,
    /// Git commits: evaluated only against a component identified by a commit of the same
    /// repository, by exact equality with an event commit ([`AffectedRange::commit_status`]).
    Git,
}

/// One event of a range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RangeEvent {
    /// Affected from this version on.
    Introduced(String),
    /// Fixed in this version.
    Fixed(String),
    /// Last affected version.
    LastAffected(String),
    /// Nothing at or above this version is affected by this range.
    Limit(String),
}

/// A range of affected versions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AffectedRange {
    /// Range type.
    pub kind: RangeKind,
    /// Events, sorted by [`AffectedRange::presort`] (`GIT` ranges keep document order).
    pub events: Vec<RangeEvent>,
    /// The repository of a `GIT` range (normalized, [`crate::vcs::normalize_repo`]).
    pub repo: Option<String>,
}

/// What a `GIT` range says about one commit, without a commit graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitStatus {
    /// The commit is an `introduced` or `last_affected` event.
    Affected,
    /// The commit is a `fixed` or `limit` event.
    NotAffected,
    /// The commit is none of the events: whether it lies between them needs the history.
    Undetermined,
}

impl AffectedRange {
    /// Sorts the events once for `scheme` (the order [`AffectedRange::contains`] evaluates
    /// them in), so that matching does not sort per lookup.
    pub fn presort(&mut self, scheme: VersionScheme) {
        if self.kind == RangeKind::Git {
            return;
        }
        let scheme = match self.kind {
            RangeKind::Semver => VersionScheme::Semver,
            _ => scheme,
        };
        self.events
            .sort_by(|a, b| cmp_event_versions(scheme, event_version(a), event_version(b)));
    }
}

fn event_version(e: &RangeEvent) -> &str {
    match e {
        RangeEvent::Introduced(v)
        | RangeEvent::Fixed(v)
        | RangeEvent::LastAffected(v)
        | RangeEvent::Limit(v) => v,
    }
}

fn cmp_event_versions(scheme: VersionScheme, a: &str, b: &str) -> Ordering {
    match (a == "0", b == "0") {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => scheme.compare(a, b),
    }
}

impl AffectedRange {
    /// What this `GIT` range says about `commit` (compared case-insensitively); `None` for other
    /// range kinds. `introduced: "0"` never equals a commit.
    pub fn commit_status(&self, commit: &str) -> Option<CommitStatus> {
        if self.kind != RangeKind::Git {
            return None;
        }
        let mut status = CommitStatus::Undetermined;
        for e in &self.events {
            let v = event_version(e);
            if v == "0" || !v.eq_ignore_ascii_case(commit) {
                continue;
            }
            match e {
                RangeEvent::Introduced(_) | RangeEvent::LastAffected(_) => {
                    return Some(CommitStatus::Affected);
                }
                RangeEvent::Fixed(_) | RangeEvent::Limit(_) => status = CommitStatus::NotAffected,
            }
        }
        Some(status)
    }

    /// Whether `version` falls in this range under `scheme` (`Git` ranges never match).
    ///
    /// `Err` when the version or an event version cannot be placed under the scheme
    /// ([`VersionScheme::check`]): the range decides nothing then, and the caller must fail closed.
    pub fn contains(&self, scheme: VersionScheme, version: &str) -> Result<bool, VersionError> {
        let scheme = match self.kind {
            RangeKind::Semver => VersionScheme::Semver,
            RangeKind::Ecosystem => scheme,
            RangeKind::Git => return Ok(false),
        };
        scheme.check(version)?;
        for e in &self.events {
            match e {
                // OSV's "below every version" and "no limit" markers, not versions.
                RangeEvent::Introduced(v) if v == "0" => {}
                RangeEvent::Limit(v) if v == "*" => {}
                e => scheme.check(event_version(e))?,
            }
        }
        let sorted = self.events.is_sorted_by(|a, b| {
            cmp_event_versions(scheme, event_version(a), event_version(b)) != Ordering::Greater
        });
        let mut owned: Vec<&RangeEvent>;
        let events: &mut dyn Iterator<Item = &RangeEvent> = if sorted {
            &mut self.events.iter()
        } else {
            owned = self.events.iter().collect();
            owned.sort_by(|a, b| cmp_event_versions(scheme, event_version(a), event_version(b)));
            &mut owned.into_iter()
        };
        let mut affected = false;
        for e in events {
            match e {
                RangeEvent::Introduced(v) => {
                    if v == "0" || scheme.compare(version, v) != Ordering::Less {
                        affected = true;
                    }
                }
                RangeEvent::Fixed(v) => {
                    if scheme.compare(version, v) != Ordering::Less {
                        affected = false;
                    }
                }
                RangeEvent::LastAffected(v) => {
                    if scheme.compare(version, v) == Ordering::Greater {
                        affected = false;
                    }
                }
                RangeEvent::Limit(_) => {}
            }
        }
        let mut limits = self.events.iter().filter_map(|e| match e {
            RangeEvent::Limit(v) => Some(v.as_str()),
            _ => None,
        });
        let mut limits = limits.by_ref().peekable();
        if limits.peek().is_some() {
            affected = affected
                && limits.any(|l| l == "*" || scheme.compare(version, l) == Ordering::Less);
        }
        Ok(affected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(kind: RangeKind, events: Vec<RangeEvent>) -> AffectedRange {
        AffectedRange {
            kind,
            events,
            repo: None,
        }
    }

    #[test]
    fn introduced_fixed_last_affected_limit() {
        use RangeEvent::*;
        let r = range(
            RangeKind::Semver,
            vec![
                Introduced("0".into()),
                Fixed("1.2.0".into()),
                Introduced("2.0.0".into()),
                Fixed("2.0.5".into()),
            ],
        );
        let s = VersionScheme::Semver;
        assert_eq!(r.contains(s, "0.1.0"), Ok(true));
        assert_eq!(r.contains(s, "1.1.9"), Ok(true));
        assert_eq!(r.contains(s, "1.2.0"), Ok(false));
        assert_eq!(r.contains(s, "1.9.0"), Ok(false));
        assert_eq!(r.contains(s, "2.0.4"), Ok(true));
        assert_eq!(r.contains(s, "2.0.5"), Ok(false));
        let la = range(
            RangeKind::Ecosystem,
            vec![Introduced("1.0-1".into()), LastAffected("1.4-2".into())],
        );
        assert_eq!(la.contains(VersionScheme::Debian, "1.4-2"), Ok(true));
        assert_eq!(la.contains(VersionScheme::Debian, "1.4-3"), Ok(false));
        assert_eq!(la.contains(VersionScheme::Debian, "1.0~rc1-1"), Ok(false));
        let lim = range(
            RangeKind::Semver,
            vec![Introduced("0".into()), Limit("3.0.0".into())],
        );
        assert_eq!(lim.contains(s, "2.9.9"), Ok(true));
        assert_eq!(lim.contains(s, "3.0.0"), Ok(false));
        let git = range(RangeKind::Git, vec![Introduced("0".into())]);
        assert_eq!(git.contains(s, "1.0.0"), Ok(false));
    }

    #[test]
    fn git_ranges_decide_only_on_event_commits() {
        use RangeEvent::*;
        let (a, b, c) = ("a".repeat(40), "b".repeat(40), "c".repeat(40));
        let git = range(
            RangeKind::Git,
            vec![
                Introduced(a.clone()),
                Fixed(b.clone()),
                LastAffected(c.clone()),
            ],
        );
        assert_eq!(git.commit_status(&a), Some(CommitStatus::Affected));
        assert_eq!(
            git.commit_status(&a.to_ascii_uppercase()),
            Some(CommitStatus::Affected)
        );
        assert_eq!(git.commit_status(&c), Some(CommitStatus::Affected));
        assert_eq!(git.commit_status(&b), Some(CommitStatus::NotAffected));
        assert_eq!(
            git.commit_status(&"d".repeat(40)),
            Some(CommitStatus::Undetermined)
        );
        let zero = range(RangeKind::Git, vec![Introduced("0".into())]);
        assert_eq!(zero.commit_status("0"), Some(CommitStatus::Undetermined));
        let semver = range(RangeKind::Semver, vec![Introduced("0".into())]);
        assert_eq!(semver.commit_status(&a), None);
    }

    #[test]
    fn presort_orders_by_the_range_kinds_scheme_and_leaves_git_alone() {
        use RangeEvent::*;
        let mut eco = range(
            RangeKind::Ecosystem,
            vec![
                Fixed("2.0".into()),
                Introduced("0".into()),
                Introduced("1.5".into()),
            ],
        );
        eco.presort(VersionScheme::Pep440);
        assert_eq!(
            eco.events,
            vec![
                Introduced("0".into()),
                Introduced("1.5".into()),
                Fixed("2.0".into())
            ]
        );
        // Under Debian ordering "1.0.0-alpha" (revision "alpha") follows "1.0.0"; a SEMVER
        // range orders it as a pre-release, before.
        let mut semver = range(
            RangeKind::Semver,
            vec![Fixed("1.0.0".into()), Introduced("1.0.0-alpha".into())],
        );
        semver.presort(VersionScheme::Debian);
        assert_eq!(
            semver.events,
            vec![Introduced("1.0.0-alpha".into()), Fixed("1.0.0".into())]
        );
        let (a, b) = ("2".repeat(40), "1".repeat(40));
        let mut git = range(
            RangeKind::Git,
            vec![Introduced(a.clone()), Fixed(b.clone())],
        );
        git.presort(VersionScheme::Semver);
        assert_eq!(git.events, vec![Introduced(a), Fixed(b)]);
    }

    #[test]
    fn unsorted_events_are_evaluated_in_version_order() {
        use RangeEvent::*;
        let r = range(
            RangeKind::Ecosystem,
            vec![Fixed("2.0".into()), Introduced("1.0".into())],
        );
        let s = VersionScheme::Pep440;
        assert_eq!(r.contains(s, "0.9"), Ok(false));
        assert_eq!(r.contains(s, "1.5"), Ok(true));
        assert_eq!(r.contains(s, "2.5"), Ok(false));
        let zero_last = range(
            RangeKind::Ecosystem,
            vec![Fixed("2.0".into()), Introduced("0".into())],
        );
        assert_eq!(zero_last.contains(s, "0.1"), Ok(true));
        assert_eq!(zero_last.contains(s, "2.5"), Ok(false));
    }

    #[test]
    fn limits_bound_from_above_and_star_is_no_limit() {
        use RangeEvent::*;
        let s = VersionScheme::Semver;
        let star = range(
            RangeKind::Semver,
            vec![Introduced("1.0.0".into()), Limit("*".into())],
        );
        assert_eq!(star.contains(s, "9.0.0"), Ok(true));
        assert_eq!(star.contains(s, "0.9.0"), Ok(false));
        // "*" is no PEP 440 version: it must be read as "no limit", never checked as one.
        let pep_star = range(
            RangeKind::Ecosystem,
            vec![Introduced("1.0".into()), Limit("*".into())],
        );
        assert_eq!(pep_star.contains(VersionScheme::Pep440, "2.0"), Ok(true));
        let lim = range(
            RangeKind::Semver,
            vec![Introduced("1.0.0".into()), Limit("3.0.0".into())],
        );
        assert_eq!(lim.contains(s, "0.5.0"), Ok(false));
        assert_eq!(lim.contains(s, "1.0.0"), Ok(true));
    }

    #[test]
    fn an_event_the_scheme_cannot_place_is_an_error_not_a_verdict() {
        use RangeEvent::*;
        let s = VersionScheme::Pep440;
        let bad_intro = range(
            RangeKind::Ecosystem,
            vec![Introduced("not a version".into())],
        );
        assert!(bad_intro.contains(s, "1.0").is_err());
        let bad_limit = range(
            RangeKind::Ecosystem,
            vec![Introduced("0".into()), Limit("not a version".into())],
        );
        assert!(bad_limit.contains(s, "1.0").is_err());
        let bad_fixed = range(
            RangeKind::Ecosystem,
            vec![Introduced("0".into()), Fixed("not a version".into())],
        );
        assert!(bad_fixed.contains(s, "1.0").is_err());
        assert!(
            range(RangeKind::Ecosystem, vec![Introduced("0".into())])
                .contains(s, "not a version")
                .is_err()
        );
    }
}
