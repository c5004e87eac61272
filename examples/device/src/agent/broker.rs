//! The device's MQTT 5 session (rumqttc) over mutual TLS 1.3: client id = certificate CN (the
//! broker takes the username from the certificate, `use_identity_as_username`).
//!
//! Refusals are read from the acknowledgements (MQTT 5.0 §3.4.2.1 PUBACK and §3.9.3 SUBACK
//! reason codes, 0x87 "not authorized" from the iotsec plugin): every publish is QoS 1 and
//! waits for its PUBACK, every subscription for its SUBACK, within the step timeout.

use std::sync::Arc;
use std::time::Duration;

use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Packet, PubAckReason, SubscribeReasonCode};
use rumqttc::v5::{AsyncClient, Event, EventLoop, MqttOptions};
use rumqttc::{TlsConfiguration, Transport};

/// How the broker answered a publish or a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ack {
    /// Granted (PUBACK 0x00/0x10, SUBACK granted QoS).
    Granted,
    /// Refused with this reason code (>= 0x80).
    Refused(u8),
}

/// The session ended or could not be made: why, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Down(pub(crate) String);

/// The PUBACK reason code (MQTT 5.0 §3.4.2.1).
fn puback_code(reason: &PubAckReason) -> u8 {
    match reason {
        PubAckReason::Success => 0x00,
        PubAckReason::NoMatchingSubscribers => 0x10,
        PubAckReason::UnspecifiedError => 0x80,
        PubAckReason::ImplementationSpecificError => 0x83,
        PubAckReason::NotAuthorized => 0x87,
        PubAckReason::TopicNameInvalid => 0x90,
        PubAckReason::PacketIdentifierInUse => 0x91,
        PubAckReason::QuotaExceeded => 0x97,
        PubAckReason::PayloadFormatInvalid => 0x99,
    }
}

/// The SUBACK reason code (MQTT 5.0 §3.9.3).
fn suback_code(reason: &SubscribeReasonCode) -> u8 {
    match reason {
        SubscribeReasonCode::Success(qos) => *qos as u8,
        SubscribeReasonCode::Failure | SubscribeReasonCode::Unspecified => 0x80,
        SubscribeReasonCode::ImplementationSpecific => 0x83,
        SubscribeReasonCode::NotAuthorized => 0x87,
        SubscribeReasonCode::TopicFilterInvalid => 0x8F,
        SubscribeReasonCode::PkidInUse => 0x91,
        SubscribeReasonCode::QuotaExceeded => 0x97,
        SubscribeReasonCode::SharedSubscriptionsNotSupported => 0x9E,
        SubscribeReasonCode::SubscriptionIdNotSupported => 0xA1,
        SubscribeReasonCode::WildcardSubscriptionsNotSupported => 0xA2,
    }
}

/// The broker side of one device.
pub(crate) struct Broker {
    addr: String,
    host: String,
    port: u16,
    id: String,
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
    session: Option<(AsyncClient, EventLoop)>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Broker({} as {})", self.addr, self.id)
    }
}

