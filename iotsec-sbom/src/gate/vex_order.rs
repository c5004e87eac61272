//! Which VEX statement is in force for one finding.
//!
//! OpenVEX v0.2.0 §Statements: a document is a sequence of statements, each overriding the
//! earlier ones for the same product and vulnerability; a statement's `timestamp` says when it
//! was made and defaults to the document's (go-vex `EffectiveStatement` takes the latest). Here
//! the statements of all documents are ordered by that time, and within one document by
//! position when times do not decide. Statements of different documents without distinct
//! times cannot be ordered: if such latest statements disagree (one suppresses, one does not),
//! the finding stands (fail closed).

use std::cmp::Ordering;

use time::OffsetDateTime;

use crate::vex::{VexStatement, VexStatus};

/// The outcome of the statements that apply to one finding.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Effective {
    /// No statement applies.
    Silent,
    /// The latest statement (an index into the statements given) is in force; `overrides` are
    /// the earlier ones it replaces.
    Latest {
        /// The statement in force.
        statement: usize,
        /// The statements it overrides, in input order.
        overrides: Vec<usize>,
    },
    /// Several latest statements that cannot be ordered by time and agree on whether the
    /// finding is suppressed; the first is reported as the one in force.
    Agreeing(Vec<usize>),
    /// Latest statements that cannot be ordered by time and disagree: the finding stands.
    Conflict(Vec<usize>),
}

/// A statement with its time parsed once.
struct Timed<'s> {
    at: usize,
    statement: &'s VexStatement,
    time: Option<OffsetDateTime>,
}

/// `Greater` if `a` was made after `b`, `None` if their order is unknown.
fn order(a: &Timed<'_>, b: &Timed<'_>) -> Option<Ordering> {
    let by_time = match (a.time, b.time) {
        (Some(x), Some(y)) if x != y => Some(x.cmp(&y)),
        _ => None,
    };
    match by_time {
        Some(o) => Some(o),
        None if a.statement.source == b.statement.source => {
            Some(a.statement.index.cmp(&b.statement.index))
        }
        None => None,
    }
}

/// Decides which of `statements[i]` for `i` in `applicable` (statements that name the
/// vulnerability, designate the component and have not expired) is in force.
pub(super) fn effective(statements: &[&VexStatement], applicable: &[usize]) -> Effective {
    let timed: Vec<Timed<'_>> = applicable
        .iter()
        .filter_map(|&at| {
            statements.get(at).map(|s| Timed {
                at,
                statement: s,
                time: s
                    .timestamp
                    .as_deref()
                    .and_then(crate::date::parse_timestamp),
            })
        })
        .collect();
    let latest: Vec<&Timed<'_>> = timed
        .iter()
        .filter(|s| !timed.iter().any(|t| order(t, s) == Some(Ordering::Greater)))
        .collect();
    // Mixed timed and untimed statements of one document can order in a cycle; then no
    // statement is latest and every one of them counts as a candidate.
    let latest: Vec<&Timed<'_>> = if latest.is_empty() {
        timed.iter().collect()
    } else {
        latest
    };
    let Some(first) = latest.first() else {
        return Effective::Silent;
    };
    if latest.len() == 1 {
        return Effective::Latest {
            statement: first.at,
            overrides: timed
                .iter()
                .filter(|t| t.at != first.at)
                .map(|t| t.at)
                .collect(),
        };
    }
    let suppresses = first.statement.status.suppresses();
    let ats = latest.iter().map(|t| t.at).collect();
    if latest
        .iter()
        .all(|t| t.statement.status.suppresses() == suppresses)
    {
        Effective::Agreeing(ats)
    } else {
        Effective::Conflict(ats)
    }
}

/// How a statement is named in explanations: `VEX acme.json#1 (affected, 2025-06-01T00:00:00Z)`.
fn label(s: &VexStatement) -> String {
    format!(
        "VEX {}#{} ({}, {})",
        s.source,
        s.index,
        s.status.as_str(),
        s.timestamp.as_deref().unwrap_or("no timestamp")
    )
}

impl Effective {
    /// The statement that suppresses the finding, if the statements in force do.
    pub(super) fn suppressor(&self, statements: &[&VexStatement]) -> Option<usize> {
        let at = match self {
            Effective::Latest { statement, .. } => *statement,
            Effective::Agreeing(all) => *all.first()?,
            Effective::Silent | Effective::Conflict(_) => return None,
        };
        statements
            .get(at)
            .filter(|s| s.status.suppresses())
            .map(|_| at)
    }

    /// For a finding that stands: the status the statements in force give it and what to add
    /// to its explanation (`None` when no statement applies or the finding is suppressed).
    pub(super) fn standing(&self, statements: &[&VexStatement]) -> Option<(VexStatus, String)> {
        let get = |at: &usize| statements.get(*at).copied();
        match self {
            Effective::Silent => None,
            Effective::Latest {
                statement,
                overrides,
            } => {
                let s = get(statement).filter(|s| !s.status.suppresses())?;
                let mut note = format!("; VEX {}#{} says {}", s.source, s.index, s.status.as_str());
                let earlier: Vec<String> = overrides.iter().filter_map(get).map(label).collect();
                if !earlier.is_empty() {
                    note.push_str(&format!(", overriding {}", earlier.join(", ")));
                }
                Some((s.status, note))
            }
            Effective::Agreeing(all) => {
                let latest: Vec<&VexStatement> = all.iter().filter_map(get).collect();
                if latest.iter().any(|s| s.status.suppresses()) {
                    return None;
                }
                let status = if latest.iter().any(|s| s.status == VexStatus::Affected) {
                    VexStatus::Affected
                } else {
                    VexStatus::UnderInvestigation
                };
                let note = latest
                    .iter()
                    .map(|s| format!("; VEX {}#{} says {}", s.source, s.index, s.status.as_str()))
                    .collect();
                Some((status, note))
            }
            Effective::Conflict(all) => {
                let latest: Vec<&VexStatement> = all.iter().filter_map(get).collect();
                let status = latest
                    .iter()
                    .map(|s| s.status)
                    .find(|s| !s.suppresses())
                    .unwrap_or(VexStatus::UnderInvestigation);
                let names: Vec<String> = latest.iter().map(|s| label(s)).collect();
                Some((
                    status,
                    format!(
                        "; {} conflict and cannot be ordered by timestamp, so the finding stands",
                        names.join(" and ")
                    ),
                ))
            }
        }
    }
}
