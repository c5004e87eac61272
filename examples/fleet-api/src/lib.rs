//! The fleet API: what `iotsec-cloud serve` answers and `iotsec-device run` asks, over HTTPS
//! (TLS 1.3 only). One crate so that the server and the device agent cannot drift apart.
//!
//! Authentication is the TLS client certificate:
//! - EST (RFC 7030) under [`paths::EST`], as `iotsec-pki` serves it: `simpleenroll` with the
//!   bootstrap credential (HTTP Basic or a bootstrap certificate), `simplereenroll` with the
//!   device certificate. Labels included (`/.well-known/est/LABEL/...`).
//! - CRL ([`paths::CRL`]) and OCSP ([`paths::OCSP`]) need no client certificate.
//! - Every `/v1/device/...` endpoint requires the device's client certificate, issued by the
//!   fleet CA, not revoked in the current CRL, and its device not decommissioned: the device id
//!   is the certificate's CN. Anything else gets 401 (no or unknown certificate) or 403
//!   (revoked, decommissioned). The TPM registration endpoints (`/v1/tpm/...`) are device
//!   endpoints in the same way.
//! - Every `/v1/admin/...` endpoint requires an operator client certificate (a CN the server
//!   is configured to treat as an operator, issued by the fleet CA).
//!
//! Errors are JSON [`ApiError`] with a stable `code` and a 4xx/5xx status. Bodies are bounded
//! by [`MAX_JSON_BODY`] (JSON) and [`MAX_IMAGE_BODY`] (release upload); larger ones get 413.
//! Binary fields in JSON are lowercase hex (digests, nonces) or standard base64 with padding
//! (documents, images, evidence).

#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

/// Largest JSON request body the server reads (bytes).
pub const MAX_JSON_BODY: usize = 64 * 1024;
/// Largest release upload (`POST /v1/admin/releases`, JSON with base64 image) the server reads.
pub const MAX_IMAGE_BODY: usize = 16 * 1024 * 1024;

/// Request paths. `{id}` and `{version}` are path parameters (axum 0.8 syntax).
pub mod paths {
    /// EST prefix (RFC 7030 section 3.2.2).
    pub const EST: &str = "/.well-known/est";
    /// The current CRL of the fleet CA, DER (`application/pkix-crl`).
    pub const CRL: &str = "/crl.der";
    /// OCSP responder (RFC 6960, POST `application/ocsp-request`).
    pub const OCSP: &str = "/ocsp";

    /// Device: POST, no body -> [`crate::Nonce`]. A fresh attestation challenge, redeemable once.
    pub const ATTEST_NONCE: &str = "/v1/device/attest/nonce";
    /// Device: POST [`crate::Evidence`] -> [`crate::Appraisal`] (200 accepted or refused; the
    /// verdict is in the body and in the registry).
    pub const ATTEST_EVIDENCE: &str = "/v1/device/attest/evidence";
    /// Device: GET -> [`crate::ReleaseOffer`] (200) or 204 when nothing is offered to this
    /// device (no release, not in the current rollout stage, rollout halted).
    pub const RELEASE: &str = "/v1/device/release";
    /// Device: GET the image of an offered release (`application/octet-stream`). 404 for a
    /// version that is not published; 403 when it is not offered to this device.
    pub const RELEASE_IMAGE: &str = "/v1/device/release/{version}/image";
    /// Device: POST [`crate::DeviceReport`] -> 204. What the device runs and how its last
    /// update ended.
    pub const REPORT: &str = "/v1/device/report";
    /// Device: GET -> [`crate::DeviceStatus`]. The registry's view of the calling device.
    pub const STATUS: &str = "/v1/device/status";
    /// Device: POST [`crate::TpmRegister`] -> [`crate::TpmChallenge`] (200), or a refusal
    /// (400 bad input, 403 EK or AK refused, 409 registration not enabled or AK taken). The
    /// first half of binding a TPM attestation key to the device: a credential only the TPM
    /// holding the EK and the AK can activate.
    pub const TPM_REGISTER: &str = "/v1/tpm/register";
    /// Device: POST [`crate::TpmActivate`] -> [`crate::TpmRegistered`] (200), or a refusal
    /// with a stable code (`registration_unknown`, `registration_expired`,
    /// `registration_not_yours`, `secret_mismatch`, `ak_bound_to_other_device`,
    /// `ak_not_registered`). A registration id is redeemed once, whatever the outcome.
    pub const TPM_ACTIVATE: &str = "/v1/tpm/activate";

