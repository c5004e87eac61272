//! `iotsec-cloud serve` appraising TPM evidence from real swtpm instances on 127.0.0.1: the
//! device agent with a TPM (`iotsec_device::agent::Agent::with_tpm`) enrolls, its quote of the
//! firmware PCR is accepted and its AK registered for its certificate identity; a wrong
//! measurement is refused and quarantines; another device presenting that TPM (its AK) or that
//! device's quote is refused; a replayed nonce is refused; garbage and oversized TPM evidence
//! get a 400 and leave the registry as it was.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod serve_support;
#[path = "../../../iotsec-attest/tests/common/swtpm.rs"]
mod swtpm;

use std::time::Duration;

use base64ct::{Base64, Encoding};
use iotsec_device::agent::{
    Agent, AgentCommand, AgentConfig, AgentEvent, AgentExit, Bootstrap, DEFAULT_AK_HANDLE,
    FactoryImage, FirmwareConfig, TpmConfig, measure_and_quote, quote_firmware_pcr,
};
use serde_json::{Value, json};
use serve_support::{Cloud, FACTORY, Fleet, Identity, image};
use sha2::{Digest, Sha256};
use swtpm::{Swtpm, peers_available};
use tokio::sync::mpsc;
use zeroize::Zeroizing;

const AK_HANDLE: &str = "0x81010002";
const VENDOR: [u8; 16] = *b"iotsec-demo-vndr";
const CLASS: [u8; 16] = *b"sensor-class-v1\0";

/// A TPM with an ECC AK (restricted signing key under the EK, `tpm2_createak`) at the
/// persistent handle [`DEFAULT_AK_HANDLE`], as a manufacturer provisions it.
fn provisioned_tpm(test: &str) -> Swtpm {
    let tpm = Swtpm::start(test);
    tpm.provision_persistent_ak(AK_HANDLE);
    tpm
}

fn tpm_config(tpm: &Swtpm) -> TpmConfig {
    TpmConfig {
        tpm: format!("127.0.0.1:{}", tpm.port),
        ak_handle: DEFAULT_AK_HANDLE,
    }
}

fn closed_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    drop(l);
    addr
}

/// The agent configuration of device `id` of `fleet` at `cloud` (no broker: the appraisal
/// does not need one).
fn agent_config(fleet: &Fleet, cloud: &Cloud, id: &str) -> AgentConfig {
    let (user, password) = serve_support::BOOTSTRAP.split_once(':').unwrap();
    AgentConfig {
        state_dir: fleet.dir.join("devices").join(id),
        cloud_url: format!("https://{}", cloud.addr),
        est_label: None,
        broker: closed_port(),
        trust_anchors: fleet.ca_roots.iter().map(|c| c.to_vec()).collect(),
        device_id: Some(id.to_owned()),
        bootstrap: Bootstrap::Basic {
            user: user.to_owned(),
            password: Zeroizing::new(password.to_owned()),
        },
        firmware: FirmwareConfig {
            trust_root: std::fs::read(fleet.dir.join("trust-root.cose")).unwrap(),
            vendor_id: VENDOR,
            class_id: CLASS,
            trusted_root_version: 1,
            slot_capacity: 1 << 20,
            factory: Some(FactoryImage {
                version: FACTORY.to_owned(),
                image: image(FACTORY),
                security_counter: 1,
                sequence: 1,
            }),
        },
        timers: None,
        tls_provider: Some(std::sync::Arc::new(iotsec_pki::tls_provider::hybrid_first())),
        step_timeout: Duration::from_secs(30),
        http_keep_alive: iotsec_device::agent::DEFAULT_HTTP_KEEP_ALIVE,
    }
}

/// A running agent driven by commands.
struct Running {
    commands: mpsc::Sender<AgentCommand>,
    events: mpsc::UnboundedReceiver<AgentEvent>,
    task: tokio::task::JoinHandle<Result<AgentExit, iotsec_device::agent::AgentError>>,
}

impl Running {
    fn start(agent: Agent) -> Running {
        let (commands, rx) = mpsc::channel(8);
        let (tx, events) = mpsc::unbounded_channel();
        let task = tokio::spawn(agent.run(rx, tx));
        Running {
            commands,
            events,
            task,
        }
    }
    async fn next(&mut self) -> AgentEvent {
        tokio::time::timeout(Duration::from_secs(60), self.events.recv())
            .await
            .expect("no event within 60 s")
            .expect("the agent ended")
    }
    /// The first event of `command` that is not a connection event.
    async fn ask(&mut self, command: AgentCommand) -> AgentEvent {
        self.commands.send(command).await.unwrap();
        loop {
            match self.next().await {
                AgentEvent::Disconnected { .. } | AgentEvent::Connected { .. } => {}
                other => return other,
            }
        }
    }
    async fn stop(self) {
        self.commands.send(AgentCommand::Stop).await.unwrap();
        let _ = tokio::time::timeout(Duration::from_secs(30), self.task).await;
    }
}

