//! Agents enrolled over EST connect to a real mosquitto (TLS 1.3, mutual TLS with their EST
//! certificates, the iotsec plugin enforcing the fleet policy) with MQTT 5: a device's own
//! telemetry is acknowledged; another device's topics are refused with reason code 0x87 in
//! the SUBACK and in the PUBACK; once its certificate is on the listener's CRL, the device
//! cannot reconnect while another device can.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::agent::{Fleet, Running};
use common::broker::{Mosquitto, revoke, write_crl};
use iotsec_device::agent::{AgentCommand, AgentEvent, AgentExit};

const NOT_AUTHORIZED: u8 = 0x87;

/// Starts device `id` and reads its start events: its certificate serial.
async fn start(fleet: &Fleet, id: &str, broker: &str) -> (Running, String) {
    let mut dev = Running::start(fleet.config(id, broker));
    assert!(matches!(dev.next().await, AgentEvent::Booted { .. }));
    let AgentEvent::Enrolled { serial, .. } = dev.next().await else {
        panic!("{id} not enrolled");
    };
    assert_eq!(
        dev.next().await,
        AgentEvent::Connected {
            broker: broker.to_owned()
        }
    );
    (dev, serial)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_topic_delivered_other_topics_refused_revoked_cannot_reconnect() {
    let fleet = Fleet::new("agent-broker");
    let Some(mut broker) = Mosquitto::start(
        "own_topic_delivered_other_topics_refused_revoked_cannot_reconnect",
        &fleet.dir,
        &fleet.ca_state,
    ) else {
        return;
    };
    let addr = broker.addr();
    let (mut a, serial_a) = start(&fleet, "dev-a", &addr).await;
    let (mut b, _) = start(&fleet, "dev-b", &addr).await;

    assert_eq!(
        a.ask(AgentCommand::Publish).await,
        AgentEvent::Published {
            topic: "devices/dev-a/telemetry".into()
        }
    );
    let topic = "devices/dev-b/telemetry".to_owned();
    a.commands
        .send(AgentCommand::Probe {
            topics: vec![topic.clone(), "devices/dev-a/cmd/reboot".into()],
        })
        .await
        .unwrap();
    assert_eq!(
        a.next().await,
        AgentEvent::SubscribeRefused {
            topic: topic.clone(),
            reason_code: NOT_AUTHORIZED
        }
    );
    assert_eq!(
        a.next().await,
        AgentEvent::PublishRefused {
            topic,
            reason_code: NOT_AUTHORIZED
        }
    );
    // Its own command topic: subscribing is granted, publishing to it is not.
    assert_eq!(
        a.next().await,
        AgentEvent::Subscribed {
            topic: "devices/dev-a/cmd/reboot".into()
        }
    );
    assert_eq!(
        a.next().await,
        AgentEvent::PublishRefused {
            topic: "devices/dev-a/cmd/reboot".into(),
            reason_code: NOT_AUTHORIZED
        }
    );
    // The session survived the refusals.
    assert!(matches!(
        a.ask(AgentCommand::Publish).await,
        AgentEvent::Published { .. }
    ));

    // dev-a is revoked: the listener restarts with the new CRL and drops both sessions.
    revoke(&fleet.ca_state, &serial_a);
    write_crl(&fleet.dir, &fleet.ca_state);
    broker.restart();
    assert!(matches!(a.next().await, AgentEvent::Disconnected { .. }));
    assert!(matches!(b.next().await, AgentEvent::Disconnected { .. }));
    let AgentEvent::Disconnected { reason } = a.ask(AgentCommand::Reconnect).await else {
        panic!("the revoked device reconnected");
    };
    // rustls reads the listener's TLS alert.
    assert!(reason.contains("CertificateRevoked"), "{reason}");
    assert_eq!(
        b.ask(AgentCommand::Reconnect).await,
        AgentEvent::Connected {
            broker: addr.clone()
        }
    );
    assert_eq!(
        b.ask(AgentCommand::Publish).await,
        AgentEvent::Published {
            topic: "devices/dev-b/telemetry".into()
        }
    );
    // Publishing without a session tries to connect first, and is refused again.
    assert!(matches!(
        a.ask(AgentCommand::Publish).await,
        AgentEvent::Disconnected { .. }
    ));
    assert!(
        broker
            .log_text()
            .contains("SSL routines::certificate verify failed"),
        "{}",
        broker.log_text()
    );
    assert_eq!(a.stop().await, AgentExit::Stopped);
    assert_eq!(b.stop().await, AgentExit::Stopped);
}
