//! A posture feed: the fleet's view of each device (firmware version, quarantine, time of the
//! last accepted attestation), read from a TOML or JSON file that an attestation service or an
//! operator writes, and turned into the [`Posture`] that rule conditions check.
//!
//! ```toml
//! [[device]]
//! client_id = "dev1"            # or cert_cn = "dev1" (exactly one of the two)
//! firmware = "1.4.2"            # semver (SemVer 2.0.0 §2)
//! quarantined = false
//! attested_at = 1764900000      # Unix seconds of the last accepted attestation
//! revoked = false               # the identity's certificate is revoked: nothing is granted
//! ```
//!
//! JSON: `{"devices": [{"client_id": "dev1", ...}]}`. Fail closed: unknown keys, an entry with
//! both or neither identity, a duplicate identity, a malformed version, an oversized file or too
//! many entries make the whole file refused. A device that the feed does not name has unknown
//! posture ([`Posture::default`]): rules with posture conditions then do not grant.

use std::collections::BTreeMap;
use std::string::{String, ToString};
use std::vec::Vec;

use serde::Deserialize;

use crate::context::Posture;

/// Largest feed file accepted, in bytes.
pub const MAX_FEED_BYTES: usize = 16 * 1024 * 1024;
/// Most entries one feed may hold.
pub const MAX_FEED_ENTRIES: usize = 1_000_000;
/// Longest client id or CN in the feed (an MQTT string holds at most 65,535 bytes).
pub const MAX_IDENTITY_BYTES: usize = 65_535;

/// Why a feed was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PostureFeedError {
    /// Larger than [`MAX_FEED_BYTES`].
    #[error("posture feed is {len} bytes; at most {MAX_FEED_BYTES} are read")]
    TooLarge {
        /// Length in bytes.
        len: usize,
    },
    /// Not valid TOML / JSON, or an unknown key, or a value of the wrong type.
    #[error("posture feed syntax: {0}")]
    Syntax(String),
    /// More than [`MAX_FEED_ENTRIES`] entries.
    #[error("posture feed has {count} entries; at most {MAX_FEED_ENTRIES}")]
    TooManyEntries {
        /// Number of entries.
        count: usize,
    },
    /// An entry names neither or both of `client_id` and `cert_cn`, or an empty / oversized one.
    #[error("posture entry {index}: {problem}")]
    BadIdentity {
        /// Position of the entry in the file.
        index: usize,
        /// What is wrong.
        problem: &'static str,
    },
    /// Two entries for the same identity.
    #[error("posture entry {index}: {kind} {name:?} already has an entry")]
    Duplicate {
        /// Position of the second entry.
        index: usize,
        /// `client_id` or `cert_cn`.
        kind: &'static str,
        /// The identity.
        name: String,
    },
    /// `firmware` is not a semantic version.
    #[error("posture entry {index}: firmware {value:?} is not a semantic version: {problem}")]
    BadFirmware {
        /// Position of the entry.
        index: usize,
        /// The value.
        value: String,
        /// The parser's message.
        problem: String,
    },
}

impl PostureFeedError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            PostureFeedError::TooLarge { .. } => "posture_feed_too_large",
            PostureFeedError::Syntax(_) => "posture_feed_syntax",
            PostureFeedError::TooManyEntries { .. } => "posture_feed_too_many_entries",
            PostureFeedError::BadIdentity { .. } => "posture_feed_bad_identity",
            PostureFeedError::Duplicate { .. } => "posture_feed_duplicate",
            PostureFeedError::BadFirmware { .. } => "posture_feed_bad_firmware",
        }
    }
}

/// One entry as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryDocument {
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    cert_cn: Option<String>,
    #[serde(default)]
    firmware: Option<String>,
    #[serde(default)]
    quarantined: bool,
    #[serde(default)]
    attested_at: Option<u64>,
    #[serde(default)]
    revoked: bool,
}

/// The file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedDocument {
    #[serde(default, rename = "device", alias = "devices")]
    devices: Vec<EntryDocument>,
}

/// What the feed says about one device. `#[non_exhaustive]`: the feed may learn more about a
/// device (as it learned `revoked`) without breaking code that reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DevicePosture {
    /// Running firmware version, if reported.
    pub firmware: Option<semver::Version>,
    /// Whether the device is quarantined.
    pub quarantined: bool,
    /// Unix seconds of the last accepted attestation, if any.
    pub attested_at: Option<u64>,
    /// The identity is revoked (its certificate is on the CRL): a broker denies it every
    /// check and disconnects it, whatever the policy grants. A TLS listener refuses the
    /// revoked certificate only at the next handshake; this closes the session it already has.
    pub revoked: bool,
}

impl DevicePosture {
    /// The posture at `now` (Unix seconds). An attestation time in the future gives an unknown
    /// age (a clock problem must not make a device look freshly attested).
    pub fn at(&self, now: u64) -> Posture {
        Posture {
            firmware: self.firmware.clone(),
            quarantined: self.quarantined,
            attestation_age_secs: self.attested_at.and_then(|t| now.checked_sub(t)),
        }
    }

    /// Two entries that both apply to one client, combined fail-closed: quarantined if either
    /// says so; a firmware version or attestation time only if both agree.
    fn merge(&self, other: &DevicePosture) -> DevicePosture {
        DevicePosture {
            firmware: self
                .firmware
                .clone()
                .filter(|_| self.firmware == other.firmware),
            quarantined: self.quarantined || other.quarantined,
            revoked: self.revoked || other.revoked,
            attested_at: match (self.attested_at, other.attested_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                _ => None,
            },
        }
    }
}