    /// Operator: POST [`crate::PublishRelease`] -> [`crate::PublishOutcome`] (201 published,
    /// 422 refused by the SBOM gate or a digest mismatch; nothing is stored when refused).
    pub const RELEASES: &str = "/v1/admin/releases";
    /// Operator: GET -> [`crate::RolloutStatus`]; POST [`crate::RolloutCommand`] ->
    /// [`crate::RolloutStatus`].
    pub const ROLLOUT: &str = "/v1/admin/rollout";
    /// Operator: GET -> `Vec<`[`crate::DeviceRecord`]`>`.
    pub const DEVICES: &str = "/v1/admin/devices";
    /// Operator: GET -> [`crate::DeviceRecord`].
    pub const DEVICE: &str = "/v1/admin/devices/{id}";
    /// Operator: POST [`crate::Quarantine`] -> [`crate::DeviceRecord`].
    pub const QUARANTINE: &str = "/v1/admin/devices/{id}/quarantine";
    /// Operator: POST, no body -> [`crate::DeviceRecord`]. Revokes the device's certificates
    /// (CRL + broker) and quarantines it.
    pub const REVOKE: &str = "/v1/admin/devices/{id}/revoke";
    /// Operator: POST, no body -> [`crate::DeviceRecord`]. Revokes, marks decommissioned; the
    /// device learns it from [`STATUS`] (or from a 403 with code `decommissioned`) and wipes
    /// its keys.
    pub const DECOMMISSION: &str = "/v1/admin/devices/{id}/decommission";
}

/// A JSON error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiError {
    /// Stable machine-readable code (`revoked`, `decommissioned`, `body_too_large`,
    /// `bad_json`, `nonce_unknown`, ... or the library error's `code()`).
    pub code: String,
    /// One line for people.
    pub message: String,
}

/// An attestation challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nonce {
    /// 32 random bytes, hex.
    pub nonce: String,
    /// Seconds until the nonce expires.
    pub expires_in_secs: u64,
}

/// Attestation evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// The nonce it answers (hex, from [`Nonce`]).
    pub nonce: String,
    /// The evidence format.
    pub format: EvidenceFormat,
    /// The evidence, base64. For [`EvidenceFormat::Se`] the `iotsec-attest` secure-element
    /// evidence signed by the device's enrolled key (the key of its client certificate), with
    /// device id = SHA-256 of the CN and the measurement of the running firmware. For
    /// [`EvidenceFormat::Tpm`] `iotsec_attest::appraise::tpm_evidence` (AK public area, quote,
    /// signature, PCR values; at most 4096 bytes): a quote of SHA-256 PCR 23 with the nonce as
    /// qualifying data, by the AK registered for the device at its first accepted quote.
    pub evidence: String,
}

/// Evidence formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceFormat {
    /// `iotsec_attest::se_evidence` (software or hardware secure element).
    Se,
    /// A TPM 2.0 quote (AK TPM2B_PUBLIC + TPMS_ATTEST + TPMT_SIGNATURE + PCR values), as
    /// `iotsec-device run --tpm` sends it.
    Tpm,
}

/// The cloud's verdict on evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Appraisal {
    /// Whether the evidence was accepted.
    pub accepted: bool,
    /// The refusal's stable code (`None` when accepted).
    pub code: Option<String>,
    /// The claims the appraisal established (firmware digest hex, counter, ...).
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// Whether the device is quarantined after this appraisal.
    pub quarantined: bool,
}

/// A release offered to the calling device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseOffer {
    /// The release's version.
    pub version: String,
    /// The signed manifest (the bytes `iotsec-ota` verifies), base64.
    pub manifest: String,
    /// SHA-256 of the image, hex (also inside the signed manifest, which is what counts).
    pub image_sha256: String,
    /// Image size in bytes.
    pub image_len: u64,
}

