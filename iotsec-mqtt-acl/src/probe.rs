//! Probing detection from a broker's deny stream: a device that keeps being denied on topics
//! under another device's subtree (`devices/{other}/...`) is probing the fleet, and after a
//! threshold it is quarantined. [`parse_deny_record`] reads one record of the stream that the
//! mosquitto plugin of this repository publishes (one JSON object per denied request, bounded
//! to [`MAX_DENY_RECORD`] bytes, unknown fields refused); [`ProbeDetector`] counts probes per
//! device and says once when a device reaches the threshold.
//!
//! The identity is the MQTT username when the broker set one (the certificate CN with
//! `use_identity_as_username`), else the client id: a client cannot pass as another device by
//! choosing its client id. A wildcard in the owner segment (`devices/+/...`) is a probe too.
//! Counts live in memory and are bounded ([`MAX_TRACKED_DEVICES`]).

use std::collections::HashMap;
use std::num::NonZeroU32;

use serde::Deserialize;

/// Largest deny record read (the plugin's are a few hundred bytes).
pub const MAX_DENY_RECORD: usize = 4096;
/// Most devices counted at once; a device beyond them is not counted
/// ([`ProbeDetector::untracked`] says how many records that left out).
pub const MAX_TRACKED_DEVICES: usize = 65_536;
/// The subtree prefix under which each device owns `PREFIX{id}/...`.
pub const DEVICE_SUBTREE: &str = "devices/";

/// Why a deny record was not read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// Over [`MAX_DENY_RECORD`] bytes.
    #[error("deny record of {len} bytes is over the {max}-byte limit")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not a JSON object (serde would also read a struct from an array).
    #[error("a deny record is a JSON object")]
    NotAnObject,
    /// Not a deny record: not JSON, a field of the wrong type, or a field the stream does
    /// not have.
    #[error("malformed deny record: {0}")]
    Malformed(#[from] serde_json::Error),
}

impl ProbeError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ProbeError::TooLarge { .. } => "deny_record_too_large",
            ProbeError::NotAnObject => "deny_record_not_object",
            ProbeError::Malformed(_) => "deny_record_malformed",
        }
    }

    /// Never: a record that cannot be read is bad input, not a decision.
    pub fn is_refusal(&self) -> bool {
        false
    }
}

/// One record of the deny stream (`examples/mosquitto-plugin/README.md`, "Deny stream").
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenyRecord {
    /// `publish`, `subscribe`, `receive`, ...
    #[serde(default)]
    pub action: Option<String>,
    /// The MQTT client id.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The username (the certificate CN with `use_identity_as_username`).
    #[serde(default)]
    pub username: Option<String>,
    /// The topic or filter that was denied.
    #[serde(default)]
    pub topic: Option<String>,
    /// The decision's reason code and text.
    #[serde(default)]
    pub reason: Option<String>,
    /// This client's denials the rate limit dropped since its previous record.
    #[serde(default)]
    pub suppressed: Option<u64>,
    /// All clients' denials the rate limit dropped since the previous record.
    #[serde(default)]
    pub suppressed_total: Option<u64>,
}

/// Reads one deny record, refusing one over [`MAX_DENY_RECORD`] bytes before parsing it.
pub fn parse_deny_record(bytes: &[u8]) -> Result<DenyRecord, ProbeError> {
    if bytes.len() > MAX_DENY_RECORD {
        return Err(ProbeError::TooLarge {
            len: bytes.len(),
            max: MAX_DENY_RECORD,
        });
    }
    if bytes.trim_ascii_start().first() != Some(&b'{') {
        return Err(ProbeError::NotAnObject);
    }
    Ok(serde_json::from_slice(bytes)?)
}

/// A denied request of one device under another device's subtree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The device that asked (username, else client id).
    pub prober: String,
    /// The owner segment of the topic it asked for (a device id, or a wildcard).
    pub owner: String,
}

impl DenyRecord {
    /// The probe this record shows, if any: a request under `devices/{owner}/` whose owner is
    /// not the requester.
    pub fn probe(&self) -> Option<Probe> {
        let who = self.username.as_ref().or(self.client_id.as_ref())?;
        let owner = self
            .topic
            .as_deref()?
            .strip_prefix(DEVICE_SUBTREE)?
            .split('/')
            .next()?;
        (owner != who).then(|| Probe {
            prober: who.clone(),
            owner: owner.to_owned(),
        })
    }
}

