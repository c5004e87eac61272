//! The plugin's deny stream (`plugin_opt_deny_topic`, one JSON event per denied request, see
//! `examples/mosquitto-plugin/README.md`): the service reads it over MQTT (rumqttc, mutual
//! TLS 1.3 with a certificate it issues itself for the configured reader CN) and quarantines
//! (`probing`) a device after [`super::DenyConfig::threshold`] denies on topics under another
//! device's `devices/{id}/` subtree (the rule is [`iotsec_mqtt_acl::probe`]). Each probe is
//! also counted in the fleet store, so a restart does not start the count again: a device
//! whose stored count reaches the threshold is quarantined too. Events the plugin's rate limit
//! suppressed carry no client and are not counted.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use iotsec_mqtt_acl::probe::{MAX_DENY_RECORD, Probe, ProbeDetector, parse_deny_record};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};

use super::http::App;
use super::{DenyConfig, ServeError};

/// Largest deny event read (the plugin's are a few hundred bytes).
const MAX_EVENT: usize = MAX_DENY_RECORD;

/// The client configuration: TLS 1.3, trusting the fleet root, presenting a certificate the
/// fleet CA issues now for `reader`.
fn tls_for(app: &App, reader: &str) -> Result<rustls::ClientConfig, ServeError> {
    let identity = super::identity::issue(&mut *app.ca()?, reader)?;
    identity.client_config()
}

/// Counts `probe` in the fleet store: the probe with its stored count, `None` when there is
/// no probe or the store failed (logged; this run's count still decides).
async fn persist_probe(app: &Arc<App>, probe: Option<Probe>) -> Option<(Probe, u32)> {
    let probe = probe?;
    let (store, device) = (app.store.clone(), probe.prober.clone());
    match tokio::task::spawn_blocking(move || store.record_probe(&device)).await {
        Ok(Ok(count)) => Some((probe, count)),
        Ok(Err(e)) => {
            eprintln!("iotsec-cloud: deny stream: probe not recorded: {e}");
            None
        }
        Err(e) => {
            eprintln!("iotsec-cloud: deny stream: probe not recorded: {e}");
            None
        }
    }
}

/// Follows the deny stream until the task is aborted (reconnecting after a second when the
/// broker goes away).
pub async fn follow(app: Arc<App>, config: DenyConfig) {
    let tls = {
        let (app, reader) = (app.clone(), config.reader.clone());
        match tokio::task::spawn_blocking(move || tls_for(&app, &reader)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                eprintln!("iotsec-cloud: deny stream not followed: {e}");
                return;
            }
            Err(e) => {
                eprintln!("iotsec-cloud: deny stream not followed: {e}");
                return;
            }
        }
    };
    let mut options = MqttOptions::new(
        config.reader.clone(),
        config.broker.ip().to_string(),
        config.broker.port(),
    );
    options.set_keep_alive(Duration::from_secs(30));
    options.set_max_packet_size(MAX_EVENT, MAX_EVENT);
    options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
        Arc::new(tls),
    )));
    let (client, mut events) = AsyncClient::new(options, 16);
    // A threshold of 0 would never fire: it counts as 1 (fail closed).
    let threshold = NonZeroU32::new(config.threshold).unwrap_or(NonZeroU32::MIN);
    let mut detector = ProbeDetector::new(threshold);
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                if let Err(e) = client
                    .subscribe(config.topic.clone(), QoS::AtMostOnce)
                    .await
                {
                    eprintln!("iotsec-cloud: deny stream: subscribing: {e}");
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let Ok(record) = parse_deny_record(&p.payload) else {
                    continue;
                };
                // The stored count goes on across restarts; the detector's is this run's.
                let stored = persist_probe(&app, record.probe()).await;
                let fired = detector.observe(&record).or_else(|| {
                    stored
                        .filter(|(_, count)| *count == threshold.get())
                        .map(|(probe, _)| probe)
                });
                if let Some(Probe {
                    prober: device,
                    owner,
                }) = fired
                {
                    let app = app.clone();
                    let done =
                        tokio::task::spawn_blocking(move || app.quarantine_prober(&device, &owner))
                            .await;
                    if let Ok(Err(e)) = done {
                        eprintln!("iotsec-cloud: deny stream: quarantine failed: {e}");
                    }
                }
            }
            Ok(_) => {}
            Err(e) => {
                eprintln!("iotsec-cloud: deny stream: {e}; reconnecting");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
