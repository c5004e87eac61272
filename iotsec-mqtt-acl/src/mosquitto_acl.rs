//! Mosquitto 2.0 `acl_file`: a parser, an evaluator with mosquitto 2.0.11's semantics (for
//! migration and for predicting what a running mosquitto decides), and an importer into our
//! policy model that reports every construct whose meaning changes.
//!
//! Mosquitto semantics reproduced here, each checked against mosquitto 2.0.11 (see the
//! `mosquitto_peer` test): SUBSCRIBE is always granted (checks happen at delivery); the
//! client's own list (its `user` section, or the lines before any `user` line for clients
//! without a username) is checked first, denies before allows, and an allow there ends the
//! check, so a user allow beats a pattern deny; then, if the client id or username contains `+`
//! or `#`, access is refused; then `pattern` lines, denies first, with `%c`/`%u` pasted in as
//! text (so client id `dev1/x` reaches `devices/dev1/x/...` through `devices/%c/#`); a `%u`
//! pattern is skipped for clients without a username; topics starting with `$` only match
//! lines starting with `$`; an empty file denies everything (CVE-2018-12550 fixed).

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use serde::Serialize;

use crate::context::Action;
use crate::decision::Effect;
use crate::filter_algebra::overlaps;
use crate::policy::{PolicyDocument, RuleDocument};
use crate::template::TopicTemplate;
use crate::topic::{FilterLevel, TopicFilter, matches_levels};

/// Mosquitto reads acl_file lines into a 1024-byte buffer; longer lines are refused here.
pub const MAX_LINE_BYTES: usize = 1023;

/// The access word of a `topic`/`pattern` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MosquittoAccess {
    /// `read`: delivery to the client.
    Read,
    /// `write`: PUBLISH (and the will).
    Write,
    /// `readwrite` (also the default when no access word is given).
    ReadWrite,
    /// `deny`.
    Deny,
}

/// What a client does, in mosquitto's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MosquittoOperation {
    /// Delivery (MOSQ_ACL_READ).
    Read,
    /// PUBLISH or will (MOSQ_ACL_WRITE).
    Write,
    /// SUBSCRIBE (always granted by mosquitto 2.0's acl_file).
    Subscribe,
}

impl MosquittoOperation {
    /// The mosquitto operation our action corresponds to.
    pub fn from_action(action: Action) -> Self {
        match action {
            Action::Publish | Action::PublishRetained | Action::Will => MosquittoOperation::Write,
            Action::Receive => MosquittoOperation::Read,
            Action::Subscribe => MosquittoOperation::Subscribe,
        }
    }
}

/// One `topic` or `pattern` line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AclEntry {
    /// 1-based line number.
    pub line: usize,
    /// The access word.
    pub access: MosquittoAccess,
    /// The topic filter text (with `%c`/`%u` for patterns).
    pub topic: String,
}

impl AclEntry {
    fn grants(&self, op: MosquittoOperation) -> bool {
        matches!(
            (self.access, op),
            (MosquittoAccess::ReadWrite, _)
                | (MosquittoAccess::Read, MosquittoOperation::Read)
                | (MosquittoAccess::Write, MosquittoOperation::Write)
        )
    }
}

/// A malformed acl_file line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MosquittoAclError {
    /// Access word other than read/write/readwrite/deny.
    #[error("line {line}: unknown access {access:?} (read, write, readwrite or deny)")]
    UnknownAccess {
        /// Line number.
        line: usize,
        /// The word.
        access: String,
    },
    /// `topic` or `pattern` with nothing after it.
    #[error("line {line}: topic or pattern without a topic")]
    MissingTopic {
        /// Line number.
        line: usize,
    },
    /// `user` with no name.
    #[error("line {line}: user without a name")]
    MissingUsername {
        /// Line number.
        line: usize,
    },
    /// A word mosquitto would silently ignore; refused, since a typo would drop a rule.
    #[error("line {line}: unknown directive {directive:?}")]
    UnknownDirective {
        /// Line number.
        line: usize,
        /// The word.
        directive: String,
    },
    /// Longer than mosquitto's line buffer (it would split the line).
    #[error("line {line} is longer than mosquitto's {MAX_LINE_BYTES}-byte line buffer")]
    LineTooLong {
        /// Line number.
        line: usize,
    },
    /// The topic is not a valid MQTT filter.
    #[error("line {line}: {topic:?} is not a valid topic filter")]
    InvalidTopic {
        /// Line number.
        line: usize,
        /// The text.
        topic: String,
    },
}

