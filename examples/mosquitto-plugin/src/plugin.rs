//! The plugin's state: the compiled policy, the posture feed and the deny-stream limiter.
//!
//! Reload (`MOSQ_EVT_RELOAD`, i.e. SIGHUP, and a changed file seen by [`Plugin::watch`]) builds
//! the new policy or feed off to the side and swaps it in only when it loaded; the next check
//! of every client, connected ones included, uses it. A file that does not load keeps the
//! previous one in force and produces a WARNING line (mosquitto 2.1 stops the broker when a
//! plugin's reload fails; a fleet broker must not drop every device for a bad push).
//!
//! Allow verdicts are remembered in a [`VerdictCache`] tagged with a generation that every
//! swap bumps (after the new policy or feed is in place), so no check after a swap is answered
//! from what an earlier policy or feed allowed.

use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use std::sync::{Arc, Mutex};

use arc_swap::{ArcSwap, ArcSwapOption};

use iotsec_mqtt_acl::posture_feed::PostureFeed;
use iotsec_mqtt_acl::{CompiledPolicy, Policy, SubscribeMode};

use crate::authorize::{AclRequest, Context, Denial, Verdict, authorize_timed};
use crate::cache::VerdictCache;
use crate::options::{DenyStream, MAX_TIMING_SAMPLES, Options};
use crate::rate_limit::DenyLimiter;

/// How often [`Plugin::watch`] looks at the files (it is called on every broker tick).
pub const WATCH_INTERVAL: Duration = Duration::from_secs(1);
/// [`Plugin::tick`] is due on every this many broker ticks. mosquitto 2.0 ticks once per pass
/// of its loop, and at least every 100 ms (its `epoll_wait` timeout), so an idle broker still
/// looks at the clock every 0.8 s, and a busy one does not read it on every pass.
pub const TICKS_PER_LOOK: u32 = 8;
/// Largest policy or posture file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// How serious a log line is (mapped to `MOSQ_LOG_*` by the FFI layer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// `MOSQ_LOG_INFO`.
    Info,
    /// `MOSQ_LOG_WARNING`.
    Warning,
}

/// A log line produced by a reload.
pub type LogLine = (Level, String);

/// What identifies one version of a file: a change of any of these makes the watcher reload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        inode,
    })
}

/// A client the plugin asks the broker to disconnect (`mosquitto_kick_client_by_*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disconnect {
    /// The client with this client id.
    ClientId(String),
    /// Every client with this username (the certificate CN with `use_identity_as_username`).
    Username(String),
}

/// What one loaded plugin instance decides with.
#[derive(Debug)]
pub struct Plugin {
    options: Options,
    /// The policy in force. Every check reads it, so a read is lock-free (`ArcSwap::load`: no
    /// lock and no reference-count update); a reload swaps in a new `Arc`.
    policy: ArcSwap<CompiledPolicy>,
    /// The posture feed in force (read only when `options.posture` names one).
    posture: ArcSwapOption<PostureFeed>,
    stamps: Mutex<WatchState>,
    /// When [`Plugin::watch`] looks at the files next, in milliseconds since `started`: the
    /// broker ticks many times per second, and all but one tick a second only compare this.
    next_look_ms: AtomicU64,
    started: Instant,
    /// Broker ticks seen ([`Plugin::tick`]).
    ticks: AtomicU32,
    limiter: Option<Mutex<DenyLimiter>>,
    disconnects: Mutex<Vec<Disconnect>>,
    timing: Option<Mutex<Vec<u32>>>,
    /// Remembered allows (`None` with `plugin_opt_verdict_cache 0`). mosquitto calls the ACL
    /// check from its one thread, so the lock is never contended; it keeps the plugin sound
    /// for any caller.
    cache: Option<Mutex<VerdictCache>>,
    /// Bumped after every policy or posture swap; cache entries of older generations are
    /// never used. Starts at 1 (0 marks an empty cache entry).
    generation: AtomicU64,
}

#[derive(Debug, Default)]
struct WatchState {
    policy: Option<Stamp>,
    posture: Option<Stamp>,
}

impl Plugin {
    /// A plugin for an already loaded policy (no posture feed, no deny stream).
    pub fn new(policy: Policy, mode: SubscribeMode) -> Self {
        Plugin::with_options(
            Options::new("", mode),
            CompiledPolicy::compile(policy),
            None,
        )
    }

