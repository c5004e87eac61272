//! MQTT 5.0 §4.7 examples and the limits of topic names, filters and shared subscriptions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_mqtt_acl::topic::MAX_TOPIC_BYTES;
use iotsec_mqtt_acl::{Subscription, TopicError, TopicFilter, TopicName};
use proptest::prelude::*;

fn m(filter: &str, topic: &str) -> bool {
    TopicFilter::new(filter)
        .unwrap()
        .matches(&TopicName::new(topic).unwrap())
}

#[test]
fn spec_4_7_1_2_multi_level_wildcard_examples() {
    assert!(m("sport/tennis/player1/#", "sport/tennis/player1"));
    assert!(m("sport/tennis/player1/#", "sport/tennis/player1/ranking"));
    assert!(m(
        "sport/tennis/player1/#",
        "sport/tennis/player1/score/wimbledon"
    ));
    assert!(m("sport/#", "sport"), "# matches its parent level");
    assert!(m("#", "sport/tennis"));
    assert_eq!(
        TopicFilter::new("sport/tennis#"),
        Err(TopicError::MisplacedMultiLevelWildcard { offset: 12 })
    );
    assert_eq!(
        TopicFilter::new("sport/tennis/#/ranking"),
        Err(TopicError::MisplacedMultiLevelWildcard { offset: 13 })
    );
}

#[test]
fn spec_4_7_1_3_single_level_wildcard_examples() {
    assert!(m("sport/tennis/+", "sport/tennis/player1"));
    assert!(m("sport/tennis/+", "sport/tennis/player2"));
    assert!(!m("sport/tennis/+", "sport/tennis/player1/ranking"));
    assert!(
        m("sport/+", "sport/"),
        "sport/+ matches sport/ (empty level)"
    );
    assert!(!m("sport/+", "sport"), "sport/+ does not match sport");
    assert!(m("+/+", "/finance"));
    assert!(m("/+", "/finance"));
    assert!(!m("+", "/finance"));
    assert!(m("+/tennis/#", "sport/tennis/x"));
    assert_eq!(
        TopicFilter::new("sport+"),
        Err(TopicError::MisplacedSingleLevelWildcard { offset: 5 })
    );
}

#[test]
fn spec_4_7_2_dollar_topics_are_not_matched_by_leading_wildcards() {
    assert!(!m("#", "$SYS/broker/clients"));
    assert!(!m("+/monitor/Clients", "$SYS/monitor/Clients"));
    assert!(m("$SYS/#", "$SYS/monitor/Clients"));
    assert!(m("$SYS/monitor/+", "$SYS/monitor/Clients"));
    assert!(m("a/+", "a/$x"), "the $ rule is about the first level only");
}

#[test]
fn no_normalisation_trailing_slash_and_empty_levels() {
    assert!(!m("t", "t/"), "t/ is not t (MQTT-4.7.3-4, HiveMQ slip)");
    assert!(!m("t/", "t"));
    assert!(m("t//x", "t//x"));
    assert!(m("+/+/+", "//"));
    assert!(TopicName::new("/").is_ok());
}

#[test]
fn length_boundary_65535_and_65536() {
    let ok = "a".repeat(MAX_TOPIC_BYTES);
    assert!(TopicName::new(&ok).is_ok());
    assert!(TopicFilter::new(&ok).is_ok());
    let too_long = "a".repeat(MAX_TOPIC_BYTES + 1);
    assert_eq!(
        TopicName::new(&too_long),
        Err(TopicError::TooLong { len: 65_536 })
    );
    assert_eq!(
        TopicFilter::new(&too_long),
        Err(TopicError::TooLong { len: 65_536 })
    );
}

#[test]
fn nul_empty_wildcards_in_names_and_utf8() {
    assert_eq!(
        TopicName::new("a/\0b"),
        Err(TopicError::NulCharacter { offset: 2 })
    );
    assert_eq!(
        TopicFilter::new("a/\0"),
        Err(TopicError::NulCharacter { offset: 2 })
    );
    assert_eq!(TopicName::new(""), Err(TopicError::Empty));
    assert_eq!(TopicFilter::new(""), Err(TopicError::Empty));
    assert_eq!(
        TopicName::new("a/+"),
        Err(TopicError::WildcardInName {
            wildcard: '+',
            offset: 2
        })
    );
    assert_eq!(
        TopicName::from_bytes(b"a/\xff"),
        Err(TopicError::InvalidUtf8 { valid_up_to: 2 })
    );
}

#[test]
fn shared_subscriptions() {
    let s = Subscription::parse("$share/group1/sensors/+/temp").unwrap();
    assert_eq!(s.share_name, Some("group1"));
    assert_eq!(s.filter.as_str(), "sensors/+/temp");
    assert_eq!(
        Subscription::parse("$share//a"),
        Err(TopicError::SharedSubscriptionEmptyName)
    );
    assert_eq!(
        Subscription::parse("$share/g+/a"),
        Err(TopicError::SharedSubscriptionInvalidName { offset: 8 })
    );
    assert_eq!(
        Subscription::parse("$share/g"),
        Err(TopicError::SharedSubscriptionWithoutFilter)
    );
    assert_eq!(
        Subscription::parse("$share/g/"),
        Err(TopicError::SharedSubscriptionWithoutFilter)
    );
    assert_eq!(
        Subscription::parse("$share/g/a/#/b"),
        Err(TopicError::MisplacedMultiLevelWildcard { offset: 2 })
    );
    let plain = Subscription::parse("a/#").unwrap();
    assert_eq!(plain.share_name, None);
}

proptest! {
    #[test]
    fn names_and_filters_never_panic_and_agree(s in "[a-c/+#$\\x00]{0,12}") {
        let name = TopicName::new(&s);
        let filter = TopicFilter::new(&s);
        // Every valid name is a valid filter without wildcards, matching itself.
        if let Ok(n) = name {
            let f = filter.unwrap();
            prop_assert!(f.is_exact());
            prop_assert!(f.matches(&n));
        }
        let _ = Subscription::parse(&s);
    }

    #[test]
    fn valid_filters_round_trip_through_levels(s in "[ab+]{0,2}(/[ab+]{0,2}){0,3}(/#)?") {
        if let Ok(f) = TopicFilter::new(&s) {
            let levels: Vec<_> = f.levels().collect();
            prop_assert_eq!(iotsec_mqtt_acl::filter_algebra::to_filter_string(&levels), s);
        }
    }
}
