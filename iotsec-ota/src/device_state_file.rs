//! A device's state as a host keeps it in a JSON file (RFC 8259): identity, anti-rollback
//! counters and, optionally, the device's trusted time, read once into a typed
//! [`DeviceStateFile`] that yields the verifier's [`DeviceState`].
//!
//! Fail closed: a key this crate does not know is refused (a misspelt `"Now"` read as absent
//! would switch the expiry check off), and "no trusted time" is a statement the caller makes
//! ([`HostTime::NoTrustedTime`]), never what a missing `now` quietly means (TUF specification
//! §5.4, freeze attack). UUIDs are in their RFC 9562 §4 text form.

use alloc::string::String;

use crate::verifier::{DeviceState, TrustedTime};

/// The state file of one device (`{"vendor_id": UUID, "class_id": UUID, "device_id": text,
/// "security_counter": n, "last_sequence": n, "trusted_root_version": n, "slot_capacity": n,
/// "now": seconds since the Unix epoch}`; `now` optional, the two counters absent when the
/// device keeps them in its boot record).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceStateFile {
    /// This device's vendor UUID.
    #[serde(deserialize_with = "uuid_text")]
    pub vendor_id: [u8; 16],
    /// This device's class UUID.
    #[serde(deserialize_with = "uuid_text")]
    pub class_id: [u8; 16],
    /// This device's id (as manifests list it).
    pub device_id: String,
    /// The security counter committed after the last confirmed boot, when the file keeps it.
    #[serde(default)]
    pub security_counter: Option<u64>,
    /// The sequence number of the last manifest accepted, when the file keeps it.
    #[serde(default)]
    pub last_sequence: Option<u64>,
    /// The trust root version the device has stored.
    pub trusted_root_version: u64,
    /// Largest image an install slot holds, in bytes.
    pub slot_capacity: u64,
    /// The device's trusted time, seconds since the Unix epoch (absent or `null`: not given).
    #[serde(default, deserialize_with = "seconds")]
    pub now: Option<u64>,
}

/// The time the caller offers for a state file without `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostTime {
    /// A clock the caller trusts for this device (a host's system clock), in seconds since the
    /// Unix epoch.
    Clock(u64),
    /// The device has no trusted time: expiry goes unchecked, and the outcome says so
    /// ([`crate::ExpiryCheck::NotChecked`]).
    NoTrustedTime,
}

/// Why a state file cannot describe the device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceStateFileError {
    /// The file is not JSON of this shape (unknown key, missing or mistyped field, bad UUID).
    #[error("{0}")]
    Malformed(String),
    /// A counter the device keeps elsewhere (its boot record) is also in the file: one of the
    /// two would be ignored.
    #[error("{field} is kept in the boot record, not in the state file")]
    CounterNotHere {
        /// `security_counter` or `last_sequence`.
        field: &'static str,
    },
    /// The file lacks a counter the caller has nowhere else.
    #[error("{field} is missing")]
    MissingCounter {
        /// `security_counter` or `last_sequence`.
        field: &'static str,
    },
    /// The caller says the device has no trusted time, yet the file gives `now`.
    #[error("no trusted time contradicts the state file's now: give one or the other")]
    TimeContradiction,
}

impl DeviceStateFileError {
    /// A stable snake_case code, as [`crate::Error::code`] (never changes for a variant).
    pub fn code(&self) -> &'static str {
        match self {
            DeviceStateFileError::Malformed(_) => "state_malformed",
            DeviceStateFileError::CounterNotHere { .. } => "state_counter_not_here",
            DeviceStateFileError::MissingCounter { .. } => "state_missing_counter",
            DeviceStateFileError::TimeContradiction => "state_time_contradiction",
        }
    }

    /// Never a refusal: a state file describes the device, it is not what a security decision
    /// refuses (a command-line tool exits 2, bad input).
    pub fn is_refusal(&self) -> bool {
        false
    }
}

fn uuid_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<[u8; 16], D::Error> {
    let text = <alloc::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
    uuid::Uuid::parse_str(&text)
        .map(|u| *u.as_bytes())
        .map_err(serde::de::Error::custom)
}

/// `now`: present but not an unsigned integer is malformed, never "not given" (that would
/// switch the expiry check off).
fn seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match <Option<serde_json::Value> as serde::Deserialize>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| {
            serde::de::Error::custom("now must be an unsigned integer (seconds since the epoch)")
        }),
    }
}

impl DeviceStateFile {
    /// Reads a state file from its JSON text (the caller bounds its size).
    pub fn from_json(json: &[u8]) -> Result<Self, DeviceStateFileError> {
        serde_json::from_slice(json).map_err(|e| DeviceStateFileError::Malformed(e.to_string()))
    }

    /// Reads a state file from a JSON value already parsed.
    pub fn from_value(value: serde_json::Value) -> Result<Self, DeviceStateFileError> {
        serde_json::from_value(value).map_err(|e| DeviceStateFileError::Malformed(e.to_string()))
    }

    /// The device's time: the file's `now` when given, else what the caller offers. A file
    /// with `now` on a device declared without trusted time is a contradiction, refused.
    pub fn trusted_time(&self, host: HostTime) -> Result<TrustedTime, DeviceStateFileError> {
        match (self.now, host) {
            (Some(_), HostTime::NoTrustedTime) => Err(DeviceStateFileError::TimeContradiction),
            (Some(now), HostTime::Clock(_)) | (None, HostTime::Clock(now)) => {
                Ok(TrustedTime::At(now))
            }
            (None, HostTime::NoTrustedTime) => Ok(TrustedTime::NoTrustedClock),
        }
    }

    /// The verifier's view, with the counters from this file (both required).
    pub fn device_state(&self, now: TrustedTime) -> Result<DeviceState<'_>, DeviceStateFileError> {
        let security_counter =
            self.security_counter
                .ok_or(DeviceStateFileError::MissingCounter {
                    field: "security_counter",
                })?;
        let last_sequence = self
            .last_sequence
            .ok_or(DeviceStateFileError::MissingCounter {
                field: "last_sequence",
            })?;
        Ok(self.view(security_counter, last_sequence, now))
    }

    /// The verifier's view, with the counters from the device's boot record: the file must
    /// not hold them (the copy in the file would be ignored).
    pub fn device_state_with_counters(
        &self,
        security_counter: u64,
        last_sequence: u64,
        now: TrustedTime,
    ) -> Result<DeviceState<'_>, DeviceStateFileError> {
        self.refuse_counters()?;
        Ok(self.view(security_counter, last_sequence, now))
    }

    /// Refuses a file that holds the counters, for a device that keeps them elsewhere (its
    /// boot record): the file's copy would be ignored.
    pub fn refuse_counters(&self) -> Result<(), DeviceStateFileError> {
        if self.security_counter.is_some() {
            return Err(DeviceStateFileError::CounterNotHere {
                field: "security_counter",
            });
        }
        if self.last_sequence.is_some() {
            return Err(DeviceStateFileError::CounterNotHere {
                field: "last_sequence",
            });
        }
        Ok(())
    }

    fn view(&self, security_counter: u64, last_sequence: u64, now: TrustedTime) -> DeviceState<'_> {
        DeviceState {
            vendor_id: self.vendor_id,
            class_id: self.class_id,
            device_id: self.device_id.as_bytes(),
            security_counter,
            last_sequence,
            trusted_root_version: self.trusted_root_version,
            slot_capacity: self.slot_capacity,
            now,
        }
    }
}