    fn with_options(
        options: Options,
        policy: CompiledPolicy,
        posture: Option<PostureFeed>,
    ) -> Self {
        let limiter = options
            .deny_stream
            .as_ref()
            .map(|d| Mutex::new(DenyLimiter::new(d.rate, d.rate_total)));
        let timing = options.check_timing.then(|| Mutex::new(Vec::new()));
        let cache = (options.verdict_cache > 0)
            .then(|| Mutex::new(VerdictCache::new(options.verdict_cache)));
        Plugin {
            policy: ArcSwap::from_pointee(policy),
            posture: ArcSwapOption::from_pointee(posture),
            stamps: Mutex::new(WatchState::default()),
            next_look_ms: AtomicU64::new(0),
            started: Instant::now(),
            ticks: AtomicU32::new(0),
            limiter,
            disconnects: Mutex::new(Vec::new()),
            timing,
            cache,
            generation: AtomicU64::new(1),
            options,
        }
    }

    /// Reads and compiles the policy and reads the posture feed the options name. Any error
    /// is returned: the plugin must then refuse to start.
    pub fn load(options: &Options) -> Result<Self, String> {
        let policy_stamp = stamp(&options.policy);
        let policy = load_policy(&options.policy)?;
        let (posture_stamp, posture) = match &options.posture {
            None => (None, None),
            Some(path) => (stamp(path), Some(load_posture(path)?)),
        };
        let plugin =
            Plugin::with_options(options.clone(), CompiledPolicy::compile(policy), posture);
        if let Ok(mut w) = plugin.stamps.lock() {
            w.policy = policy_stamp;
            w.posture = posture_stamp;
        }
        Ok(plugin)
    }

    /// Decides one ACL check with the policy and posture feed in force now. Without a posture
    /// feed neither the feed nor the clock is read (only attestation ages need the time).
    #[inline(always)]
    pub fn check(&self, request: &AclRequest<'_>) -> Verdict {
        self.check_with_clock(request, unix_now)
    }

    /// [`Plugin::check`] at `now` (Unix seconds) instead of the system clock: attestation ages
    /// are measured against it.
    pub fn check_at(&self, request: &AclRequest<'_>, now: u64) -> Verdict {
        self.check_with_clock(request, || now)
    }

    /// The check, answered from the cache when the same request was allowed in the current
    /// generation; otherwise decided, and an allow that did not read the time remembered. The
    /// generation is read before the policy and the feed: a swap that lands in between bumps
    /// it after the store, so an entry is never tagged newer than what it was decided with.
    #[inline(always)]
    fn check_with_clock(&self, request: &AclRequest<'_>, now: impl FnOnce() -> u64) -> Verdict {
        let Some(cache) = &self.cache else {
            return self.decide(request, now).0;
        };
        let generation = self.generation.load(Ordering::Acquire);
        // `try_lock`: mosquitto checks from one thread, so the lock is always free there; a
        // caller that checks from several threads at once decides in full instead of waiting.
        if cache
            .try_lock()
            .is_ok_and(|c| c.allows(generation, request))
        {
            return Verdict::Allow;
        }
        self.miss(cache, generation, request, now)
    }

    /// A check the cache did not answer: decided in full, and remembered if it is an allow
    /// that did not read the time. Out of line, so that a hit does not pay for its frame.
    #[inline(never)]
    fn miss(
        &self,
        cache: &Mutex<VerdictCache>,
        generation: u64,
        request: &AclRequest<'_>,
        now: impl FnOnce() -> u64,
    ) -> Verdict {
        let (verdict, reads_time) = self.decide(request, now);
        if verdict.is_allowed()
            && !reads_time
            && let Ok(mut c) = cache.try_lock()
        {
            c.insert(generation, request);
        }
        verdict
    }

    /// The uncached decision, and whether it read the time.
    fn decide(&self, request: &AclRequest<'_>, now: impl FnOnce() -> u64) -> (Verdict, bool) {
        let policy = self.policy.load();
        let mut cx = Context {
            posture: None,
            now: 0,
            username_is_cert_cn: self.options.username_is_cert_cn,
            deny_stream: self.options.deny_stream.as_ref(),
        };
        if self.options.posture.is_none() {
            return authorize_timed(&policy, self.options.mode, request, &cx);
        }
        let posture = self.posture.load();
        cx.posture = posture.as_deref();
        cx.now = now();
        authorize_timed(&policy, self.options.mode, request, &cx)
    }

