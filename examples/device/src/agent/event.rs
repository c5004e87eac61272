//! What the agent is asked to do ([`AgentCommand`]), what it reports ([`AgentEvent`], one JSON
//! object per event with a stable `event` tag and stable codes) and how it ends
//! ([`AgentExit`]).

use serde::{Deserialize, Serialize};

pub use iotsec_fleet_api::UpdateResult;

/// A step the driver (the demo, or the CLI's timers) asks for. Each command is answered by
/// the events listed with it, in order, and then the agent reads the next command.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AgentCommand {
    /// Publish one telemetry message (QoS 1) on `devices/{id}/telemetry`:
    /// [`AgentEvent::Published`] or [`AgentEvent::PublishRefused`] (or [`AgentEvent::Error`]).
    Publish,
    /// Answer a fresh cloud nonce with SE evidence: [`AgentEvent::Attested`].
    Attest,
    /// Ask the release channel: [`AgentEvent::NoRelease`], or download, verify, install,
    /// trial-boot and confirm (or revert), report: [`AgentEvent::Update`].
    PollRelease,
    /// Install this manifest and image as if the release channel had offered them (the replay
    /// of an old, genuinely signed release): [`AgentEvent::Update`], `refused` with the
    /// `iotsec-ota` code (`rollback`, `replay`, ...) for an old manifest. Reported to the cloud
    /// like any update attempt.
    OfferManifest {
        /// The signed manifest.
        manifest: Vec<u8>,
        /// The image it names.
        image: Vec<u8>,
    },
    /// The next update's trial boot fails its health check, so the device reverts on its own
    /// and reports `reverted`: [`AgentEvent::Armed`].
    FailNextTrialBoot,
    /// The next evidence reports a wrong firmware measurement: [`AgentEvent::Armed`].
    WrongMeasurement,
    /// Try other devices' topics: for each topic, subscribe ([`AgentEvent::Subscribed`] or
    /// [`AgentEvent::SubscribeRefused`]) then publish at QoS 1 ([`AgentEvent::Published`] or
    /// [`AgentEvent::PublishRefused`]): two events per topic.
    Probe {
        /// Topic names (used as filters for the subscription).
        topics: Vec<String>,
    },
    /// Drop the broker connection and connect again with the current certificate:
    /// [`AgentEvent::Connected`] or [`AgentEvent::Disconnected`].
    Reconnect,
    /// Re-enroll now (`simplereenroll`, same key): [`AgentEvent::Renewed`], and the broker
    /// connection is re-established with the new certificate ([`AgentEvent::Connected`]).
    Renew,
    /// Ask the cloud for this device's status: [`AgentEvent::Status`]; when decommissioned,
    /// [`AgentEvent::Wiped`] follows and the agent exits with [`AgentExit::Wiped`].
    CheckStatus,
    /// Disconnect and end with [`AgentExit::Stopped`].
    Stop,
}

