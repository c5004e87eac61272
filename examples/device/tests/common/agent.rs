//! Scaffolding of the agent tests: a fleet CA with its EST server on loopback, the firmware
//! trust root and releases, and agents run as tokio tasks whose events the test reads with a
//! deadline.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use iotsec_device::agent::{
    Agent, AgentCommand, AgentConfig, AgentError, AgentEvent, AgentExit, Bootstrap, FactoryImage,
    FirmwareConfig,
};
use iotsec_ota::manifest_builder::{ComponentSpec, ManifestBuilder};
use iotsec_ota::signer::Ed25519Key;
use iotsec_pki::est_service::LabelPolicy;
use tokio::sync::mpsc;
use zeroize::Zeroizing;

/// How long the test waits for one event.
pub const EVENT_DEADLINE: Duration = Duration::from_secs(30);

pub const VENDOR: [u8; 16] = [0x6b; 16];
pub const CLASS: [u8; 16] = [0x6c; 16];
pub const BOOTSTRAP_USER: &str = "fleet-bootstrap";
pub const BOOTSTRAP_PASSWORD: &str = "bootstrap-pw";

/// The factory image (version 1.0.0, counter 1, sequence 1).
pub fn factory_image() -> Vec<u8> {
    vec![0x10; 20_000]
}

/// A fleet: CA state, EST server, firmware trust root.
pub struct Fleet {
    pub dir: PathBuf,
    pub ca_state: PathBuf,
    pub est_url: String,
    pub roots: Vec<Vec<u8>>,
    pub trust_root: Vec<u8>,
}

impl Fleet {
    /// A CA with an EST server (HTTP Basic bootstrap, client-certificate re-enrollment).
    pub fn new(name: &str) -> Fleet {
        let (dir, ca_state) = super::acme_ca(name);
        let est_url = super::est_server(
            &ca_state,
            LabelPolicy {
                basic: Some((BOOTSTRAP_USER.into(), BOOTSTRAP_PASSWORD.into())),
                client_cert_auth: true,
                ..Default::default()
            },
        );
        let root_pem = std::fs::read(ca_state.join("root.pem")).unwrap();
        let roots = pem_certs(&root_pem);
        let trust_root = super::ota_trust_root();
        Fleet {
            dir,
            ca_state,
            est_url,
            roots,
            trust_root,
        }
    }

    /// A certificate for `cn` issued by the fleet CA at `now`, outside EST (a manufacturer's
    /// bootstrap certificate, an old one): (key, certificate, intermediate DER).
    pub fn issue(
        &self,
        cn: &str,
        now: time::OffsetDateTime,
    ) -> (
        iotsec_pki::DeviceKey,
        iotsec_pki::IssuedCertificate,
        Vec<u8>,
    ) {
        use iotsec_pki::{CsrRequest, DeviceKey, KeyAlgorithm, build_csr};
        let key = DeviceKey::generate(KeyAlgorithm::P256, &mut rand_core::OsRng);
        let request = CsrRequest {
            common_name: cn,
            ..CsrRequest::default()
        };
        let csr = build_csr(&key, &request).unwrap();
        let mut ca = iotsec_pki::ca_state::CaState::open(&self.ca_state).unwrap();
        let issued = ca.issue_csr(&csr, now).unwrap();
        (key, issued, ca.authority.intermediate_der().to_vec())
    }

    /// The state directory of device `id`.
    pub fn state_of(&self, id: &str) -> PathBuf {
        self.dir.join(format!("device-{id}"))
    }

