//! mosquitto 2.0 with the iotsec plugin on a TLS 1.3 mutual-TLS listener (server certificate
//! and CRL from the fleet CA, `use_identity_as_username`), as the fleet runs it. The plugin is
//! the cdylib cargo builds for this package's dev-dependency on `iotsec-mosquitto-plugin`.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use iotsec_pki::ca_state::{CaState, to_pem};

/// The device policy of the fleet: own telemetry, own commands.
pub const POLICY: &str = r#"
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
"#;

/// The plugin library built with this test binary (target/<profile>/deps).
fn plugin_library() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("test binary directory");
    let name = format!(
        "{}iotsec_mosquitto_plugin{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    [deps.join(&name), deps.join("..").join(&name)]
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("the plugin {name} was not built next to {}", deps.display()))
}

/// A running mosquitto; killed on drop.
pub struct Mosquitto {
    child: Child,
    conf: PathBuf,
    pub port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Mosquitto {
    /// mosquitto with the plugin and [`POLICY`] on a TLS listener whose server certificate and
    /// CRL come from the CA in `ca_state`; `None` (skipped loudly, or failed with `CI=true`)
    /// when mosquitto is not installed.
    pub fn start(test: &str, dir: &Path, ca_state: &Path) -> Option<Mosquitto> {
        if !iotsec_test_support::peer::require(test, &["mosquitto"], "apt-get install mosquitto") {
            return None;
        }
        let now = time::OffsetDateTime::now_utc();
        let ca = CaState::open(ca_state).unwrap();
        std::fs::write(dir.join("chain.pem"), ca.chain_pem().unwrap()).unwrap();
        let (cert, key) = ca
            .authority
            .issue_server_cert(&["127.0.0.1", "localhost"], now)
            .unwrap();
        let server = to_pem("CERTIFICATE", &cert).unwrap()
            + &to_pem("CERTIFICATE", ca.authority.intermediate_der()).unwrap();
        std::fs::write(dir.join("server.pem"), server).unwrap();
        std::fs::write(dir.join("server.key"), to_pem("PRIVATE KEY", &key).unwrap()).unwrap();
        write_crl(dir, ca_state);
        std::fs::write(dir.join("policy.toml"), POLICY).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let f = |name: &str| dir.join(name).display().to_string();
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\ncrlfile {}\n\
                 tls_version tlsv1.3\nrequire_certificate true\nuse_identity_as_username true\n\
                 allow_anonymous true\npersistence false\nlog_dest stderr\nlog_timestamp false\n\
                 plugin {}\nplugin_opt_policy {}\n",
                f("chain.pem"),
                f("server.pem"),
                f("server.key"),
                f("crl.pem"),
                plugin_library().display(),
                f("policy.toml"),
            ),
        )
        .unwrap();
        Some(Mosquitto::spawn(conf, port))
    }

    fn spawn(conf: PathBuf, port: u16) -> Mosquitto {
        let mut child = Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mosquitto");
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        let stderr = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().expect("log").push(line);
            }
        });
        let broker = Mosquitto {
            child,
            conf,
            port,
            log,
        };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "mosquitto did not listen:\n{}",
                broker.log_text()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
        broker
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Restarts on the same port (the listener reads its CRL file at start).
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        *self = Mosquitto::spawn(self.conf.clone(), self.port);
    }

    /// The broker's log so far.
    pub fn log_text(&self) -> String {
        self.log.lock().expect("log").join("\n")
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes the CA's current CRL as `dir/crl.pem`.
pub fn write_crl(dir: &Path, ca_state: &Path) {
    let mut ca = CaState::open(ca_state).unwrap();
    let crl = ca.crl(time::OffsetDateTime::now_utc()).unwrap();
    std::fs::write(dir.join("crl.pem"), to_pem("X509 CRL", &crl).unwrap()).unwrap();
}

/// Revokes the certificate with serial `serial_hex` (keyCompromise).
pub fn revoke(ca_state: &Path, serial_hex: &str) {
    let mut ca = CaState::open(ca_state).unwrap();
    let serial = iotsec_test_support::hex::decode(serial_hex);
    assert!(
        ca.revoke(&serial, 1, time::OffsetDateTime::now_utc())
            .unwrap(),
        "serial {serial_hex} not found"
    );
}