impl MosquittoAclError {
    /// A stable snake_case code for the error, for logs and machine-readable output; codes never
    /// change and differ from every other error code of the crate.
    pub fn code(&self) -> &'static str {
        match self {
            MosquittoAclError::UnknownAccess { .. } => "mosquitto_acl_unknown_access",
            MosquittoAclError::MissingTopic { .. } => "mosquitto_acl_missing_topic",
            MosquittoAclError::MissingUsername { .. } => "mosquitto_acl_missing_username",
            MosquittoAclError::UnknownDirective { .. } => "mosquitto_acl_unknown_directive",
            MosquittoAclError::LineTooLong { .. } => "mosquitto_acl_line_too_long",
            MosquittoAclError::InvalidTopic { .. } => "mosquitto_acl_invalid_topic",
        }
    }

    /// Never: an ACL file that cannot be read exactly is bad input.
    pub fn is_refusal(&self) -> bool {
        false
    }
}

/// A parsed acl_file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MosquittoAcl {
    anonymous: Vec<AclEntry>,
    users: BTreeMap<String, (usize, Vec<AclEntry>)>,
    patterns: Vec<AclEntry>,
}

/// Why the mosquitto evaluator decided as it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "why")]
pub enum MosquittoReason {
    /// SUBSCRIBE is never checked.
    SubscribeAlwaysGranted,
    /// A line of the client's own list denied.
    UserDeny {
        /// Line number.
        line: usize,
    },
    /// A line of the client's own list allowed.
    UserAllow {
        /// Line number.
        line: usize,
    },
    /// Client id or username contains `+` or `#`.
    DangerousIdentity,
    /// A pattern denied.
    PatternDeny {
        /// Line number.
        line: usize,
    },
    /// A pattern allowed.
    PatternAllow {
        /// Line number.
        line: usize,
    },
    /// Nothing matched.
    NoMatch,
}

impl MosquittoReason {
    /// Whether the reason grants access.
    pub fn is_allowed(self) -> bool {
        matches!(
            self,
            MosquittoReason::SubscribeAlwaysGranted
                | MosquittoReason::UserAllow { .. }
                | MosquittoReason::PatternAllow { .. }
        )
    }
}

fn dollar_mismatch(topic: &str, filter: &str) -> bool {
    topic.starts_with('$') && !filter.starts_with('$')
}

fn filter_matches(filter: &str, topic: &str) -> bool {
    TopicFilter::new(filter).is_ok_and(|f| matches_levels(f.levels(), topic))
}

