//! Debian's mosquitto with our plugin (`examples/mosquitto-plugin`), as the fleet's broker: a
//! TLS 1.3-only listener on 127.0.0.1 that requires a client certificate from the fleet CA
//! (`require_certificate`, `use_identity_as_username`: the username is the certificate CN),
//! checks the CRL, and has the plugin enforce the fleet policy with the cloud's posture feed
//! and stream every deny to the operator.
//!
//! The broker is a child process that is killed when its [`Broker`] is dropped (`kill_on_drop`),
//! so a failed step, a panic or Ctrl-C never leaves it running.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use iotsec_cli_contract::BadInput;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::cloud::DENY_READER;
use super::pki::{FleetPki, OPERATOR};

/// The plugin's deny stream topic (`plugin_opt_deny_topic`): `$` keeps it out of `#`.
pub const DENY_TOPIC: &str = "$iotsec/deny";
/// The plugin library's file name.
pub const PLUGIN_FILE: &str = "libiotsec_mosquitto_plugin.so";
/// How long the broker may take to listen.
const START_LIMIT: Duration = Duration::from_secs(10);

/// The fleet policy the plugin enforces: a device publishes its own telemetry while its last
/// attestation is fresh and it is not quarantined, and reads its own command subtree; the
/// client id must equal the certificate CN (the username).
pub const POLICY: &str = r#"identity_binding = "username"

[[rule]]
name = "own-telemetry"
effect = "allow"
actions = ["publish"]
topics = ["devices/${username}/telemetry"]
max_attestation_age_secs = 3600

[[rule]]
name = "own-commands"
effect = "allow"
actions = ["subscribe", "receive"]
topics = ["devices/${username}/cmd/#"]
max_attestation_age_secs = 3600
"#;

/// `--broker`: a program name looked up in /usr/sbin, /usr/local/sbin and `PATH`, or a path.
pub fn find_broker(broker: &str) -> Result<PathBuf, BadInput> {
    let given = Path::new(broker);
    if broker.contains('/') {
        return match given.is_file() {
            true => Ok(given.to_path_buf()),
            false => Err(BadInput::new(format!(
                "--broker {broker}: no such file (install mosquitto: apt-get install mosquitto)"
            ))),
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    [PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")]
        .into_iter()
        .chain(std::env::split_paths(&path))
        .map(|d| d.join(broker))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            BadInput::new(format!(
                "--broker {broker}: not found in /usr/sbin, /usr/local/sbin or PATH (install it: apt-get install mosquitto, or run ./demo.sh)"
            ))
        })
}

/// `--plugin PATH`, or the plugin built next to this binary (`target/PROFILE/`, or its `deps/`
/// when a test builds it as a dependency).
pub fn find_plugin(given: Option<&Path>) -> Result<PathBuf, BadInput> {
    if let Some(path) = given {
        return match path.is_file() {
            true => Ok(path.to_path_buf()),
            false => Err(BadInput::new(format!(
                "--plugin {}: no such file",
                path.display()
            ))),
        };
    }
    let exe = std::env::current_exe()
        .map_err(|e| BadInput::new(format!("cannot locate this binary: {e}")))?;
    let dir = exe.parent().unwrap_or(Path::new("."));
    let candidates = [dir.join(PLUGIN_FILE), dir.join("deps").join(PLUGIN_FILE)];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            BadInput::new(format!(
                "the mosquitto plugin {PLUGIN_FILE} is not next to {} (build it with the same profile: cargo build [--release] -p iotsec-mosquitto-plugin; or give --plugin PATH)",
                exe.display()
            ))
        })
}

/// A loopback port nobody listens on (bound to port 0, then released; mosquitto takes a port
/// number, not a socket).
pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

/// Where the broker's files are.
#[derive(Debug, Clone)]
pub struct BrokerFiles {
    /// Its directory.
    pub dir: PathBuf,
    /// mosquitto.conf.
    pub conf: PathBuf,
    /// The plugin policy.
    pub policy: PathBuf,
    /// The posture feed the cloud writes (`plugin_opt_posture`).
    pub posture: PathBuf,
    /// The listener's CRL (`crlfile`), which the cloud rewrites on revocation.
    pub crl: PathBuf,
}

