//! The real-peer harness of tests/broker.rs: mosquitto 2.0 on 127.0.0.1 with the plugin built
//! by this `cargo test`, driven by mosquitto_pub / mosquitto_sub. Every wait is bounded.

// Each test file uses part of the harness.
#![allow(dead_code)]

pub mod mqtt5;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long any single step may take before the test fails.
pub const STEP: Duration = Duration::from_secs(10);

/// The programs the tests run.
pub struct Tools {
    pub broker: PathBuf,
    pub publish: PathBuf,
    pub subscribe: PathBuf,
    pub plugin: PathBuf,
}

fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// The cdylib `cargo test` built with this test: target/<profile>/deps/ (next to the test
/// binary) or target/<profile>/. Missing is a failure, never a skip.
pub fn plugin_library() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("test binary has a directory");
    let name = format!(
        "{}iotsec_mosquitto_plugin{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let candidates = [deps.join(&name), deps.join("..").join(&name)];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "the plugin {name} was not built (looked in {candidates:?}); \
                 `cargo test -p iotsec-mosquitto-plugin` builds it through crate-type cdylib"
            )
        })
}

/// The tools, or `None` (with a loud message) when mosquitto is not installed and `CI` is not
/// `true`. With `CI=true` a missing mosquitto fails the test.
pub fn tools(test: &str) -> Option<Tools> {
    let plugin = plugin_library();
    match (
        find("mosquitto"),
        find("mosquitto_pub"),
        find("mosquitto_sub"),
    ) {
        (Some(broker), Some(publish), Some(subscribe)) => Some(Tools {
            broker,
            publish,
            subscribe,
            plugin,
        }),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "{test}: mosquitto / mosquitto-clients not installed (CI=true): \
                     apt-get install mosquitto mosquitto-clients"
                );
            }
            // Straight to the process's stderr: the test harness captures `eprintln!`.
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED {test}: mosquitto or mosquitto_pub/mosquitto_sub is not installed ***\n"
            );
            None
        }
    }
}

/// A loopback port nobody listens on (bound to port 0, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A fresh directory for one broker.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "iotsec-mosquitto-plugin-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Writes mosquitto.conf for the plugin with the given `plugin_opt_*` lines.
pub fn write_config(dir: &Path, port: u16, plugin: &Path, options: &[(&str, &str)]) -> PathBuf {
    write_config_with(dir, port, plugin, options, "")
}

/// [`write_config`] with extra lines for the listener (TLS settings).
pub fn write_config_with(
    dir: &Path,
    port: u16,
    plugin: &Path,
    options: &[(&str, &str)],
    listener_extra: &str,
) -> PathBuf {
    let mut conf = format!(
        "listener {port} 127.0.0.1\n{listener_extra}allow_anonymous true\npersistence false\n\
         log_dest stderr\nlog_timestamp false\nplugin {}\n",
        plugin.display()
    );
    for (k, v) in options {
        conf.push_str(&format!("plugin_opt_{k} {v}\n"));
    }
    let path = dir.join("mosquitto.conf");
    std::fs::write(&path, conf).expect("write mosquitto.conf");
    path
}

/// A child's output lines, as they come.
fn stream_lines(stream: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

/// Collects a child's stderr lines in the background.
fn collect_lines(stream: impl Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            sink.lock().expect("log lock").push(line);
        }
    });
    lines
}

/// A running broker; killed (and its directory removed) on drop.
pub struct Broker {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    pub port: u16,
    dir: PathBuf,
}

impl Broker {
    /// Starts mosquitto with the plugin, the policy text and the extra options, and waits
    /// until it accepts connections.
    pub fn start(tools: &Tools, name: &str, policy: &str, options: &[(&str, &str)]) -> Broker {
        let dir = scratch_dir(name);
        Broker::start_in(tools, dir, policy, options, "")
    }

    /// [`Broker::start`] in a prepared directory (files the options name are already there),
    /// with extra listener lines.
    pub fn start_in(
        tools: &Tools,
        dir: PathBuf,
        policy: &str,
        options: &[(&str, &str)],
        listener_extra: &str,
    ) -> Broker {
        let policy_path = dir.join("policy.toml");
        std::fs::write(&policy_path, policy).expect("write policy");
        let policy_arg = policy_path.display().to_string();
        let mut all = vec![("policy", policy_arg.as_str())];
        all.extend_from_slice(options);
        let port = free_port();
        let conf = write_config_with(&dir, port, &tools.plugin, &all, listener_extra);
        Broker::spawn(tools, dir, port, &conf)
    }