/// What happened, in the order it happened. Serialized as `{"event": "<snake_case name>", ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum AgentEvent {
    /// A first certificate was issued (`simpleenroll`).
    Enrolled {
        /// The device id (certificate CN).
        id: String,
        /// Certificate serial, lowercase hex.
        serial: String,
    },
    /// The agent started from an enrolled state directory.
    Resumed {
        /// The device id.
        id: String,
        /// Serial of the stored certificate, hex.
        serial: String,
    },
    /// Boot selection ran at start: the running firmware.
    Booted {
        /// Firmware version of the running slot.
        firmware: String,
        /// The running slot (`A` or `B`).
        slot: String,
    },
    /// Connected to the broker (CONNACK success over mutual TLS 1.3).
    Connected {
        /// `HOST:PORT`.
        broker: String,
    },
    /// The broker connection ended or could not be made (TLS refusal, CONNACK refusal, I/O).
    Disconnected {
        /// Why, in words (the TLS alert or I/O error).
        reason: String,
    },
    /// The cloud appraised evidence.
    Attested {
        /// Whether it was accepted.
        accepted: bool,
        /// The refusal's stable code (`None` when accepted).
        code: Option<String>,
        /// Whether the device is quarantined after the appraisal.
        quarantined: bool,
    },
    /// The cloud registered the TPM attestation key beside the TPM's EK (the TPM activated
    /// the cloud's credential); quotes follow.
    TpmRegistered {
        /// The AK's Name, hex.
        ak_name: String,
    },
    /// The broker acknowledged a QoS 1 publish (PUBACK reason 0x00 or 0x10).
    Published {
        /// The topic.
        topic: String,
    },
    /// The broker refused a publish (MQTT 5 PUBACK reason code >= 0x80, e.g. 0x87 not
    /// authorized).
    PublishRefused {
        /// The topic.
        topic: String,
        /// The PUBACK reason code.
        reason_code: u8,
    },
    /// The broker granted a subscription.
    Subscribed {
        /// The topic filter.
        topic: String,
    },
    /// The broker refused a subscription (SUBACK 0x87 not authorized under MQTT 5, 0x80 under
    /// MQTT 3.1.1).
    SubscribeRefused {
        /// The topic filter.
        topic: String,
        /// The SUBACK reason code.
        reason_code: u8,
    },
    /// The release channel offers nothing to this device (HTTP 204).
    NoRelease,
    /// An update attempt ended (and was reported to the cloud).
    Update {
        /// The version tried.
        version: String,
        /// Confirmed, reverted or refused.
        result: UpdateResult,
        /// The refusal or failure code (`iotsec-ota` code, `trial_boot_failed`, ...).
        code: Option<String>,
    },
    /// The certificate was renewed (`simplereenroll`).
    Renewed {
        /// The new certificate's serial, hex.
        serial: String,
    },
    /// The cloud's view of this device.
    Status {
        /// Quarantined.
        quarantined: bool,
        /// Decommissioned.
        decommissioned: bool,
    },
    /// A fault for the next step is armed ([`AgentCommand::FailNextTrialBoot`],
    /// [`AgentCommand::WrongMeasurement`]).
    Armed {
        /// `fail_next_trial_boot` or `wrong_measurement`.
        fault: String,
    },
    /// Decommissioned: the key, certificate and counters were erased; the agent exits.
    Wiped,
    /// A step failed; the agent goes on with the next command.
    Error {
        /// Stable code ([`crate::agent::AgentError::code`]).
        code: String,
        /// One line for people.
        message: String,
    },
}

/// How [`crate::agent::Agent::run`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentExit {
    /// [`AgentCommand::Stop`].
    Stopped,
    /// The command channel was closed (every sender dropped).
    CommandsClosed,
    /// Decommissioned and wiped.
    Wiped,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(event: &AgentEvent) -> String {
        serde_json::to_string(event).unwrap_or_default()
    }

    #[test]
    fn events_have_a_stable_wire_format() {
        assert_eq!(
            wire(&AgentEvent::Enrolled {
                id: "dev-1".into(),
                serial: "0a1b".into()
            }),
            r#"{"event":"enrolled","id":"dev-1","serial":"0a1b"}"#
        );
        assert_eq!(
            wire(&AgentEvent::PublishRefused {
                topic: "devices/dev-2/telemetry".into(),
                reason_code: 0x87
            }),
            r#"{"event":"publish_refused","topic":"devices/dev-2/telemetry","reason_code":135}"#
        );
        assert_eq!(
            wire(&AgentEvent::Update {
                version: "1.2.0".into(),
                result: UpdateResult::Reverted,
                code: Some("trial_boot_failed".into())
            }),
            r#"{"event":"update","version":"1.2.0","result":"reverted","code":"trial_boot_failed"}"#
        );
        assert_eq!(wire(&AgentEvent::NoRelease), r#"{"event":"no_release"}"#);
        // What `iotsec-device run --format json` prints reads back as the same event.
        let line =
            r#"{"event":"attested","accepted":false,"code":"unknown_firmware","quarantined":true}"#;
        assert_eq!(
            serde_json::from_str::<AgentEvent>(line).ok(),
            Some(AgentEvent::Attested {
                accepted: false,
                code: Some("unknown_firmware".into()),
                quarantined: true
            })
        );
        assert!(
            serde_json::from_str::<AgentEvent>(r#"{"event":"renewed","serial":"0a","x":1}"#)
                .is_err()
        );
        assert_eq!(wire(&AgentEvent::Wiped), r#"{"event":"wiped"}"#);
        assert_eq!(
            serde_json::to_string(&AgentExit::CommandsClosed).unwrap_or_default(),
            r#""commands_closed""#
        );
    }
}
