//! The plugin's deny stream (`plugin_opt_deny_topic`, one JSON event per denied request, see
//! `examples/mosquitto-plugin/README.md`): the service reads it over MQTT (rumqttc, mutual
//! TLS 1.3 with a certificate it issues itself for the configured reader CN) and quarantines
//! (`probing`) a device after [`super::DenyConfig::threshold`] denies on topics under another
//! device's `devices/{id}/` subtree. Each counted probe is recorded in the fleet store and the
//! counts are restored at start, so a restart does not start them again. Events the plugin's
//! rate limit suppressed carry no client and are not counted.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use serde::Deserialize;

use super::http::App;
use super::{DenyConfig, ServeError};

/// Largest deny event read (the plugin's are a few hundred bytes).
const MAX_EVENT: usize = 4096;

/// One deny event (the fields the service acts on; the plugin's others are ignored).
#[derive(Debug, Deserialize)]
pub struct DenyEvent {
    /// The MQTT client id.
    pub client_id: Option<String>,
    /// The username (the certificate CN with `use_identity_as_username`).
    pub username: Option<String>,
    /// The topic or filter that was denied.
    pub topic: Option<String>,
}

/// The device a denied request probed: the owner of `devices/{id}/...` when that is not the
/// requester itself.
pub fn probed_other_device(event: &DenyEvent) -> Option<(String, String)> {
    let who = event.username.as_ref().or(event.client_id.as_ref())?;
    let topic = event.topic.as_deref()?;
    let owner = topic.strip_prefix("devices/")?.split('/').next()?;
    (owner != who).then(|| (who.clone(), owner.to_owned()))
}

/// Counts probes per device; says when one reaches the threshold (once).
#[derive(Debug, Default)]
pub struct ProbeCounter {
    counts: HashMap<String, u32>,
}

impl ProbeCounter {
    /// A counter that goes on from stored counts.
    pub fn restored(counts: impl IntoIterator<Item = (String, u32)>) -> Self {
        Self {
            counts: counts.into_iter().collect(),
        }
    }

    /// Counts one probe by `device`; true exactly when it reaches `threshold`.
    pub fn count(&mut self, device: &str, threshold: u32) -> bool {
        let n = self.counts.entry(device.to_owned()).or_insert(0);
        *n = n.saturating_add(1);
        *n == threshold
    }
}

/// The client configuration: TLS 1.3, trusting the fleet root, presenting a certificate the
/// fleet CA issues now for `reader`.
fn tls_for(app: &App, reader: &str) -> Result<rustls::ClientConfig, ServeError> {
    let identity = super::identity::issue(&mut *app.ca()?, reader)?;
    identity.client_config()
}

/// The probe counts recorded before this start (none when the store does not answer: counting
/// starts again, and the failure is logged).
async fn stored_probes(app: &Arc<App>) -> Vec<(String, u32)> {
    let store = app.store.clone();
    match tokio::task::spawn_blocking(move || store.probe_counts()).await {
        Ok(Ok(counts)) => counts,
        Ok(Err(e)) => {
            eprintln!("iotsec-cloud: deny stream: stored probe counts not read: {e}");
            Vec::new()
        }
        Err(e) => {
            eprintln!("iotsec-cloud: deny stream: stored probe counts not read: {e}");
            Vec::new()
        }
    }
}

/// Records one probe by `device` in the store (a failure is logged; the count in memory goes
/// on, so the quarantine does not wait for the store).
async fn persist_probe(app: &Arc<App>, device: &str) {
    let (store, device) = (app.store.clone(), device.to_owned());
    match tokio::task::spawn_blocking(move || store.record_probe(&device)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => eprintln!("iotsec-cloud: deny stream: probe not recorded: {e}"),
        Err(e) => eprintln!("iotsec-cloud: deny stream: probe not recorded: {e}"),
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
    let mut counter = ProbeCounter::restored(stored_probes(&app).await);
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
            Ok(Event::Incoming(Packet::Publish(p))) if p.payload.len() <= MAX_EVENT => {
                let Ok(event) = serde_json::from_slice::<DenyEvent>(&p.payload) else {
                    continue;
                };
                let Some((device, owner)) = probed_other_device(&event) else {
                    continue;
                };
                persist_probe(&app, &device).await;
                if counter.count(&device, config.threshold) {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn event(json: &str) -> DenyEvent {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn only_requests_under_another_devices_subtree_are_probes() {
        let other = event(
            r#"{"action":"publish","client_id":"dev9","reason":"no_matching_rule","suppressed":0,"topic":"devices/dev8/telemetry","username":"dev9"}"#,
        );
        assert_eq!(
            probed_other_device(&other),
            Some(("dev9".into(), "dev8".into()))
        );
        let own =
            event(r#"{"client_id":"dev9","topic":"devices/dev9/telemetry","username":"dev9"}"#);
        assert_eq!(probed_other_device(&own), None);
        let elsewhere = event(r#"{"client_id":"dev9","topic":"$SYS/broker","username":"dev9"}"#);
        assert_eq!(probed_other_device(&elsewhere), None);
        // The username (certificate CN) is the identity, not a client id it chose.
        let spoof = event(r#"{"client_id":"dev8","topic":"devices/dev8/cmd/x","username":"dev9"}"#);
        assert_eq!(
            probed_other_device(&spoof),
            Some(("dev9".into(), "dev8".into()))
        );
        let wildcard =
            event(r#"{"client_id":"dev9","topic":"devices/+/telemetry","username":null}"#);
        assert_eq!(
            probed_other_device(&wildcard),
            Some(("dev9".into(), "+".into()))
        );
    }

    #[test]
    fn the_threshold_fires_once() {
        let mut c = ProbeCounter::default();
        let fired: Vec<bool> = (0..5).map(|_| c.count("dev9", 3)).collect();
        assert_eq!(fired, [false, false, true, false, false]);
        assert!(!c.count("dev8", 3));
        // Restored after a restart with two probes counted: the third fires.
        let mut c = ProbeCounter::restored([("dev9".to_owned(), 2)]);
        assert!(c.count("dev9", 3));
        assert!(!c.count("dev8", 3));
    }
}