/// A validated feed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PostureFeed {
    by_client_id: BTreeMap<String, DevicePosture>,
    by_cert_cn: BTreeMap<String, DevicePosture>,
}

impl PostureFeed {
    /// Parses a TOML feed.
    pub fn from_toml_str(text: &str) -> Result<Self, PostureFeedError> {
        check_len(text)?;
        let doc: FeedDocument =
            toml::from_str(text).map_err(|e| PostureFeedError::Syntax(e.message().to_string()))?;
        PostureFeed::from_document(doc)
    }

    /// Parses a JSON feed.
    pub fn from_json_str(text: &str) -> Result<Self, PostureFeedError> {
        check_len(text)?;
        let doc: FeedDocument =
            serde_json::from_str(text).map_err(|e| PostureFeedError::Syntax(e.to_string()))?;
        PostureFeed::from_document(doc)
    }

    fn from_document(doc: FeedDocument) -> Result<Self, PostureFeedError> {
        if doc.devices.len() > MAX_FEED_ENTRIES {
            return Err(PostureFeedError::TooManyEntries {
                count: doc.devices.len(),
            });
        }
        let mut feed = PostureFeed::default();
        for (index, entry) in doc.devices.into_iter().enumerate() {
            let firmware = match entry.firmware {
                None => None,
                Some(value) => Some(semver::Version::parse(&value).map_err(|e| {
                    PostureFeedError::BadFirmware {
                        index,
                        problem: e.to_string(),
                        value,
                    }
                })?),
            };
            let posture = DevicePosture {
                firmware,
                quarantined: entry.quarantined,
                attested_at: entry.attested_at,
                revoked: entry.revoked,
            };
            let (kind, name, map) = match (entry.client_id, entry.cert_cn) {
                (Some(id), None) => ("client_id", id, &mut feed.by_client_id),
                (None, Some(cn)) => ("cert_cn", cn, &mut feed.by_cert_cn),
                (Some(_), Some(_)) => {
                    return Err(PostureFeedError::BadIdentity {
                        index,
                        problem: "names both client_id and cert_cn (one entry, one identity)",
                    });
                }
                (None, None) => {
                    return Err(PostureFeedError::BadIdentity {
                        index,
                        problem: "names neither client_id nor cert_cn",
                    });
                }
            };
            if name.is_empty() || name.len() > MAX_IDENTITY_BYTES || name.contains('\0') {
                return Err(PostureFeedError::BadIdentity {
                    index,
                    problem: "identity is empty, longer than 65,535 bytes or contains U+0000",
                });
            }
            if map.contains_key(&name) {
                return Err(PostureFeedError::Duplicate { index, kind, name });
            }
            map.insert(name, posture);
        }
        Ok(feed)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.by_client_id.len() + self.by_cert_cn.len()
    }

    /// Whether the feed names no device.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What the feed says about a client with this client id and (if known) certificate CN;
    /// `None` when neither has an entry. When both have one they are combined fail-closed.
    pub fn device(&self, client_id: &str, cert_cn: Option<&str>) -> Option<DevicePosture> {
        let by_id = self.by_client_id.get(client_id);
        let by_cn = cert_cn.and_then(|cn| self.by_cert_cn.get(cn));
        match (by_id, by_cn) {
            (Some(a), Some(b)) => Some(a.merge(b)),
            (Some(a), None) | (None, Some(a)) => Some(a.clone()),
            (None, None) => None,
        }
    }

    /// Whether an entry that applies to this client (by client id, or by certificate CN) says
    /// the identity is revoked.
    pub fn is_revoked(&self, client_id: &str, cert_cn: Option<&str>) -> bool {
        let revoked = |map: &BTreeMap<String, DevicePosture>, name: &str| {
            map.get(name).is_some_and(|d| d.revoked)
        };
        revoked(&self.by_client_id, client_id)
            || cert_cn.is_some_and(|cn| revoked(&self.by_cert_cn, cn))
    }

    /// The client ids whose entry says `revoked = true`.
    pub fn revoked_client_ids(&self) -> impl Iterator<Item = &str> {
        revoked_names(&self.by_client_id)
    }

    /// The certificate CNs whose entry says `revoked = true`.
    pub fn revoked_cert_cns(&self) -> impl Iterator<Item = &str> {
        revoked_names(&self.by_cert_cn)
    }

    /// The posture of a client at `now` (Unix seconds); unknown ([`Posture::default`]) for a
    /// client the feed does not name.
    pub fn posture(&self, client_id: &str, cert_cn: Option<&str>, now: u64) -> Posture {
        self.device(client_id, cert_cn)
            .map(|d| d.at(now))
            .unwrap_or_default()
    }
}

fn revoked_names(map: &BTreeMap<String, DevicePosture>) -> impl Iterator<Item = &str> {
    map.iter()
        .filter(|(_, d)| d.revoked)
        .map(|(name, _)| name.as_str())
}

fn check_len(text: &str) -> Result<(), PostureFeedError> {
    if text.len() > MAX_FEED_BYTES {
        return Err(PostureFeedError::TooLarge { len: text.len() });
    }
    Ok(())
}