/// What a device reports after booting or trying an update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceReport {
    /// The firmware version it runs now (the confirmed slot).
    pub firmware: String,
    /// The outcome of the last update attempt, if one happened since the last report.
    pub update: Option<UpdateOutcome>,
}

/// How an update attempt ended on the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateOutcome {
    /// The version tried.
    pub version: String,
    /// The result.
    pub result: UpdateResult,
    /// The refusal or failure code (`iotsec-ota` error code, `trial_boot_failed`, ...).
    pub code: Option<String>,
}

/// Update results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateResult {
    /// Verified, trial-booted and confirmed.
    Confirmed,
    /// Trial boot failed; the device reverted to the previous slot on its own.
    Reverted,
    /// The manifest or image was refused (never installed).
    Refused,
}

/// The registry's view of the calling device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceStatus {
    /// The device id (certificate CN).
    pub id: String,
    /// Quarantined (no topics at the broker except what the policy grants quarantined devices).
    pub quarantined: bool,
    /// Decommissioned: the device must wipe its keys.
    pub decommissioned: bool,
    /// Seconds before its certificate's notAfter at which the device should re-enroll.
    pub renew_before_secs: u64,
}

/// A device in the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceRecord {
    /// Device id (certificate CN).
    pub id: String,
    /// Serial of its current certificate, hex.
    pub cert_serial: String,
    /// Enrollment time, RFC 3339.
    pub enrolled_at: String,
    /// Firmware version last reported or attested.
    pub firmware: Option<String>,
    /// Time of the last accepted attestation, RFC 3339.
    pub last_attestation: Option<String>,
    /// Whether the last appraisal accepted the evidence.
    pub attestation_ok: Option<bool>,
    /// Quarantined, and why (`attestation_failed`, `probing`, `operator`, `revoked`).
    pub quarantine: Option<String>,
    /// Rollout cohort: 0..10000 (basis points), fixed per device.
    pub cohort_bps: u32,
    /// Revoked (certificate serials on the CRL).
    pub revoked: bool,
    /// Decommissioned.
    pub decommissioned: bool,
}

/// A release to publish: the image, its SBOM and the signed manifest that names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishRelease {
    /// Version (must equal the manifest's).
    pub version: String,
    /// The signed manifest, base64.
    pub manifest: String,
    /// The image, base64.
    pub image: String,
    /// The SBOM (CycloneDX JSON), base64.
    pub sbom: String,
}

/// The outcome of a publish request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishOutcome {
    /// Whether the release is published.
    pub published: bool,
    /// The SBOM gate's decision (`pass`/`fail`) and its digest, hex.
    pub gate: String,
    /// The gate decision's digest, bound to the image digest.
    pub decision_digest: String,
    /// Why it was refused (stable codes, e.g. `gate_failed`, `digest_mismatch`,
    /// `version_mismatch`), empty when published.
    pub reasons: Vec<String>,
}

/// Rollout control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum RolloutCommand {
    /// Start (or restart) rolling out a published version at the first stage.
    Start {
        /// The version.
        version: String,
        /// Stages in basis points of the fleet, increasing, ending at 10000 (e.g. 100, 1000,
        /// 10000 for 1% -> 10% -> 100%).
        stages_bps: Vec<u32>,
    },
    /// Advance to the next stage (refused while halted).
    Advance {},
    /// Halt: no device is offered the release until resumed.
    Halt {
        /// Why (`canary_reverted`, `operator`).
        reason: String,
    },
    /// Resume a halted rollout at its current stage.
    Resume {},
}

/// Where a rollout stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutStatus {
    /// The version being rolled out (`None`: no rollout).
    pub version: Option<String>,
    /// Stages in basis points.
    pub stages_bps: Vec<u32>,
    /// Index of the current stage.
    pub stage: usize,
    /// Halted, and why.
    pub halted: Option<String>,
    /// Devices that reported the version confirmed / reverted / refused.
    pub confirmed: u64,
    /// Devices that reverted.
    pub reverted: u64,
    /// Devices that refused.
    pub refused: u64,
}

/// Operator quarantine request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quarantine {
    /// Quarantine (true) or release (false).
    pub quarantined: bool,
    /// Why (`probing`, `operator`, ...).
    pub reason: String,
}

