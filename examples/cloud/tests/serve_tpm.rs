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
        ek_handle: None,
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

/// The agent's event for an accepted quote.
fn accepted() -> AgentEvent {
    AgentEvent::Attested {
        accepted: true,
        code: None,
        quarantined: false,
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
    enrolled_agent_with(fleet, cloud, id, tpm_config(tpm)).await
}

/// Starts the agent of `id` with the TPM `config` and waits until it enrolled.
async fn enrolled_agent_with(fleet: &Fleet, cloud: &Cloud, id: &str, config: TpmConfig) -> Running {
    let agent = Agent::new(agent_config(fleet, cloud, id))
        .unwrap()
        .with_tpm(config);
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

/// The agent's first attestation registers the AK named `ak_name`, then its quote is accepted.
async fn registers_then_attests(dev: &mut Running, ak_name: &[u8]) {
    assert_eq!(
        dev.ask(AgentCommand::Attest).await,
        AgentEvent::TpmRegistered {
            ak_name: hex::encode(ak_name)
        }
    );
    assert_eq!(dev.next().await, accepted());
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
    let cloud = fleet.start(&["--tpm-trust-on-first-use"]);
    let ops = fleet.operator();
    let mut dev = enrolled_agent(&fleet, &cloud, "tpm-001", &tpm).await;

    // (a) The quote of the factory firmware is accepted; the registry records a TPM appraisal.
    assert_eq!(dev.ask(AgentCommand::Attest).await, accepted());
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
    assert_eq!(dev.ask(AgentCommand::Attest).await, accepted());
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
    let cloud = fleet.start(&["--tpm-trust-on-first-use"]);
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

// ---- AK registration beside a trusted EK (`--tpm-ek-allow`, `--tpm-ek-ca`) ----

const EK_HANDLE: u32 = 0x8101_0001;

/// A provisioned TPM whose EK (`ecc`, or `rsa` for the one a manufactured swtpm certified) is
/// also persistent at [`EK_HANDLE`], as the agent's registration expects (`swtpm_setup`
/// already put its RSA EK there).
fn tpm_with_persistent_ek(tpm: Swtpm, ek_alg: &str) -> Swtpm {
    tpm.provision_persistent_ak(AK_HANDLE);
    let handle = format!("0x{EK_HANDLE:08x}");
    if !tpm
        .tool_unchecked("tpm2_readpublic", &["-c", &handle])
        .status
        .success()
    {
        tpm.tool(
            "tpm2_createek",
            &["-c", &handle, "-G", ek_alg, "-u", "ek.pub"],
        );
    }
    tpm.flush();
    tpm
}

/// (TPM2B_PUBLIC, Name) of the persistent object at `handle`, read over the TPM's own link.
async fn public_of(tpm: &Swtpm, handle: u32) -> (Vec<u8>, Vec<u8>) {
    let port = tpm.port;
    tokio::task::spawn_blocking(move || {
        let mut link =
            iotsec_attest::device::transport::SwtpmTcp::connect(("127.0.0.1", port)).unwrap();
        let mut buf = [0u8; 4096];
        let p = iotsec_attest::device::command::read_public(&mut link, handle, &mut buf).unwrap();
        (p.tpm2b_public.to_vec(), p.name.to_vec())
    })
    .await
    .unwrap()
}

/// TPM2_ActivateCredential of a challenge on `tpm` with its EK and AK: the secret, or the code.
async fn activate(tpm: &Swtpm, challenge: &Value) -> Result<Vec<u8>, String> {
    use iotsec_attest::ErrorCode;
    let port = tpm.port;
    let id = Base64::decode_vec(challenge["credential"].as_str().unwrap()).unwrap();
    let enc = Base64::decode_vec(challenge["secret"].as_str().unwrap()).unwrap();
    tokio::task::spawn_blocking(move || {
        let mut link =
            iotsec_attest::device::transport::SwtpmTcp::connect(("127.0.0.1", port)).unwrap();
        iotsec_attest::device::activate::activate_credential(
            &mut link,
            EK_HANDLE,
            DEFAULT_AK_HANDLE,
            &id,
            &enc,
        )
        .map(|s| s.to_vec())
        .map_err(|e| e.code().to_owned())
    })
    .await
    .unwrap()
}

/// `r` is the refusal `status` with `code`.
fn refused(r: &serve_support::Answer, status: u16, code: &str) {
    assert_eq!((r.status, r.code().as_str()), (status, code), "{r:?}");
}

async fn register(
    cloud: &Cloud,
    who: &Identity,
    ek: &[u8],
    cert: Option<&[u8]>,
    ak: &[u8],
) -> serve_support::Answer {
    let body = json!({
        "ek_public": Base64::encode_string(ek),
        "ek_certificate": cert.map(Base64::encode_string),
        "ak_public": Base64::encode_string(ak),
    });
    cloud.post_json(Some(who), "/v1/tpm/register", &body).await
}

async fn post_secret(
    cloud: &Cloud,
    who: &Identity,
    registration: &Value,
    secret: &[u8],
) -> serve_support::Answer {
    let body = json!({
        "registration": registration["registration"],
        "secret": Base64::encode_string(secret),
    });
    cloud.post_json(Some(who), "/v1/tpm/activate", &body).await
}

/// Rows of the registry's TPM tables: (bound AKs, EK records, pending registrations).
fn tpm_rows(fleet: &Fleet) -> (i64, i64, i64) {
    let db = rusqlite::Connection::open_with_flags(
        fleet.state.join("fleet.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let count = |table: &str| {
        db.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    };
    (
        count("tpm_aks"),
        count("tpm_ak_endorsements"),
        count("tpm_registrations"),
    )
}

fn allow_list(fleet: &Fleet, eks: &[&[u8]]) -> String {
    let path = fleet.dir.join("ek-allow.txt");
    let mut text = String::from("# EKs of this fleet's TPMs\n");
    for ek in eks {
        text.push_str(&hex::encode(Sha256::digest(ek)));
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// One TPM of [`two_allowed_tpms`]: the swtpm, its EK and AK public areas, the AK's Name.
struct Provisioned {
    tpm: Swtpm,
    ek: Vec<u8>,
    ak: Vec<u8>,
    ak_name: Vec<u8>,
}

/// Two provisioned swtpms and a fleet whose service allows both EKs (`--tpm-ek-allow`).
async fn two_allowed_tpms(name: &str) -> ([Provisioned; 2], Fleet, Cloud, String) {
    let mut tpms = Vec::new();
    for which in ["a", "b"] {
        let tpm = tpm_with_persistent_ek(Swtpm::start(&format!("{name}-{which}")), "ecc");
        let (ek, _) = public_of(&tpm, EK_HANDLE).await;
        let (ak, ak_name) = public_of(&tpm, DEFAULT_AK_HANDLE).await;
        tpms.push(Provisioned {
            tpm,
            ek,
            ak,
            ak_name,
        });
    }
    let fleet = Fleet::new(name);
    let allow = allow_list(&fleet, &[&tpms[0].ek, &tpms[1].ek]);
    let cloud = fleet.start(&["--tpm-ek-allow", &allow]);
    let Ok(pair) = <[Provisioned; 2]>::try_from(tpms) else {
        panic!("two TPMs")
    };
    (pair, fleet, cloud, allow)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_registers_its_ak_beside_an_allowed_ek_then_its_quotes_are_accepted() {
    if !peers_available("serve_tpm_register_agent") {
        return;
    }
    let ([mine, other], fleet, cloud, _) = two_allowed_tpms("tpm-reg-agent").await;
    let Provisioned {
        tpm,
        ek,
        ak,
        ak_name,
    } = mine;
    let Provisioned {
        tpm: other,
        ek: other_ek,
        ..
    } = other;
    let ops = fleet.operator();

    let config = TpmConfig {
        ek_handle: Some(EK_HANDLE),
        ..tpm_config(&tpm)
    };
    let mut dev = enrolled_agent_with(&fleet, &cloud, "tpm-reg-1", config).await;
    assert_eq!(tpm_rows(&fleet), (0, 0, 0));
    // The first attestation registers the AK (credential activated by the TPM), then quotes.
    registers_then_attests(&mut dev, &ak_name).await;
    assert_eq!(tpm_rows(&fleet), (1, 1, 0));
    // Registered once: the next attestation only quotes.
    assert_eq!(dev.ask(AgentCommand::Attest).await, accepted());
    let rec = record(&cloud, &ops, "tpm-reg-1").await;
    assert_eq!(rec["attestation_ok"], json!(true), "{rec}");
    dev.stop().await;

    // Another device cannot register that AK, nor quote with it.
    let b = cloud.enroll("tpm-reg-2").await;
    let r = register(&cloud, &b, &ek, None, &ak).await;
    refused(&r, 409, "ak_bound_to_other_device");
    let n = nonce(&cloud, &b).await;
    let ev = Base64::encode_string(&quote(&tpm, &image(FACTORY), &n).await);
    let v = send_tpm(&cloud, &b, &n, &ev).await.json();
    assert_eq!(v["code"], json!("ak_bound_to_other_device"), "{v}");
    // A device whose AK was never registered: its quotes are refused, no first-use binding.
    let n = nonce(&cloud, &b).await;
    let ev = Base64::encode_string(&quote(&other, &image(FACTORY), &n).await);
    let v = send_tpm(&cloud, &b, &n, &ev).await.json();
    assert_eq!(
        (v["accepted"].clone(), v["code"].clone()),
        (json!(false), json!("ak_not_registered")),
        "{v}"
    );
    assert_eq!(tpm_rows(&fleet), (1, 1, 0));
    // An EK that is not on the list: refused at register.
    let stranger = tpm_with_persistent_ek(Swtpm::start("serve-tpm-reg-stranger"), "ecc");
    let (stranger_ek, _) = public_of(&stranger, EK_HANDLE).await;
    let (stranger_ak, _) = public_of(&stranger, DEFAULT_AK_HANDLE).await;
    let r = register(&cloud, &b, &stranger_ek, None, &stranger_ak).await;
    refused(&r, 403, "ek_not_allowed");
    // The EK offered as the AK: not a signing key.
    let r = register(&cloud, &b, &other_ek, None, &other_ek).await;
    refused(&r, 403, "ak_attributes");
    assert_eq!(tpm_rows(&fleet), (1, 1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ek_certificate_must_chain_to_the_ek_ca() {
    if !peers_available("serve_tpm_register_ca") {
        return;
    }
    let tpm = tpm_with_persistent_ek(Swtpm::start_manufactured("serve-tpm-reg-ca"), "rsa");
    tpm.tool(
        "tpm2_nvread",
        &["0x01c00002", "-C", "o", "-o", "ekcert.der"],
    );
    let cert = tpm.read("ekcert.der");
    let (ek, _) = public_of(&tpm, EK_HANDLE).await;
    let (ak, ak_name) = public_of(&tpm, DEFAULT_AK_HANDLE).await;
    let ca = |f: &str| tpm.dir.join("ca").join(f).to_str().unwrap().to_owned();

    // A CA that did not issue the certificate: refused, and without a certificate too.
    let unrelated = Fleet::new("tpm-reg-unrelated");
    let root = iotsec_pki::state_dir::root_cert_file(&unrelated.state);
    let cloud = unrelated.start(&["--tpm-ek-ca", root.to_str().unwrap()]);
    let a = cloud.enroll("tpm-ca-1").await;
    let r = register(&cloud, &a, &ek, Some(&cert), &ak).await;
    refused(&r, 403, "ek_certificate_refused");
    let r = register(&cloud, &a, &ek, None, &ak).await;
    refused(&r, 403, "ek_not_allowed");
    assert_eq!(tpm_rows(&unrelated), (0, 0, 0));
    drop(cloud);

    // swtpm's local CA: the certificate chains, the TPM activates, the quote is accepted.
    let fleet = Fleet::new("tpm-reg-ca");
    let cloud = fleet.start(&[
        "--tpm-ek-ca",
        &ca("swtpm-localca-rootca-cert.pem"),
        "--tpm-ek-ca",
        &ca("issuercert.pem"),
    ]);
    // The agent sends the certificate it reads from NV 0x01c00002 beside its RSA EK.
    let config = TpmConfig {
        ek_handle: Some(EK_HANDLE),
        ..tpm_config(&tpm)
    };
    let mut dev = enrolled_agent_with(&fleet, &cloud, "tpm-ca-1", config).await;
    registers_then_attests(&mut dev, &ak_name).await;
    dev.stop().await;
    let ek_sha256: Vec<u8> = rusqlite::Connection::open(fleet.state.join("fleet.db"))
        .unwrap()
        .query_row("SELECT ek_sha256 FROM tpm_ak_endorsements", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(ek_sha256, Sha256::digest(&ek).to_vec());
    // The certificate of this EK offered with another EK (the AK's public area): refused.
    let b = cloud.enroll("tpm-ca-2").await;
    let r = register(&cloud, &b, &ak, Some(&cert), &ak).await;
    refused(&r, 403, "ek_certificate_refused");
    assert_eq!(tpm_rows(&fleet), (1, 1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_bind_only_the_ak_beside_its_ek_and_each_registration_once() {
    if !peers_available("serve_tpm_register_attacks") {
        return;
    }
    let ([a, b], fleet, cloud, allow) = two_allowed_tpms("tpm-reg-attacks").await;
    let Provisioned {
        tpm: tpm_a,
        ek: ek_a,
        ak: ak_a,
        ..
    } = a;
    let Provisioned {
        tpm: tpm_b,
        ek: ek_b,
        ak: ak_b,
        ..
    } = b;
    let dev = cloud.enroll("tpm-x").await;
    let thief = cloud.enroll("tpm-y").await;
    let unchanged = |fleet: &Fleet| assert_eq!(tpm_rows(fleet).0, 0, "nothing bound");

    // TPM B's AK beside TPM A's EK: neither TPM can activate the credential.
    let c = register(&cloud, &dev, &ek_a, None, &ak_b).await.json();
    assert_eq!(activate(&tpm_a, &c).await, Err("credential_refused".into()));
    assert_eq!(activate(&tpm_b, &c).await, Err("credential_refused".into()));
    let r = post_secret(&cloud, &dev, &c, &[0x11; 32]).await;
    refused(&r, 403, "secret_mismatch");
    unchanged(&fleet);

    // Two honest registrations: each secret opens only its own, and each id is spent once.
    let c1 = register(&cloud, &dev, &ek_a, None, &ak_a).await.json();
    let c2 = register(&cloud, &dev, &ek_a, None, &ak_a).await.json();
    let s1 = activate(&tpm_a, &c1).await.unwrap();
    let s2 = activate(&tpm_a, &c2).await.unwrap();
    assert_ne!(s1, s2);
    let r = post_secret(&cloud, &dev, &c1, &s2).await;
    refused(&r, 403, "secret_mismatch");
    let r = post_secret(&cloud, &dev, &c1, &s1).await;
    refused(&r, 403, "registration_unknown");
    unchanged(&fleet);
    // Another device presenting dev's registration and secret: not its registration (and
    // not spent for dev).
    let r = post_secret(&cloud, &thief, &c2, &s2).await;
    refused(&r, 403, "registration_unknown");
    unchanged(&fleet);
    let r = post_secret(&cloud, &dev, &c2, &s2).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(tpm_rows(&fleet), (1, 1, 0));
    let r = post_secret(&cloud, &dev, &c2, &s2).await;
    refused(&r, 403, "registration_unknown");
    // dev holds AK A now: registering TPM B's AK (beside B's EK) is refused.
    let r = register(&cloud, &dev, &ek_b, None, &ak_b).await;
    refused(&r, 409, "ak_not_registered");

    // Bad input: 400 (413 over the body limit), nothing stored.
    let before = tpm_rows(&fleet);
    let ek = Base64::encode_string(&ek_b);
    let ak = Base64::encode_string(&ak_b);
    for (path, body, status, code) in [
        (
            "/v1/tpm/register",
            json!({"ek_public": "***", "ek_certificate": null, "ak_public": ak}),
            400,
            "bad_ek_public",
        ),
        (
            "/v1/tpm/register",
            json!({"ek_public": ek, "ek_certificate": "A".repeat(8000), "ak_public": ak}),
            400,
            "bad_ek_certificate",
        ),
        (
            "/v1/tpm/register",
            json!({"ek_public": ek, "ak_public": ak, "ek_certificate": null, "extra": 1}),
            400,
            "bad_json",
        ),
        (
            "/v1/tpm/register",
            json!({"ek_public": Base64::encode_string(b"\x00\x05short"), "ek_certificate": null, "ak_public": ak}),
            400,
            "malformed",
        ),
        (
            "/v1/tpm/register",
            json!({"ek_public": ek, "ek_certificate": null, "ak_public": "A".repeat(70_000)}),
            413,
            "body_too_large",
        ),
        (
            "/v1/tpm/activate",
            json!({"registration": "zz", "secret": Base64::encode_string(&[0u8; 32])}),
            400,
            "bad_registration",
        ),
        (
            "/v1/tpm/activate",
            json!({"registration": "00".repeat(16), "secret": Base64::encode_string(&[0u8; 64])}),
            400,
            "bad_secret",
        ),
        (
            "/v1/tpm/activate",
            json!({"registration": "00".repeat(16), "secret": "A", "ak_name": "00"}),
            400,
            "bad_json",
        ),
    ] {
        let r = cloud.post_json(Some(&thief), path, &body).await;
        assert_eq!(
            (r.status, r.code()),
            (status, code.to_owned()),
            "{path} {r:?}"
        );
    }
    assert_eq!(tpm_rows(&fleet), before);
    drop(cloud);

    // A registration past its expiry is refused, and binds nothing.
    let cloud = fleet.start(&["--tpm-ek-allow", &allow, "--tpm-registration-ttl-secs", "1"]);
    let c = register(&cloud, &thief, &ek_b, None, &ak_b).await.json();
    assert_eq!(c["expires_in_secs"], 1);
    let s = activate(&tpm_b, &c).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = post_secret(&cloud, &thief, &c, &s).await;
    refused(&r, 403, "registration_expired");
    assert_eq!(tpm_rows(&fleet).0, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_tpm_trust_flag_tpm_evidence_and_registration_are_refused() {
    let fleet = Fleet::new("tpm-none");
    // Flags that contradict or do not parse: exit 2 with the reason.
    let bad_list = fleet.dir.join("bad-allow.txt");
    std::fs::write(&bad_list, format!("{}\nnot-a-digest\n", "ab".repeat(32))).unwrap();
    for (extra, reason) in [
        (
            vec![
                "--tpm-trust-on-first-use",
                "--tpm-ek-allow",
                bad_list.to_str().unwrap(),
            ],
            "cannot be used with",
        ),
        (
            vec!["--tpm-ek-allow", bad_list.to_str().unwrap()],
            "allow-list line 2: not a hex SHA-256",
        ),
        (
            vec!["--tpm-ek-ca", bad_list.to_str().unwrap()],
            "--tpm-ek-ca",
        ),
        (
            vec![
                "--tpm-trust-on-first-use",
                "--tpm-registration-ttl-secs",
                "5",
            ],
            "--tpm-registration-ttl-secs needs --tpm-ek-ca or --tpm-ek-allow",
        ),
        (
            vec![
                "--tpm-ek-allow",
                bad_list.to_str().unwrap(),
                "--tpm-registration-ttl-secs",
                "0",
            ],
            "--tpm-registration-ttl-secs",
        ),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_iotsec-cloud"))
            .args(fleet.serve_args(&extra))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(reason), "{extra:?}: {err}");
    }

    let cloud = fleet.start::<&str>(&[]);
    let dev = cloud.enroll("tpm-none-1").await;
    let r = register(&cloud, &dev, b"ek", None, b"ak").await;
    refused(&r, 409, "tpm_not_enabled");
    let n = nonce(&cloud, &dev).await;
    if peers_available("serve_tpm_none") {
        let tpm = provisioned_tpm("serve-tpm-none");
        let ev = Base64::encode_string(&quote(&tpm, &image(FACTORY), &n).await);
        let r = send_tpm(&cloud, &dev, &n, &ev).await;
        refused(&r, 409, "tpm_not_enabled");
        // Nothing was appraised or recorded.
        let rec = record(&cloud, &fleet.operator(), "tpm-none-1").await;
        assert_eq!(rec["attestation_ok"], Value::Null, "{rec}");
        assert_eq!(tpm_rows(&fleet), (0, 0, 0));
    }
    // Garbage is bad input whatever the configuration.
    let r = send_tpm(&cloud, &dev, &n, &Base64::encode_string(b"IOTQ")).await;
    refused(&r, 400, "bad_evidence");
    drop(cloud);
    // Trust on first use: quotes bind on first use (the tests above), registration is refused.
    let cloud = fleet.start(&["--tpm-trust-on-first-use"]);
    let r = register(&cloud, &dev, b"ek", None, b"ak").await;
    refused(&r, 409, "tpm_registration_not_enabled");
    let r = post_secret(
        &cloud,
        &dev,
        &json!({"registration": "00".repeat(16)}),
        &[0; 32],
    )
    .await;
    refused(&r, 409, "tpm_registration_not_enabled");
}
