//! The errors of the crate: one enum per layer, each variant naming what was wrong with the input.

use alloc::string::String;

/// A topic name, filter or subscription that violates MQTT 5.0 §4.7 / §4.8.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TopicError {
    /// Zero-length topic (MQTT-4.7.3-1).
    #[error("topic is empty (MQTT-4.7.3-1 requires at least one character)")]
    Empty,
    /// Longer than an MQTT UTF-8 string can be.
    #[error("topic is {len} bytes; MQTT strings hold at most 65,535")]
    TooLong {
        /// Length in bytes.
        len: usize,
    },
    /// U+0000 inside the topic (MQTT-4.7.3-2), a classic truncation attack on C brokers.
    #[error("topic contains U+0000 at byte {offset} (MQTT-4.7.3-2), a C-string truncation trick")]
    NulCharacter {
        /// Byte offset of the NUL.
        offset: usize,
    },
    /// Not UTF-8.
    #[error("topic is not UTF-8 (valid up to byte {valid_up_to})")]
    InvalidUtf8 {
        /// Length of the valid prefix.
        valid_up_to: usize,
    },
    /// A wildcard inside a topic name (MQTT-4.7.3-1 / CVE-2017-7650 style injection).
    #[error("topic name contains wildcard '{wildcard}' at byte {offset}; names must not")]
    WildcardInName {
        /// `+` or `#`.
        wildcard: char,
        /// Byte offset.
        offset: usize,
    },
    /// `#` not alone in the last level (MQTT-4.7.1-2).
    #[error("'#' at byte {offset} must be alone in the last level of the filter (MQTT-4.7.1-2)")]
    MisplacedMultiLevelWildcard {
        /// Byte offset.
        offset: usize,
    },
    /// `+` not filling a whole level (MQTT-4.7.1-3).
    #[error("'+' at byte {offset} must fill a whole level (MQTT-4.7.1-3)")]
    MisplacedSingleLevelWildcard {
        /// Byte offset.
        offset: usize,
    },
    /// `$share//filter`.
    #[error("shared subscription has an empty share name (MQTT-4.8.2-1)")]
    SharedSubscriptionEmptyName,
    /// Wildcard in the share name.
    #[error("shared subscription name contains a wildcard at byte {offset} (MQTT-4.8.2-2)")]
    SharedSubscriptionInvalidName {
        /// Byte offset.
        offset: usize,
    },
    /// `$share/name` with no filter after it.
    #[error("shared subscription has no topic filter after the share name (MQTT-4.8.2-1)")]
    SharedSubscriptionWithoutFilter,
}

impl TopicError {
    /// A stable snake_case code for the error, for logs and machine-readable output; codes never
    /// change and differ from every other error code of the crate.
    pub fn code(&self) -> &'static str {
        match self {
            TopicError::Empty => "topic_empty",
            TopicError::TooLong { .. } => "topic_too_long",
            TopicError::NulCharacter { .. } => "topic_nul_character",
            TopicError::InvalidUtf8 { .. } => "topic_invalid_utf8",
            TopicError::WildcardInName { .. } => "topic_wildcard_in_name",
            TopicError::MisplacedMultiLevelWildcard { .. } => {
                "topic_misplaced_multi_level_wildcard"
            }
            TopicError::MisplacedSingleLevelWildcard { .. } => {
                "topic_misplaced_single_level_wildcard"
            }
            TopicError::SharedSubscriptionEmptyName => "topic_shared_subscription_empty_name",
            TopicError::SharedSubscriptionInvalidName { .. } => {
                "topic_shared_subscription_invalid_name"
            }
            TopicError::SharedSubscriptionWithoutFilter => {
                "topic_shared_subscription_without_filter"
            }
        }
    }

    /// Never: a topic that breaks MQTT 5.0 §4.7 is bad input (a broker refuses the packet; the
    /// policy's decisions are [`crate::Decision`]s, not errors).
    pub fn is_refusal(&self) -> bool {
        false
    }
}

/// A topic template of a policy rule that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The template, read as a filter, breaks §4.7.
    #[error("template {template:?}: {source}")]
    Topic {
        /// The template text.
        template: String,
        /// What is wrong.
        source: TopicError,
    },
    /// `${...}` shares its level with other text (`dev-${client_id}`): an identity could then
    /// reach a neighbour's level (mosquitto's mid-level `%c`).
    #[error("template {template:?}: placeholder must fill one whole level (level {level})")]
    PlaceholderNotWholeLevel {
        /// The template text.
        template: String,
        /// Zero-based level index.
        level: usize,
    },
    /// `${something}` we do not know.
    #[error("template {template:?}: unknown placeholder ${{{name}}}")]
    UnknownPlaceholder {
        /// The template text.
        template: String,
        /// The name inside `${}`.
        name: String,
    },
    /// Deeper than the compiled matcher supports.
    #[error("template {template:?} has {levels} levels; at most {max} are supported")]
    TooDeep {
        /// The template text.
        template: String,
        /// Its level count.
        levels: usize,
        /// The limit.
        max: usize,
    },
}