impl Broker {
    /// A broker at `addr` (`HOST:PORT`) for client `id`; not connected yet.
    pub(crate) fn new(
        addr: &str,
        id: &str,
        tls: Arc<rustls::ClientConfig>,
        timeout: Duration,
    ) -> Result<Broker, String> {
        let (host, port) = addr
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.trim_matches(['[', ']']), p.parse::<u16>().ok()?)))
            .ok_or_else(|| format!("{addr:?} is not HOST:PORT"))?;
        Ok(Broker {
            addr: addr.to_owned(),
            host: host.to_owned(),
            port,
            id: id.to_owned(),
            tls,
            timeout,
            session: None,
        })
    }

    /// `HOST:PORT`.
    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    /// The TLS configuration of the next connection (a renewed certificate).
    pub(crate) fn set_tls(&mut self, tls: Arc<rustls::ClientConfig>) {
        self.tls = tls;
    }

    /// Whether a session is up.
    pub(crate) fn is_connected(&self) -> bool {
        self.session.is_some()
    }

    /// Connects (dropping any session): Ok once the CONNACK accepted the session.
    pub(crate) async fn connect(&mut self) -> Result<(), Down> {
        self.disconnect().await;
        let mut options = MqttOptions::new(self.id.clone(), self.host.clone(), self.port);
        options
            .set_keep_alive(Duration::from_secs(30))
            .set_clean_start(true)
            .set_connection_timeout(self.timeout.as_secs().max(1))
            // rumqttc sizes its in-flight table by this bound (u16::MAX by default: about
            // 10 MiB per session); the agent has one publish in flight at a time.
            .set_outgoing_inflight_upper_limit(4)
            .set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
                Arc::clone(&self.tls),
            )));
        let (client, mut eventloop) = AsyncClient::new(options, 4);
        let connack = tokio::time::timeout(self.timeout, async {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
                    Ok(_) => {}
                    Err(e) => return Err(Down(e.to_string())),
                }
            }
        })
        .await
        .unwrap_or_else(|_| Err(Down("no CONNACK within the step timeout".into())));
        connack?;
        self.session = Some((client, eventloop));
        Ok(())
    }

    /// Ends the session (DISCONNECT, best effort).
    pub(crate) async fn disconnect(&mut self) {
        if let Some((client, mut eventloop)) = self.session.take()
            && client.try_disconnect().is_ok()
        {
            let _ = tokio::time::timeout(Duration::from_millis(500), async {
                while eventloop.poll().await.is_ok() {}
            })
            .await;
        }
    }

    /// Polls the session until it ends (for the agent's idle loop; keeps the pings going).
    /// Never returns while no session is up.
    pub(crate) async fn idle(&mut self) -> Down {
        let Some((_, eventloop)) = self.session.as_mut() else {
            return std::future::pending().await;
        };
        let down = loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::Disconnect(d))) => {
                    break Down(format!("the broker disconnected: {:?}", d.reason_code));
                }
                Ok(_) => {}
                Err(e) => break Down(e.to_string()),
            }
        };
        self.session = None;
        down
    }

    /// Waits for the acknowledgement `pick` recognizes, keeping the session polled.
    async fn acknowledged(&mut self, pick: impl Fn(&Packet) -> Option<Ack>) -> Result<Ack, Down> {
        let Some((_, eventloop)) = self.session.as_mut() else {
            return Err(Down("not connected".into()));
        };
        let waited = tokio::time::timeout(self.timeout, async {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::Disconnect(d))) => {
                        return Err(Down(format!(
                            "the broker disconnected: {:?}",
                            d.reason_code
                        )));
                    }
                    Ok(Event::Incoming(packet)) => {
                        if let Some(ack) = pick(&packet) {
                            return Ok(ack);
                        }
                    }
                    Ok(Event::Outgoing(_)) => {}
                    Err(e) => return Err(Down(e.to_string())),
                }
            }
        })
        .await
        .unwrap_or_else(|_| Err(Down("no acknowledgement within the step timeout".into())));
        if waited.is_err() {
            self.session = None;
        }
        waited
    }

    /// Publishes at QoS 1 and waits for the PUBACK.
    pub(crate) async fn publish(&mut self, topic: &str, payload: Vec<u8>) -> Result<Ack, Down> {
        let Some((client, _)) = self.session.as_ref() else {
            return Err(Down("not connected".into()));
        };
        client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await
            .map_err(|e| Down(e.to_string()))?;
        self.acknowledged(|packet| match packet {
            Packet::PubAck(ack) => Some(match puback_code(&ack.reason) {
                code @ 0x80.. => Ack::Refused(code),
                _ => Ack::Granted,
            }),
            _ => None,
        })
        .await
    }

    /// Subscribes at QoS 1 and waits for the SUBACK (then unsubscribes a granted filter: a
    /// probe does not stay subscribed).
    pub(crate) async fn subscribe(&mut self, filter: &str) -> Result<Ack, Down> {
        let Some((client, _)) = self.session.as_ref() else {
            return Err(Down("not connected".into()));
        };
        client
            .subscribe(filter, QoS::AtLeastOnce)
            .await
            .map_err(|e| Down(e.to_string()))?;
        let ack = self
            .acknowledged(|packet| match packet {
                Packet::SubAck(ack) => Some(match ack.return_codes.first().map(suback_code) {
                    Some(0..=2) => Ack::Granted,
                    Some(code) => Ack::Refused(code),
                    None => Ack::Refused(0x80),
                }),
                _ => None,
            })
            .await?;
        if ack == Ack::Granted
            && let Some((client, _)) = self.session.as_ref()
        {
            client
                .unsubscribe(filter)
                .await
                .map_err(|e| Down(e.to_string()))?;
            self.acknowledged(|packet| {
                matches!(packet, Packet::UnsubAck(_)).then_some(Ack::Granted)
            })
            .await?;
        }
        Ok(ack)
    }
}
