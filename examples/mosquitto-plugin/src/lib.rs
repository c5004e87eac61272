//! A mosquitto 2.0 plugin (plugin API version 5) that enforces an
//! [`iotsec_mqtt_acl`] policy inside the broker: every PUBLISH (`MOSQ_ACL_WRITE`), SUBSCRIBE,
//! UNSUBSCRIBE and delivery (`MOSQ_ACL_READ`) goes through [`authorize()`].
//!
//! ```text
//! plugin /usr/lib/iotsec/libiotsec_mosquitto_plugin.so
//! plugin_opt_policy /etc/mosquitto/iotsec-policy.toml
//! plugin_opt_mode strict
//! ```
//!
//! Layout: [`options`] parses the `plugin_opt_*` lines, [`plugin`] loads the policy and the
//! posture feed, [`rate_limit`] bounds the deny stream per client, [`cache`] remembers allow verdicts,
//! [`access`] names mosquitto's access types, [`authorize`](mod@authorize) decides one ACL
//! check (safe Rust, tested without mosquitto); `ffi` (private) is the only module with
//! `unsafe`: the C ABI, the `#[repr(C)]` structs of `mosquitto_plugin.h` /
//! `mosquitto_broker.h` and the exported `mosquitto_plugin_*` functions.

pub mod access;
pub mod authorize;
pub mod cache;
mod ffi;
pub mod options;
pub mod plugin;
pub mod rate_limit;

pub use access::Access;
pub use authorize::{
    AclRequest, Context, Denial, Verdict, authorize, authorize_in, authorize_timed,
};
pub use options::{Options, parse_options};
pub use plugin::Plugin;