/// Counts probes per device.
#[derive(Debug)]
pub struct ProbeDetector {
    threshold: NonZeroU32,
    counts: HashMap<String, u32>,
    untracked: u64,
}

impl ProbeDetector {
    /// A detector that quarantines a device at its `threshold`-th probe.
    pub fn new(threshold: NonZeroU32) -> Self {
        Self {
            threshold,
            counts: HashMap::new(),
            untracked: 0,
        }
    }

    /// Counts the probe `record` shows, if any; returns it exactly when its device reaches the
    /// threshold (once per device: a device quarantined already is not reported again).
    pub fn observe(&mut self, record: &DenyRecord) -> Option<Probe> {
        let probe = record.probe()?;
        if self.counts.len() >= MAX_TRACKED_DEVICES && !self.counts.contains_key(&probe.prober) {
            self.untracked = self.untracked.saturating_add(1);
            return None;
        }
        let count = self.counts.entry(probe.prober.clone()).or_insert(0);
        *count = count.saturating_add(1);
        (*count == self.threshold.get()).then_some(probe)
    }

    /// Probes counted so far for `device`.
    pub fn count(&self, device: &str) -> u32 {
        self.counts.get(device).copied().unwrap_or(0)
    }

    /// Probes not counted because [`MAX_TRACKED_DEVICES`] devices were counted already.
    pub fn untracked(&self) -> u64 {
        self.untracked
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use proptest::prelude::*;

    const PLUGIN_SAMPLE: &str = r#"{"action":"publish","client_id":"dev9","reason":"no_matching_rule: no rule grants this (default deny)","suppressed":0,"suppressed_total":0,"topic":"devices/dev8/telemetry","username":null}"#;

    fn record(json: &str) -> DenyRecord {
        parse_deny_record(json.as_bytes()).unwrap()
    }

    fn three() -> NonZeroU32 {
        NonZeroU32::new(3).unwrap()
    }

    #[test]
    fn the_plugins_record_reads_exactly() {
        assert_eq!(
            record(PLUGIN_SAMPLE),
            DenyRecord {
                action: Some("publish".into()),
                client_id: Some("dev9".into()),
                username: None,
                topic: Some("devices/dev8/telemetry".into()),
                reason: Some("no_matching_rule: no rule grants this (default deny)".into()),
                suppressed: Some(0),
                suppressed_total: Some(0),
            }
        );
    }

    #[test]
    fn only_requests_under_another_devices_subtree_are_probes() {
        let probe = |json: &str| record(json).probe().map(|p| (p.prober, p.owner));
        assert_eq!(probe(PLUGIN_SAMPLE), Some(("dev9".into(), "dev8".into())));
        let own = r#"{"client_id":"dev9","topic":"devices/dev9/telemetry","username":"dev9"}"#;
        assert_eq!(probe(own), None);
        assert_eq!(
            probe(r#"{"client_id":"dev9","topic":"$SYS/broker","username":"dev9"}"#),
            None
        );
        assert_eq!(probe(r#"{"client_id":"dev9","username":"dev9"}"#), None);
        assert_eq!(
            probe(r#"{"topic":"devices/dev8/x"}"#),
            None,
            "nobody to count"
        );
        // The username (certificate CN) is the identity, not a client id it chose.
        let spoof = r#"{"client_id":"dev8","topic":"devices/dev8/cmd/x","username":"dev9"}"#;
        assert_eq!(probe(spoof), Some(("dev9".into(), "dev8".into())));
        let wildcard = r#"{"client_id":"dev9","topic":"devices/+/telemetry","username":null}"#;
        assert_eq!(probe(wildcard), Some(("dev9".into(), "+".into())));
        let whole = r#"{"client_id":"dev9","topic":"devices/#"}"#;
        assert_eq!(probe(whole), Some(("dev9".into(), "#".into())));
    }

    #[test]
    fn records_that_are_not_the_streams_are_refused() {
        let too_large = vec![b' '; MAX_DENY_RECORD + 1];
        let e = parse_deny_record(&too_large).unwrap_err();
        assert_eq!(
            (e.code(), e.to_string().as_str()),
            (
                "deny_record_too_large",
                "deny record of 4097 bytes is over the 4096-byte limit"
            )
        );
        for bad in [&b"[]"[..], b" [\"dev9\"]", b"", b"null", b"not json"] {
            let e = parse_deny_record(bad).unwrap_err();
            assert_eq!(
                e.code(),
                "deny_record_not_object",
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        for bad in [
            &b"{"[..],
            br#"{"client_id":7}"#,
            br#"{"client_id":"a","extra":1}"#,
            br#"{"suppressed":-1}"#,
            br#"{"client_id":"a"} trailing"#,
            b"{\xff}",
        ] {
            let e = parse_deny_record(bad).unwrap_err();
            assert_eq!(
                e.code(),
                "deny_record_malformed",
                "{:?}",
                String::from_utf8_lossy(bad)
            );
            assert!(!e.is_refusal());
        }
        // Exactly at the limit is read.
        let mut at_limit = PLUGIN_SAMPLE.as_bytes().to_vec();
        at_limit.resize(MAX_DENY_RECORD, b' ');
        assert!(parse_deny_record(&at_limit).is_ok());
    }

    #[test]
    fn the_threshold_fires_once_per_device() {
        let mut d = ProbeDetector::new(three());
        let by = |who: &str| {
            record(&format!(
                r#"{{"username":"{who}","topic":"devices/other/x"}}"#
            ))
        };
        let fired: Vec<bool> = (0..5).map(|_| d.observe(&by("dev9")).is_some()).collect();
        assert_eq!(fired, [false, false, true, false, false]);
        assert_eq!(d.count("dev9"), 5);
        assert!(d.observe(&by("dev8")).is_none());
        assert_eq!(d.count("dev8"), 1);
        // A device's own topics never count.
        let own = record(r#"{"username":"dev7","topic":"devices/dev7/x"}"#);
        for _ in 0..5 {
            assert!(d.observe(&own).is_none());
        }
        assert_eq!(d.count("dev7"), 0);
        let once = ProbeDetector::new(NonZeroU32::MIN).observe(&by("dev1"));
        assert_eq!(
            once,
            Some(Probe {
                prober: "dev1".into(),
                owner: "other".into()
            })
        );
    }

    #[test]
    fn rotating_client_ids_cannot_grow_the_table_without_bound() {
        let mut d = ProbeDetector::new(three());
        for i in 0..MAX_TRACKED_DEVICES {
            let r = DenyRecord {
                client_id: Some(format!("c{i}")),
                topic: Some("devices/x/y".into()),
                ..record("{}")
            };
            d.observe(&r);
        }
        let newcomer = DenyRecord {
            client_id: Some("late".into()),
            topic: Some("devices/x/y".into()),
            ..record("{}")
        };
        assert!(d.observe(&newcomer).is_none());
        assert_eq!((d.count("late"), d.untracked()), (0, 1));
        // Devices already counted still are.
        let known = DenyRecord {
            client_id: Some("c0".into()),
            topic: Some("devices/x/y".into()),
            ..record("{}")
        };
        assert_eq!(d.observe(&known).map(|p| p.prober), None);
        assert_eq!(d.observe(&known).map(|p| p.prober), Some("c0".into()));
    }

    proptest! {
        /// Against a model: each device is reported exactly once, at its threshold-th probe,
        /// whatever the interleaving with other devices and non-probes.
        #[test]
        fn reports_follow_the_model(
            threshold in 1u32..5,
            events in proptest::collection::vec((0usize..4, 0usize..4), 0..60),
        ) {
            let mut d = ProbeDetector::new(NonZeroU32::new(threshold).unwrap());
            let mut model = [0u32; 4];
            for (who, owner) in events {
                let r = DenyRecord {
                    username: Some(format!("d{who}")),
                    topic: Some(format!("devices/d{owner}/t")),
                    ..record("{}")
                };
                let reported = d.observe(&r);
                if who != owner {
                    model[who] += 1;
                }
                prop_assert_eq!(reported.is_some(), who != owner && model[who] == threshold);
            }
        }

        /// Any bytes: a record or a typed error, never a panic.
        #[test]
        fn any_bytes_parse_or_fail_typed(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_deny_record(&bytes).map(|r| r.probe());
        }
    }
}
