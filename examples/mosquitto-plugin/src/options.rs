//! The plugin's options: the `plugin_opt_KEY VALUE` lines of `mosquitto.conf`, which mosquitto
//! hands over as (KEY, VALUE) pairs.

use std::path::PathBuf;

use iotsec_mqtt_acl::{SubscribeMode, Subscription, TopicName};

/// Default `plugin_opt_deny_rate`: deny events published per second (also the burst).
pub const DEFAULT_DENY_RATE: u32 = 20;
/// Highest `plugin_opt_deny_rate` and `plugin_opt_deny_rate_total` accepted.
pub const MAX_DENY_RATE: u32 = 10_000;
/// Default `plugin_opt_deny_rate_total`, as a multiple of the per-client rate (at most
/// [`MAX_DENY_RATE`]): room for this many clients denied at full rate at once.
pub const DEFAULT_TOTAL_FACTOR: u32 = 10;

/// The deny stream: where denials are published and who may read them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DenyStream {
    /// `plugin_opt_deny_topic`: a topic name (no wildcards).
    pub topic: String,
    /// `plugin_opt_deny_readers`: the usernames (comma-separated) that may subscribe to and
    /// receive the topic; nobody else may, whatever the policy says.
    pub readers: Vec<String>,
    /// `plugin_opt_deny_rate`: events per second for each client (token bucket per client id,
    /// burst of the same size), so that a flooding client cannot crowd out the others.
    pub rate: u32,
    /// `plugin_opt_deny_rate_total`: events per second for the whole stream (default
    /// [`DEFAULT_TOTAL_FACTOR`] x `rate`, at most [`MAX_DENY_RATE`]).
    pub rate_total: u32,
}

/// The validated options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// `plugin_opt_policy`: the policy file (TOML, or JSON if it ends in `.json`). Required.
    pub policy: PathBuf,
    /// `plugin_opt_mode`: `strict` (default), `narrow` or `mosquitto`.
    pub mode: SubscribeMode,
    /// `plugin_opt_posture`: the posture feed (TOML, or JSON if it ends in `.json`).
    pub posture: Option<PathBuf>,
    /// `plugin_opt_username_is_cert_cn true`: the listener sets the username to the client
    /// certificate's CN (`use_identity_as_username true`), so the username is also used as the
    /// CN (`${cert.cn}`, `identity_binding = "cert_cn"`, `cert_cn` entries of the posture feed).
    pub username_is_cert_cn: bool,
    /// `plugin_opt_watch`: re-read the policy and posture files when they change (default
    /// `true`; checked at most once per second on `MOSQ_EVT_TICK`).
    pub watch: bool,
    /// The deny stream, if `plugin_opt_deny_topic` is set.
    pub deny_stream: Option<DenyStream>,
    /// `plugin_opt_check_timing true`: time every ACL check inside the broker and log the
    /// count, p50 and p99 when the plugin unloads (for the benchmark; keeps at most
    /// [`MAX_TIMING_SAMPLES`] samples).
    pub check_timing: bool,
    /// `plugin_opt_verdict_cache ENTRIES`: how many allow verdicts are remembered
    /// ([`crate::cache`]); `0` turns the cache off. Default [`DEFAULT_CACHE_ENTRIES`].
    pub verdict_cache: usize,
}

/// Default `plugin_opt_verdict_cache`: 1,024 entries of 256 bytes (256 KiB).
pub const DEFAULT_CACHE_ENTRIES: usize = 1024;
/// Largest `plugin_opt_verdict_cache` accepted (16 MiB of entries).
pub const MAX_CACHE_ENTRIES: usize = 65_536;

/// Most check durations kept by `plugin_opt_check_timing` (4 bytes each).
pub const MAX_TIMING_SAMPLES: usize = 4_000_000;

impl Options {
    /// Options with a policy and a mode and nothing else (no posture feed, no deny stream,
    /// watching on).
    pub fn new(policy: impl Into<PathBuf>, mode: SubscribeMode) -> Self {
        Options {
            policy: policy.into(),
            mode,
            posture: None,
            username_is_cert_cn: false,
            watch: true,
            deny_stream: None,
            check_timing: false,
            verdict_cache: DEFAULT_CACHE_ENTRIES,
        }
    }
}

const KNOWN: &str = "policy, mode, posture, username_is_cert_cn, watch, deny_topic, \
                     deny_readers, deny_rate, deny_rate_total, check_timing, verdict_cache";

fn set<T>(slot: &mut Option<T>, key: &str, value: T) -> Result<(), String> {
    if slot.is_some() {
        return Err(format!("plugin_opt_{key} given twice"));
    }
    *slot = Some(value);
    Ok(())
}

fn path(key: &str, value: &str) -> Result<PathBuf, String> {
    if value.is_empty() {
        return Err(format!("plugin_opt_{key} is empty"));
    }
    Ok(PathBuf::from(value))
}

/// Events per second, 1..=[`MAX_DENY_RATE`].
fn rate(key: &str, value: &str) -> Result<u32, String> {
    value
        .parse::<u32>()
        .ok()
        .filter(|r| (1..=MAX_DENY_RATE).contains(r))
        .ok_or_else(|| format!("plugin_opt_{key} {value:?} is not 1..={MAX_DENY_RATE}"))
}

