#![no_main]
//! The EST server's HTTP layer and decisions on attacker bytes: a request is parsed exactly as
//! the server reads it from a TLS connection, then decided by `EstService::handle` (auth,
//! base64, PKCS#10, channel binding) against a CA made once per process. Nothing may panic,
//! and a refused request must never be answered 200.
use std::collections::HashMap;
use std::sync::OnceLock;

use iotsec_pki::ca_state::{CaSettings, CaState, init_state};
use iotsec_pki::est_service::{EstService, LabelPolicy, TlsFacts};
use iotsec_pki::est_transport::{ParsedRequest, parse_request};
use libfuzzer_sys::fuzz_target;

fn service() -> &'static EstService {
    static SERVICE: OnceLock<EstService> = OnceLock::new();
    SERVICE.get_or_init(|| {
        // Under the fuzz crate's target/ (not the system temp dir), one per process: a fuzzing
        // run leaves nothing behind outside the build tree.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            .join("pki_http_request-ca")
            .join(std::process::id().to_string());
        let _ = std::fs::remove_dir_all(&dir);
        let settings = CaSettings {
            organization: "Fuzz".into(),
            crl_url: "http://127.0.0.1/crl".into(),
            lifetime_secs: 3600,
        };
        init_state(&dir, &settings, time::OffsetDateTime::now_utc()).expect("CA for fuzzing");
        let mut labels = HashMap::new();
        labels.insert(
            String::new(),
            LabelPolicy {
                basic: Some(("u".into(), "p".into())),
                ..Default::default()
            },
        );
        EstService::new(CaState::open(&dir).expect("CA state"), labels)
    })
}

fuzz_target!(|data: &[u8]| {
    match parse_request(data) {
        ParsedRequest::Request { request, .. } => {
            let tls = TlsFacts {
                client_cert: None,
                exporter: Some([7; 32]),
                ..Default::default()
            };
            let response = service().handle(&request, &tls, time::OffsetDateTime::now_utc());
            assert!((200..600).contains(&response.status));
        }
        ParsedRequest::Refused(r) => assert!(r.status >= 400),
        ParsedRequest::Incomplete => {}
    }
});