impl MosquittoAcl {
    /// Parses acl_file text.
    pub fn parse(text: &str) -> Result<Self, MosquittoAclError> {
        let mut acl = MosquittoAcl::default();
        let mut user: Option<String> = None;
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            if raw.len() > MAX_LINE_BYTES {
                return Err(MosquittoAclError::LineTooLong { line });
            }
            let raw = raw.trim_end_matches('\r');
            if raw.starts_with('#') {
                continue;
            }
            let trimmed = raw.trim_start_matches(' ');
            let (word, rest) = match trimmed.split_once(' ') {
                Some((w, r)) => (w, r.trim_start_matches(' ')),
                None => (trimmed, ""),
            };
            match word {
                "" => continue,
                "user" => {
                    if rest.is_empty() {
                        return Err(MosquittoAclError::MissingUsername { line });
                    }
                    acl.users
                        .entry(rest.to_string())
                        .or_insert((line, Vec::new()));
                    user = Some(rest.to_string());
                }
                "topic" | "pattern" => {
                    let (access, topic) = match rest.split_once(' ') {
                        Some((a, t)) => (Some(a), t.trim_start_matches(' ')),
                        None => (None, rest),
                    };
                    let (access, topic) = match access {
                        None if topic.is_empty() => {
                            return Err(MosquittoAclError::MissingTopic { line });
                        }
                        None => (MosquittoAccess::ReadWrite, topic),
                        Some("read") => (MosquittoAccess::Read, topic),
                        Some("write") => (MosquittoAccess::Write, topic),
                        Some("readwrite") => (MosquittoAccess::ReadWrite, topic),
                        Some("deny") => (MosquittoAccess::Deny, topic),
                        Some(other) => {
                            return Err(MosquittoAclError::UnknownAccess {
                                line,
                                access: other.to_string(),
                            });
                        }
                    };
                    if topic.is_empty() {
                        return Err(MosquittoAclError::MissingTopic { line });
                    }
                    if TopicFilter::new(topic).is_err() {
                        return Err(MosquittoAclError::InvalidTopic {
                            line,
                            topic: topic.to_string(),
                        });
                    }
                    let entry = AclEntry {
                        line,
                        access,
                        topic: topic.to_string(),
                    };
                    if word == "pattern" {
                        acl.patterns.push(entry);
                    } else {
                        match &user {
                            None => acl.anonymous.push(entry),
                            Some(u) => {
                                if let Some((_, list)) = acl.users.get_mut(u) {
                                    list.push(entry);
                                }
                            }
                        }
                    }
                }
                other => {
                    return Err(MosquittoAclError::UnknownDirective {
                        line,
                        directive: other.to_string(),
                    });
                }
            }
        }
        Ok(acl)
    }

    /// Whether the file grants nothing at all.
    pub fn is_empty(&self) -> bool {
        self.anonymous.is_empty()
            && self.patterns.is_empty()
            && self.users.values().all(|(_, l)| l.is_empty())
    }

    /// Decides as mosquitto 2.0.11's acl_file check does.
    pub fn check(
        &self,
        client_id: &str,
        username: Option<&str>,
        op: MosquittoOperation,
        topic: &str,
    ) -> MosquittoReason {
        if op == MosquittoOperation::Subscribe {
            return MosquittoReason::SubscribeAlwaysGranted;
        }
        let own = match username {
            None => Some(&self.anonymous),
            Some(u) => self.users.get(u).map(|(_, l)| l),
        };
        if let Some(list) = own {
            let relevant = || list.iter().filter(|e| !dollar_mismatch(topic, &e.topic));
            if let Some(e) = relevant()
                .find(|e| e.access == MosquittoAccess::Deny && filter_matches(&e.topic, topic))
            {
                return MosquittoReason::UserDeny { line: e.line };
            }
            if let Some(e) = relevant().find(|e| e.grants(op) && filter_matches(&e.topic, topic)) {
                return MosquittoReason::UserAllow { line: e.line };
            }
        }
        if self.patterns.is_empty() {
            return MosquittoReason::NoMatch;
        }
        let dangerous = |s: &str| s.contains(['+', '#']);
        if dangerous(client_id) || username.is_some_and(dangerous) {
            return MosquittoReason::DangerousIdentity;
        }
        let substituted = |e: &AclEntry| -> Option<String> {
            if e.topic.contains("%u") && username.is_none() {
                return None;
            }
            let s = e.topic.replace("%c", client_id);
            Some(match username {
                Some(u) => s.replace("%u", u),
                None => s,
            })
        };
        let relevant = || {
            self.patterns
                .iter()
                .filter(|e| !dollar_mismatch(topic, &e.topic))
                .filter_map(|e| substituted(e).map(|s| (e, s)))
        };
        if let Some((e, _)) =
            relevant().find(|(e, s)| e.access == MosquittoAccess::Deny && filter_matches(s, topic))
        {
            return MosquittoReason::PatternDeny { line: e.line };
        }
        if let Some((e, _)) = relevant().find(|(e, s)| e.grants(op) && filter_matches(s, topic)) {
            return MosquittoReason::PatternAllow { line: e.line };
        }
        MosquittoReason::NoMatch
    }

    /// Converts to our policy model and lists what changes meaning.
    pub fn import(&self) -> Imported {
        let mut notes = Vec::new();
        let mut rules = Vec::new();
        if self.is_empty() {
            notes.push(ImportNote::new(
                0,
                NoteKind::EmptyFileDeniesAll,
                "an empty acl_file denies everything (as mosquitto >= 1.5.6; CVE-2018-12550)",
            ));
        }
        let mut any_read = false;
        let mut push = |entry: &AclEntry,
                        topic: String,
                        usernames: Vec<String>,
                        anonymous: bool,
                        kind: &str| {
            let effect = if entry.access == MosquittoAccess::Deny {
                Effect::Deny
            } else {
                Effect::Allow
            };
            let actions: Vec<Action> = match entry.access {
                MosquittoAccess::Read => vec![Action::Subscribe, Action::Receive],
                MosquittoAccess::Write => {
                    vec![Action::Publish, Action::PublishRetained, Action::Will]
                }
                MosquittoAccess::ReadWrite | MosquittoAccess::Deny => Action::ALL.to_vec(),
            };
            let mut rule = RuleDocument::new(effect, &actions, &[topic.as_str()]);
            rule.name = Some(format!("{kind}-line-{}", entry.line));
            rule.usernames = usernames;
            rule.anonymous_only = anonymous;
            rules.push(rule);
        };
        let lists = self
            .anonymous
            .iter()
            .map(|e| (e, Vec::new(), true, "anonymous", false))
            .chain(self.users.iter().flat_map(|(user, (_, list))| {
                list.iter()
                    .map(move |e| (e, alloc::vec![user.clone()], false, "user", false))
            }))
            .chain(
                self.patterns
                    .iter()
                    .map(|e| (e, Vec::new(), false, "pattern", true)),
            );
        for (e, usernames, anonymous, kind, is_pattern) in lists {
            any_read |= e.access != MosquittoAccess::Write;
            let mut levels = Vec::new();
            let mut mid_level = false;
            let mut whole = false;
            for level in e.topic.split('/') {
                match level {
                    "%c" if is_pattern => {
                        whole = true;
                        levels.push("${client_id}".to_string());
                    }
                    "%u" if is_pattern => {
                        whole = true;
                        levels.push("${username}".to_string());
                    }
                    // `${` would read as one of our placeholders: never import it as text.
                    l if l.contains("${")
                        || (is_pattern && (l.contains("%c") || l.contains("%u"))) =>
                    {
                        mid_level = true;
                        levels.push("+".to_string());
                    }
                    l => levels.push(l.to_string()),
                }
            }
            if mid_level && e.access != MosquittoAccess::Deny {
                notes.push(ImportNote::new(e.line, NoteKind::MidLevelPlaceholderDropped, &format!(
                    "{:?}: %c/%u (or `${{`) inside a level cannot be scoped safely (a client id could complete a neighbour's level); the allow is dropped",
                    e.topic
                )));
                continue;
            }
            if mid_level {
                notes.push(ImportNote::new(e.line, NoteKind::MidLevelPlaceholderWidened, &format!(
                    "{:?}: the deny's level with %c/%u (or `${{`) inside it becomes `+` (denies more, never less)",
                    e.topic
                )));
            }
            if whole {
                notes.push(ImportNote::new(e.line, NoteKind::PlaceholderNowWholeLevel, &format!(
                    "{:?}: a client id or username containing '/' no longer reaches extra levels; empty values and '/' now deny",
                    e.topic
                )));
            }
            let topic = levels.join("/");
            if TopicTemplate::parse(&topic).is_err() {
                notes.push(ImportNote::new(
                    e.line,
                    NoteKind::Unsupported,
                    &format!("{:?} cannot be expressed; line dropped", e.topic),
                ));
                continue;
            }
            push(e, topic, usernames, anonymous, kind);
        }
        // User (and anonymous) allows that a pattern deny overlaps: mosquitto lets the allow win.
        let lists = self
            .users
            .iter()
            .flat_map(|(_, (_, l))| l.iter())
            .chain(self.anonymous.iter());
        for allow in lists.filter(|e| e.access != MosquittoAccess::Deny) {
            for deny in self
                .patterns
                .iter()
                .filter(|p| p.access == MosquittoAccess::Deny)
            {
                let reach: String = deny
                    .topic
                    .split('/')
                    .map(|l| {
                        if l.contains("%c") || l.contains("%u") {
                            "+"
                        } else {
                            l
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("/");
                let (Ok(a), Ok(d)) = (TopicFilter::new(&allow.topic), TopicFilter::new(&reach))
                else {
                    continue;
                };
                let a: Vec<FilterLevel<'_>> = a.levels().collect();
                let d: Vec<FilterLevel<'_>> = d.levels().collect();
                if overlaps(&a, &d) {
                    notes.push(ImportNote::new(allow.line, NoteKind::UserAllowNoLongerBeatsPatternDeny, &format!(
                        "{:?} (line {}) overlaps pattern deny {:?} (line {}): mosquitto lets the user allow win; here the deny wins",
                        allow.topic, allow.line, deny.topic, deny.line
                    )));
                }
            }
        }
        if any_read {
            notes.push(ImportNote::new(0, NoteKind::SubscribeNowChecked, "mosquitto grants every SUBSCRIBE; read lines now also grant `subscribe`, checked by containment in strict mode"));
        }
        if !self.patterns.is_empty() {
            notes.push(ImportNote::new(0, NoteKind::UserListsNoLongerShortCircuit, "mosquitto stops at the first allow in a client's own list; here every rule is evaluated and any deny wins"));
        }
        Imported {
            document: PolicyDocument {
                rules,
                ..Default::default()
            },
            notes,
        }
    }
}

/// Kinds of meaning change an importer reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// An empty source denies all access.
    EmptyFileDeniesAll,
    /// `%c`/`%u` inside a level: allow dropped.
    MidLevelPlaceholderDropped,
    /// `%c`/`%u` inside a level: deny widened to `+`.
    MidLevelPlaceholderWidened,
    /// `%c`/`%u` as a whole level: ids with `/` no longer escape.
    PlaceholderNowWholeLevel,
    /// A user allow that mosquitto let beat a pattern deny.
    UserAllowNoLongerBeatsPatternDeny,
    /// SUBSCRIBE is now checked.
    SubscribeNowChecked,
    /// Evaluation order no longer matters.
    UserListsNoLongerShortCircuit,
    /// An AWS construct outside the supported subset.
    Unsupported,
    /// An AWS construct whose meaning is approximated.
    Approximated,
}

/// One reported meaning change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImportNote {
    /// Source line (mosquitto) or statement index (AWS); 0 for the whole file.
    pub location: usize,
    /// What changes.
    pub kind: NoteKind,
    /// In words.
    pub detail: String,
}

impl ImportNote {
    /// A note.
    pub fn new(location: usize, kind: NoteKind, detail: &str) -> Self {
        ImportNote {
            location,
            kind,
            detail: detail.to_string(),
        }
    }
}

/// An imported policy and its notes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Imported {
    /// The policy document.
    pub document: PolicyDocument,
    /// What changes meaning.
    pub notes: Vec<ImportNote>,
}
