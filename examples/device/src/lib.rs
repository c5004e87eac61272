//! The device side of an iotsec fleet as a library, so that one process can run many devices:
//!
//! - [`agent`]: the device agent (EST enrollment and renewal, attestation, MQTT telemetry over
//!   mutual TLS 1.3, A/B updates with trial boot, decommissioning) as one tokio task per
//!   device, driven by commands or by timers;
//! - [`slot_files`]: the A/B slot files and boot record that `iotsec-device ota` and the agent
//!   share (the `iotsec_ota::trial_boot::BootStore` of a device whose flash is a directory).
#![forbid(unsafe_code)]

pub mod agent;
pub mod slot_files;
