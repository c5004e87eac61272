//! Real peer: mosquitto 2.0 on a TLS 1.3 mTLS listener whose `crlfile` and posture feed
//! `iotsec-cloud serve` writes. A revocation through the API rewrites the CRL and sends the
//! broker SIGHUP: the revoked device's next handshake is refused, another device still
//! connects, and a subscriber connected before the reload stays connected (mosquitto 2.0.11
//! re-reads `crlfile` on SIGHUP without dropping clients). The posture feed follows the
//! registry and loads with the plugin's own parser.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod serve_support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use iotsec_mqtt_acl::posture_feed::PostureFeed;
use iotsec_pki::ca_state::{CaState, to_pem};
use iotsec_test_support::peer;
use serve_support::{FACTORY, Fleet, Identity, image};

const INSTALL: &str = "apt-get install mosquitto mosquitto-clients";

struct Broker {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Broker {
    fn log_count(&self, needle: &str) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .matches(needle)
            .count()
    }

    /// Waits (bounded) until the log holds `needle` `n` times.
    fn wait_log(&self, needle: &str, n: usize) -> bool {
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if self.log_count(needle) >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The broker's certificate (for 127.0.0.1, issued by the fleet CA) and the trust files.
fn broker_files(fleet: &Fleet, dir: &Path) {
    let ca = CaState::open(&fleet.state).unwrap();
    let (cert, key) = ca
        .authority
        .issue_server_cert(&["127.0.0.1", "localhost"], time::OffsetDateTime::now_utc())
        .unwrap();
    let intermediate = to_pem("CERTIFICATE", ca.authority.intermediate_der()).unwrap();
    let root = to_pem("CERTIFICATE", ca.authority.root_der()).unwrap();
    std::fs::write(
        dir.join("broker.pem"),
        to_pem("CERTIFICATE", &cert).unwrap() + &intermediate,
    )
    .unwrap();
    std::fs::write(dir.join("broker.key"), to_pem("PRIVATE KEY", &key).unwrap()).unwrap();
    std::fs::write(dir.join("ca.pem"), intermediate + &root).unwrap();
}

fn start_broker(dir: &Path) -> Broker {
    let port = free_port();
    let p = |n: &str| dir.join(n).display().to_string();
    let conf = format!(
        "per_listener_settings false\nallow_anonymous false\nlog_type all\nlog_dest stderr\n\
         listener {port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true\n\
         use_identity_as_username true\ncrlfile {}\ntls_version tlsv1.3\n",
        p("ca.pem"),
        p("broker.pem"),
        p("broker.key"),
        p("crl.pem"),
    );
    std::fs::write(dir.join("mosquitto.conf"), conf).unwrap();
    let log = dir.join("mosquitto.log");
    let child = Command::new("mosquitto")
        .args(["-c", &p("mosquitto.conf")])
        .stdout(Stdio::null())
        // stderr is unbuffered: the log is complete at each read.
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let broker = Broker { child, port, log };
    assert!(broker.wait_log("running", 1), "mosquitto did not start");
    broker
}

/// Writes `who`'s certificate chain and key for the mosquitto clients.
fn client_files(dir: &Path, who: &Identity) -> (String, String) {
    let cert = dir.join(format!("{}.pem", who.cn));
    let key = dir.join(format!("{}.key", who.cn));
    let pem: String = who
        .chain
        .iter()
        .map(|c| to_pem("CERTIFICATE", c.as_ref()).unwrap())
        .collect();
    std::fs::write(&cert, pem).unwrap();
    std::fs::write(
        &key,
        to_pem("PRIVATE KEY", &who.key.to_pkcs8_der().unwrap()).unwrap(),
    )
    .unwrap();
    (cert.display().to_string(), key.display().to_string())
}

fn tls_args(dir: &Path, broker: &Broker, files: &(String, String)) -> Vec<String> {
    vec![
        "-h".into(),
        "127.0.0.1".into(),
        "-p".into(),
        broker.port.to_string(),
        "--cafile".into(),
        dir.join("ca.pem").display().to_string(),
        "--cert".into(),
        files.0.clone(),
        "--key".into(),
        files.1.clone(),
    ]
}

/// One publish; whether mosquitto_pub succeeded.
fn publish(dir: &Path, broker: &Broker, files: &(String, String), message: &str) -> bool {
    let mut child = Command::new("mosquitto_pub")
        .args(tls_args(dir, broker, files))
        .args(["-t", "t", "-m", message])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.success();
        }
        assert!(Instant::now() < until, "mosquitto_pub hung");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn posture(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap();
    PostureFeed::from_json_str(&text).unwrap_or_else(|e| panic!("the plugin refuses it: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// The posture feed once `ready` holds for it (the service coalesces its writes: a change
/// that grants nothing reaches the file within a fraction of a second), bounded.
fn posture_when(path: &Path, ready: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let feed = posture(path);
        if ready(&feed) || Instant::now() > until {
            return feed;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn entry<'a>(feed: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    feed["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["client_id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {feed}"))
}

/// A fleet, the broker's files and a running broker.
fn setup(name: &str) -> (Fleet, PathBuf, Broker) {
    let fleet = Fleet::new(name);
    let dir = fleet.dir.join("broker");
    std::fs::create_dir_all(&dir).unwrap();
    broker_files(&fleet, &dir);
    let out = Command::new(env!("CARGO_BIN_EXE_iotsec-cloud"))
        .args(["pki", "crl", "--state"])
        .arg(&fleet.state)
        .arg("--out")
        .arg(dir.join("crl.pem"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let broker = start_broker(&dir);
    (fleet, dir, broker)
}

/// The `serve` flags that feed `broker` (plus `extra`).
fn serve_flags(dir: &Path, broker: &Broker, extra: &[&str]) -> Vec<String> {
    let mut flags = vec![
        "--broker-posture".to_owned(),
        dir.join("posture.json").display().to_string(),
        "--broker-crl".to_owned(),
        dir.join("crl.pem").display().to_string(),
        "--broker-pid".to_owned(),
        broker.child.id().to_string(),
    ];
    flags.extend(extra.iter().map(|s| (*s).to_owned()));
    flags
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_reaches_the_broker_by_crl_and_sighup_without_dropping_clients() {
    if !peer::require(
        "serve_broker",
        &["mosquitto", "mosquitto_pub", "mosquitto_sub"],
        INSTALL,
    ) {
        return;
    }
    let (fleet, dir, broker) = setup("broker");
    let posture_file = dir.join("posture.json");
    let cloud = fleet.start(&serve_flags(&dir, &broker, &[]));
    let ops = fleet.operator();
    let mut a = cloud.enroll("dev-a").await;
    let b = cloud.enroll("dev-b").await;

    // The posture feed: both devices, not quarantined, unattested.
    let named = |feed: &serde_json::Value, id: &str| {
        feed["devices"]
            .as_array()
            .is_some_and(|d| d.iter().any(|d| d["client_id"] == id))
    };
    let feed = posture_when(&posture_file, |f| named(f, "dev-a") && named(f, "dev-b"));
    assert_eq!(
        entry(&feed, "dev-a"),
        &serde_json::json!({"client_id": "dev-a", "quarantined": false})
    );
    let accepted = cloud.attest(&mut a, &image(FACTORY)).await.json();
    assert_eq!(accepted["accepted"], true);
    let feed = posture_when(&posture_file, |f| {
        entry(f, "dev-a").get("firmware").is_some()
    });
    assert_eq!(entry(&feed, "dev-a")["firmware"], FACTORY);
    assert!(entry(&feed, "dev-a")["attested_at"].as_i64().unwrap() > 1_700_000_000);

    let files_a = client_files(&dir, &a);
    let files_b = client_files(&dir, &b);
    assert!(
        publish(&dir, &broker, &files_a, "a-before"),
        "control: dev-a connects"
    );
    // dev-b subscribes and stays connected across the reload.
    let mut sub = Command::new("mosquitto_sub")
        .args(tls_args(&dir, &broker, &files_b))
        .args(["-t", "t"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(sub.stdout.take().unwrap()).lines();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut ready = false;
    for i in 0..50 {
        assert!(publish(&dir, &broker, &files_b, &format!("ready-{i}")));
        if rx.recv_timeout(Duration::from_millis(200)).is_ok() {
            ready = true;
            break;
        }
    }
    assert!(ready, "dev-b's subscriber never got a message");

    let reloads = broker.log_count("Reloading config");
    let revoked = cloud
        .post_empty(Some(&ops), "/v1/admin/devices/dev-a/revoke")
        .await;
    assert_eq!(revoked.status, 200);
    assert!(
        broker.wait_log("Reloading config", reloads + 1),
        "no SIGHUP"
    );
    assert!(
        !publish(&dir, &broker, &files_a, "a-after"),
        "revoked dev-a connected"
    );
    assert!(publish(&dir, &broker, &files_b, "b-after"));
    let until = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    while Instant::now() < until && !got.iter().any(|l: &String| l == "b-after") {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            got.push(line);
        }
    }
    assert!(got.iter().any(|l| l == "b-after"), "{got:?}");
    assert!(!got.iter().any(|l| l == "a-after"), "{got:?}");
    assert!(
        sub.try_wait().unwrap().is_none(),
        "the subscriber was dropped"
    );
    // Written before the revocation was acknowledged: quarantined and revoked (the plugin
    // closes a revoked identity's open session).
    assert_eq!(entry(&posture(&posture_file), "dev-a")["quarantined"], true);
    assert_eq!(entry(&posture(&posture_file), "dev-a")["revoked"], true);
    assert_eq!(
        entry(&posture(&posture_file), "dev-b")["quarantined"],
        false
    );
    let _ = sub.kill();
    let _ = sub.wait();
}

/// A deny event as the plugin publishes it.
fn deny_event(who: &str, topic: &str) -> String {
    serde_json::json!({
        "action": "publish", "client_id": who, "reason": "no_matching_rule: no rule grants this (default deny)",
        "suppressed": 0, "topic": topic, "username": who,
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deny_stream_quarantines_a_device_probing_other_devices_topics() {
    if !peer::require(
        "serve_broker",
        &["mosquitto", "mosquitto_pub", "mosquitto_sub"],
        INSTALL,
    ) {
        return;
    }
    let (fleet, dir, broker) = setup("deny");
    let port = broker.port.to_string();
    let deny_at = format!("127.0.0.1:{port}");
    let cloud = fleet.start(&serve_flags(
        &dir,
        &broker,
        &[
            "--deny-broker",
            &deny_at,
            "--deny-reader",
            "cloud-deny",
            "--deny-threshold",
            "2",
        ],
    ));
    let ops = fleet.operator();
    let _a = cloud.enroll("dev-a").await;
    let b = cloud.enroll("dev-b").await;
    let c = cloud.enroll("dev-c").await;
    // The service subscribes to the deny topic with the certificate it issued itself.
    assert!(
        broker.wait_log("Received SUBSCRIBE from cloud-deny", 1),
        "{}",
        std::fs::read_to_string(&broker.log).unwrap()
    );
    // Stand-in for the plugin (whose events these are, README "Deny stream"): the operator's
    // client publishes them on the deny topic.
    let ops_files = client_files(&dir, &ops);
    let send = |event: String| {
        let status = Command::new("mosquitto_pub")
            .args(tls_args(&dir, &broker, &ops_files))
            .args(["-t", "$iotsec/deny", "-m", &event])
            .status()
            .unwrap();
        assert!(status.success());
    };
    let quarantine = |id: &'static str| {
        let cloud = &cloud;
        let ops = &ops;
        async move {
            cloud
                .get(Some(ops), &format!("/v1/admin/devices/{id}"))
                .await
                .json()["quarantine"]
                .clone()
        }
    };
    // dev-c's denies on its own topics, and one probe by dev-b: below the threshold.
    send(deny_event("dev-c", "devices/dev-c/telemetry/x"));
    send(deny_event("dev-c", "devices/dev-c/cmd/y"));
    send(deny_event("dev-b", "devices/dev-a/telemetry"));
    // The second probe reaches the threshold (2).
    send(deny_event("dev-b", "devices/dev-a/cmd/#"));
    let until = Instant::now() + Duration::from_secs(10);
    while quarantine("dev-b").await.is_null() && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(quarantine("dev-b").await, "probing");
    assert!(quarantine("dev-c").await.is_null());
    assert!(quarantine("dev-a").await.is_null());
    // The feed is rewritten right after the registry commits.
    let feed_says = || entry(&posture(&dir.join("posture.json")), "dev-b")["quarantined"] == true;
    let until = Instant::now() + Duration::from_secs(10);
    while !feed_says() && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(feed_says());
    let status = cloud.get(Some(&b), "/v1/device/status").await.json();
    assert_eq!(status["quarantined"], true);
    let _ = &c;
}
