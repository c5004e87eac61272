//! Real peer: mosquitto 2.x on 127.0.0.1 with an acl_file. Our mosquitto evaluator predicts
//! what the broker lets through (observed with mosquitto_pub / mosquitto_sub), including the
//! `dev1/x` client-id escape, which our strict semantics deny.
//!
//! With `CI=true` a missing mosquitto fails the test; elsewhere the test skips loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use iotsec_mqtt_acl::mosquitto_acl::{MosquittoAcl, MosquittoOperation};
use iotsec_mqtt_acl::{
    Action, ClientContext, CompiledPolicy, Effect, Policy, Request, SubscribeMode,
};

const ACL: &str = "\
topic read #
user alice
topic readwrite x/#
topic deny x/secret
pattern write devices/%c/#
pattern deny x/pdeny
pattern write u/%u/#
";

fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

struct Broker(Child);

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn publish(pub_bin: &PathBuf, port: u16, client_id: &str, username: Option<&str>, topic: &str) {
    let mut cmd = Command::new(pub_bin);
    cmd.args([
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-q",
        "1",
        "-i",
        client_id,
        "-t",
        topic,
        "-m",
        "x",
    ]);
    if let Some(u) = username {
        cmd.args(["-u", u]);
    }
    let status = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "mosquitto_pub {client_id} {topic}");
}

#[test]
fn mosquitto_mode_predicts_mosquitto_2() {
    let (Some(broker_bin), Some(pub_bin), Some(sub_bin)) = (
        find("mosquitto"),
        find("mosquitto_pub"),
        find("mosquitto_sub"),
    ) else {
        iotsec_test_support::peer::missing(
            "mosquitto_peer",
            "mosquitto / mosquitto-clients",
            "apt-get install mosquitto mosquitto-clients",
        );
        return;
    };
    let dir = std::env::temp_dir().join(format!("iotsec-acl-mosquitto-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let acl_path = dir.join("acl");
    std::fs::write(&acl_path, ACL).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\nacl_file {}\npersistence false\n",
            acl_path.display()
        ),
    )
    .unwrap();
    let _broker = Broker(
        Command::new(&broker_bin)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "mosquitto did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let mut sub = Command::new(&sub_bin)
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-q",
            "1",
            "-i",
            "watcher",
            "-t",
            "#",
            "-v",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = sub.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(topic) = line.split(' ').next() {
                let _ = tx.send(topic.to_string());
            }
        }
    });
    // Wait until the watcher's subscription is live.
    let ready = Instant::now();
    'ready: loop {
        assert!(
            ready.elapsed() < Duration::from_secs(10),
            "watcher never subscribed"
        );
        publish(&pub_bin, port, "dev0", None, "devices/dev0/ready");
        while let Ok(t) = rx.recv_timeout(Duration::from_millis(200)) {
            if t == "devices/dev0/ready" {
                break 'ready;
            }
        }
    }

    // (client id, username, topic)
    let cases: [(&str, Option<&str>, &str); 8] = [
        ("dev1", None, "devices/dev1/t"),
        ("dev1/x", None, "devices/dev1/x/t"),
        ("dev2", None, "devices/dev1/t2"),
        ("a1", Some("alice"), "x/secret"),
        ("a1", Some("alice"), "x/pdeny"),
        ("a1", Some("alice"), "x/open"),
        ("c1", Some("u/x"), "u/u/x/t"),
        ("c1", None, "u/c1/t"),
    ];
    for (id, user, topic) in cases {
        publish(&pub_bin, port, id, user, topic);
    }
    publish(&pub_bin, port, "dev0", None, "devices/dev0/done");
    let mut delivered = Vec::new();
    loop {
        let t = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("sentinel never arrived");
        if t == "devices/dev0/done" {
            break;
        }
        delivered.push(t);
    }
    let _ = sub.kill();
    let _ = sub.wait();

    let acl = MosquittoAcl::parse(ACL).unwrap();
    let mut observed = Vec::new();
    for (id, user, topic) in cases {
        let broker_allowed = delivered.iter().any(|d| d == topic);
        let predicted = acl
            .check(id, user, MosquittoOperation::Write, topic)
            .is_allowed();
        assert_eq!(
            predicted, broker_allowed,
            "{id} {user:?} {topic}: ours vs mosquitto"
        );
        observed.push(broker_allowed);
    }
    assert_eq!(
        observed,
        [true, true, false, false, true, true, true, false],
        "mosquitto 2.0 behaviour changed?"
    );
    // The delivery side: the watcher (anonymous, `topic read #`) may read; others may not.
    assert!(
        acl.check("watcher", None, MosquittoOperation::Read, "devices/dev1/t")
            .is_allowed()
    );
    assert!(
        !acl.check(
            "a1",
            Some("alice"),
            MosquittoOperation::Read,
            "devices/dev1/t"
        )
        .is_allowed()
    );

    // The escapes mosquitto allowed are denied by our strict semantics on the imported policy,
    // and reproduced by our mosquitto mode.
    let imported = Policy::from_document(acl.import().document).unwrap();
    let compiled = CompiledPolicy::compile(imported);
    let escape = ClientContext::new("dev1/x");
    let req = Request::new(Action::Publish, "devices/dev1/x/t");
    assert_eq!(compiled.check(&escape, &req).effect, Effect::Deny);
    assert_eq!(
        compiled
            .check_with_mode(&escape, &req, SubscribeMode::Mosquitto)
            .effect,
        Effect::Allow
    );
    let user_escape = ClientContext {
        client_id: "c1",
        username: Some("u/x"),
        ..Default::default()
    };
    assert_eq!(
        compiled
            .check(&user_escape, &Request::new(Action::Publish, "u/u/x/t"))
            .effect,
        Effect::Deny
    );
    let honest = ClientContext::new("dev1");
    assert_eq!(
        compiled
            .check(&honest, &Request::new(Action::Publish, "devices/dev1/t"))
            .effect,
        Effect::Allow
    );
    let _ = std::fs::remove_dir_all(&dir);
}
