//! mosquitto's access types (`MOSQ_ACL_*` in `mosquitto_plugin.h`, 2.0.11) and the policy
//! action each one is checked as.

use iotsec_mqtt_acl::Action;

/// `MOSQ_ACL_READ`: a message is about to be delivered to the client.
pub const MOSQ_ACL_READ: i32 = 0x01;
/// `MOSQ_ACL_WRITE`: the client sent a PUBLISH (or a will, at CONNECT).
pub const MOSQ_ACL_WRITE: i32 = 0x02;
/// `MOSQ_ACL_SUBSCRIBE`: the client sent a SUBSCRIBE (one check per filter).
pub const MOSQ_ACL_SUBSCRIBE: i32 = 0x04;
/// `MOSQ_ACL_UNSUBSCRIBE`: the client sent an UNSUBSCRIBE (one check per filter).
pub const MOSQ_ACL_UNSUBSCRIBE: i32 = 0x08;

/// The kind of an ACL check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Delivery to the client (checked as [`Action::Receive`]).
    Read,
    /// PUBLISH by the client ([`Action::Publish`], or [`Action::PublishRetained`] with retain).
    Write,
    /// SUBSCRIBE ([`Action::Subscribe`], in the configured subscribe mode).
    Subscribe,
    /// UNSUBSCRIBE: granted for any well-formed filter (it only removes access).
    Unsubscribe,
}

impl Access {
    /// The access type of mosquitto's `access` field; `None` for any other value.
    pub fn from_raw(access: i32) -> Option<Access> {
        match access {
            MOSQ_ACL_READ => Some(Access::Read),
            MOSQ_ACL_WRITE => Some(Access::Write),
            MOSQ_ACL_SUBSCRIBE => Some(Access::Subscribe),
            MOSQ_ACL_UNSUBSCRIBE => Some(Access::Unsubscribe),
            _ => None,
        }
    }

    /// The policy action this access is checked as (`None` for UNSUBSCRIBE, which no rule
    /// governs).
    pub fn action(self, retain: bool) -> Option<Action> {
        match self {
            Access::Read => Some(Action::Receive),
            Access::Write if retain => Some(Action::PublishRetained),
            Access::Write => Some(Action::Publish),
            Access::Subscribe => Some(Action::Subscribe),
            Access::Unsubscribe => None,
        }
    }

    /// A word for log lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::Subscribe => "subscribe",
            Access::Unsubscribe => "unsubscribe",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_values_match_mosquitto_plugin_h() {
        assert_eq!(Access::from_raw(1), Some(Access::Read));
        assert_eq!(Access::from_raw(2), Some(Access::Write));
        assert_eq!(Access::from_raw(4), Some(Access::Subscribe));
        assert_eq!(Access::from_raw(8), Some(Access::Unsubscribe));
        for other in [0, 3, 5, 6, 7, 16, -1, i32::MAX, i32::MIN] {
            assert_eq!(Access::from_raw(other), None, "{other}");
        }
    }

    #[test]
    fn retain_selects_publish_retained() {
        assert_eq!(Access::Write.action(false), Some(Action::Publish));
        assert_eq!(Access::Write.action(true), Some(Action::PublishRetained));
        assert_eq!(Access::Read.action(true), Some(Action::Receive));
        assert_eq!(Access::Subscribe.action(false), Some(Action::Subscribe));
        assert_eq!(Access::Unsubscribe.action(false), None);
    }
}