/// Starts the agent of `id` with `tpm` and waits until it enrolled.
async fn enrolled_agent(fleet: &Fleet, cloud: &Cloud, id: &str, tpm: &Swtpm) -> Running {
    let agent = Agent::new(agent_config(fleet, cloud, id))
        .unwrap()
        .with_tpm(tpm_config(tpm));
    let mut dev = Running::start(agent);
    loop {
        match dev.next().await {
            AgentEvent::Enrolled { id: got, .. } => {
                assert_eq!(got, id);
                return dev;
            }
            AgentEvent::Booted { .. } => {}
            other => panic!("before enrollment: {other:?}"),
        }
    }
}

async fn record(cloud: &Cloud, ops: &Identity, id: &str) -> Value {
    let a = cloud
        .get(Some(ops), &format!("/v1/admin/devices/{id}"))
        .await;
    assert_eq!(a.status, 200, "{a:?}");
    a.json()
}

async fn nonce(cloud: &Cloud, who: &Identity) -> String {
    let n = cloud.post_empty(Some(who), "/v1/device/attest/nonce").await;
    assert_eq!(n.status, 200, "{n:?}");
    n.json()["nonce"].as_str().unwrap().to_owned()
}

async fn send_tpm(
    cloud: &Cloud,
    who: &Identity,
    nonce: &str,
    evidence: &str,
) -> serve_support::Answer {
    cloud
        .post_json(
            Some(who),
            "/v1/device/attest/evidence",
            &json!({ "nonce": nonce, "format": "tpm", "evidence": evidence }),
        )
        .await
}