    /// mosquitto without the plugin: `body` (e.g. `acl_file PATH`) after the listener lines.
    pub fn start_plain(tools: &Tools, dir: PathBuf, body: &str) -> Broker {
        let port = free_port();
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
                 log_dest stderr\nlog_timestamp false\n{body}"
            ),
        )
        .expect("write mosquitto.conf");
        Broker::spawn(tools, dir, port, &conf)
    }

    /// Runs mosquitto on `conf` and waits until it accepts connections.
    fn spawn(tools: &Tools, dir: PathBuf, port: u16, conf: &Path) -> Broker {
        let mut child = Command::new(&tools.broker)
            .arg("-c")
            .arg(conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mosquitto");
        let log = collect_lines(child.stderr.take().expect("stderr"));
        let mut broker = Broker {
            child,
            log,
            port,
            dir,
        };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = broker.child.try_wait() {
                panic!("mosquitto exited ({status}):\n{}", broker.log_text());
            }
            assert!(
                start.elapsed() < STEP,
                "mosquitto did not listen:\n{}",
                broker.log_text()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
        broker
    }

    /// The broker's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The broker's directory (policy.toml, mosquitto.conf).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Replaces a file in the broker's directory the way a deployment tool does: write a
    /// temporary file, then rename it over the old one.
    pub fn replace_file(&self, name: &str, text: &str) {
        let tmp = self.dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).expect("write temp file");
        std::fs::rename(&tmp, self.dir.join(name)).expect("rename over");
    }

    /// Sends SIGHUP (mosquitto reloads its configuration and sends `MOSQ_EVT_RELOAD`).
    pub fn hup(&self) {
        self.signal("-HUP");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill {signal} {pid}");
    }

    /// How many log lines contain `needle`.
    pub fn count_log(&self, needle: &str) -> usize {
        self.log
            .lock()
            .expect("log lock")
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Waits (bounded) until `needle` has appeared in at least `n` log lines.
    pub fn wait_for_count(&self, needle: &str, n: usize) -> bool {
        let start = Instant::now();
        while start.elapsed() < STEP {
            if self.count_log(needle) >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        false
    }

    /// The broker's log so far.
    pub fn log_text(&self) -> String {
        self.log.lock().expect("log lock").join("\n")
    }

    /// Waits (bounded) for a log line containing `needle`.
    pub fn wait_for_log(&self, needle: &str) -> bool {
        let start = Instant::now();
        while start.elapsed() < STEP {
            if self.log_text().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        false
    }

    /// Sends SIGTERM (mosquitto then unloads the plugin) and waits, bounded, for the exit.
    pub fn terminate(mut self) -> (ExitStatus, String) {
        self.signal("-TERM");
        let status = wait_bounded(&mut self.child, STEP).expect("mosquitto ignored SIGTERM");
        // The reader thread ends at EOF, right after the exit; give it a moment.
        std::thread::sleep(Duration::from_millis(200));
        (status, self.log_text())
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits for a child for at most `limit`; kills it and returns `None` on timeout.
pub fn wait_bounded(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if start.elapsed() < limit => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// What a client program printed.
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a client program to completion, bounded by [`STEP`].
pub fn run_bounded(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn client");
    let out = collect_lines(child.stdout.take().expect("stdout"));
    let err = collect_lines(child.stderr.take().expect("stderr"));
    let status = wait_bounded(&mut child, STEP)
        .unwrap_or_else(|| panic!("{cmd:?} did not finish within {STEP:?}"));
    // The reader threads finish at EOF, right after the exit; give them a moment.
    std::thread::sleep(Duration::from_millis(50));
    let text = |l: &Arc<Mutex<Vec<String>>>| l.lock().expect("lock").join("\n");
    Output {
        status,
        stdout: text(&out),
        stderr: text(&err),
    }
}

fn client(program: &Path, port: u16, id: &str, username: Option<&str>) -> Command {
    client_via(Command::new(program), port, id, username)
}

/// `cmd` (a client program, maybe behind a wrapper) with the connection arguments.
fn client_via(mut cmd: Command, port: u16, id: &str, username: Option<&str>) -> Command {
    cmd.args(["-h", "127.0.0.1", "-p", &port.to_string(), "-i", id]);
    if let Some(u) = username {
        cmd.args(["-u", u]);
    }
    cmd
}

/// Publishes one QoS 1 message (so the broker has handled it when this returns). A denied
/// PUBLISH is dropped silently by mosquitto: the exit status is still success.
pub fn publish(
    tools: &Tools,
    port: u16,
    id: &str,
    username: Option<&str>,
    topic: &str,
    payload: &str,
) {
    let mut cmd = client(&tools.publish, port, id, username);
    cmd.args(["-q", "1", "-t", topic, "-m", payload]);
    let out = run_bounded(cmd);
    assert!(
        out.status.success(),
        "mosquitto_pub -i {id} -t {topic}: {}\n{}",
        out.status,
        out.stderr
    );
}

/// One MQTT 5 QoS 1 PUBLISH with further arguments (TLS files); the caller judges the output.
pub fn publish_once(tools: &Tools, port: u16, id: &str, topic: &str, extra: &[&str]) -> Output {
    let mut cmd = client(&tools.publish, port, id, None);
    cmd.args(["-V", "mqttv5", "-q", "1", "-t", topic, "-m", "x"])
        .args(extra);
    run_bounded(cmd)
}

/// Publishes one retained QoS 1 message.
pub fn publish_retained(tools: &Tools, port: u16, id: &str, topic: &str, payload: &str) {
    let mut cmd = client(&tools.publish, port, id, None);
    cmd.args(["-q", "1", "-r", "-t", topic, "-m", payload]);
    let out = run_bounded(cmd);
    assert!(
        out.status.success(),
        "mosquitto_pub -r -i {id} -t {topic}: {}",
        out.stderr
    );
}

/// One SUBSCRIBE that must finish quickly (`-E`: exit once the SUBACK arrived, `-W` bound).
pub fn subscribe_once(tools: &Tools, port: u16, id: &str, filter: &str) -> Output {
    let mut cmd = client(&tools.subscribe, port, id, None);
    cmd.args(["-q", "1", "-t", filter, "-E", "-W", "5"]);
    run_bounded(cmd)
}

/// A client that connects with a will on `will_topic`, subscribes to its own command topics
/// (a refused SUBACK would make mosquitto_sub disconnect cleanly, discarding the will) and
/// stays connected (up to 60 s); SIGKILL it (`Child::kill`) to make the broker send the will.
pub fn connect_with_will(
    tools: &Tools,
    port: u16,
    id: &str,
    will_topic: &str,
    payload: &str,
) -> Child {
    client(&tools.subscribe, port, id, None)
        .args(["-t", &format!("devices/{id}/cmd/#"), "-W", "60"])
        .args(["--will-topic", will_topic, "--will-payload", payload])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn mosquitto_sub with a will")
}

/// mosquitto_sub's message when the SUBACK refuses every filter.
pub const ALL_DENIED: &str = "All subscription requests were denied.";

/// A long-running subscriber (`-v`: "topic payload" lines, `-W 60` as the outer bound).
pub struct Subscriber {
    child: Child,
    lines: Receiver<String>,
    /// The readiness probe's line: late duplicates of it are skipped.
    probe_line: Option<String>,
}

impl Subscriber {
    /// Starts it; call [`Subscriber::ready`] before relying on the subscription.
    pub fn start(
        tools: &Tools,
        port: u16,
        id: &str,
        username: Option<&str>,
        filter: &str,
    ) -> Subscriber {
        Subscriber::start_with(tools, port, id, username, filter, &[])
    }

    /// [`Subscriber::start`] with further arguments (TLS files).
    pub fn start_with(
        tools: &Tools,
        port: u16,
        id: &str,
        username: Option<&str>,
        filter: &str,
        extra: &[&str],
    ) -> Subscriber {
        let mut child = client(&tools.subscribe, port, id, username)
            .args(["-q", "1", "-t", filter, "-v", "-W", "60"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mosquitto_sub");
        let lines = stream_lines(child.stdout.take().expect("stdout"));
        Subscriber {
            child,
            lines,
            probe_line: None,
        }
    }

    /// Repeats `probe` (a publish that this subscriber may receive on `expected`) until the
    /// line arrives: the subscription is then live. Bounded by [`STEP`].
    pub fn ready(&mut self, expected: &str, mut probe: impl FnMut()) {
        self.probe_line = Some(expected.to_string());
        let start = Instant::now();
        loop {
            assert!(start.elapsed() < STEP, "subscriber never got {expected:?}");
            probe();
            while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(300)) {
                if line == expected {
                    return;
                }
            }
        }
    }

    /// Every line up to the first one starting with `prefix` (which must arrive within
    /// [`STEP`]), and that line.
    pub fn until_prefix(&self, prefix: &str) -> (Vec<String>, String) {
        let start = Instant::now();
        let mut seen = Vec::new();
        loop {
            let left = STEP.saturating_sub(start.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return (seen, line),
                Ok(line) if self.probe_line.as_ref() == Some(&line) => {}
                Ok(line) => seen.push(line),
                Err(_) => panic!("no line starting with {prefix:?} arrived; got {seen:?}"),
            }
        }
    }

    /// Every line up to (not including) `sentinel`, which must arrive within [`STEP`].
    pub fn until(&self, sentinel: &str) -> Vec<String> {
        let start = Instant::now();
        let mut seen = Vec::new();
        loop {
            let left = STEP.saturating_sub(start.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(line) if line == sentinel => return seen,
                Ok(line) if self.probe_line.as_ref() == Some(&line) => {}
                Ok(line) => seen.push(line),
                Err(_) => panic!("sentinel {sentinel:?} never arrived; got {seen:?}"),
            }
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client that stays connected (MQTT 5, QoS 1) and publishes one message per call on one
/// topic: `mosquitto_pub -l -d`, whose debug output shows each PUBACK's reason code.
pub struct Publisher {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    lines: Receiver<String>,
    sent: u32,
}

impl Publisher {
    /// Connects as `id` (optional `username`) and waits for the CONNACK.
    pub fn connect(
        tools: &Tools,
        port: u16,
        id: &str,
        username: Option<&str>,
        topic: &str,
    ) -> Publisher {
        Publisher::connect_with(tools, port, id, username, topic, &[])
    }

    /// [`Publisher::connect`] with further arguments (TLS files).
    pub fn connect_with(
        tools: &Tools,
        port: u16,
        id: &str,
        username: Option<&str>,
        topic: &str,
        extra: &[&str],
    ) -> Publisher {
        // stdbuf -oL: mosquitto_pub's debug lines go through stdio, block-buffered on a pipe.
        let mut wrapper = Command::new("stdbuf");
        wrapper.arg("-oL").arg(&tools.publish);
        let mut child = client_via(wrapper, port, id, username)
            .args(["-V", "mqttv5", "-q", "1", "-t", topic, "-l", "-d"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mosquitto_pub -l");
        let stdin = child.stdin.take();
        let lines = stream_lines(child.stdout.take().expect("stdout"));
        let p = Publisher {
            child,
            stdin,
            lines,
            sent: 0,
        };
        p.expect_line("received CONNACK");
        p
    }

    fn expect_line(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let left = STEP.saturating_sub(start.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => panic!("mosquitto_pub never printed {needle:?}"),
            }
        }
    }

    /// Publishes `payload` on the same connection and returns the PUBACK reason code
    /// (0x00 / 0x10 accepted, 0x87 not authorized).
    pub fn publish(&mut self, payload: &str) -> u8 {
        self.sent += 1;
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{payload}").expect("write to mosquitto_pub");
        stdin.flush().expect("flush");
        let line = self.expect_line(&format!("received PUBACK (Mid: {}, RC:", self.sent));
        line.rsplit("RC:")
            .next()
            .and_then(|t| t.trim_end_matches(')').parse::<u8>().ok())
            .unwrap_or_else(|| panic!("unparsable PUBACK line {line:?}"))
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = wait_bounded(&mut self.child, Duration::from_secs(2));
    }
}

/// PUBACK reason code "not authorized" (MQTT 5.0 §3.4.2.1).
pub const NOT_AUTHORIZED: u8 = 0x87;
/// PUBACK reason codes of an accepted PUBLISH: success, or "no matching subscribers".
pub fn accepted(rc: u8) -> bool {
    rc == 0x00 || rc == 0x10
}

/// Sends one SUBSCRIBE with `filters` (QoS 0) and returns the SUBACK's codes in order
/// (`mosquitto_sub -d -E` prints "Subscribed (mid: 1): 128, 0"). `version` is `mqttv311` or
/// `mqttv5`; `extra` are further arguments (TLS files).
pub fn suback_codes(
    tools: &Tools,
    port: u16,
    id: &str,
    username: Option<&str>,
    version: &str,
    filters: &[&str],
    extra: &[&str],
) -> Vec<u8> {
    let mut cmd = client(&tools.subscribe, port, id, username);
    cmd.args(["-V", version, "-d", "-E", "-W", "5"]).args(extra);
    for f in filters {
        cmd.args(["-t", f]);
    }
    let out = run_bounded(cmd);
    let (status, text) = (out.status, out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("Subscribed (mid: 1): "))
        .unwrap_or_else(|| panic!("no SUBACK ({status}):\n{text}"));
    line.split(", ")
        .map(|c| c.trim().parse::<u8>().expect("SUBACK code"))
        .collect()
}
