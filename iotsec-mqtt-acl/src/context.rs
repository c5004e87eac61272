//! What the caller knows about a client and what it asks to do: identity (client id, username,
//! certificate CN, attributes), posture (firmware, quarantine, attestation age) and the request.

use serde::{Deserialize, Serialize};

/// An MQTT operation a rule can grant or deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// PUBLISH with the retain flag clear.
    Publish,
    /// PUBLISH with the retain flag set (a retained message outlives the sender's session).
    PublishRetained,
    /// SUBSCRIBE with a topic filter.
    Subscribe,
    /// Delivery of a message on a topic name to this client.
    Receive,
    /// The will message named in CONNECT, checked at CONNECT time.
    Will,
}

impl Action {
    /// Every action, in declaration order.
    pub const ALL: [Action; 5] = [
        Action::Publish,
        Action::PublishRetained,
        Action::Subscribe,
        Action::Receive,
        Action::Will,
    ];

    /// The name used in policy files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Publish => "publish",
            Action::PublishRetained => "publish_retained",
            Action::Subscribe => "subscribe",
            Action::Receive => "receive",
            Action::Will => "will",
        }
    }

    /// Parses the name used in policy files and on the command line.
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == name)
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// A set of actions (a bit per [`Action`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ActionSet(u8);

impl ActionSet {
    /// The empty set.
    pub const EMPTY: ActionSet = ActionSet(0);

    /// Adds an action.
    pub fn insert(&mut self, action: Action) {
        self.0 |= 1 << action.index();
    }

    /// Whether the action is in the set.
    pub fn contains(self, action: Action) -> bool {
        self.0 & (1 << action.index()) != 0
    }

    /// Whether the sets share an action.
    pub fn intersects(self, other: ActionSet) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The actions in the set.
    pub fn iter(self) -> impl Iterator<Item = Action> {
        Action::ALL.into_iter().filter(move |a| self.contains(*a))
    }
}

impl FromIterator<Action> for ActionSet {
    fn from_iter<I: IntoIterator<Item = Action>>(iter: I) -> Self {
        let mut set = ActionSet::EMPTY;
        for a in iter {
            set.insert(a);
        }
        set
    }
}

/// Device posture as the caller establishes it (from attestation, inventory, fleet state).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Posture {
    /// Running firmware version, if known.
    pub firmware: Option<semver::Version>,
    /// Whether the device is quarantined.
    pub quarantined: bool,
    /// Seconds since the last successful attestation, if any.
    pub attestation_age_secs: Option<u64>,
}

/// Everything the engine may know about one connected client. Built once per connection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientContext<'a> {
    /// MQTT client identifier from CONNECT.
    pub client_id: &'a str,
    /// MQTT username from CONNECT, if any.
    pub username: Option<&'a str>,
    /// Subject common name of the TLS client certificate, if any.
    pub cert_cn: Option<&'a str>,
    /// Caller-supplied attributes for `${attr.NAME}` (e.g. tenant, site).
    pub attributes: &'a [(&'a str, &'a str)],
    /// Posture for rule conditions.
    pub posture: Posture,
}

impl<'a> ClientContext<'a> {
    /// A context with only a client id.
    pub fn new(client_id: &'a str) -> Self {
        ClientContext {
            client_id,
            ..ClientContext::default()
        }
    }

    /// The value of attribute `name`, if supplied.
    pub fn attribute(&self, name: &str) -> Option<&'a str> {
        self.attributes
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
    }
}

/// One authorization question: may this client do `action` on `topic` at `qos`?
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// What the client does.
    pub action: Action,
    /// A topic name, or for [`Action::Subscribe`] a filter or `$share/...` subscription.
    pub topic: &'a str,
    /// Requested QoS (0..=2).
    pub qos: u8,
}

impl<'a> Request<'a> {
    /// A request at QoS 0.
    pub fn new(action: Action, topic: &'a str) -> Self {
        Request {
            action,
            topic,
            qos: 0,
        }
    }
}

/// Which identity the client id must equal for CONNECT to succeed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityBinding {
    /// No binding.
    #[default]
    None,
    /// The client id must equal the certificate subject CN.
    CertCn,
    /// The client id must equal the username.
    Username,
}

/// The identity the binding names (`"the certificate CN"`, `"the username"`, `"nothing"`).
impl core::fmt::Display for IdentityBinding {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            IdentityBinding::None => "nothing",
            IdentityBinding::CertCn => "the certificate CN",
            IdentityBinding::Username => "the username",
        })
    }
}
