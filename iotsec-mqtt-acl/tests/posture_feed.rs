//! The posture feed: exact postures for TOML and JSON, fail-closed refusals with stable codes,
//! and a property that a parsed feed never grants a posture it was not given.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use iotsec_mqtt_acl::Posture;
use iotsec_mqtt_acl::posture_feed::{PostureFeed, PostureFeedError};
use proptest::prelude::*;

const TOML: &str = r#"
[[device]]
client_id = "dev1"
firmware = "1.4.2"
attested_at = 1000

[[device]]
cert_cn = "dev2"
quarantined = true
firmware = "2.0.0-rc.1"

[[device]]
client_id = "dev3"
firmware = "1.0.0"
attested_at = 900

[[device]]
cert_cn = "dev3"
firmware = "1.0.1"
attested_at = 950
"#;

fn v(s: &str) -> semver::Version {
    semver::Version::parse(s).unwrap()
}

#[test]
fn toml_and_json_give_the_same_exact_postures() {
    let json = r#"{"devices": [
        {"client_id": "dev1", "firmware": "1.4.2", "attested_at": 1000},
        {"cert_cn": "dev2", "quarantined": true, "firmware": "2.0.0-rc.1"},
        {"client_id": "dev3", "firmware": "1.0.0", "attested_at": 900},
        {"cert_cn": "dev3", "firmware": "1.0.1", "attested_at": 950}
    ]}"#;
    let a = PostureFeed::from_toml_str(TOML).unwrap();
    let b = PostureFeed::from_json_str(json).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.len(), 4);
    assert_eq!(
        a.posture("dev1", None, 1060),
        Posture {
            firmware: Some(v("1.4.2")),
            quarantined: false,
            attestation_age_secs: Some(60),
        }
    );
    // a cert_cn entry applies only when the CN is known
    assert_eq!(a.posture("dev2", None, 1060), Posture::default());
    assert_eq!(
        a.posture("anything", Some("dev2"), 1060),
        Posture {
            firmware: Some(v("2.0.0-rc.1")),
            quarantined: true,
            attestation_age_secs: None,
        }
    );
    // both entries apply: versions disagree -> unknown; the older attestation counts
    assert_eq!(
        a.posture("dev3", Some("dev3"), 1000),
        Posture {
            firmware: None,
            quarantined: false,
            attestation_age_secs: Some(100),
        }
    );
    // attestation in the future: unknown age, never "fresh"
    assert_eq!(a.posture("dev1", None, 999).attestation_age_secs, None);
    // unknown device: unknown posture
    assert_eq!(
        a.posture("nobody", Some("nobody"), 1060),
        Posture::default()
    );
}

#[test]
fn bad_feeds_are_refused_with_stable_codes() {
    let cases: [(&str, &str); 8] = [
        (
            "[[device]]\nclient_id = \"a\"\nquarantine = true\n",
            "posture_feed_syntax",
        ),
        (
            "[[device]]\nclient_id = \"a\"\n[extra]\nx = 1\n",
            "posture_feed_syntax",
        ),
        (
            "[[device]]\nclient_id = \"a\"\nquarantined = \"yes\"\n",
            "posture_feed_syntax",
        ),
        (
            "[[device]]\nclient_id = \"a\"\ncert_cn = \"a\"\n",
            "posture_feed_bad_identity",
        ),
        (
            "[[device]]\nfirmware = \"1.0.0\"\n",
            "posture_feed_bad_identity",
        ),
        (
            "[[device]]\nclient_id = \"\"\n",
            "posture_feed_bad_identity",
        ),
        (
            "[[device]]\nclient_id = \"a\"\n[[device]]\nclient_id = \"a\"\n",
            "posture_feed_duplicate",
        ),
        (
            "[[device]]\nclient_id = \"a\"\nfirmware = \"1.4\"\n",
            "posture_feed_bad_firmware",
        ),
    ];
    for (text, code) in cases {
        let e = PostureFeed::from_toml_str(text).unwrap_err();
        assert_eq!(e.code(), code, "{text}: {e}");
    }
    let e =
        PostureFeed::from_json_str(r#"{"devices": [{"client_id": "a", "tpm": 1}]}"#).unwrap_err();
    assert_eq!(e.code(), "posture_feed_syntax");
    let e = PostureFeed::from_json_str(r#"{"devices": [], "version": 2}"#).unwrap_err();
    assert_eq!(e.code(), "posture_feed_syntax");
    let big = " ".repeat(iotsec_mqtt_acl::posture_feed::MAX_FEED_BYTES + 1);
    assert!(matches!(
        PostureFeed::from_toml_str(&big),
        Err(PostureFeedError::TooLarge { .. })
    ));
    assert!(PostureFeed::from_toml_str("").unwrap().is_empty());
}

proptest! {
    /// Whatever a feed says about one client id, the posture for another id is unknown, and a
    /// quarantined entry is always reported quarantined.
    #[test]
    fn postures_stay_with_their_device(
        id in "[a-z0-9]{1,8}",
        other in "[a-z0-9]{1,8}",
        quarantined in any::<bool>(),
        at in proptest::option::of(0u64..2_000),
        now in 0u64..4_000,
    ) {
        prop_assume!(id != other);
        let mut text = format!("[[device]]\nclient_id = {id:?}\nquarantined = {quarantined}\n");
        if let Some(at) = at {
            text.push_str(&format!("attested_at = {at}\n"));
        }
        let feed = PostureFeed::from_toml_str(&text).unwrap();
        let p = feed.posture(&id, None, now);
        prop_assert_eq!(p.quarantined, quarantined);
        prop_assert_eq!(p.attestation_age_secs, at.and_then(|a| now.checked_sub(a)));
        prop_assert_eq!(feed.posture(&other, Some(&id), now), Posture::default());
    }
}

#[test]
fn revoked_identities_are_reported_by_client_id_and_by_cn() {
    let toml = "[[device]]\nclient_id = \"dev1\"\nrevoked = true\n\n\
                [[device]]\ncert_cn = \"devA\"\nrevoked = true\n\n\
                [[device]]\nclient_id = \"dev2\"\nquarantined = true\n";
    let json = r#"{"devices": [
        {"client_id": "dev1", "revoked": true},
        {"cert_cn": "devA", "revoked": true},
        {"client_id": "dev2", "quarantined": true}
    ]}"#;
    let feed = PostureFeed::from_toml_str(toml).unwrap();
    assert_eq!(feed, PostureFeed::from_json_str(json).unwrap());
    assert!(feed.is_revoked("dev1", None));
    // a CN entry applies whatever client id the certificate's holder uses, and only with a CN
    assert!(feed.is_revoked("devA/x", Some("devA")));
    assert!(!feed.is_revoked("devA", None));
    // quarantine is not revocation; an unknown device is not revoked
    assert!(!feed.is_revoked("dev2", None));
    assert!(!feed.is_revoked("nobody", Some("nobody")));
    assert_eq!(feed.revoked_client_ids().collect::<Vec<_>>(), ["dev1"]);
    assert_eq!(feed.revoked_cert_cns().collect::<Vec<_>>(), ["devA"]);
    assert_eq!(
        PostureFeed::from_toml_str("[[device]]\nclient_id = \"a\"\nrevoked = 1\n")
            .unwrap_err()
            .code(),
        "posture_feed_syntax"
    );
}
