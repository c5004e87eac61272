//! Posture feed loading from TOML and JSON: never a panic; a loaded feed gives an unknown
//! posture to a client id it does not name.
#![no_main]

use iotsec_mqtt_acl::Posture;
use iotsec_mqtt_acl::posture_feed::PostureFeed;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    for feed in [
        PostureFeed::from_toml_str(text),
        PostureFeed::from_json_str(text),
    ]
    .into_iter()
    .flatten()
    {
        let _ = feed.posture("dev1", Some("dev1"), u64::MAX);
        let _ = feed.posture("dev1", None, 0);
        if feed.device("\u{0}", None).is_none() {
            assert_eq!(feed.posture("\u{0}", None, 5), Posture::default());
        }
    }
});