    /// After a swap: every remembered verdict is of an older generation from now on.
    fn swapped(&self) {
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// SIGHUP: re-reads the policy and the posture feed. Each one that loads replaces the one
    /// in force; each one that does not is kept, with a WARNING line saying why.
    pub fn reload(&self) -> Vec<LogLine> {
        let mut lines = Vec::new();
        let (policy_stamp, posture_stamp) = (
            stamp(&self.options.policy),
            self.options.posture.as_deref().and_then(stamp),
        );
        lines.push(self.reload_policy());
        if self.options.posture.is_some() {
            lines.push(self.reload_posture());
        }
        if let Ok(mut w) = self.stamps.lock() {
            w.policy = policy_stamp;
            w.posture = posture_stamp;
        }
        lines
    }

    /// Counts a broker tick; `true` on every [`TICKS_PER_LOOK`]th, when [`Plugin::watch`] is
    /// to be called (ticks come from the broker's one thread: a plain load and store suffice,
    /// and a lost count would only delay a look by a tick).
    pub fn tick(&self) -> bool {
        let n = self.ticks.load(Ordering::Relaxed).wrapping_add(1);
        self.ticks.store(n, Ordering::Relaxed);
        n.is_multiple_of(TICKS_PER_LOOK)
    }

    /// Called on every due tick: at most once per [`WATCH_INTERVAL`], reloads a file whose
    /// modification time, length or inode changed since it was last read (`watch` option).
    /// A `stat` per file per second costs nothing next to the broker's own work, and needs no
    /// thread or inotify descriptor inside the broker; the other ticks compare one number.
    pub fn watch(&self, now: Instant) -> Vec<LogLine> {
        let mut lines = Vec::new();
        if !self.options.watch {
            return lines;
        }
        let now_ms = u64::try_from(now.saturating_duration_since(self.started).as_millis())
            .unwrap_or(u64::MAX);
        if now_ms < self.next_look_ms.load(Ordering::Relaxed) {
            return lines;
        }
        let Ok(mut w) = self.stamps.lock() else {
            return lines;
        };
        let interval = u64::try_from(WATCH_INTERVAL.as_millis()).unwrap_or(u64::MAX);
        self.next_look_ms
            .store(now_ms.saturating_add(interval), Ordering::Relaxed);
        let current = stamp(&self.options.policy);
        if current.is_some() && current != w.policy {
            w.policy = current;
            lines.push(self.reload_policy());
        }
        if let Some(path) = &self.options.posture {
            let current = stamp(path);
            if current.is_some() && current != w.posture {
                w.posture = current;
                lines.push(self.reload_posture());
            }
        }
        lines
    }

    fn reload_policy(&self) -> LogLine {
        let path = &self.options.policy;
        match load_policy(path) {
            Ok(policy) => {
                let rules = policy.rules().len();
                self.policy.store(Arc::new(CompiledPolicy::compile(policy)));
                self.swapped();
                (
                    Level::Info,
                    format!(
                        "iotsec-mqtt-acl: policy {} reloaded ({rules} rules)",
                        path.display()
                    ),
                )
            }
            Err(why) => (
                Level::Warning,
                format!(
                    "iotsec-mqtt-acl: policy not reloaded, the previous one stays in force: {why}"
                ),
            ),
        }
    }

    fn reload_posture(&self) -> LogLine {
        let Some(path) = &self.options.posture else {
            return (Level::Info, "iotsec-mqtt-acl: no posture feed".into());
        };
        match load_posture(path) {
            Ok(feed) => {
                let n = feed.len();
                self.queue_disconnects(&feed);
                self.posture.store(Some(Arc::new(feed)));
                self.swapped();
                (
                    Level::Info,
                    format!(
                        "iotsec-mqtt-acl: posture feed {} reloaded ({n} entries)",
                        path.display()
                    ),
                )
            }
            Err(why) => (
                Level::Warning,
                format!(
                    "iotsec-mqtt-acl: posture feed not reloaded, the previous one stays in force: {why}"
                ),
            ),
        }
    }

    /// A feed that loaded names revoked identities: their sessions are closed, since the
    /// listener refuses a revoked certificate only at the next handshake. Client ids always;
    /// certificate CNs as usernames when the username is the CN.
    fn queue_disconnects(&self, feed: &PostureFeed) {
        let mut queued: Vec<Disconnect> = feed
            .revoked_client_ids()
            .map(|id| Disconnect::ClientId(id.to_string()))
            .collect();
        if self.options.username_is_cert_cn {
            queued.extend(
                feed.revoked_cert_cns()
                    .map(|cn| Disconnect::Username(cn.to_string())),
            );
        }
        if let Ok(mut pending) = self.disconnects.lock() {
            *pending = queued;
        }
    }

    /// The clients to disconnect after the last posture feed reload (each reload replaces the
    /// list; taking it empties it).
    pub fn take_disconnects(&self) -> Vec<Disconnect> {
        self.disconnects
            .lock()
            .map(|mut pending| std::mem::take(&mut *pending))
            .unwrap_or_default()
    }

    /// The deny-stream message for a denial, if a deny stream is configured, the denial may go
    /// there and the rate limit admits it: (topic, JSON payload).
    pub fn deny_event(
        &self,
        request: &AclRequest<'_>,
        denial: &Denial,
        now: Instant,
    ) -> Option<(&str, String)> {
        let stream: &DenyStream = self.options.deny_stream.as_ref()?;
        if !denial.streamable {
            return None;
        }
        let admitted = self
            .limiter
            .as_ref()?
            .lock()
            .ok()?
            .admit(request.client_id.unwrap_or_default(), now)?;
        let text = |b: Option<&[u8]>| b.map(|b| String::from_utf8_lossy(b).into_owned());
        let event = serde_json::json!({
            "client_id": text(request.client_id),
            "username": text(request.username),
            "action": denial.action,
            "topic": text(request.topic),
            "reason": denial.reason,
            "suppressed": admitted.suppressed,
            "suppressed_total": admitted.suppressed_total,
        });
        Some((stream.topic.as_str(), event.to_string()))
    }

    /// Whether checks are timed (`plugin_opt_check_timing`).
    pub fn timing(&self) -> bool {
        self.timing.is_some()
    }

    /// Records one check's duration (kept up to [`MAX_TIMING_SAMPLES`]).
    pub fn record_check(&self, took: Duration) {
        if let Some(Ok(mut samples)) = self.timing.as_ref().map(Mutex::lock)
            && samples.len() < MAX_TIMING_SAMPLES
        {
            samples.push(u32::try_from(took.as_nanos()).unwrap_or(u32::MAX));
        }
    }

    /// "N checks, p50 X ns, p99 Y ns" for the recorded checks (`None` without timing).
    pub fn timing_summary(&self) -> Option<String> {
        let mut samples = self.timing.as_ref()?.lock().ok()?.clone();
        samples.sort_unstable();
        let at = |q: usize| {
            let i = (samples.len().saturating_sub(1) * q) / 100;
            samples.get(i).copied().unwrap_or(0)
        };
        Some(format!(
            "iotsec-mqtt-acl: check timing: {} checks, p50 {} ns, p99 {} ns",
            samples.len(),
            at(50),
            at(99)
        ))
    }

    /// The options in force.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The subscribe mode in force.
    pub fn mode(&self) -> SubscribeMode {
        self.options.mode
    }

    /// The number of rules of the policy in force.
    pub fn rule_count(&self) -> usize {
        self.policy.load().policy().rules().len()
    }

    /// The number of entries of the posture feed in force (`None` without one).
    pub fn posture_entries(&self) -> Option<usize> {
        self.posture.load().as_deref().map(PostureFeed::len)
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Reads a text file of at most [`MAX_FILE_BYTES`].
fn read_bounded(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "{}: larger than {MAX_FILE_BYTES} bytes",
            path.display()
        ));
    }
    Ok(text)
}