/// Writes the broker's configuration into `dir`: the policy, an empty posture feed, and
/// mosquitto.conf for one TLS listener on `port`.
pub fn configure(
    dir: &Path,
    port: u16,
    plugin: &Path,
    pki: &FleetPki,
) -> Result<BrokerFiles, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let files = BrokerFiles {
        dir: dir.to_path_buf(),
        conf: dir.join("mosquitto.conf"),
        policy: dir.join("policy.toml"),
        posture: dir.join("posture.json"),
        crl: pki.crl.clone(),
    };
    let write = |path: &Path, text: &str| {
        std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
    };
    write(&files.policy, POLICY)?;
    write(&files.posture, "{\"devices\": []}\n")?;
    let conf = format!(
        "# iotsec-cloud demo: one TLS 1.3 mTLS listener on loopback, the iotsec plugin.\n\
         per_listener_settings false\n\
         persistence false\n\
         log_dest stderr\n\
         log_type error\nlog_type warning\nlog_type notice\nlog_type information\n\
         connection_messages true\n\
         max_keepalive 600\n\
         listener {port} 127.0.0.1\n\
         cafile {chain}\n\
         certfile {cert}\n\
         keyfile {key}\n\
         crlfile {crl}\n\
         tls_version tlsv1.3\n\
         require_certificate true\n\
         use_identity_as_username true\n\
         plugin {plugin}\n\
         plugin_opt_policy {policy}\n\
         plugin_opt_posture {posture}\n\
         plugin_opt_username_is_cert_cn true\n\
         plugin_opt_watch true\n\
         plugin_opt_deny_topic {DENY_TOPIC}\n\
         plugin_opt_deny_readers {OPERATOR},{DENY_READER}\n\
         plugin_opt_deny_rate 1000\n",
        chain = pki.chain.display(),
        cert = pki.broker_cert.display(),
        key = pki.broker_key.display(),
        crl = files.crl.display(),
        plugin = plugin.display(),
        policy = files.policy.display(),
        posture = files.posture.display(),
    );
    write(&files.conf, &conf)?;
    Ok(files)
}

/// A running mosquitto; killed when dropped.
pub struct Broker {
    files: BrokerFiles,
    /// The listener's port on 127.0.0.1.
    pub port: u16,
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Broker {
    /// Starts mosquitto on `files.conf` and waits (bounded) until it listens.
    pub async fn start(program: &Path, files: BrokerFiles, port: u16) -> Result<Broker, String> {
        let log = Arc::new(Mutex::new(Vec::new()));
        let child = spawn(program, &files, &log)?;
        let mut broker = Broker {
            files,
            port,
            child,
            log,
        };
        broker.wait_listening().await?;
        Ok(broker)
    }

    /// The process id (the cloud sends it SIGHUP after writing a new posture feed or CRL).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The broker's files.
    pub fn files(&self) -> &BrokerFiles {
        &self.files
    }

    async fn wait_listening(&mut self) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "mosquitto exited ({status}): {}",
                    self.log_tail(5).join(" | ")
                ));
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            if started.elapsed() > START_LIMIT {
                return Err(format!(
                    "mosquitto did not listen on 127.0.0.1:{} within {} s",
                    self.port,
                    START_LIMIT.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The log lines containing `needle`.
    pub fn log_lines(&self, needle: &str) -> Vec<String> {
        self.log
            .lock()
            .map(|l| l.iter().filter(|x| x.contains(needle)).cloned().collect())
            .unwrap_or_default()
    }

    /// The last `n` log lines.
    pub fn log_tail(&self, n: usize) -> Vec<String> {
        self.log
            .lock()
            .map(|l| l.iter().rev().take(n).rev().cloned().collect())
            .unwrap_or_default()
    }

    /// Stops the broker (SIGKILL; nothing of it needs to persist) and writes its log next to
    /// its configuration.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
        let text = self.log.lock().map(|l| l.join("\n")).unwrap_or_default();
        let _ = std::fs::write(self.files.dir.join("mosquitto.log"), text + "\n");
    }
}

/// Lines kept of the broker's log (a flood of denies must not grow the demo without bound).
const MAX_LOG_LINES: usize = 200_000;

fn spawn(
    program: &Path,
    files: &BrokerFiles,
    log: &Arc<Mutex<Vec<String>>>,
) -> Result<Child, String> {
    let mut child = Command::new(program)
        .arg("-c")
        .arg(&files.conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", program.display()))?;
    // mosquitto's own pid_file is written after it drops root to its user, which cannot
    // write the state directory; the pid is recorded here (scripts, the cleanup test).
    if let Some(pid) = child.id() {
        let path = files.dir.join("mosquitto.pid");
        std::fs::write(&path, format!("{pid}\n"))
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    if let Some(stderr) = child.stderr.take() {
        let sink = Arc::clone(log);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(mut log) = sink.lock()
                    && log.len() < MAX_LOG_LINES
                {
                    log.push(line);
                }
            }
        });
    }
    Ok(child)
}