/// `0` or a power of two 2..=[`MAX_CACHE_ENTRIES`] (the cache is sets of two entries).
fn cache_entries(key: &str, value: &str) -> Result<usize, String> {
    value
        .parse::<usize>()
        .ok()
        .filter(|n| *n == 0 || (n.is_power_of_two() && (2..=MAX_CACHE_ENTRIES).contains(n)))
        .ok_or_else(|| {
            format!("plugin_opt_{key} {value:?} is not 0 or a power of two 2..={MAX_CACHE_ENTRIES}")
        })
}

fn boolean(key: &str, value: &str) -> Result<bool, String> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("plugin_opt_{key} {value:?} is not true or false")),
    }
}

/// Validates the options. Unknown or repeated keys are errors (a misspelt `plugin_opt_mode`
/// must not silently fall back to a default), and so is a missing `policy`, a deny topic
/// without readers (or readers without a topic).
pub fn parse_options<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Options, String> {
    let mut policy = None;
    let mut mode = None;
    let mut posture = None;
    let mut username_is_cert_cn = None;
    let mut watch = None;
    let mut deny_topic = None;
    let mut deny_readers = None;
    let mut deny_rate = None;
    let mut deny_rate_total = None;
    let mut check_timing = None;
    let mut verdict_cache = None;
    for (key, value) in pairs {
        match key {
            "policy" => set(&mut policy, key, path(key, value)?)?,
            "posture" => set(&mut posture, key, path(key, value)?)?,
            "mode" => set(
                &mut mode,
                key,
                SubscribeMode::from_name(value).ok_or_else(|| {
                    format!("plugin_opt_mode {value:?} is not strict, narrow or mosquitto")
                })?,
            )?,
            "username_is_cert_cn" => set(&mut username_is_cert_cn, key, boolean(key, value)?)?,
            "watch" => set(&mut watch, key, boolean(key, value)?)?,
            "check_timing" => set(&mut check_timing, key, boolean(key, value)?)?,
            "deny_topic" => {
                TopicName::new(value)
                    .map_err(|e| format!("plugin_opt_deny_topic {value:?}: {e}"))?;
                set(&mut deny_topic, key, value.to_string())?;
            }
            "deny_readers" => {
                let readers: Vec<String> = value
                    .split(',')
                    .map(str::trim)
                    .map(str::to_string)
                    .collect();
                if readers.iter().any(String::is_empty) {
                    return Err(format!(
                        "plugin_opt_deny_readers {value:?} has an empty username"
                    ));
                }
                set(&mut deny_readers, key, readers)?;
            }
            "verdict_cache" => set(&mut verdict_cache, key, cache_entries(key, value)?)?,
            "deny_rate" => set(&mut deny_rate, key, rate(key, value)?)?,
            "deny_rate_total" => set(&mut deny_rate_total, key, rate(key, value)?)?,
            other => {
                return Err(format!(
                    "unknown option plugin_opt_{other} (known: {KNOWN})"
                ));
            }
        }
    }
    let policy = policy.ok_or("plugin_opt_policy is required (path of the policy file)")?;
    let deny_stream = match (deny_topic, deny_readers) {
        (Some(topic), Some(readers)) => {
            let rate = deny_rate.unwrap_or(DEFAULT_DENY_RATE);
            Some(DenyStream {
                topic,
                readers,
                rate,
                rate_total: deny_rate_total.unwrap_or_else(|| {
                    rate.saturating_mul(DEFAULT_TOTAL_FACTOR).min(MAX_DENY_RATE)
                }),
            })
        }
        (None, None) if deny_rate.is_none() && deny_rate_total.is_none() => None,
        _ => {
            return Err(
                "plugin_opt_deny_topic, plugin_opt_deny_readers (and plugin_opt_deny_rate, \
                 plugin_opt_deny_rate_total) go together"
                    .into(),
            );
        }
    };
    // A deny topic inside `$share/...` could never be subscribed to plainly.
    if let Some(d) = &deny_stream {
        if d.topic.starts_with("$share/") {
            return Err("plugin_opt_deny_topic must not start with $share/".into());
        }
        // The topic must also be a valid filter, so that readers can subscribe to it.
        Subscription::parse(&d.topic)
            .map_err(|e| format!("plugin_opt_deny_topic {:?}: {e}", d.topic))?;
    }
    Ok(Options {
        policy,
        mode: mode.unwrap_or_default(),
        posture,
        username_is_cert_cn: username_is_cert_cn.unwrap_or(false),
        watch: watch.unwrap_or(true),
        deny_stream,
        check_timing: check_timing.unwrap_or(false),
        verdict_cache: verdict_cache.unwrap_or(DEFAULT_CACHE_ENTRIES),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_required_mode_defaults_to_strict() {
        let o = parse_options([("policy", "/etc/p.toml")]).unwrap();
        assert_eq!(o, Options::new("/etc/p.toml", SubscribeMode::Strict));
        assert!(parse_options([]).unwrap_err().contains("required"));
        assert!(parse_options([("mode", "narrow")]).is_err());
        assert!(parse_options([("policy", "")]).is_err());
    }

    #[test]
    fn modes_parse() {
        for (name, mode) in [
            ("strict", SubscribeMode::Strict),
            ("narrow", SubscribeMode::Narrow),
            ("mosquitto", SubscribeMode::Mosquitto),
        ] {
            let o = parse_options([("policy", "p"), ("mode", name)]).unwrap();
            assert_eq!(o.mode, mode);
        }
        assert!(parse_options([("policy", "p"), ("mode", "Strict")]).is_err());
    }

    #[test]
    fn unknown_and_repeated_keys_are_refused() {
        assert!(parse_options([("policy", "p"), ("mdoe", "narrow")]).is_err());
        assert!(parse_options([("policy", "p"), ("policy", "q")]).is_err());
        assert!(parse_options([("policy", "p"), ("mode", "strict"), ("mode", "strict")]).is_err());
        assert!(parse_options([("policy", "p"), ("posture", "a"), ("posture", "b")]).is_err());
        assert!(parse_options([("policy", "p"), ("watch", "yes")]).is_err());
        assert!(parse_options([("policy", "p"), ("username_is_cert_cn", "1")]).is_err());
    }

    #[test]
    fn verdict_cache_size_is_checked() {
        let size = |v: &str| {
            parse_options([("policy", "p"), ("verdict_cache", v)]).map(|o| o.verdict_cache)
        };
        assert_eq!(
            parse_options([("policy", "p")]).unwrap().verdict_cache,
            1024
        );
        assert_eq!(size("0"), Ok(0));
        assert_eq!(size("2"), Ok(2));
        assert_eq!(size("65536"), Ok(65_536));
        for bad in [
            "1", "3", "1000", "131072", "-1", "", "off", "true", " 8", "0x10",
        ] {
            let e = size(bad).unwrap_err();
            assert!(e.contains("plugin_opt_verdict_cache"), "{bad:?}: {e}");
        }
        assert!(
            parse_options([
                ("policy", "p"),
                ("verdict_cache", "8"),
                ("verdict_cache", "8")
            ])
            .is_err()
        );
    }

    #[test]
    fn full_options() {
        let o = parse_options([
            ("policy", "p.toml"),
            ("posture", "posture.json"),
            ("username_is_cert_cn", "true"),
            ("watch", "false"),
            ("deny_topic", "$iotsec/deny"),
            ("deny_readers", "ops, soc"),
            ("deny_rate", "5"),
            ("check_timing", "true"),
        ])
        .unwrap();
        assert!(o.check_timing);
        assert_eq!(o.posture, Some(PathBuf::from("posture.json")));
        assert!(o.username_is_cert_cn);
        assert!(!o.watch);
        assert_eq!(
            o.deny_stream,
            Some(DenyStream {
                topic: "$iotsec/deny".into(),
                readers: vec!["ops".into(), "soc".into()],
                rate: 5,
                rate_total: 50,
            })
        );
    }

    #[test]
    fn deny_stream_options_are_checked() {
        let bad: [&[(&str, &str)]; 10] = [
            &[("deny_topic", "$iotsec/deny")],
            &[("deny_readers", "ops")],
            &[("deny_rate", "5")],
            &[("deny_topic", "a/+"), ("deny_readers", "ops")],
            &[("deny_topic", "$share/g/x"), ("deny_readers", "ops")],
            &[("deny_topic", "d"), ("deny_readers", "ops,")],
            &[
                ("deny_topic", "d"),
                ("deny_readers", "ops"),
                ("deny_rate", "0"),
            ],
            &[
                ("deny_topic", "d"),
                ("deny_readers", "ops"),
                ("deny_rate", "10001"),
            ],
            &[("deny_rate_total", "100")],
            &[
                ("deny_topic", "d"),
                ("deny_readers", "ops"),
                ("deny_rate_total", "0"),
            ],
        ];
        for extra in bad {
            let mut all = vec![("policy", "p")];
            all.extend_from_slice(extra);
            assert!(parse_options(all).is_err(), "{extra:?}");
        }
        let o = parse_options([
            ("policy", "p"),
            ("deny_topic", "d"),
            ("deny_readers", "ops"),
        ])
        .unwrap();
        let d = o.deny_stream.unwrap();
        assert_eq!(
            (d.rate, d.rate_total),
            (DEFAULT_DENY_RATE, 10 * DEFAULT_DENY_RATE)
        );
        // the default total never exceeds the maximum; an explicit one is kept as given
        let o = parse_options([
            ("policy", "p"),
            ("deny_topic", "d"),
            ("deny_readers", "ops"),
            ("deny_rate", "5000"),
        ])
        .unwrap();
        assert_eq!(o.deny_stream.unwrap().rate_total, MAX_DENY_RATE);
        let o = parse_options([
            ("policy", "p"),
            ("deny_topic", "d"),
            ("deny_readers", "ops"),
            ("deny_rate_total", "7"),
        ])
        .unwrap();
        assert_eq!(o.deny_stream.unwrap().rate_total, 7);
    }
}
