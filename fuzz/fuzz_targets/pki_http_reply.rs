#![no_main]
//! The EST client's reply parser (RFC 9112 framing): server bytes in, a reply or a typed error
//! out; a body is never longer than what Content-Length (or a clean close) allows.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (clean, raw) = match data.split_first() {
        Some((flag, rest)) => (flag & 1 == 1, rest),
        None => return,
    };
    if let Ok(reply) = iotsec_pki::est_client::parse_http_reply(raw, clean) {
        assert!(reply.body.len() <= raw.len());
    }
});