fn is_json(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "json")
}

/// Loads a policy file the way `iotsec-cloud acl --policy` does: JSON if the name ends in
/// `.json`, TOML otherwise.
pub fn load_policy(path: &Path) -> Result<Policy, String> {
    let text = read_bounded(path)?;
    let parsed = if is_json(path) {
        Policy::from_json_str(&text)
    } else {
        Policy::from_toml_str(&text)
    };
    parsed.map_err(|e| format!("{}: {e}", path.display()))
}

/// Loads a posture feed: JSON if the name ends in `.json`, TOML otherwise.
pub fn load_posture(path: &Path) -> Result<PostureFeed, String> {
    let text = read_bounded(path)?;
    let parsed = if is_json(path) {
        PostureFeed::from_json_str(&text)
    } else {
        PostureFeed::from_toml_str(&text)
    };
    parsed.map_err(|e| format!("{}: {} ({})", path.display(), e, e.code()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn temp(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("iotsec-plugin-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn loads_toml_and_json() {
        let toml = temp(
            "p.toml",
            "[[rule]]\neffect = \"allow\"\nactions = [\"publish\"]\ntopics = [\"a/b\"]\n",
        );
        let json = temp(
            "p.json",
            r#"{"rules": [{"effect": "allow", "actions": ["publish"], "topics": ["a/b"]}]}"#,
        );
        for policy in [toml, json] {
            let p = Plugin::load(&Options::new(policy, SubscribeMode::Narrow)).unwrap();
            assert_eq!(p.rule_count(), 1);
            assert_eq!(p.mode(), SubscribeMode::Narrow);
            assert_eq!(p.posture_entries(), None);
        }
    }

    #[test]
    fn missing_or_broken_policy_is_an_error() {
        let missing = Options::new("/nonexistent/iotsec/policy.toml", SubscribeMode::Strict);
        assert!(Plugin::load(&missing).unwrap_err().contains("policy.toml"));
        let broken = Options::new(
            temp("broken.toml", "[[rule]]\neffect = \"maybe\"\n"),
            SubscribeMode::Strict,
        );
        assert!(Plugin::load(&broken).is_err());
        let bad_template = Options::new(
            temp(
                "bad-template.toml",
                "[[rule]]\neffect = \"allow\"\nactions = [\"publish\"]\ntopics = [\"a/${client_id}x\"]\n",
            ),
            SubscribeMode::Strict,
        );
        assert!(Plugin::load(&bad_template).is_err());
        let mut bad_posture = Options::new(
            temp(
                "ok.toml",
                "[[rule]]\neffect = \"allow\"\nactions = [\"publish\"]\ntopics = [\"a\"]\n",
            ),
            SubscribeMode::Strict,
        );
        bad_posture.posture = Some(temp(
            "posture.toml",
            "[[device]]\nclient_id = \"a\"\nhealth = 1\n",
        ));
        let e = Plugin::load(&bad_posture).unwrap_err();
        assert!(e.contains("posture_feed_syntax"), "{e}");
    }

    #[test]
    fn ticks_and_watch_look_at_most_once_per_interval() {
        let rule = "[[rule]]\neffect = \"allow\"\nactions = [\"publish\"]\ntopics = [\"a\"]\n";
        let path = temp("watched.toml", rule);
        let p = Plugin::load(&Options::new(&path, SubscribeMode::Strict)).unwrap();
        let due: Vec<bool> = (0..2 * TICKS_PER_LOOK).map(|_| p.tick()).collect();
        let mut expected = vec![false; usize::try_from(2 * TICKS_PER_LOOK).unwrap()];
        expected[7] = true;
        expected[15] = true;
        assert_eq!(due, expected);

        let t0 = Instant::now();
        assert_eq!(p.watch(t0), Vec::new(), "unchanged file: nothing to reload");
        std::fs::write(&path, format!("{rule}{rule}")).unwrap();
        let half = WATCH_INTERVAL / 2;
        assert_eq!(
            p.watch(t0 + half),
            Vec::new(),
            "looked less than an interval ago"
        );
        let lines = p.watch(t0 + WATCH_INTERVAL + half);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0].0, Level::Info);
        assert!(lines[0].1.contains("reloaded (2 rules)"), "{lines:?}");
        assert_eq!(p.rule_count(), 2);

        let mut off = Options::new(&path, SubscribeMode::Strict);
        off.watch = false;
        let p = Plugin::load(&off).unwrap();
        std::fs::write(&path, rule).unwrap();
        assert_eq!(p.watch(Instant::now() + 10 * WATCH_INTERVAL), Vec::new());
        assert_eq!(p.rule_count(), 2, "watch off: the file is not re-read");
    }

    #[test]
    fn timing_summary_reports_exact_percentiles() {
        let path = temp(
            "timed.toml",
            "[[rule]]\neffect = \"allow\"\nactions = [\"publish\"]\ntopics = [\"a\"]\n",
        );
        let mut options = Options::new(path, SubscribeMode::Strict);
        assert_eq!(Plugin::load(&options).unwrap().timing_summary(), None);
        options.check_timing = true;
        let p = Plugin::load(&options).unwrap();
        for ns in (1..=100).rev() {
            p.record_check(Duration::from_nanos(ns));
        }
        assert_eq!(
            p.timing_summary().unwrap(),
            "iotsec-mqtt-acl: check timing: 100 checks, p50 50 ns, p99 99 ns"
        );
    }
}
