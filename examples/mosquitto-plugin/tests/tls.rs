//! Real peer: mosquitto 2.0 on a TLS 1.3-only listener (`tls_version tlsv1.3`,
//! `require_certificate true`, `use_identity_as_username true`, a `crlfile`) with server and
//! device certificates issued by iotsec-pki, and the plugin enforcing a policy with
//! `identity_binding = "username"`: the client id must equal the certificate CN.
//!
//! TLS refusals (TLS 1.2, no client certificate, a revoked one) happen before MQTT; the control
//! case (a valid device with the same arguments) connects, so a refusal is the listener's.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::path::{Path, PathBuf};

use iotsec_pki::ca_state::{CaSettings, CaState, init_state, to_pem};
use iotsec_pki::{CsrRequest, DeviceKey, KeyAlgorithm, build_csr};
use support::{
    Broker, NOT_AUTHORIZED, Publisher, Subscriber, accepted, publish_once, suback_codes, tools,
};

const POLICY: &str = r#"
identity_binding = "username"

[[rule]]
name = "device-telemetry"
effect = "allow"
actions = ["publish"]
topics = ["devices/${username}/telemetry"]

[[rule]]
name = "device-commands"
effect = "allow"
actions = ["subscribe", "receive"]
topics = ["devices/${username}/cmd/#"]

[[rule]]
name = "monitor"
effect = "allow"
actions = ["subscribe", "receive"]
topics = ["devices/#"]
usernames = ["monitor"]
"#;

/// The PKI of one test: a CA state, a server certificate for 127.0.0.1, device certificates
/// for `devA`, `devB`, `monitor` and a revoked `devC`, and the CRL.
struct Pki {
    dir: PathBuf,
    /// The serial of each device certificate, by CN.
    serials: Vec<(String, Vec<u8>)>,
}

impl Pki {
    fn create(dir: &Path) -> Pki {
        // Issued (and the first CRL signed) a minute in the past, so that a CRL signed by
        // `revoke` is strictly newer: OpenSSL keeps the CRL with the later thisUpdate when a
        // store holds two from the same issuer, and an equal one keeps the first.
        let now = time::OffsetDateTime::now_utc() - time::Duration::minutes(1);
        let mut serials = Vec::new();
        let state = dir.join("ca");
        init_state(
            &state,
            &CaSettings {
                organization: "Acme".into(),
                crl_url: "http://127.0.0.1/crl".into(),
                lifetime_secs: 3600,
            },
            now,
        )
        .unwrap();
        let mut ca = CaState::open(&state).unwrap();
        std::fs::write(dir.join("chain.pem"), ca.chain_pem().unwrap()).unwrap();
        let (cert, key) = ca
            .authority
            .issue_server_cert(&["127.0.0.1", "localhost"], now)
            .unwrap();
        let server = to_pem("CERTIFICATE", &cert).unwrap()
            + &to_pem("CERTIFICATE", ca.authority.intermediate_der()).unwrap();
        std::fs::write(dir.join("server.pem"), server).unwrap();
        std::fs::write(dir.join("server.key"), to_pem("PRIVATE KEY", &key).unwrap()).unwrap();
        for cn in ["devA", "devB", "monitor", "devC"] {
            let key = DeviceKey::generate(KeyAlgorithm::P256, &mut rand_core::OsRng);
            let csr = build_csr(
                &key,
                &CsrRequest {
                    common_name: cn,
                    ..CsrRequest::default()
                },
            )
            .unwrap();
            let issued = ca.issue_csr(&csr, now).unwrap();
            assert!(
                issued.subject.contains(&format!("CN={cn}")),
                "{}",
                issued.subject
            );
            std::fs::write(
                dir.join(format!("{cn}.pem")),
                to_pem("CERTIFICATE", &issued.der).unwrap(),
            )
            .unwrap();
            let pkcs8 = key.to_pkcs8_der().unwrap();
            std::fs::write(
                dir.join(format!("{cn}.key")),
                to_pem("PRIVATE KEY", &pkcs8).unwrap(),
            )
            .unwrap();
            if cn == "devC" {
                assert!(ca.revoke(&issued.serial, 1, now).unwrap());
            }
            serials.push((cn.to_string(), issued.serial));
        }
        let crl = ca.crl(now).unwrap();
        std::fs::write(dir.join("crl.pem"), to_pem("X509 CRL", &crl).unwrap()).unwrap();
        Pki {
            dir: dir.to_path_buf(),
            serials,
        }
    }

