//! The agent with a TPM (`Agent::with_tpm`, `iotsec-device run --tpm`) against real swtpm
//! instances on 127.0.0.1 and the fleet API of tests/common/cloud.rs: the firmware PCR is
//! measured and quoted with the cloud's nonce, the quote accepted and the AK registered for the
//! device; a wrong measurement is refused (`unknown_firmware`); a second device with the first
//! one's TPM is refused (`ak_bound_to_other_device`); the CLI attests on its timer; with an
//! EK handle the agent registers before quoting, and a refused registration (or an EK the TPM
//! does not have) is an error event with its code, no quote sent, tried again next step.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
#[path = "../../../iotsec-attest/tests/common/swtpm.rs"]
mod swtpm;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::agent::{
    BOOTSTRAP_PASSWORD, BOOTSTRAP_USER, Fleet, Running, closed_port, factory_image,
};
use common::cloud::TestCloud;
use iotsec_device::agent::{Agent, AgentCommand, AgentEvent, DEFAULT_AK_HANDLE, TpmConfig};
use sha2::Digest;
use swtpm::{Swtpm, peers_available};

/// A TPM with an ECC AK under the EK made persistent at 0x81010002, as provisioned at the
/// factory.
fn provisioned_tpm(test: &str) -> Swtpm {
    let tpm = Swtpm::start(test);
    tpm.provision_persistent_ak("0x81010002");
    tpm
}

fn attested(accepted: bool, code: Option<&str>) -> AgentEvent {
    AgentEvent::Attested {
        accepted,
        code: code.map(str::to_owned),
        quarantined: !accepted,
    }
}

async fn started(fleet: &Fleet, cloud: &TestCloud, id: &str, tpm: &Swtpm) -> Running {
    started_with(fleet, cloud, id, tpm, None).await
}