/// TPM evidence as the agent makes it: `firmware` measured into the firmware PCR, quoted with
/// `nonce` (hex) by the provisioned AK.
async fn quote(tpm: &Swtpm, firmware: &[u8], nonce_hex: &str) -> Vec<u8> {
    let config = tpm_config(tpm);
    let digest: [u8; 32] = Sha256::digest(firmware).into();
    let nonce = hex::decode(nonce_hex).unwrap();
    tokio::task::spawn_blocking(move || measure_and_quote(&config, &digest, &nonce).unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_with_a_tpm_is_accepted_and_a_wrong_measurement_quarantines() {
    if !peers_available("serve_tpm_agent") {
        return;
    }
    let tpm = provisioned_tpm("serve-tpm-agent");
    let fleet = Fleet::new("tpm-agent");
    let cloud = fleet.start::<&str>(&[]);
    let ops = fleet.operator();
    let mut dev = enrolled_agent(&fleet, &cloud, "tpm-001", &tpm).await;

    // (a) The quote of the factory firmware is accepted; the registry records a TPM appraisal.
    assert_eq!(
        dev.ask(AgentCommand::Attest).await,
        AgentEvent::Attested {
            accepted: true,
            code: None,
            quarantined: false
        }
    );
    let rec = record(&cloud, &ops, "tpm-001").await;
    assert_eq!(
        (
            rec["attestation_ok"].clone(),
            rec["firmware"].clone(),
            rec["quarantine"].clone()
        ),
        (json!(true), json!(FACTORY), Value::Null),
        "{rec}"
    );
    assert!(rec["last_attestation"].is_string(), "{rec}");

    // (b) The firmware PCR extended with something else: refused, quarantined.
    assert!(matches!(
        dev.ask(AgentCommand::WrongMeasurement).await,
        AgentEvent::Armed { .. }
    ));
    assert_eq!(
        dev.ask(AgentCommand::Attest).await,
        AgentEvent::Attested {
            accepted: false,
            code: Some("unknown_firmware".into()),
            quarantined: true
        }
    );
    let rec = record(&cloud, &ops, "tpm-001").await;
    assert_eq!(
        (rec["attestation_ok"].clone(), rec["quarantine"].clone()),
        (json!(false), json!("attestation_failed")),
        "{rec}"
    );
    // Measured right again: accepted, the attestation quarantine lifted.
    assert_eq!(
        dev.ask(AgentCommand::Attest).await,
        AgentEvent::Attested {
            accepted: true,
            code: None,
            quarantined: false
        }
    );
    dev.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotes_bind_to_the_device_and_the_nonce_and_garbage_changes_nothing() {
    if !peers_available("serve_tpm_binding") {
        return;
    }
    let tpm_a = provisioned_tpm("serve-tpm-a");
    let tpm_b = provisioned_tpm("serve-tpm-b");
    let fleet = Fleet::new("tpm-binding");
    let cloud = fleet.start::<&str>(&[]);
    let ops = fleet.operator();
    let a = cloud.enroll("dev-a").await;
    let b = cloud.enroll("dev-b").await;

    // dev-a's first quote registers its AK.
    let n = nonce(&cloud, &a).await;
    let ev = Base64::encode_string(&quote(&tpm_a, &image(FACTORY), &n).await);
    let ok = send_tpm(&cloud, &a, &n, &ev).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    let ok = ok.json();
    assert_eq!(
        (ok["accepted"].clone(), ok["code"].clone()),
        (json!(true), Value::Null),
        "{ok}"
    );
    assert_eq!(ok["claims"]["format"], "tpm");
    assert_eq!(ok["claims"]["firmware"], FACTORY);
    assert_eq!(ok["claims"]["firmware_pcr"], "sha256:23");
    assert_eq!(ok["claims"]["tpm_ak_name"].as_str().unwrap().len(), 68);

    // (d) The same evidence again: its nonce is spent.
    let replay = send_tpm(&cloud, &a, &n, &ev).await;
    assert_eq!(
        (replay.status, replay.code()),
        (400, "nonce_unknown".into())
    );

    // (c) dev-a's quote (for dev-a's nonce) presented by dev-b: that nonce is not dev-b's.
    let n = nonce(&cloud, &a).await;
    let ev = Base64::encode_string(&quote(&tpm_a, &image(FACTORY), &n).await);
    let stolen = send_tpm(&cloud, &b, &n, &ev).await;
    assert_eq!(
        (stolen.status, stolen.code()),
        (400, "nonce_unknown".into())
    );
    // dev-b answering its own nonce with dev-a's TPM: the AK is registered for dev-a.
    let nb = nonce(&cloud, &b).await;
    let ev = Base64::encode_string(&quote(&tpm_a, &image(FACTORY), &nb).await);
    let other = send_tpm(&cloud, &b, &nb, &ev).await.json();
    assert_eq!(
        (
            other["accepted"].clone(),
            other["code"].clone(),
            other["quarantined"].clone()
        ),
        (json!(false), json!("ak_bound_to_other_device"), json!(true)),
        "{other}"
    );
    // dev-a with another TPM than the one registered for it: refused.
    let n = nonce(&cloud, &a).await;
    let ev = Base64::encode_string(&quote(&tpm_b, &image(FACTORY), &n).await);
    let swapped = send_tpm(&cloud, &a, &n, &ev).await.json();
    assert_eq!(
        (swapped["accepted"].clone(), swapped["code"].clone()),
        (json!(false), json!("ak_not_registered")),
        "{swapped}"
    );

    // (b) A PCR extended with something else after the measurement: unknown firmware.
    let n = nonce(&cloud, &a).await;
    // Measure the factory image (the quote made here is not sent), then extend once more.
    quote(&tpm_a, &image(FACTORY), &n).await;
    tpm_a.tool(
        "tpm2_pcrextend",
        &[&format!("23:sha256={}", "ab".repeat(32))],
    );
    let shifted = {
        // Quote again without re-measuring: the PCR holds the measurement and the extra extend.
        let config = tpm_config(&tpm_a);
        let nonce = hex::decode(&n).unwrap();
        tokio::task::spawn_blocking(move || quote_firmware_pcr(&config, &nonce).unwrap())
            .await
            .unwrap()
    };
    let wrong = send_tpm(&cloud, &a, &n, &Base64::encode_string(&shifted))
        .await
        .json();
    assert_eq!(
        (
            wrong["accepted"].clone(),
            wrong["code"].clone(),
            wrong["quarantined"].clone()
        ),
        (json!(false), json!("unknown_firmware"), json!(true)),
        "{wrong}"
    );

    // (e) Garbage and oversized TPM evidence: 400, nonce not spent, registry unchanged.
    let before = cloud.get(Some(&ops), "/v1/admin/devices").await.json();
    let n = nonce(&cloud, &b).await;
    for (evidence, code) in [
        (Base64::encode_string(b"IOTQ\x01garbage"), "bad_evidence"),
        (
            Base64::encode_string(b"not tpm evidence at all"),
            "bad_evidence",
        ),
        ("***".to_owned(), "bad_evidence"),
        (Base64::encode_string(&vec![0u8; 4097]), "bad_evidence"),
        (Base64::encode_string(&vec![0u8; 40_000]), "bad_evidence"),
    ] {
        let r = send_tpm(&cloud, &b, &n, &evidence).await;
        assert_eq!((r.status, r.code()), (400, code.to_owned()), "{r:?}");
    }
    // A signed quote cut short by one byte no longer parses either.
    let mut cut = quote(&tpm_b, &image(FACTORY), &n).await;
    cut.pop();
    let r = send_tpm(&cloud, &b, &n, &Base64::encode_string(&cut)).await;
    assert_eq!((r.status, r.code()), (400, "bad_evidence".into()), "{r:?}");
    let after = cloud.get(Some(&ops), "/v1/admin/devices").await.json();
    assert_eq!(before, after);
    // The nonce survived the refusals: dev-b's own TPM answers it (its AK is new: registered).
    let ev = Base64::encode_string(&quote(&tpm_b, &image(FACTORY), &n).await);
    let fine = send_tpm(&cloud, &b, &n, &ev).await.json();
    assert_eq!(fine["accepted"], true, "{fine}");
}
