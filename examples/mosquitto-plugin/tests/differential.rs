//! Differential test against mosquitto itself: generated acl_files, each decided by (a) the
//! real mosquitto 2.0.11 with that `acl_file` and no plugin and (b) the real mosquitto with this
//! plugin in `mosquitto` mode on the policy `MosquittoAcl::import` makes of the same file.
//! Decisions must be equal, except where the importer reports a change of meaning that applies
//! to the case (the test names each such case and its note kind).
//!
//! Observation: a PUBLISH decision is the MQTT 5 PUBACK reason code (0x87 = denied); a read
//! decision is whether the case's message reached its subscriber (sentinel-bounded). One client
//! id per case; all cases of one acl_file run against one start of each broker.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::time::Instant;

use iotsec_mqtt_acl::mosquitto_acl::{MosquittoAcl, NoteKind};
use support::mqtt5::Client;
use support::{Broker, STEP, Tools, tools};

/// Deterministic generator (xorshift64*), so a failure names a reproducible case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

const ACCESS: [&str; 4] = ["read", "write", "readwrite", "deny"];
/// Filters of `topic` lines (`#` never with `deny`: it would also deny the sentinels).
const FILTERS: [&str; 10] = [
    "a/#",
    "a/b",
    "a/+/c",
    "+/b",
    "#",
    "x/#",
    "devices/+/t",
    "$SYS/#",
    "$SYS/broker/+",
    "u/#",
];
const PATTERNS: [&str; 8] = [
    "devices/%c/#",
    "devices/%c/t",
    "devices/%c/secret",
    "u/%u/#",
    "u/%u/t",
    "x/%c",
    "a/%u",
    "devices/%c/+",
];
const USERNAMES: [Option<&str>; 4] = [None, Some("u1"), Some("u2"), Some("v/w")];

/// Which section of the acl_file a line is in: `None` = the anonymous lines before any
/// `user`, `Some(name)` = that user's. Patterns apply to everyone.
type Section = Option<String>;

/// One `topic` or `pattern` line as generated.
struct Line {
    number: usize,
    text: String,
    section: Section,
    pattern: bool,
    access: String,
    filter: String,
}

struct GeneratedAcl {
    text: String,
    lines: Vec<Line>,
}