impl TemplateError {
    /// A stable snake_case code for the error, for logs and machine-readable output; codes never
    /// change and differ from every other error code of the crate.
    pub fn code(&self) -> &'static str {
        match self {
            TemplateError::Topic { source: e, .. } => e.code(),
            TemplateError::PlaceholderNotWholeLevel { .. } => {
                "template_placeholder_not_whole_level"
            }
            TemplateError::UnknownPlaceholder { .. } => "template_unknown_placeholder",
            TemplateError::TooDeep { .. } => "template_too_deep",
        }
    }

    /// Never: an unusable template is bad input.
    pub fn is_refusal(&self) -> bool {
        match self {
            TemplateError::Topic { source: e, .. } => e.is_refusal(),
            _ => false,
        }
    }
}

/// A policy document that cannot be turned into a policy.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A template is unusable.
    #[error("rule {rule:?}: {source}")]
    Template {
        /// Rule name.
        rule: String,
        /// What is wrong.
        source: TemplateError,
    },
    /// A rule lists no action.
    #[error("rule {rule:?} lists no action")]
    NoActions {
        /// Rule name.
        rule: String,
    },
    /// A rule lists no topic.
    #[error("rule {rule:?} lists no topic")]
    NoTopics {
        /// Rule name.
        rule: String,
    },
    /// `max_qos` above 2.
    #[error("rule {rule:?}: max_qos {qos} is not an MQTT QoS (0, 1 or 2)")]
    InvalidQos {
        /// Rule name.
        rule: String,
        /// The value.
        qos: u8,
    },
    /// `max_qos` on a deny rule has no meaning; refused rather than guessed.
    #[error("rule {rule:?}: max_qos is only meaningful on allow rules")]
    QosCapOnDeny {
        /// Rule name.
        rule: String,
    },
    /// The firmware condition is not a semver requirement.
    #[error("rule {rule:?}: firmware condition {requirement:?} is not a semver requirement")]
    InvalidFirmwareRequirement {
        /// Rule name.
        rule: String,
        /// The text.
        requirement: String,
    },
    /// Two rules share a name.
    #[error("rule name {rule:?} is used twice")]
    DuplicateRuleName {
        /// Rule name.
        rule: String,
    },
    /// Too many rules or templates.
    #[error("policy has {count} rule templates; at most {max} are supported")]
    TooLarge {
        /// The count.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// TOML or JSON syntax or schema error (the parser's message).
    #[error("policy document: {0}")]
    Syntax(String),
}

impl PolicyError {
    /// A stable snake_case code for the error, for logs and machine-readable output; codes never
    /// change and differ from every other error code of the crate.
    pub fn code(&self) -> &'static str {
        match self {
            PolicyError::Template { source: e, .. } => e.code(),
            PolicyError::NoActions { .. } => "policy_no_actions",
            PolicyError::NoTopics { .. } => "policy_no_topics",
            PolicyError::InvalidQos { .. } => "policy_invalid_qos",
            PolicyError::QosCapOnDeny { .. } => "policy_qos_cap_on_deny",
            PolicyError::InvalidFirmwareRequirement { .. } => "policy_invalid_firmware_requirement",
            PolicyError::DuplicateRuleName { .. } => "policy_duplicate_rule_name",
            PolicyError::TooLarge { .. } => "policy_too_large",
            PolicyError::Syntax(..) => "policy_syntax",
        }
    }

    /// Never: a policy document that cannot be used is bad input.
    pub fn is_refusal(&self) -> bool {
        match self {
            PolicyError::Template { source: e, .. } => e.is_refusal(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn codes_name_the_innermost_cause_and_no_error_is_a_refusal() {
        let error = PolicyError::Template {
            rule: "r".to_string(),
            source: TemplateError::Topic {
                template: "a/#/b".to_string(),
                source: TopicError::MisplacedMultiLevelWildcard { offset: 2 },
            },
        };
        assert_eq!(error.code(), "topic_misplaced_multi_level_wildcard");
        assert!(!error.is_refusal());
        assert_eq!(
            PolicyError::NoActions {
                rule: "r".to_string()
            }
            .code(),
            "policy_no_actions"
        );
        assert_eq!(TopicError::Empty.code(), "topic_empty");
        let deny = crate::aws_iot::AwsImportError::UnsupportedDeny {
            statement: 0,
            what: "Condition".to_string(),
        };
        assert_eq!(deny.code(), "aws_unsupported_deny");
        assert!(deny.is_refusal());
        assert!(!crate::aws_iot::AwsImportError::Malformed("x".to_string()).is_refusal());
    }
}