    /// Revokes `cn`'s certificate (keyCompromise) and replaces crl.pem the way a deployment
    /// tool does (write, then rename over), with a CRL signed now.
    fn revoke(&self, cn: &str) {
        let serial = &self
            .serials
            .iter()
            .find(|(name, _)| name == cn)
            .expect("a device of this PKI")
            .1;
        let now = time::OffsetDateTime::now_utc();
        let mut ca = CaState::open(&self.dir.join("ca")).unwrap();
        assert!(ca.revoke(serial, 1, now).unwrap());
        let crl = ca.crl(now).unwrap();
        let tmp = self.dir.join(".crl.pem.tmp");
        std::fs::write(&tmp, to_pem("X509 CRL", &crl).unwrap()).unwrap();
        std::fs::rename(&tmp, self.dir.join("crl.pem")).unwrap();
    }

    fn file(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// The listener lines of mosquitto.conf.
    fn listener(&self) -> String {
        format!(
            "cafile {}\ncertfile {}\nkeyfile {}\ncrlfile {}\ntls_version tlsv1.3\n\
             require_certificate true\nuse_identity_as_username true\n",
            self.file("chain.pem"),
            self.file("server.pem"),
            self.file("server.key"),
            self.file("crl.pem"),
        )
    }

    /// openssl s_client arguments: trust the chain, present `cn`'s certificate.
    fn client_files(&self, cn: &str) -> Vec<String> {
        vec![
            "-CAfile".into(),
            self.file("chain.pem"),
            "-cert".into(),
            self.file(&format!("{cn}.pem")),
            "-key".into(),
            self.file(&format!("{cn}.key")),
        ]
    }

    /// Client arguments: trust the chain, TLS 1.3, and present `cn`'s certificate (if any).
    fn client(&self, cn: Option<&str>, tls_version: &str) -> Vec<String> {
        let mut args = vec![
            "--cafile".to_string(),
            self.file("chain.pem"),
            "--tls-version".into(),
            tls_version.into(),
        ];
        if let Some(cn) = cn {
            args.extend([
                "--cert".into(),
                self.file(&format!("{cn}.pem")),
                "--key".into(),
                self.file(&format!("{cn}.key")),
            ]);
        }
        args
    }
}

/// One `openssl s_client` handshake (stdin closed right away, so it ends after the handshake).
fn s_client(port: u16, version: &str, files: &[String]) -> support::Output {
    let mut cmd = std::process::Command::new("openssl");
    cmd.args(["s_client", "-brief", "-verify_return_error", version])
        .arg("-connect")
        .arg(format!("127.0.0.1:{port}"))
        .args(files);
    support::run_bounded(cmd)
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn start(name: &str) -> Option<(support::Tools, Broker, Pki)> {
    start_with(name, &[], "")
}

/// A TLS broker with extra plugin options and, if not empty, a posture feed `posture.toml`.
fn start_with(
    name: &str,
    options: &[(&str, &str)],
    posture: &str,
) -> Option<(support::Tools, Broker, Pki)> {
    let t = tools(name)?;
    let dir = support::scratch_dir(name);
    let pki = Pki::create(&dir);
    let posture_path = dir.join("posture.toml").display().to_string();
    let mut all = options.to_vec();
    if !posture.is_empty() {
        std::fs::write(&posture_path, posture).unwrap();
        all.push(("posture", posture_path.as_str()));
    }
    let broker = Broker::start_in(&t, dir, POLICY, &all, &pki.listener());
    Some((t, broker, pki))
}

#[test]
fn posture_feed_by_certificate_cn_quarantines_that_certificate() {
    let Some((t, broker, pki)) = start_with(
        "tls-posture",
        &[("username_is_cert_cn", "true")],
        "[[device]]\ncert_cn = \"devA\"\nquarantined = true\n",
    ) else {
        return;
    };
    let a = pki.client(Some("devA"), "tlsv1.3");
    let mut p = Publisher::connect_with(
        &t,
        broker.port,
        "devA",
        None,
        "devices/devA/telemetry",
        &strs(&a),
    );
    assert_eq!(p.publish("q"), NOT_AUTHORIZED);
    let b = pki.client(Some("devB"), "tlsv1.3");
    let mut p = Publisher::connect_with(
        &t,
        broker.port,
        "devB",
        None,
        "devices/devB/telemetry",
        &strs(&b),
    );
    assert!(accepted(p.publish("healthy")));
    let line = r#"DENY publish client_id="devA" username="devA" topic="devices/devA/telemetry" qos=1: no_matching_rule: no rule grants this (default deny); posture: quarantined"#;
    assert!(
        broker.wait_for_log(line),
        "missing {line}\n{}",
        broker.log_text()
    );
}

#[test]
fn certificate_cn_is_the_identity_and_binds_the_client_id() {
    let Some((t, broker, pki)) = start("tls-identity") else {
        return;
    };
    let port = broker.port;
    let mon_args = pki.client(Some("monitor"), "tlsv1.3");
    let mut mon = Subscriber::start_with(&t, port, "monitor", None, "devices/#", &strs(&mon_args));
    let a = pki.client(Some("devA"), "tlsv1.3");
    let a = strs(&a);
    mon.ready("devices/devA/telemetry x", || {
        let out = publish_once(&t, port, "devA", "devices/devA/telemetry", &a);
        assert!(out.status.success(), "{}", out.stderr);
    });
    // same publish path as the monitor's probe, with the MQTT 5 reason code
    let mut own = Publisher::connect_with(&t, port, "devA", None, "devices/devA/telemetry", &a);
    assert!(accepted(own.publish("t1")));
    drop(own);
    // another device's topic, and the client ids that try to borrow it
    for (id, topic) in [
        ("devA", "devices/devB/telemetry"),
        ("devB", "devices/devB/telemetry"),
        ("devB", "devices/devA/telemetry"),
        ("devA/x", "devices/devA/x/telemetry"),
        ("devA/x", "devices/devA/telemetry"),
    ] {
        let mut p = Publisher::connect_with(&t, port, id, None, topic, &a);
        assert_eq!(p.publish("forged"), NOT_AUTHORIZED, "{id} -> {topic}");
    }
    // the username is the CN, whatever -u says: mosquitto overrides it
    let mut claimed =
        Publisher::connect_with(&t, port, "devB", Some("devB"), "devices/devB/telemetry", &a);
    assert_eq!(claimed.publish("claimed"), NOT_AUTHORIZED);
    drop(claimed);
    // strict subscribe: devices/# refused (0x80 MQTT 3.1.1, 0x87 MQTT 5), own commands granted
    for (version, refused) in [("mqttv311", 0x80), ("mqttv5", 0x87)] {
        assert_eq!(
            suback_codes(
                &t,
                port,
                "devA",
                None,
                version,
                &["devices/#", "devices/devA/cmd/#"],
                &a
            ),
            [refused, 0],
            "{version}"
        );
    }
    let mut end = Publisher::connect_with(&t, port, "devA", None, "devices/devA/telemetry", &a);
    assert!(accepted(end.publish("end")));
    assert_eq!(
        mon.until("devices/devA/telemetry end"),
        ["devices/devA/telemetry t1"]
    );
    let line = r#"DENY publish client_id="devB" username="devA" topic="devices/devB/telemetry" qos=1: identity_not_bound: the client id is not bound to the username"#;
    assert!(
        broker.wait_for_log(line),
        "missing {line}\n{}",
        broker.log_text()
    );
}

#[test]
fn tls12_no_certificate_and_revoked_certificate_are_refused_by_the_listener() {
    let Some((t, broker, pki)) = start("tls-refusals") else {
        return;
    };
    let port = broker.port;
    let control = pki.client(Some("devA"), "tlsv1.3");
    let out = publish_once(&t, port, "devA", "devices/devA/telemetry", &strs(&control));
    assert!(out.status.success(), "control case failed: {}", out.stderr);
    // mosquitto_pub's --tls-version is a minimum (it would negotiate 1.3): openssl s_client
    // offers exactly TLS 1.2. Its TLS 1.3 run with the same files is the control.
    let a = pki.client_files("devA");
    let ok = s_client(port, "-tls1_3", &a);
    assert!(
        ok.status.success() && ok.stderr.contains("Protocol version: TLSv1.3"),
        "control: {}",
        ok.stderr
    );
    let tls12 = s_client(port, "-tls1_2", &a);
    assert!(
        !tls12.status.success() && !tls12.stderr.contains("Protocol version: TLSv1.2"),
        "TLS 1.2 handshake accepted: {}",
        tls12.stderr
    );
    for (case, cn) in [("no-certificate", None), ("revoked", Some("devC"))] {
        let id = format!("refused-{case}");
        let args = pki.client(cn, "tlsv1.3");
        let out = publish_once(&t, port, &id, "devices/x/telemetry", &strs(&args));
        assert!(
            !out.status.success() && !out.stderr.contains("Not authorized"),
            "{case}: the listener accepted the connection\n{}",
            out.stderr
        );
        assert!(
            !broker.log_text().contains(&format!(" as {id} ")),
            "{case}: an MQTT session was created\n{}",
            broker.log_text()
        );
    }
    for line in [
        "SSL routines::unsupported protocol",
        "SSL routines::peer did not return a certificate",
        "SSL routines::certificate verify failed",
    ] {
        assert!(
            broker.wait_for_log(line),
            "missing {line}:\n{}",
            broker.log_text()
        );
    }
    // devC's only fault is the CRL entry: openssl verifies it without the CRL, not with it.
    let verify = |crl: bool| {
        let mut cmd = std::process::Command::new("openssl");
        cmd.arg("verify").arg("-CAfile").arg(pki.file("chain.pem"));
        if crl {
            cmd.args(["-crl_check", "-CRLfile"])
                .arg(pki.file("crl.pem"));
        }
        cmd.arg(pki.file("devC.pem"));
        support::run_bounded(cmd)
    };
    assert!(verify(false).status.success());
    let revoked = verify(true);
    assert!(
        !revoked.status.success()
            && (revoked.stdout.clone() + &revoked.stderr).contains("certificate revoked"),
        "{}{}",
        revoked.stdout,
        revoked.stderr
    );
}

/// Connects `cn` with its certificate (client id = CN) as a long-lived publisher on its own
/// telemetry topic.
fn device(t: &support::Tools, port: u16, pki: &Pki, cn: &str) -> Publisher {
    let args = pki.client(Some(cn), "tlsv1.3");
    Publisher::connect_with(
        t,
        port,
        cn,
        None,
        &format!("devices/{cn}/telemetry"),
        &strs(&args),
    )
}

/// One new TLS connection with `cn`'s certificate under a probe client id (so that it does not
/// take over `cn`'s own session); whether an MQTT session was created.
fn probe_session(t: &support::Tools, broker: &Broker, pki: &Pki, cn: &str, probe: &str) -> bool {
    let args = pki.client(Some(cn), "tlsv1.3");
    let _ = publish_once(
        t,
        broker.port,
        probe,
        "devices/probe/telemetry",
        &strs(&args),
    );
    broker.log_text().contains(&format!(" as {probe} "))
}

const VERIFY_FAILED: &str = "SSL routines::certificate verify failed";

#[test]
fn sighup_rereads_the_crlfile_and_keeps_connected_sessions() {
    let Some((t, broker, pki)) = start("tls-crl-reload") else {
        return;
    };
    let port = broker.port;
    let mut a = device(&t, port, &pki, "devA");
    let mut b = device(&t, port, &pki, "devB");
    assert!(accepted(a.publish("before")));
    pki.revoke("devA");
    // Until SIGHUP the listener keeps the CRL it loaded at start.
    assert!(
        probe_session(&t, &broker, &pki, "devA", "devA-before-hup"),
        "{}",
        broker.log_text()
    );
    assert_eq!(broker.count_log(VERIFY_FAILED), 0);
    broker.hup();
    // mosquitto reloads the listeners' certificates and CRL before the plugins' reload event.
    assert!(
        broker.wait_for_log(" reloaded (3 rules)"),
        "{}",
        broker.log_text()
    );
    assert!(
        !probe_session(&t, &broker, &pki, "devA", "devA-after-hup"),
        "the revoked certificate opened a session after SIGHUP:\n{}",
        broker.log_text()
    );
    assert!(
        broker.wait_for_count(VERIFY_FAILED, 1),
        "{}",
        broker.log_text()
    );
    // Sessions opened before the reload stay: devB's, and also the revoked devA's (mosquitto
    // checks the CRL only in the handshake; see the next test for closing it).
    assert!(accepted(b.publish("after")));
    assert!(accepted(a.publish("after")));
    assert!(probe_session(&t, &broker, &pki, "devB", "devB-after-hup"));
    assert_eq!(broker.count_log(" as devA "), 1, "{}", broker.log_text());
}

#[test]
fn a_revoked_identity_in_the_posture_feed_loses_its_session_and_every_topic() {
    let Some((t, broker, pki)) = start_with(
        "tls-revoked-feed",
        &[("username_is_cert_cn", "true"), ("watch", "false")],
        "[[device]]\ncert_cn = \"devB\"\nfirmware = \"1.0.0\"\n",
    ) else {
        return;
    };
    let port = broker.port;
    let mut a = device(&t, port, &pki, "devA");
    let mut b = device(&t, port, &pki, "devB");
    assert!(accepted(a.publish("before")));
    assert!(accepted(b.publish("before")));
    // What the fleet does on revocation: a new CRL, and the CN marked revoked in the feed.
    pki.revoke("devA");
    broker.replace_file(
        "posture.toml",
        "[[device]]\ncert_cn = \"devB\"\nfirmware = \"1.0.0\"\n\n\
         [[device]]\ncert_cn = \"devA\"\nrevoked = true\n",
    );
    broker.hup();
    let kicked = r#"iotsec-mqtt-acl: disconnected revoked username "devA""#;
    assert!(broker.wait_for_log(kicked), "{}", broker.log_text());
    assert!(
        broker.wait_for_log("Client devA been disconnected by administrative action."),
        "{}",
        broker.log_text()
    );
    // It cannot come back: the listener refuses the certificate, and were it still accepted
    // (a CRL not yet deployed) the feed would deny it every check.
    assert!(!probe_session(&t, &broker, &pki, "devA", "devA-again"));
    assert!(
        broker.wait_for_count(VERIFY_FAILED, 1),
        "{}",
        broker.log_text()
    );
    assert_eq!(broker.count_log(" as devA "), 1, "{}", broker.log_text());
    drop(a);
    assert!(accepted(b.publish("after")));
}