fn generate_acl(rng: &mut Rng) -> GeneratedAcl {
    // (text, section, pattern?, access, filter); `user` lines have an empty access.
    let mut raw: Vec<(String, Section, bool, String, String)> = Vec::new();
    let topic_line = |rng: &mut Rng, raw: &mut Vec<_>, s: &Section| {
        let access = *rng.pick(&ACCESS);
        let filter = loop {
            let f = *rng.pick(&FILTERS);
            if !(access == "deny" && f == "#") {
                break f;
            }
        };
        raw.push((
            format!("topic {access} {filter}"),
            s.clone(),
            false,
            access.to_string(),
            filter.to_string(),
        ));
    };
    for _ in 0..2 {
        topic_line(rng, &mut raw, &None);
    }
    for user in ["u1", "u2"] {
        let s = Some(user.to_string());
        raw.push((
            format!("user {user}"),
            s.clone(),
            false,
            String::new(),
            String::new(),
        ));
        for _ in 0..3 {
            topic_line(rng, &mut raw, &s);
        }
    }
    let admin = Some("admin".to_string());
    raw.push((
        "user admin".into(),
        admin.clone(),
        false,
        String::new(),
        String::new(),
    ));
    raw.push((
        "topic write #".into(),
        admin,
        false,
        "write".into(),
        "#".into(),
    ));
    raw.push((
        "pattern read sentinel/%c".into(),
        None,
        true,
        "read".into(),
        "sentinel/%c".into(),
    ));
    for _ in 0..4 {
        let access = *rng.pick(&ACCESS);
        let pattern = *rng.pick(&PATTERNS);
        raw.push((
            format!("pattern {access} {pattern}"),
            None,
            true,
            access.to_string(),
            pattern.to_string(),
        ));
    }
    GeneratedAcl {
        text: raw.iter().map(|(l, ..)| format!("{l}\n")).collect(),
        lines: raw
            .into_iter()
            .enumerate()
            .filter(|(_, r)| !r.3.is_empty())
            .map(|(i, (text, section, pattern, access, filter))| Line {
                number: i + 1,
                text,
                section,
                pattern,
                access,
                filter,
            })
            .collect(),
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// PUBLISH `topic` at QoS 1.
    Publish { topic: String },
    /// SUBSCRIBE `filter`; is the message on `topic` delivered?
    Read { filter: String, topic: String },
}

#[derive(Clone, Debug)]
struct Case {
    id: String,
    username: Option<&'static str>,
    op: Op,
}

fn topics_for(rng: &mut Rng, own: &str, user: Option<&str>) -> String {
    let user = user.unwrap_or("nobody");
    let other = "someone";
    let pool = [
        "a/b".to_string(),
        "a/q/c".into(),
        "x/y".into(),
        format!("devices/{own}/t"),
        format!("devices/{other}/t"),
        format!("devices/{own}/secret"),
        format!("u/{user}/t"),
        format!("a/{user}"),
        format!("x/{own}"),
        "q/b".into(),
    ];
    rng.pick(&pool).clone()
}

fn generate_cases(rng: &mut Rng, batch: usize, count: usize) -> Vec<Case> {
    (0..count)
        .map(|i| {
            let username = *rng.pick(&USERNAMES);
            let mut id = format!("c{batch}-{i}");
            if rng.next().is_multiple_of(5) {
                id.push_str("/x"); // the %c escape class (CVE-2017-7650)
            }
            let op = if i % 2 == 0 {
                let topic = if rng.next().is_multiple_of(12) {
                    "$SYS/broker/x".to_string()
                } else {
                    topics_for(rng, &id, username)
                };
                Op::Publish { topic }
            } else if rng.next().is_multiple_of(8) {
                let topic = "$SYS/broker/version".to_string();
                let filter = rng
                    .pick(&["$SYS/broker/version", "$SYS/#", "$SYS/broker/+", "#"])
                    .to_string();
                Op::Read { filter, topic }
            } else {
                let topic = topics_for(rng, &id, username);
                let first = topic.split('/').next().unwrap();
                let filter = match rng.next() % 3 {
                    0 => topic.clone(),
                    1 => "#".to_string(),
                    _ => format!("{first}/#"),
                };
                Op::Read { filter, topic }
            };
            Case { id, username, op }
        })
        .collect()
}

/// Runs every case against one broker; `true` = allowed / delivered.
fn decide(port: u16, cases: &[Case]) -> Vec<bool> {
    let mut decisions = vec![false; cases.len()];
    // Reads: subscribers first (retained $SYS messages arrive right after their SUBACK).
    let mut subs: Vec<(usize, Client)> = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        if let Op::Read { filter, .. } = &c.op {
            let (mut client, rc) = Client::connect(port, &c.id, c.username).unwrap();
            assert_eq!(rc, 0, "CONNACK for {}", c.id);
            let sub = client.subscribe(filter);
            assert!(sub <= 2 || sub == 0x87, "SUBACK {sub:#x} for {c:?}");
            assert_eq!(client.subscribe(&format!("sentinel/{}", c.id)), 0);
            subs.push((i, client));
        }
    }
    let (mut admin, rc) = Client::connect(port, "admin-writer", Some("admin")).unwrap();
    assert_eq!(rc, 0);
    for (i, c) in cases.iter().enumerate() {
        if let Op::Read { topic, .. } = &c.op
            && !topic.starts_with('$')
        {
            let rc = admin.publish_qos1(topic, format!("m{i}").as_bytes());
            assert!(rc < 0x80, "admin could not publish {topic}: {rc:#x}");
        }
    }
    for (i, _) in &subs {
        let rc = admin.publish_qos1(&format!("sentinel/{}", cases[*i].id), b"end");
        assert!(rc < 0x80, "sentinel for {}: {rc:#x}", cases[*i].id);
    }
    for (i, client) in &mut subs {
        let Op::Read { topic, .. } = &cases[*i].op else {
            unreachable!()
        };
        let want = format!("m{i}");
        let sentinel = format!("sentinel/{}", cases[*i].id);
        let deadline = Instant::now() + STEP;
        loop {
            let m = client
                .next_message(deadline)
                .unwrap_or_else(|| panic!("sentinel never reached {:?}", cases[*i]));
            if m.topic == sentinel {
                break;
            }
            if &m.topic == topic && (topic.starts_with('$') || m.payload == want.as_bytes()) {
                decisions[*i] = true;
            }
        }
    }
    drop(subs);
    // Publishes: one connection per case.
    for (i, c) in cases.iter().enumerate() {
        if let Op::Publish { topic } = &c.op {
            let (mut client, rc) = Client::connect(port, &c.id, c.username).unwrap();
            assert_eq!(rc, 0, "CONNACK for {}", c.id);
            let rc = client.publish_qos1(topic, b"p");
            assert!(
                rc == 0 || rc == 0x10 || rc == 0x87,
                "unexpected PUBACK {rc:#x} for {c:?}"
            );
            decisions[i] = rc != 0x87;
        }
    }
    decisions
}