/// [`started`] registering beside the EK at `ek_handle`.
async fn started_with(
    fleet: &Fleet,
    cloud: &TestCloud,
    id: &str,
    tpm: &Swtpm,
    ek_handle: Option<u32>,
) -> Running {
    let mut config = fleet.config(id, &closed_port());
    config.cloud_url = cloud.url.clone();
    let agent = Agent::new(config).unwrap().with_tpm(TpmConfig {
        tpm: format!("127.0.0.1:{}", tpm.port),
        ak_handle: DEFAULT_AK_HANDLE,
        ek_handle,
    });
    let mut dev = Running::start_agent(agent);
    assert!(matches!(dev.next().await, AgentEvent::Booted { .. }));
    assert!(matches!(dev.next().await, AgentEvent::Enrolled { .. }));
    assert!(matches!(dev.next().await, AgentEvent::Disconnected { .. }));
    dev
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotes_the_firmware_pcr_and_the_ak_stays_with_its_device() {
    if !peers_available("agent_tpm") {
        return;
    }
    let tpm = provisioned_tpm("agent-tpm");
    let fleet = Fleet::new("agent-tpm");
    let cloud = TestCloud::start(&fleet.ca_state, (BOOTSTRAP_USER, BOOTSTRAP_PASSWORD)).await;
    cloud.registry.lock().unwrap().references = vec![sha2::Sha256::digest(factory_image()).into()];
    let mut dev = started(&fleet, &cloud, "dev-t", &tpm).await;

    assert_eq!(dev.ask(AgentCommand::Attest).await, attested(true, None));
    assert!(matches!(
        dev.ask(AgentCommand::WrongMeasurement).await,
        AgentEvent::Armed { .. }
    ));
    assert_eq!(
        dev.ask(AgentCommand::Attest).await,
        attested(false, Some("unknown_firmware"))
    );
    assert_eq!(dev.ask(AgentCommand::Attest).await, attested(true, None));
    {
        let registry = cloud.registry.lock().unwrap();
        assert_eq!(
            registry.appraisals,
            vec![
                ("dev-t".to_owned(), true, None),
                (
                    "dev-t".to_owned(),
                    false,
                    Some("unknown_firmware".to_owned())
                ),
                ("dev-t".to_owned(), true, None),
            ]
        );
        assert_eq!(registry.tpm_aks.get("dev-t").map(Vec::len), Some(34));
    }
    dev.stop().await;

    // Another device quoting with dev-t's TPM: the AK is registered for dev-t.
    let mut other = started(&fleet, &cloud, "dev-u", &tpm).await;
    assert_eq!(
        other.ask(AgentCommand::Attest).await,
        attested(false, Some("ak_bound_to_other_device"))
    );
    other.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_tpm_is_an_error_event_and_the_agent_goes_on() {
    let fleet = Fleet::new("agent-tpm-down");
    let cloud = TestCloud::start(&fleet.ca_state, (BOOTSTRAP_USER, BOOTSTRAP_PASSWORD)).await;
    let mut config = fleet.config("dev-d", &closed_port());
    config.cloud_url = cloud.url.clone();
    let agent = Agent::new(config).unwrap().with_tpm(TpmConfig {
        tpm: closed_port(),
        ak_handle: DEFAULT_AK_HANDLE,
        ek_handle: None,
    });
    let mut dev = Running::start_agent(agent);
    assert!(matches!(dev.next().await, AgentEvent::Booted { .. }));
    assert!(matches!(dev.next().await, AgentEvent::Enrolled { .. }));
    assert!(matches!(dev.next().await, AgentEvent::Disconnected { .. }));
    match dev.ask(AgentCommand::Attest).await {
        AgentEvent::Error { code, .. } => assert_eq!(code, "tpm_unreachable"),
        other => panic!("{other:?}"),
    }
    // No evidence was sent.
    assert!(cloud.registry.lock().unwrap().appraisals.is_empty());
    dev.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_attests_with_the_tpm_on_its_timer() {
    if !peers_available("agent_tpm_cli") {
        return;
    }
    let tpm = provisioned_tpm("agent-tpm-cli");
    let fleet = Fleet::new("agent-tpm-cli");
    let cloud = TestCloud::start(&fleet.ca_state, (BOOTSTRAP_USER, BOOTSTRAP_PASSWORD)).await;
    cloud.registry.lock().unwrap().references = vec![sha2::Sha256::digest(factory_image()).into()];
    let mut args = fleet.run_args("dev-cli", &cloud.url);
    let tpm_addr = format!("127.0.0.1:{}", tpm.port);
    args.extend(
        [
            "--attest-secs",
            "1",
            "--tpm",
            &tpm_addr,
            "--ak-handle",
            "0x81010002",
            "--no-tpm-registration",
        ]
        .map(String::from),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_iotsec-device"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let start = Instant::now();
    let mut lines: Vec<serde_json::Value> = Vec::new();
    while !lines.iter().any(|l| l["event"] == "attested") {
        assert!(start.elapsed() < Duration::from_secs(60), "{lines:?}");
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            lines.push(serde_json::from_str(&line).unwrap());
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let attested = lines.iter().find(|l| l["event"] == "attested").unwrap();
    assert_eq!(
        attested,
        &serde_json::json!({"event": "attested", "accepted": true, "code": null, "quarantined": false})
    );
    let registry = cloud.registry.lock().unwrap();
    assert_eq!(registry.appraisals[0], ("dev-cli".to_owned(), true, None));
    assert!(registry.tpm_aks.contains_key("dev-cli"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_registration_is_an_error_event_and_no_quote_is_sent() {
    if !peers_available("agent_tpm_registration_refused") {
        return;
    }
    let tpm = provisioned_tpm("agent-tpm-reg");
    let fleet = Fleet::new("agent-tpm-reg");
    let cloud = TestCloud::start(&fleet.ca_state, (BOOTSTRAP_USER, BOOTSTRAP_PASSWORD)).await;
    cloud.registry.lock().unwrap().references = vec![sha2::Sha256::digest(factory_image()).into()];

    // No EK at the handle: the TPM refuses ReadPublic, the cloud is not asked.
    let mut dev = started_with(&fleet, &cloud, "dev-r", &tpm, Some(0x8101_0001)).await;
    match dev.ask(AgentCommand::Attest).await {
        AgentEvent::Error { code, .. } => assert_eq!(code, "response_code"),
        other => panic!("{other:?}"),
    }
    assert!(cloud.registry.lock().unwrap().tpm_registrations.is_empty());
    dev.stop().await;

    // The EK made persistent: the agent sends it with the AK, the cloud refuses.
    tpm.tool(
        "tpm2_createek",
        &["-c", "0x81010001", "-G", "ecc", "-u", "ek.pub"],
    );
    let mut dev = started_with(&fleet, &cloud, "dev-r2", &tpm, Some(0x8101_0001)).await;
    for attempt in 1..=2 {
        match dev.ask(AgentCommand::Attest).await {
            AgentEvent::Error { code, .. } => assert_eq!(code, "ek_not_allowed"),
            other => panic!("{other:?}"),
        }
        let registry = cloud.registry.lock().unwrap();
        // One request per attestation step, nothing appraised.
        assert_eq!(registry.tpm_registrations.len(), attempt);
        assert!(registry.appraisals.is_empty());
        let (device, request) = &registry.tpm_registrations[attempt - 1];
        assert_eq!(device, "dev-r2");
        assert_eq!(
            <base64ct::Base64 as base64ct::Encoding>::decode_vec(&request.ek_public).ok(),
            Some(tpm.read("ek.pub"))
        );
        // swtpm without `swtpm_setup --create-ek-cert` has no EK certificate in NV.
        assert_eq!(request.ek_certificate, None);
    }
    dev.stop().await;
}

#[test]
fn registration_flags_that_cannot_be_acted_on_are_bad_input() {
    let fleet = Fleet::new("agent-tpm-flags");
    for (extra, reason) in [
        (
            vec!["--tpm", "127.0.0.1:1", "--ek-handle", "0x01c00002"],
            "--ek-handle must be a persistent handle 0x81xxxxxx",
        ),
        (
            vec!["--tpm", "127.0.0.1:1", "--ek-handle", "81010001"],
            "--ek-handle must be a hex handle such as 0x81010001",
        ),
        (
            vec![
                "--tpm",
                "127.0.0.1:1",
                "--ek-handle",
                "0x81010001",
                "--no-tpm-registration",
            ],
            "cannot be used with",
        ),
        (vec!["--no-tpm-registration"], "--tpm"),
    ] {
        let mut args = fleet.run_args("dev-flags", "https://127.0.0.1:1");
        args.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, _, err) = common::run(&refs);
        assert_eq!(code, 2, "{extra:?}: {err}");
        assert!(err.contains(reason), "{extra:?}: {err}");
    }
}