    /// The `iotsec-device run` arguments for device `id` at `cloud` (files written into the
    /// fleet directory; telemetry and poll every second, no broker).
    pub fn run_args(&self, id: &str, cloud: &str) -> Vec<String> {
        let fleet = self;
        let dir = &fleet.dir;
        std::fs::write(dir.join("root.cbor"), &fleet.trust_root).unwrap();
        std::fs::write(dir.join("factory.bin"), factory_image()).unwrap();
        std::fs::write(
        dir.join("firmware.json"),
        serde_json::json!({
            "trust_root": "root.cbor",
            "vendor_id": "6b6b6b6b-6b6b-6b6b-6b6b-6b6b6b6b6b6b",
            "class_id": "6c6c6c6c-6c6c-6c6c-6c6c-6c6c6c6c6c6c",
            "trusted_root_version": 1,
            "slot_capacity": 1_000_000,
            "factory": {"image": "factory.bin", "version": "1.0.0", "security_counter": 1, "sequence": 1}
        })
        .to_string(),
    )
    .unwrap();
        let password = dir.join("bootstrap.pw");
        std::fs::write(&password, format!("{BOOTSTRAP_PASSWORD}\n")).unwrap();
        std::fs::set_permissions(
            &password,
            <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o600),
        )
        .unwrap();
        let p = |name: &str| dir.join(name).display().to_string();
        [
            "--format",
            "json",
            "run",
            "--state",
            &fleet.state_of(id).display().to_string(),
            "--cloud",
            cloud,
            "--broker",
            &closed_port(),
            "--ca",
            &fleet.ca_state.join("root.pem").display().to_string(),
            "--firmware",
            &p("firmware.json"),
            "--id",
            id,
            "--bootstrap-user",
            BOOTSTRAP_USER,
            "--bootstrap-password-file",
            &p("bootstrap.pw"),
            "--telemetry-secs",
            "1",
            "--poll-secs",
            "1",
            "--step-timeout-secs",
            "5",
        ]
        .map(str::to_owned)
        .to_vec()
    }

    /// The configuration of device `id`, commands only, talking to `broker`.
    pub fn config(&self, id: &str, broker: &str) -> AgentConfig {
        AgentConfig {
            state_dir: self.state_of(id),
            cloud_url: self.est_url.clone(),
            est_label: None,
            broker: broker.to_owned(),
            trust_anchors: self.roots.clone(),
            device_id: Some(id.to_owned()),
            bootstrap: Bootstrap::Basic {
                user: BOOTSTRAP_USER.into(),
                password: Zeroizing::new(BOOTSTRAP_PASSWORD.into()),
            },
            firmware: FirmwareConfig {
                trust_root: self.trust_root.clone(),
                vendor_id: VENDOR,
                class_id: CLASS,
                trusted_root_version: 1,
                slot_capacity: 1_000_000,
                factory: Some(FactoryImage {
                    version: "1.0.0".into(),
                    image: factory_image(),
                    security_counter: 1,
                    sequence: 1,
                }),
            },
            timers: None,
            tls_provider: Some(Arc::new(iotsec_pki::tls_provider::hybrid_first())),
            step_timeout: Duration::from_secs(10),
            http_keep_alive: iotsec_device::agent::DEFAULT_HTTP_KEEP_ALIVE,
        }
    }
}

/// The DER certificates of a PEM text.
pub fn pem_certs(pem: &[u8]) -> Vec<Vec<u8>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem)
        .map(|c| c.unwrap().to_vec())
        .collect()
}

/// A signed release: (manifest, image) of `len` bytes of `fill`.
pub fn release(version: &str, counter: u64, sequence: u64, fill: u8) -> (Vec<u8>, Vec<u8>) {
    let image = vec![fill; 30_000 + usize::from(fill)];
    let manifest = ManifestBuilder::new(VENDOR, CLASS, version)
        .security_counter(counter)
        .sequence_number(sequence)
        .component(ComponentSpec::from_image("app", &image))
        .sign(&[&Ed25519Key::from_seed(&[2; 32])])
        .unwrap();
    (manifest, image)
}

/// A running agent.
pub struct Running {
    pub commands: mpsc::Sender<AgentCommand>,
    pub events: mpsc::UnboundedReceiver<AgentEvent>,
    pub task: tokio::task::JoinHandle<Result<AgentExit, AgentError>>,
}

impl Running {
    /// Starts an agent on the current runtime.
    pub fn start(config: AgentConfig) -> Running {
        Running::start_agent(Agent::new(config).unwrap())
    }

    /// Starts a configured agent on the current runtime.
    pub fn start_agent(agent: Agent) -> Running {
        let (commands, rx) = mpsc::channel(8);
        let (tx, events) = mpsc::unbounded_channel();
        let task = tokio::spawn(agent.run(rx, tx));
        Running {
            commands,
            events,
            task,
        }
    }

    /// The next event, within [`EVENT_DEADLINE`].
    pub async fn next(&mut self) -> AgentEvent {
        tokio::time::timeout(EVENT_DEADLINE, self.events.recv())
            .await
            .expect("no event within the deadline")
            .expect("the agent ended")
    }

    /// Sends a command and returns its first event.
    pub async fn ask(&mut self, command: AgentCommand) -> AgentEvent {
        self.commands.send(command).await.unwrap();
        self.next().await
    }

    /// Stops the agent: its exit.
    pub async fn stop(self) -> AgentExit {
        self.commands.send(AgentCommand::Stop).await.unwrap();
        tokio::time::timeout(EVENT_DEADLINE, self.task)
            .await
            .expect("the agent did not stop")
            .unwrap()
            .unwrap()
    }
}

/// Mode bits of a file.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A loopback address nobody listens on.
pub fn closed_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    addr.to_string()
}