/// Whether mosquitto's filter text `filter` matches `topic` (MQTT 5.0 §4.7; `$` topics only
/// match filters that start with `$`).
fn matches(filter: &str, topic: &str) -> bool {
    match (
        iotsec_mqtt_acl::TopicFilter::new(filter),
        iotsec_mqtt_acl::TopicName::new(topic),
    ) {
        (Ok(f), Ok(t)) => f.matches(&t),
        _ => false,
    }
}

/// Whether the access word grants (or, for `deny`, names) the operation.
fn covers(access: &str, op: &Op) -> bool {
    matches!(
        (access, op),
        ("deny" | "readwrite", _) | ("read", Op::Read { .. }) | ("write", Op::Publish { .. })
    )
}

/// The importer notes that explain a difference for this case, each checked against the
/// lines it names:
/// - `UserAllowNoLongerBeatsPatternDeny`: an allow line of the client's own section (its user
///   section, or the anonymous lines) matches the topic, and a pattern deny (with `%c`/`%u`
///   pasted in as text, as mosquitto does) matches it too;
/// - `PlaceholderNowWholeLevel` ("ids with '/' no longer escape; empty values and '/' now
///   deny"): the client id or username contains `/` and the `%c`/`%u` pattern the note names
///   matches the topic with that text pasted in, or the client has no username and the note's
///   `%u` pattern could match the topic (the unusable placeholder denies it).
fn explaining_notes(case: &Case, acl: &GeneratedAcl, notes: &[(usize, NoteKind)]) -> Vec<String> {
    let topic = match &case.op {
        Op::Publish { topic } | Op::Read { topic, .. } => topic.as_str(),
    };
    let own: Section = case.username.map(str::to_string);
    let fill = |pattern: &str| {
        pattern
            .replace("%c", &case.id)
            .replace("%u", case.username.unwrap_or("\u{0}"))
    };
    let pattern_deny = acl.lines.iter().any(|l| {
        l.pattern
            && l.access == "deny"
            && !(l.filter.contains("%u") && case.username.is_none())
            && matches(&fill(&l.filter), topic)
    });
    let mut out = Vec::new();
    for (line, kind) in notes {
        let Some(l) = acl.lines.iter().find(|l| l.number == *line) else {
            continue;
        };
        let applies = match kind {
            NoteKind::UserAllowNoLongerBeatsPatternDeny => {
                !l.pattern
                    && l.section == own
                    && l.access != "deny"
                    && covers(&l.access, &case.op)
                    && matches(&l.filter, topic)
                    && pattern_deny
            }
            NoteKind::PlaceholderNowWholeLevel => {
                let slash = case.id.contains('/') || case.username.is_some_and(|u| u.contains('/'));
                // no username: mosquitto skips a %u pattern; here the unusable placeholder
                // denies every topic the template could have matched (placeholder read as +)
                let empty = l.filter.contains("%u") && case.username.is_none();
                l.pattern
                    && covers(&l.access, &case.op)
                    && ((slash && matches(&fill(&l.filter), topic))
                        || (empty
                            && matches(&l.filter.replace("%u", "+").replace("%c", "+"), topic)))
            }
            _ => false,
        };
        if applies {
            out.push(format!("{kind:?} (line {line}: {})", l.text));
        }
    }
    // the importer writes one note per (allow, deny) pair: name each line once
    out.dedup();
    out
}