/// Largest EK certificate in [`TpmRegister`] (DER bytes; base64 is 4/3 of it).
pub const MAX_TPM_EK_CERTIFICATE: usize = 4096;
/// Largest TPM2B_PUBLIC in [`TpmRegister`] (bytes).
pub const MAX_TPM_PUBLIC: usize = 1200;

/// Base64 characters (with padding) of at most `bytes` bytes.
pub const fn base64_len(bytes: usize) -> usize {
    bytes.div_ceil(3) * 4
}

/// A request to register the TPM attestation key of the calling device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TpmRegister {
    /// The EK's TPM2B_PUBLIC, base64 (at most [`MAX_TPM_PUBLIC`] bytes). Always sent: the
    /// credential is sealed with the EK's nameAlg and symmetric parameters, which a
    /// certificate does not carry.
    pub ek_public: String,
    /// The EK certificate, DER, base64 (at most [`MAX_TPM_EK_CERTIFICATE`] bytes), when the
    /// TPM has one (NV index 0x01C00002 RSA, 0x01C0000A ECC).
    pub ek_certificate: Option<String>,
    /// The AK's TPM2B_PUBLIC, base64 (at most [`MAX_TPM_PUBLIC`] bytes).
    pub ak_public: String,
}

/// The credential the device activates with its TPM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TpmChallenge {
    /// The registration id (16 bytes, hex), for [`TpmActivate`].
    pub registration: String,
    /// TPM2B_ID_OBJECT contents (integrity HMAC and encrypted identity), base64.
    pub credential: String,
    /// TPM2B_ENCRYPTED_SECRET contents (the seed sealed to the EK), base64.
    pub secret: String,
    /// Seconds until the registration expires.
    pub expires_in_secs: u64,
}

/// The secret the device's TPM recovered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TpmActivate {
    /// The registration id (hex) of [`TpmChallenge`].
    pub registration: String,
    /// The recovered secret, base64 (32 bytes).
    pub secret: String,
}

/// A registered attestation key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TpmRegistered {
    /// The AK's Name (nameAlg || digest), hex: the only AK the device's quotes are accepted
    /// from.
    pub ak_name: String,
    /// SHA-256 of the EK's TPM2B_PUBLIC, hex.
    pub ek_sha256: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollout_command_wire_format() {
        let c: RolloutCommand = serde_json::from_str(
            r#"{"action":"start","version":"1.1.0","stages_bps":[100,1000,10000]}"#,
        )
        .unwrap_or(RolloutCommand::Resume {});
        assert_eq!(
            c,
            RolloutCommand::Start {
                version: "1.1.0".into(),
                stages_bps: vec![100, 1000, 10000]
            }
        );
        assert!(serde_json::from_str::<RolloutCommand>(r#"{"action":"advance","x":1}"#).is_err());
        assert_eq!(
            serde_json::from_str::<RolloutCommand>(r#"{"action":"advance"}"#).ok(),
            Some(RolloutCommand::Advance {})
        );
    }

    #[test]
    fn tpm_registration_bodies_refuse_unknown_and_missing_keys() {
        let r: Option<TpmRegister> = serde_json::from_str(
            r#"{"ek_public":"AA==","ek_certificate":null,"ak_public":"AQ=="}"#,
        )
        .ok();
        assert_eq!(
            r,
            Some(TpmRegister {
                ek_public: "AA==".into(),
                ek_certificate: None,
                ak_public: "AQ==".into()
            })
        );
        assert!(
            serde_json::from_str::<TpmRegister>(r#"{"ek_public":"AA==","ak_public":"AQ==","x":1}"#)
                .is_err()
        );
        assert!(serde_json::from_str::<TpmRegister>(r#"{"ek_public":"AA=="}"#).is_err());
        assert!(
            serde_json::from_str::<TpmActivate>(
                r#"{"registration":"00","secret":"AA==","ak_name":"00"}"#
            )
            .is_err()
        );
        assert_eq!(base64_len(32), 44);
        assert_eq!(base64_len(0), 0);
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(
            serde_json::from_str::<Quarantine>(r#"{"quarantined":true,"reason":"x","y":0}"#)
                .is_err()
        );
    }
}
