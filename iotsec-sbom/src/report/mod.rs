//! Renderings of a [`GateDecision`](crate::gate::GateDecision): our JSON report, SARIF 2.1.0,
//! a CycloneDX VEX document of the findings marked not affected, and plain text.

mod json;
mod sarif;
mod text;
mod vex_out;

pub use json::decision_to_json;
pub use sarif::decision_to_sarif;
pub use text::decision_to_text;
pub use vex_out::{decision_vex_serial, not_affected_to_cyclonedx_vex};
