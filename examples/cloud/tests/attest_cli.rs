//! `iotsec-cloud attest quote` on files written by tpm2-tools against a real swtpm: exit 0 for a
//! genuine quote, 1 with reasons for an attack, 2 for unreadable input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../../../iotsec-attest/tests/common/swtpm.rs"]
mod swtpm;

use std::process::Command;

use swtpm::{Swtpm, peers_available};

fn cloud(tpm: &Swtpm, args: &[&str]) -> (i32, serde_json::Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_iotsec-cloud"))
        .current_dir(tpm.dir())
        .args(["--format", "json", "attest", "quote"])
        .args(args)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (
        out.status.code().unwrap(),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn files(ak: &str, q: &str) -> Vec<String> {
    [
        "--ak",
        ak,
        "--message",
        &format!("{q}.msg"),
        "--signature",
        &format!("{q}.sig"),
        "--pcrs",
        &format!("{q}.pcrs"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn run(tpm: &Swtpm, ak: &str, q: &str, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let mut args = files(ak, q);
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    cloud(tpm, &refs)
}

#[test]
fn swtpm_cli_appraises_tpm2_tools_files() {
    if !peers_available("swtpm_cli_appraises_tpm2_tools_files") {
        return;
    }
    let tpm = Swtpm::start("cli");
    tpm.create_ek_ak("ecc");
    tpm.create_ek_ak("rsa");
    tpm.tool(
        "tpm2_readpublic",
        &["-c", "ak_ecc.ctx", "-f", "pem", "-o", "ak_ecc.pem"],
    );
    tpm.tool(
        "tpm2_readpublic",
        &["-c", "ak_rsa.ctx", "-o", "ak_rsa.tpm2b"],
    );
    tpm.quote(
        "ak_ecc.ctx",
        "sha256:0,1,2,3,4,5,6,7,8,9,10+sha384:0",
        "1234567890abcdef",
        "ecc",
    );
    tpm.quote("ak_rsa.ctx", "sha1:0+sha256:0,7", "feedface", "rsa");

    // The ECC quote with its nonce, appraised with `ak`; `extra` is added.
    let ecc = |ak: &str, extra: &[&str]| {
        let mut args = vec!["--nonce", "1234567890abcdef"];
        args.extend_from_slice(extra);
        run(&tpm, ak, "ecc", &args)
    };

    // Genuine quotes.
    let (code, json, err) = ecc("ak_ecc.pub", &[]);
    assert_eq!(code, 0, "{json} {err}");
    assert_eq!(json["status"], "affirming");
    let (code, json, _) = run(
        &tpm,
        "ak_rsa.tpm2b",
        "rsa",
        &["--nonce", "feedface", "--allow-sha1"],
    );
    assert_eq!(code, 0, "{json}");

    // SHA-1 bank refused by default.
    let (code, json, _) = run(&tpm, "ak_rsa.tpm2b", "rsa", &["--nonce", "feedface"]);
    assert_eq!(code, 1);
    assert!(json.to_string().contains("sha1_bank_refused"));

    // Wrong nonce, wrong AK.
    let (code, json, _) = run(&tpm, "ak_ecc.pub", "ecc", &["--nonce", "1234567890abcdee"]);
    assert_eq!(code, 1);
    assert!(json.to_string().contains("nonce_mismatch"), "{json}");
    let (code, json, _) = ecc("ak_rsa.pub", &[]);
    assert_eq!(code, 1);
    assert!(
        json.to_string().contains("signature_scheme_not_the_keys"),
        "{json}"
    );

    // PEM AK: the signature verifies but the attributes are unknown.
    let (code, json, _) = ecc("ak_ecc.pem", &[]);
    assert_eq!(code, 1);
    assert!(json.to_string().contains("ak_attributes_unknown"), "{json}");
    tpm.write("lenient.json", br#"{"accept_bare_ak": true}"#);
    let (code, json, _) = ecc("ak_ecc.pem", &["--reference", "lenient.json"]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["status"], "warning");

    // Reference values: the genuine value passes, another does not.
    let pcr7 = json["pcrs"]["sha256"]["7"].as_str().unwrap().to_string();
    tpm.write(
        "good.json",
        format!(
            r#"{{"pcrs": {{"sha256": {{"7": ["{}", "{pcr7}"]}}}}}}"#,
            "11".repeat(32)
        )
        .as_bytes(),
    );
    tpm.write(
        "bad.json",
        format!(
            r#"{{"pcrs": {{"sha256": {{"7": ["{}"]}}}}}}"#,
            "11".repeat(32)
        )
        .as_bytes(),
    );
    assert_eq!(ecc("ak_ecc.pub", &["--reference", "good.json"]).0, 0);
    let (code, json, _) = ecc("ak_ecc.pub", &["--reference", "bad.json"]);
    assert_eq!(code, 1);
    assert!(json.to_string().contains("reference_value_mismatch"));

    // Replay: the clock of the accepted quote, then the same quote again.
    let (_, json, _) = ecc("ak_ecc.pub", &[]);
    tpm.write("clock.json", json["clock_info"].to_string().as_bytes());
    let (code, json, _) = ecc("ak_ecc.pub", &["--previous-clock", "clock.json"]);
    assert_eq!(code, 1);
    assert!(json.to_string().contains("not_fresh"), "{json}");

    // Bad input: exit 2 with one line on stderr.
    let (code, _, err) = run(&tpm, "ak_ecc.pub", "ecc", &["--nonce", "xyz"]);
    assert_eq!(code, 2);
    assert_eq!(err.lines().count(), 1, "{err}");
    let (code, _, err) = run(&tpm, "ecc.msg", "ecc", &["--nonce", "00"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a TPM2B_PUBLIC"));
}

#[test]
fn swtpm_cli_replays_event_logs() {
    use iotsec_attest::tpm::algorithm::HashAlg;
    use iotsec_attest::tpm::event_log::{EV_EFI_ACTION, EV_SEPARATOR, EventLogWriter};
    if !peers_available("swtpm_cli_replays_event_logs") {
        return;
    }
    let tpm = Swtpm::start("cli-log");
    let events: [(u32, u32, &[u8]); 2] = [
        (8, EV_EFI_ACTION, b"Exit Boot Services Invocation"),
        (8, EV_SEPARATOR, &[0; 4]),
    ];
    for (pcr, _, data) in events {
        let hex: String = HashAlg::Sha256
            .digest(&[data])
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        tpm.tool("tpm2_pcrextend", &[&format!("{pcr}:sha256={hex}")]);
    }
    let mut good = EventLogWriter::new(&[HashAlg::Sha256]);
    let mut bad = EventLogWriter::new(&[HashAlg::Sha256]);
    for (pcr, t, data) in events {
        good.event(pcr, t, data);
        let d = HashAlg::Sha256.digest(&[data]);
        bad.event_with_digests(
            pcr,
            t,
            &[d.as_bytes()],
            if t == EV_EFI_ACTION {
                b"Exit Boot Services Returned"
            } else {
                data
            },
        );
    }
    tpm.write("good.log", &good.finish());
    tpm.write("bad.log", &bad.finish());
    tpm.create_ek_ak("ecc");
    tpm.quote("ak_ecc.ctx", "sha256:0,8", "0badc0de", "q");
    let with_log = |log: &str| {
        run(
            &tpm,
            "ak_ecc.pub",
            "q",
            &["--nonce", "0badc0de", "--event-log", log],
        )
    };

    let (code, json, err) = with_log("good.log");
    assert_eq!(code, 0, "{json} {err}");
    let (code, json, _) = with_log("bad.log");
    assert_eq!(code, 1);
    assert!(
        json.to_string()
            .contains(r#""event":1,"event_type":2147483655,"finding":"event_data_altered""#),
        "{json}"
    );

    let eventlog = |file: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_iotsec-cloud"))
            .current_dir(tpm.dir())
            .args(["--format", "json", "attest", "eventlog", "--log", file])
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = eventlog("good.log");
    assert_eq!(code, 0, "{out}");
    let pcr8 = json_pcr8(&tpm);
    assert!(
        out.contains(&pcr8),
        "replayed PCR 8 equals the TPM's: {out}"
    );
    assert_eq!(eventlog("bad.log").0, 1);
    assert_eq!(eventlog("q.sig").0, 2);
}

fn json_pcr8(tpm: &Swtpm) -> String {
    let (_, json, _) = run(tpm, "ak_ecc.pub", "q", &["--nonce", "0badc0de"]);
    json["pcrs"]["sha256"]["8"].as_str().unwrap().to_string()
}

#[test]
fn swtpm_cli_makecredential_activates() {
    if !peers_available("swtpm_cli_makecredential_activates") {
        return;
    }
    let tpm = Swtpm::start("cli-cred");
    tpm.write("secret.bin", b"0123456789abcdef");
    // `attest makecredential` of secret.bin for the EK `ek` and the AK `ak` (flag, file).
    let makecredential = |ek: &str, ak: [&str; 2], out: &str| {
        Command::new(env!("CARGO_BIN_EXE_iotsec-cloud"))
            .current_dir(tpm.dir())
            .args(["attest", "makecredential", "--ek", ek, ak[0], ak[1]])
            .args(["--secret", "secret.bin", "-o", out])
            .output()
            .unwrap()
    };
    for kind in ["ecc", "rsa"] {
        tpm.create_ek_ak(kind);
        let ek = format!("ek_{kind}.pub");
        let by_name = format!("ak_{kind}.name");
        let by_pub = format!("ak_{kind}.pub");
        for ak in [["--ak-name", &by_name], ["--ak", &by_pub]] {
            let out = makecredential(&ek, ak, "cred.blob");
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            for args in [
                vec!["--policy-session", "-S", "s.ctx"],
                vec!["-S", "s.ctx", "-c", "e"],
            ] {
                let tool = if args[0] == "--policy-session" {
                    "tpm2_startauthsession"
                } else {
                    "tpm2_policysecret"
                };
                assert!(tpm.tool_unchecked(tool, &args).status.success());
            }
            let act = tpm.tool_unchecked(
                "tpm2_activatecredential",
                &[
                    "-c",
                    &format!("ak_{kind}.ctx"),
                    "-C",
                    &format!("ek_{kind}.ctx"),
                    "-i",
                    "cred.blob",
                    "-o",
                    "out.bin",
                    "-P",
                    "session:s.ctx",
                ],
            );
            let _ = tpm.tool_unchecked("tpm2_flushcontext", &["s.ctx"]);
            tpm.flush();
            assert!(
                act.status.success(),
                "{}",
                String::from_utf8_lossy(&act.stderr)
            );
            assert_eq!(tpm.read("out.bin"), b"0123456789abcdef");
        }
    }
    // An AK passed as the EK is bad input.
    let out = makecredential("ak_ecc.pub", ["--ak", "ak_ecc.pub"], "x");
    assert_eq!(out.status.code(), Some(2));
}

/// A quote signed with SHA-1 (RSASSA and ECDSA AKs with a SHA-1 scheme): the CLI's ring backend
/// verifies it when the policy allows SHA-1 and the policy refuses it otherwise, as the library's
/// RustCrypto backend does.
#[test]
fn swtpm_cli_sha1_signed_quotes_follow_the_policy() {
    if !peers_available("swtpm_cli_sha1_signed_quotes_follow_the_policy") {
        return;
    }
    let tpm = Swtpm::start("cli-sha1");
    for (alg, scheme) in [("rsa", "rsassa"), ("ecc", "ecdsa")] {
        tpm.tool(
            "tpm2_createek",
            &["-c", "ek.ctx", "-G", alg, "-u", "ek.pub"],
        );
        tpm.tool(
            "tpm2_createak",
            &[
                "-C", "ek.ctx", "-c", "ak.ctx", "-G", alg, "-g", "sha1", "-s", scheme, "-u",
                "ak.pub", "-r", "ak.priv",
            ],
        );
        tpm.tool(
            "tpm2_quote",
            &[
                "-c",
                "ak.ctx",
                "-l",
                "sha256:0,7",
                "-q",
                "5a1a5a1a",
                "-g",
                "sha1",
                "--scheme",
                scheme,
                "-m",
                "q.msg",
                "-s",
                "q.sig",
                "-o",
                "q.pcrs",
            ],
        );
        tpm.flush();
        let (code, json, err) = run(
            &tpm,
            "ak.pub",
            "q",
            &["--nonce", "5a1a5a1a", "--allow-sha1"],
        );
        assert_eq!(code, 0, "{alg}: {json} {err}");
        assert_eq!(json["status"], "affirming", "{alg}");
        let (code, json, _) = run(&tpm, "ak.pub", "q", &["--nonce", "5a1a5a1a"]);
        assert_eq!(code, 1, "{alg}");
        let signature = json["claims"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["claim"] == "signature")
            .unwrap();
        assert_eq!(
            signature["findings"],
            serde_json::json!([{ "finding": "signature_hash_refused", "hash": "sha1" }]),
            "{alg}"
        );
    }
}