fn run_batch(t: &Tools, batch: usize, cases_per_batch: usize) -> (usize, Vec<String>, usize) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (batch as u64 + 1).wrapping_mul(0x1234_5678_9abc));
    let acl = generate_acl(&mut rng);
    let cases = generate_cases(&mut rng, batch, cases_per_batch);
    let parsed = MosquittoAcl::parse(&acl.text).unwrap();
    let imported = parsed.import();
    let policy = toml_of(&imported.document);
    let notes: Vec<(usize, NoteKind)> = imported
        .notes
        .iter()
        .map(|n| (n.location, n.kind))
        .collect();

    let dir_a = support::scratch_dir(&format!("diff-{batch}-acl"));
    std::fs::write(dir_a.join("acl"), &acl.text).unwrap();
    let body = format!("acl_file {}\n", dir_a.join("acl").display());
    let a = Broker::start_plain(t, dir_a, &body);
    let by_mosquitto = decide(a.port, &cases);
    drop(a);
    let b = Broker::start(
        t,
        &format!("diff-{batch}-plugin"),
        &policy,
        &[("mode", "mosquitto")],
    );
    let by_plugin = decide(b.port, &cases);
    drop(b);

    let mut explained = Vec::new();
    let mut unexplained = Vec::new();
    let mut allowed = 0;
    for (i, case) in cases.iter().enumerate() {
        allowed += usize::from(by_mosquitto[i]);
        if by_mosquitto[i] == by_plugin[i] {
            continue;
        }
        let kinds = explaining_notes(case, &acl, &notes);
        let line = format!(
            "batch {batch} case {i} {case:?}: mosquitto {} / plugin {}",
            verdict(by_mosquitto[i]),
            verdict(by_plugin[i])
        );
        if kinds.is_empty() {
            unexplained.push(line);
        } else {
            explained.push(format!("{line}; {}", kinds.join("; ")));
        }
    }
    assert!(
        unexplained.is_empty(),
        "decisions differ without an importer note:\n{}\n--- acl_file ---\n{}--- imported ---\n{}",
        unexplained.join("\n"),
        acl.text,
        policy
    );
    (cases.len(), explained, allowed)
}

fn verdict(allowed: bool) -> &'static str {
    if allowed { "allow" } else { "deny" }
}

fn toml_of(doc: &iotsec_mqtt_acl::policy::PolicyDocument) -> String {
    let policy = iotsec_mqtt_acl::Policy::from_document(doc.clone()).unwrap();
    policy.to_toml_string().unwrap()
}

#[test]
fn plugin_in_mosquitto_mode_decides_like_mosquitto_acl_file() {
    let Some(t) = tools("plugin_in_mosquitto_mode_decides_like_mosquitto_acl_file") else {
        return;
    };
    const BATCHES: usize = 5;
    const CASES: usize = 110;
    let mut total = 0;
    let mut allowed = 0;
    let mut explained = Vec::new();
    for batch in 0..BATCHES {
        let (n, e, a) = run_batch(&t, batch, CASES);
        total += n;
        allowed += a;
        explained.extend(e);
    }
    assert!(total >= 500, "{total} cases");
    // both outcomes must be well represented, or the comparison proves little
    assert!(
        allowed >= total / 5 && total - allowed >= total / 5,
        "{allowed} of {total} allowed by mosquitto"
    );
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!(
            "differential: {total} cases, {allowed} allowed by mosquitto, {} differences, each with an importer note:\n{}\n",
            explained.len(),
            explained.join("\n")
        )
        .as_bytes(),
    );
}
