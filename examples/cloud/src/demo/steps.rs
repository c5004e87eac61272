//! The nine steps of the demo, each checking its expected outcomes against what the cloud's
//! registry, the devices' events and the broker's log show. A step that needs a component that
//! did not start reports `not run` (a failure).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use iotsec_fleet_api::{DeviceRecord, RolloutCommand};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::mpsc;

use super::broker::{self, Broker};
use super::cloud::{self, Cloud, CloudSetup, PROBE_THRESHOLD};
use super::fleet::{Cmd, Ev, Fleet, FleetConfig, Hub, Tagged, UpdateResult, device_id};
use super::operator::{Operator, tls_config};
use super::pki::{self, FleetPki};
use super::progress::Ui;
use super::release::{self, Publisher};
use super::report::{Latencies, Status, StepOutcome};

/// The smallest fleet the steps can be shown with: five devices have roles (wrong measurement,
/// prober, revoked, decommissioned, canary) and the rest is the healthy fleet.
pub const MIN_DEVICES: i64 = 10;

pub use super::step_names::STEPS;

/// Rollout stages in basis points: 1% -> 10% -> 100%.
const STAGES_BPS: [u32; 3] = [100, 1000, 10_000];
/// The role of each of the first devices.
const ROGUE: usize = 0;
const PROBER: usize = 1;
const REVOKED: usize = 2;
const RETIRED: usize = 3;

/// What the demo was started with.
pub struct Setup {
    /// The state directory.
    pub dir: PathBuf,
    /// Number of devices.
    pub devices: usize,
    /// The mosquitto program.
    pub broker: PathBuf,
    /// The plugin library.
    pub plugin: PathBuf,
    /// Time of the run.
    pub now: OffsetDateTime,
}

/// What a step saw.
struct Observation {
    ok: bool,
    observed: String,
    latencies: Latencies,
    details: Value,
}

/// Why a step has no observation.
enum Stop {
    /// A component it needs is missing.
    NotRun(String),
    /// It broke off.
    Failed(String),
}

type Checked = Result<Observation, Stop>;

fn failed(e: impl std::fmt::Display) -> Stop {
    Stop::Failed(e.to_string())
}

struct Demo {
    setup: Setup,
    ui: Ui,
    pki: Option<FleetPki>,
    publisher: Option<Publisher>,
    broker: Option<Broker>,
    cloud: Option<Cloud>,
    cloud_error: Option<String>,
    operator: Option<Operator>,
    fleet: Option<Fleet>,
    fleet_error: Option<String>,
    hub: Hub,
    hub_tx: mpsc::UnboundedSender<Tagged>,
    cohorts: BTreeMap<usize, u32>,
    /// Why publishes failed (no acknowledgement, no session), by error: diagnostics.
    publish_errors: BTreeMap<String, usize>,
}

/// Starts everything, walks the steps and stops everything: the outcomes (one per step) and
/// why the walk stopped early, if it did (Ctrl-C, SIGTERM).
pub async fn walk(setup: Setup) -> (Vec<StepOutcome>, Option<String>) {
    let (hub, hub_tx) = Hub::new();
    let mut demo = Demo {
        ui: Ui::new(STEPS.len() as u64),
        setup,
        pki: None,
        publisher: None,
        broker: None,
        cloud: None,
        cloud_error: None,
        operator: None,
        fleet: None,
        fleet_error: None,
        hub,
        hub_tx,
        cohorts: BTreeMap::new(),
        publish_errors: BTreeMap::new(),
    };
    let mut outcomes = Vec::new();
    let interrupted = tokio::select! {
        () = demo.all(&mut outcomes) => None,
        why = shutdown_signal() => Some(why),
    };
    for (name, expected) in STEPS.iter().skip(outcomes.len()) {
        let why = interrupted.clone().unwrap_or_else(|| "stopped".into());
        outcomes.push(StepOutcome::not_run(name, expected, why));
    }
    demo.cleanup().await;
    (outcomes, interrupted)
}

async fn shutdown_signal() -> String {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "interrupted (Ctrl-C)".into(),
        () = term => "terminated (SIGTERM)".into(),
    }
}

impl Demo {
    async fn all(&mut self, outcomes: &mut Vec<StepOutcome>) {
        for (index, (name, expected)) in STEPS.iter().enumerate() {
            let number = index as u64 + 1;
            self.ui.step(number, name);
            let started = Instant::now();
            let checked = match index {
                0 => self.ca_tls().await,
                1 => self.enroll().await,
                2 => self.attestation().await,
                3 => self.sbom_gate().await,
                4 => self.rollout().await,
                5 => self.manifest_replay().await,
                6 => self.probe_detection().await,
                7 => self.revocation().await,
                _ => self.decommission().await,
            };
            let mut outcome = match checked {
                Ok(o) => StepOutcome {
                    name,
                    expected,
                    observed: o.observed,
                    status: if o.ok { Status::Passed } else { Status::Failed },
                    elapsed: Duration::ZERO,
                    latencies: o.latencies,
                    details: o.details,
                },
                Err(Stop::NotRun(why)) => StepOutcome::not_run(name, expected, why),
                Err(Stop::Failed(why)) => StepOutcome {
                    status: Status::Failed,
                    observed: why,
                    ..StepOutcome::not_run(name, expected, "")
                },
            };
            outcome.elapsed = started.elapsed();
            self.ui
                .step_done(number, name, outcome.status.word(), outcome.elapsed);
            outcomes.push(outcome);
        }
    }

    async fn cleanup(mut self) {
        self.ui
            .note("stopping the devices, the cloud and the broker");
        if let Some(fleet) = self.fleet.take() {
            fleet.stop().await;
        }
        if let Some(cloud) = self.cloud.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), cloud.shutdown()).await;
        }
        if let Some(broker) = self.broker.take() {
            broker.stop().await;
        }
        self.ui.finish();
    }

    fn n(&self) -> usize {
        self.setup.devices
    }

    fn need_operator(&self) -> Result<&Operator, Stop> {
        self.operator.as_ref().ok_or_else(|| {
            Stop::NotRun(format!(
                "no cloud: {}",
                self.cloud_error
                    .as_deref()
                    .unwrap_or("step 1 did not start it")
            ))
        })
    }

    fn need_fleet(&self) -> Result<&Fleet, Stop> {
        self.fleet.as_ref().ok_or_else(|| {
            Stop::NotRun(format!(
                "no devices: {}",
                self.fleet_error
                    .as_deref()
                    .unwrap_or("step 2 did not start them")
            ))
        })
    }

    fn need_publisher(&self) -> Result<&Publisher, Stop> {
        self.publisher
            .as_ref()
            .ok_or_else(|| Stop::NotRun("no release keys: step 1 failed".into()))
    }

    /// Bounded waits scale with the fleet: a base plus a per-device allowance.
    fn limit(&self, base_secs: u64) -> Duration {
        Duration::from_secs(base_secs) + Duration::from_millis(250 * self.n() as u64)
    }

    /// Step 1: the CA, the broker's TLS listener, the cloud.
    async fn ca_tls(&mut self) -> Checked {
        let dir = self.setup.dir.clone();
        let pki = pki::create(&dir, self.setup.now).map_err(failed)?;
        self.publisher = Some(Publisher::new().map_err(failed)?);
        let port = broker::free_port().map_err(failed)?;
        let files = broker::configure(&dir.join("broker"), port, &self.setup.plugin, &pki)
            .map_err(failed)?;
        let broker = Broker::start(&self.setup.broker, files, port)
            .await
            .map_err(failed)?;
        let operator_tls =
            tls_config(&pki, Some((&pki.operator_cert, &pki.operator_key))).map_err(failed)?;
        let anonymous_tls = tls_config(&pki, None).map_err(failed)?;
        let with_cert = mqtt_connects(operator_tls.clone(), port, "operator-check").await;
        let without_cert = mqtt_connects(anonymous_tls.clone(), port, "anonymous-check").await;
        let mut ok = with_cert.is_ok() && without_cert.is_err();
        let mut observed = vec![
            "CA root + intermediate; broker and operator certificates issued".to_owned(),
            format!(
                "broker 127.0.0.1:{port} TLS 1.3: fleet certificate {}, no certificate {}",
                match &with_cert {
                    Ok(()) => "connects".to_owned(),
                    Err(e) => format!("REFUSED ({e})"),
                },
                match &without_cert {
                    Ok(()) => "CONNECTS".to_owned(),
                    Err(_) => "refused".to_owned(),
                }
            ),
        ];
        let trust_root = self.need_publisher()?.root_document.clone();
        let started = cloud::start(CloudSetup {
            pki: &pki,
            broker: broker.files(),
            broker_pid: broker.pid(),
            broker_port: port,
            bootstrap: (BOOTSTRAP_USER, &bootstrap_password()),
            trust_root: &trust_root,
        })
        .await;
        self.broker = Some(broker);
        let mut cloud_details = Value::Null;
        match started {
            Ok(cloud) => {
                let operator = Operator::new(&cloud.url, operator_tls).map_err(failed)?;
                let anonymous = Operator::new(&cloud.url, anonymous_tls).map_err(failed)?;
                let admin = operator.devices().await;
                let refused = anonymous.get_status(iotsec_fleet_api::paths::DEVICES).await;
                let admin_ok = admin.as_ref().is_ok_and(Vec::is_empty);
                let anonymous_refused = matches!(refused, Ok(401));
                ok &= admin_ok && anonymous_refused;
                observed.push(format!(
                    "cloud {}: operator {}, no certificate {}",
                    cloud.url,
                    match &admin {
                        Ok(d) => format!("sees {} devices", d.len()),
                        Err(e) => format!("REFUSED ({e})"),
                    },
                    match &refused {
                        Ok(s) => format!("HTTP {s}"),
                        Err(e) => e.to_string(),
                    }
                ));
                cloud_details = json!({ "url": cloud.url });
                self.cloud = Some(cloud);
                self.operator = Some(operator);
            }
            Err(e) => {
                ok = false;
                observed.push(format!("cloud NOT started: {e}"));
                self.cloud_error = Some(e);
            }
        }
        self.pki = Some(pki);
        Ok(Observation {
            ok,
            observed: observed.join("; "),
            latencies: Latencies::default(),
            details: json!({
                "broker_port": port,
                "broker_mtls": with_cert.is_ok(),
                "broker_refuses_no_certificate": without_cert.is_err(),
                "cloud": cloud_details,
            }),
        })
    }

    /// Step 2: every device enrolls and connects.
    async fn enroll(&mut self) -> Checked {
        self.need_operator()?;
        let pki = self
            .pki
            .as_ref()
            .ok_or_else(|| Stop::NotRun("no PKI".into()))?;
        let broker_port = self.broker.as_ref().map_or(0, |b| b.port);
        let cloud = self
            .cloud
            .as_ref()
            .map(|c| c.url.clone())
            .unwrap_or_default();
        let config = FleetConfig {
            cloud,
            broker_port,
            ca: pki.chain.clone(),
            trust_root: self.need_publisher()?.root_document.clone(),
            bootstrap_user: BOOTSTRAP_USER.into(),
            bootstrap_password: bootstrap_password(),
            devices_dir: self.setup.dir.join("devices"),
        };
        let n = self.n();
        let mark = self.hub.mark();
        let fleet = match Fleet::spawn(n, &config, &self.hub_tx) {
            Ok(f) => f,
            Err(e) => {
                self.fleet_error = Some(e.clone());
                return Err(Stop::NotRun(e));
            }
        };
        let mut work = self.ui.work("enrolled", n as u64);
        let limit = self.limit(30);
        let enrolled = self
            .hub
            .wait(mark, n, limit, |t| matches!(t.event, Ev::Enrolled))
            .await;
        for _ in &enrolled {
            work.inc();
        }
        drop(work);
        let connected = self
            .hub
            .wait(mark, n, limit, |t| matches!(t.event, Ev::Connected))
            .await;
        let mut latencies = Latencies::default();
        for t in &enrolled {
            if let Some(s) = fleet.started.get(t.device) {
                latencies.push(t.at.saturating_duration_since(*s));
            }
        }
        let registry = self.need_operator()?.devices().await.map_err(failed)?;
        let ids: BTreeSet<&str> = fleet.ids.iter().map(String::as_str).collect();
        let registered = registry
            .iter()
            .filter(|r| ids.contains(r.id.as_str()) && !r.cert_serial.is_empty())
            .count();
        self.cohorts = cohorts(&fleet, &registry);
        let distinct: BTreeSet<usize> = connected.iter().map(|t| t.device).collect();
        // Enrollment attempts that failed and were tried again (the agent reports each): each
        // one re-submits the same CSR.
        self.hub.drain();
        let retries = self
            .hub
            .since(mark, |t| {
                matches!(t.event, Ev::Error(_))
                    && !enrolled.iter().any(|e| e.device == t.device && e.at < t.at)
            })
            .len();
        let ok = enrolled.len() == n && distinct.len() == n && registered == n;
        self.fleet = Some(fleet);
        Ok(Observation {
            ok,
            observed: format!(
                "{}/{n} enrolled ({retries} attempts retried), {}/{n} connected over mTLS, {registered}/{n} in the registry",
                enrolled.len(),
                distinct.len()
            ),
            latencies,
            details: json!({"enrolled": enrolled.len(), "connected": distinct.len(), "registered": registered, "retries": retries}),
        })
    }

    /// Publishes from `devices` until each was accepted or refused `tries` times in a row
    /// (the posture feed reaches the broker a moment after the cloud decides): (accepted,
    /// refused) device sets.
    async fn publish_round(
        &mut self,
        devices: &[usize],
        want_accepted: bool,
        tries: usize,
    ) -> Result<(BTreeSet<usize>, BTreeSet<usize>), Stop> {
        // Each device's latest answer: accepted (true) or refused (false).
        let mut latest: BTreeMap<usize, bool> = BTreeMap::new();
        let mut pending: Vec<usize> = devices.to_vec();
        for attempt in 0..tries {
            if pending.is_empty() {
                break;
            }
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            let mark = self.hub.mark();
            let fleet = self.need_fleet()?;
            fleet.send_all(&pending, &Cmd::Publish).await;
            let wanted: BTreeSet<usize> = pending.iter().copied().collect();
            let limit = self.limit(10);
            let answers = self
                .hub
                .wait(mark, pending.len(), limit, |t| {
                    wanted.contains(&t.device)
                        && match &t.event {
                            Ev::Published(topic) | Ev::PublishRefused(topic) => {
                                *topic == format!("devices/{}/telemetry", device_id(t.device))
                            }
                            // A failed publish (no acknowledgement, no session) is tried again.
                            Ev::Error(_) | Ev::Disconnected(_) => true,
                            _ => false,
                        }
                })
                .await;
            for t in answers {
                match t.event {
                    Ev::Published(_) => {
                        latest.insert(t.device, true);
                    }
                    Ev::PublishRefused(_) => {
                        latest.insert(t.device, false);
                    }
                    Ev::Error(code) | Ev::Disconnected(code) => {
                        *self.publish_errors.entry(code).or_default() += 1;
                    }
                    _ => {}
                }
            }
            // Asked again: the devices whose latest answer is not the wanted one.
            pending = devices
                .iter()
                .copied()
                .filter(|d| latest.get(d) != Some(&want_accepted))
                .collect();
        }
        let with = |answer: bool| -> BTreeSet<usize> {
            devices
                .iter()
                .copied()
                .filter(|d| latest.get(d) == Some(&answer))
                .collect()
        };
        Ok((with(true), with(false)))
    }

    /// Step 3: attestation gates access; a wrong measurement is quarantined.
    async fn attestation(&mut self) -> Checked {
        self.need_operator()?;
        self.need_fleet()?;
        let n = self.n();
        // Before attesting, a device's posture is unknown: the broker refuses its telemetry.
        let (before_ok, _) = self.publish_round(&[PROBER], false, 1).await?;
        let gated = before_ok.is_empty();
        self.need_fleet()?.send(ROGUE, Cmd::WrongMeasurement).await;
        let mark = self.hub.mark();
        let sent = Instant::now();
        let all: Vec<usize> = (0..n).collect();
        self.need_fleet()?.send_all(&all, &Cmd::Attest).await;
        let mut work = self.ui.work("attested", n as u64);
        let limit = self.limit(30);
        let attested = self
            .hub
            .wait(mark, n, limit, |t| matches!(t.event, Ev::Attested(..)))
            .await;
        for _ in &attested {
            work.inc();
        }
        drop(work);
        let mut latencies = Latencies::default();
        let mut accepted = 0;
        let mut rogue_code = None;
        for t in &attested {
            latencies.push(t.at.saturating_duration_since(sent));
            if let Ev::Attested(ok, code) = &t.event {
                match (t.device == ROGUE, ok) {
                    (false, true) => accepted += 1,
                    (true, false) => rogue_code = Some(code.clone().unwrap_or_default()),
                    _ => {}
                }
            }
        }
        let healthy: Vec<usize> = (0..n).filter(|&i| i != ROGUE).collect();
        let (published, _) = self.publish_round(&healthy, true, 40).await?;
        let (_, rogue_refused) = self.publish_round(&[ROGUE], false, 10).await?;
        let operator = self.need_operator()?;
        let rogue_id = device_id(ROGUE);
        let record = operator.device(&rogue_id).await.map_err(failed)?;
        self.hub.drain();
        let rogue_dropped = !self
            .hub
            .since(mark, |t| {
                t.device == ROGUE && matches!(t.event, Ev::Disconnected(_))
            })
            .is_empty();
        let quarantined = record.quarantine.is_some();
        let ok = gated
            && accepted == n - 1
            && rogue_code.is_some()
            && published.len() == n - 1
            && !rogue_refused.is_empty()
            && quarantined
            && !rogue_dropped;
        Ok(Observation {
            ok,
            observed: format!(
                "before attesting {} publish was {}; {accepted}/{} attested and {}/{} publish; {rogue_id} refused ({}), quarantine {}, its publish {}, {}",
                device_id(PROBER),
                if gated { "refused" } else { "ACCEPTED" },
                n - 1,
                published.len(),
                n - 1,
                rogue_code.as_deref().unwrap_or("NOT refused"),
                record.quarantine.as_deref().unwrap_or("NONE"),
                if rogue_refused.is_empty() {
                    "ACCEPTED"
                } else {
                    "refused"
                },
                if rogue_dropped {
                    "DISCONNECTED"
                } else {
                    "still connected"
                },
            ),
            latencies,
            details: json!({
                "gated_before_attestation": gated,
                "accepted": accepted,
                "published": published.len(),
                "rogue": rogue_id,
                "rogue_code": rogue_code,
                "rogue_quarantine": record.quarantine,
                "rogue_connected": !rogue_dropped,
                "publish_errors": self.publish_errors,
            }),
        })
    }

    /// Step 4: the SBOM gate refuses the vulnerable release.
    async fn sbom_gate(&mut self) -> Checked {
        let operator = self.need_operator()?;
        let publisher = self.need_publisher()?;
        let vulnerable = publisher.release(release::VULNERABLE).map_err(failed)?;
        let started = Instant::now();
        let (status, outcome) = operator
            .publish(&vulnerable.publish_request())
            .await
            .map_err(failed)?;
        let mut latencies = Latencies::default();
        latencies.push(started.elapsed());
        let start = operator
            .rollout(&RolloutCommand::Start {
                version: release::VULNERABLE.into(),
                stages_bps: STAGES_BPS.to_vec(),
            })
            .await;
        let ok = status == 422
            && !outcome.published
            && outcome.gate.starts_with("fail")
            && outcome.reasons.iter().any(|r| r == "gate_failed")
            && start.is_err();
        Ok(Observation {
            ok,
            observed: format!(
                "1.1.0 HTTP {status}, published {}, gate {}, reasons [{}]; a rollout of 1.1.0 {}",
                outcome.published,
                outcome.gate,
                outcome.reasons.join(", "),
                match &start {
                    Ok(_) => "was STARTED".to_owned(),
                    Err(e) => format!("is refused ({e})"),
                }
            ),
            latencies,
            details: json!({
                "status": status,
                "published": outcome.published,
                "gate": outcome.gate,
                "reasons": outcome.reasons,
                "decision_digest": outcome.decision_digest,
                "advisory": release::ADVISORY_ID,
            }),
        })
    }

    /// Sends PollRelease to `devices` and waits until each answered (an update of `version`
    /// ended, nothing was offered, or an error): the update outcomes.
    async fn poll_updates(
        &mut self,
        devices: &[usize],
        version: &str,
        latencies: &mut Latencies,
    ) -> Result<Vec<Tagged>, Stop> {
        let mark = self.hub.mark();
        let sent = Instant::now();
        self.need_fleet()?
            .send_all(devices, &Cmd::PollRelease)
            .await;
        let limit = self.limit(20);
        let wanted: BTreeSet<usize> = devices.iter().copied().collect();
        let answers = self
            .hub
            .wait(mark, devices.len(), limit, |t| {
                wanted.contains(&t.device)
                    && match &t.event {
                        Ev::Update(v, ..) => v == version,
                        Ev::NoRelease | Ev::Error(..) => true,
                        _ => false,
                    }
            })
            .await;
        let updates: Vec<Tagged> = answers
            .into_iter()
            .filter(|t| matches!(t.event, Ev::Update(..)))
            .collect();
        for t in &updates {
            latencies.push(t.at.saturating_duration_since(sent));
        }
        Ok(updates)
    }

    /// Step 5: staged rollout, canary revert and halt, fixed release to everyone.
    async fn rollout(&mut self) -> Checked {
        self.need_fleet()?;
        let operator = self.need_operator()?;
        let publisher = self.need_publisher()?;
        let first = publisher.release(release::FIRST_FIX).map_err(failed)?;
        let second = publisher.release(release::SECOND_FIX).map_err(failed)?;
        let (status, outcome) = operator
            .publish(&first.publish_request())
            .await
            .map_err(failed)?;
        if status != 201 || !outcome.published {
            return Err(failed(format!(
                "1.1.1 not published: HTTP {status}, gate {}, reasons [{}]",
                outcome.gate,
                outcome.reasons.join(", ")
            )));
        }
        let healthy: Vec<usize> = (0..self.n()).filter(|&i| i != ROGUE).collect();
        let canary = healthy
            .iter()
            .copied()
            .min_by_key(|i| self.cohorts.get(i).copied().unwrap_or(u32::MAX))
            .ok_or_else(|| failed("no healthy device"))?;
        self.need_fleet()?
            .send(canary, Cmd::FaultNextTrialBoot)
            .await;
        operator
            .rollout(&RolloutCommand::Start {
                version: release::FIRST_FIX.into(),
                stages_bps: STAGES_BPS.to_vec(),
            })
            .await
            .map_err(failed)?;
        let mut latencies = Latencies::default();
        let mut first_stages = Vec::new();
        let mut canary_reverted = false;
        let mut staged = true;
        let mut updated: BTreeSet<usize> = BTreeSet::new();
        for (stage, bps) in STAGES_BPS.iter().enumerate() {
            let expect = self.in_stage(&healthy, *bps);
            let pending: Vec<usize> = healthy
                .iter()
                .copied()
                .filter(|d| !updated.contains(d))
                .collect();
            let updates = self
                .poll_updates(&pending, release::FIRST_FIX, &mut latencies)
                .await?;
            let mut confirmed = 0;
            // Only devices inside the stage get the release.
            staged &= updates
                .iter()
                .all(|t| self.cohorts.get(&t.device).is_some_and(|c| c < bps));
            for t in &updates {
                updated.insert(t.device);
                match &t.event {
                    Ev::Update(_, UpdateResult::Reverted, _) if t.device == canary => {
                        canary_reverted = true
                    }
                    Ev::Update(_, UpdateResult::Confirmed, _) => confirmed += 1,
                    _ => {}
                }
            }
            // Every device of a stage gets it, except in the stage the canary halts: the
            // halt races the other in-stage devices' polls and downloads (refused
            // `not_offered`, or nothing offered), which is the halt working.
            staged &= canary_reverted || updated.len() == expect;
            first_stages.push(json!({
                "stage_bps": bps, "updated": updated.len(), "confirmed": confirmed, "in_stage": expect,
            }));
            if canary_reverted {
                break;
            }
            if stage + 1 < STAGES_BPS.len() {
                self.need_operator()?
                    .rollout(&RolloutCommand::Advance {})
                    .await
                    .map_err(failed)?;
            }
        }
        // The cloud halts the rollout on the canary's report; until resumed nobody else gets 1.1.1.
        let operator = self.need_operator()?;
        let halted = wait_halted(operator).await;
        let rest: Vec<usize> = healthy
            .iter()
            .copied()
            .filter(|d| !updated.contains(d))
            .collect();
        let leaked = self
            .poll_updates(&rest, release::FIRST_FIX, &mut Latencies::default())
            .await?
            .len();
        // The fixed release resumes the rollout, stage by stage, to every healthy device.
        let operator = self.need_operator()?;
        let (status, outcome) = operator
            .publish(&second.publish_request())
            .await
            .map_err(failed)?;
        if status != 201 || !outcome.published {
            return Err(failed(format!(
                "1.1.2 not published: HTTP {status}, reasons [{}]",
                outcome.reasons.join(", ")
            )));
        }
        operator
            .rollout(&RolloutCommand::Start {
                version: release::SECOND_FIX.into(),
                stages_bps: STAGES_BPS.to_vec(),
            })
            .await
            .map_err(failed)?;
        let mut work = self.ui.work("updated to 1.1.2", healthy.len() as u64);
        let mut confirmed: BTreeSet<usize> = BTreeSet::new();
        let mut second_stages = Vec::new();
        for (stage, bps) in STAGES_BPS.iter().enumerate() {
            let expect = self.in_stage(&healthy, *bps);
            let pending: Vec<usize> = healthy
                .iter()
                .copied()
                .filter(|d| !confirmed.contains(d))
                .collect();
            let updates = self
                .poll_updates(&pending, release::SECOND_FIX, &mut latencies)
                .await?;
            let mut now_confirmed = 0;
            for t in &updates {
                if matches!(t.event, Ev::Update(_, UpdateResult::Confirmed, _)) {
                    confirmed.insert(t.device);
                    now_confirmed += 1;
                    work.inc();
                }
            }
            staged &= confirmed.len() == expect;
            second_stages.push(json!({
                "stage_bps": bps, "confirmed": now_confirmed, "in_stage": expect,
            }));
            if stage + 1 < STAGES_BPS.len() {
                self.need_operator()?
                    .rollout(&RolloutCommand::Advance {})
                    .await
                    .map_err(failed)?;
            }
        }
        drop(work);
        let status = self
            .need_operator()?
            .rollout_status()
            .await
            .map_err(failed)?;
        let ok = canary_reverted
            && staged
            && halted.is_some()
            && leaked == 0
            && confirmed.len() == healthy.len()
            && status.halted.is_none()
            && status.confirmed as usize >= healthy.len();
        Ok(Observation {
            ok,
            observed: format!(
                "1.1.1: canary {} {} at {} bps, rollout {}, {leaked} devices updated while halted; 1.1.2: {}/{} confirmed over 3 stages (cloud counts {})",
                device_id(canary),
                if canary_reverted {
                    "reverted"
                } else {
                    "did NOT revert"
                },
                self.cohorts.get(&canary).copied().unwrap_or(0),
                match &halted {
                    Some(why) => format!("halted ({why})"),
                    None => "NOT halted".into(),
                },
                confirmed.len(),
                healthy.len(),
                status.confirmed,
            ),
            latencies,
            details: json!({
                "canary": device_id(canary),
                "canary_reverted": canary_reverted,
                "halted": halted,
                "updated_while_halted": leaked,
                "stages_match_cohorts": staged,
                "first": first_stages,
                "second": second_stages,
                "confirmed": confirmed.len(),
                "fleet": healthy.len(),
            }),
        })
    }

    /// How many of `devices` a stage of `bps` basis points covers.
    fn in_stage(&self, devices: &[usize], bps: u32) -> usize {
        devices
            .iter()
            .filter(|d| self.cohorts.get(d).is_some_and(|c| *c < bps))
            .count()
    }

    /// Step 6: a replayed old manifest is refused everywhere.
    async fn manifest_replay(&mut self) -> Checked {
        self.need_fleet()?;
        let old = self
            .need_publisher()?
            .release(release::FACTORY)
            .map_err(failed)?;
        let n = self.n();
        let all: Vec<usize> = (0..n).collect();
        let mark = self.hub.mark();
        let sent = Instant::now();
        for &d in &all {
            self.need_fleet()?
                .send(
                    d,
                    Cmd::OfferManifest {
                        manifest: old.manifest.clone(),
                        image: old.image.clone(),
                    },
                )
                .await;
        }
        let limit = self.limit(20);
        let answers = self
            .hub
            .wait(
                mark,
                n,
                limit,
                |t| matches!(&t.event, Ev::Update(v, ..) if v == release::FACTORY),
            )
            .await;
        let mut latencies = Latencies::default();
        let mut codes: BTreeMap<String, usize> = BTreeMap::new();
        let mut refused = 0;
        for t in &answers {
            latencies.push(t.at.saturating_duration_since(sent));
            if let Ev::Update(_, UpdateResult::Refused, code) = &t.event {
                refused += 1;
                *codes.entry(code.clone().unwrap_or_default()).or_default() += 1;
            }
        }
        let codes_text: Vec<String> = codes.iter().map(|(c, k)| format!("{c} x{k}")).collect();
        Ok(Observation {
            ok: refused == n && answers.len() == n,
            observed: format!(
                "manifest 1.0.0 replayed to {n} devices: {refused} refused ({}), {} installed",
                codes_text.join(", "),
                answers.len() - refused
            ),
            latencies,
            details: json!({"refused": refused, "answers": answers.len(), "codes": codes}),
        })
    }

    /// Step 7: a probing device is quarantined from the deny stream.
    async fn probe_detection(&mut self) -> Checked {
        self.need_fleet()?;
        let n = self.n();
        let prober = device_id(PROBER);
        let topics: Vec<String> = (0..n)
            .filter(|&i| i != PROBER)
            .take(PROBE_THRESHOLD as usize + 2)
            .map(|i| format!("devices/{}/telemetry", device_id(i)))
            .collect();
        let sent = Instant::now();
        self.need_fleet()?
            .send(PROBER, Cmd::Probe(topics.clone()))
            .await;
        let operator = self.need_operator()?;
        let mut record = None;
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let r = operator.device(&prober).await.map_err(failed)?;
            if r.quarantine.is_some() {
                record = Some(r);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let detected_after = sent.elapsed();
        let own = format!("topic=\"devices/{prober}/telemetry\"");
        let denies = self.broker.as_ref().map_or(0, |b| {
            b.log_lines(&format!("DENY publish client_id=\"{prober}\""))
                .iter()
                .filter(|l| !l.contains(&own))
                .count()
        });
        let (_, refused) = self.publish_round(&[PROBER], false, 10).await?;
        let control = self.control_device();
        let (control_ok, _) = self.publish_round(&[control], true, 5).await?;
        let reason = record.as_ref().and_then(|r| r.quarantine.clone());
        let mut latencies = Latencies::default();
        latencies.push(detected_after);
        Ok(Observation {
            ok: reason.as_deref() == Some("probing")
                && denies >= topics.len()
                && !refused.is_empty()
                && !control_ok.is_empty(),
            observed: format!(
                "{prober} published to {} foreign topics: {denies} denies on the broker, quarantined {} after {:.2} s, its own publish {}; {} still publishes: {}",
                topics.len(),
                match &reason {
                    Some(r) => format!("({r})"),
                    None => "NOT".into(),
                },
                detected_after.as_secs_f64(),
                if refused.is_empty() {
                    "ACCEPTED"
                } else {
                    "refused"
                },
                device_id(control),
                if control_ok.is_empty() { "NO" } else { "yes" },
            ),
            latencies,
            details: json!({
                "prober": prober,
                "topics": topics,
                "broker_denies": denies,
                "quarantine": reason,
                "detected_ms": detected_after.as_millis() as u64,
            }),
        })
    }

    /// Step 8: a revoked device is cut off from the broker and the cloud.
    async fn revocation(&mut self) -> Checked {
        self.need_fleet()?;
        let victim = device_id(REVOKED);
        let started = Instant::now();
        let mark = self.hub.mark();
        let record = self
            .need_operator()?
            .revoke(&victim)
            .await
            .map_err(failed)?;
        // Its open session is closed: the posture feed marks it revoked and the plugin kicks
        // it (the CRL alone would only refuse its next handshake).
        let dropped = self
            .hub
            .wait(mark, 1, Duration::from_secs(20), |t| {
                t.device == REVOKED && matches!(t.event, Ev::Disconnected(_))
            })
            .await;
        let session_dropped = !dropped.is_empty();
        let dropped_after = dropped
            .first()
            .map(|t| t.at.saturating_duration_since(started));
        let kick = format!("disconnected revoked client id \"{victim}\"");
        let mut kicked = false;
        let until = Instant::now() + Duration::from_secs(5);
        while !kicked && Instant::now() < until {
            kicked = self
                .broker
                .as_ref()
                .is_some_and(|b| !b.log_lines(&kick).is_empty());
            if !kicked {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        // A new handshake fails: the cloud wrote the CRL and sent the broker SIGHUP, on which
        // mosquitto 2.0.11 re-reads `crlfile`. A healthy device reconnects as a control.
        let control = self.control_device();
        let mark = self.hub.mark();
        self.need_fleet()?.send(REVOKED, Cmd::Reconnect).await;
        self.need_fleet()?.send(control, Cmd::Reconnect).await;
        let answers = self
            .hub
            .wait(mark, 2, Duration::from_secs(20), |t| {
                (t.device == REVOKED || t.device == control)
                    && matches!(t.event, Ev::Connected | Ev::Disconnected(_))
            })
            .await;
        let outcome = |device: usize| {
            answers
                .iter()
                .find(|t| t.device == device)
                .map(|t| match &t.event {
                    Ev::Connected => "connected".to_owned(),
                    Ev::Disconnected(why) => format!("refused ({why})"),
                    _ => String::new(),
                })
                .unwrap_or_else(|| "no answer".into())
        };
        let (victim_broker, control_broker) = (outcome(REVOKED), outcome(control));
        // The cloud refuses the revoked certificate.
        let mark = self.hub.mark();
        self.need_fleet()?.send(REVOKED, Cmd::Attest).await;
        let answer = self
            .hub
            .wait(mark, 1, Duration::from_secs(15), |t| {
                t.device == REVOKED && matches!(t.event, Ev::Attested(..) | Ev::Error(..))
            })
            .await;
        let cloud_refused = answer.iter().find_map(|t| match &t.event {
            Ev::Error(code) => Some(code.clone()),
            _ => None,
        });
        let mut latencies = Latencies::default();
        latencies.push(started.elapsed());
        Ok(Observation {
            ok: record.revoked
                && session_dropped
                && kicked
                && victim_broker.starts_with("refused")
                && control_broker == "connected"
                && cloud_refused.is_some(),
            observed: format!(
                "{victim} revoked (registry revoked={}, quarantine {}); its open session {}; its reconnect {}; {} reconnect {}; cloud {}",
                record.revoked,
                record.quarantine.as_deref().unwrap_or("none"),
                match (dropped_after, kicked) {
                    (Some(after), true) =>
                        format!("closed by the broker after {:.2} s", after.as_secs_f64()),
                    (Some(_), false) => "ended, but the broker did NOT log a kick".into(),
                    (None, _) => "STAYED OPEN".into(),
                },
                victim_broker,
                device_id(control),
                control_broker,
                match &cloud_refused {
                    Some(code) => format!("refused it ({code})"),
                    None => "ANSWERED it".into(),
                }
            ),
            latencies,
            details: json!({
                "device": victim,
                "revoked": record.revoked,
                "quarantine": record.quarantine,
                "session_dropped": session_dropped,
                "broker_kicked": kicked,
                "dropped_ms": dropped_after.map(|d| d.as_millis() as u64),
                "reconnect": victim_broker,
                "control_reconnect": control_broker,
                "cloud_refusal": cloud_refused,
            }),
        })
    }

    /// The registry's row counts, read from the cloud's database (`fleet.db` in the CA
    /// directory) beside the running service.
    async fn stored_counts(&self) -> Result<crate::serve::sqlite::StoreCounts, String> {
        let dir = self
            .pki
            .as_ref()
            .map(|p| p.ca_dir.clone())
            .ok_or("no PKI")?;
        tokio::task::spawn_blocking(move || {
            crate::serve::SqliteFleetStore::open(&dir)
                .and_then(|store| store.counts())
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// A device with no role in the attacks (publishes as a control).
    fn control_device(&self) -> usize {
        (0..self.n())
            .find(|i| ![ROGUE, PROBER, REVOKED, RETIRED].contains(i))
            .unwrap_or(self.n() - 1)
    }

    /// Step 9: a decommissioned device wipes its keys; the registry's final counts.
    async fn decommission(&mut self) -> Checked {
        self.need_fleet()?;
        let retired = device_id(RETIRED);
        let started = Instant::now();
        let record = self
            .need_operator()?
            .decommission(&retired)
            .await
            .map_err(failed)?;
        let mark = self.hub.mark();
        self.need_fleet()?.send(RETIRED, Cmd::CheckStatus).await;
        let ended = self
            .hub
            .wait(mark, 2, Duration::from_secs(15), |t| {
                t.device == RETIRED && matches!(t.event, Ev::Wiped | Ev::Exited(_))
            })
            .await;
        let wiped = ended.iter().any(|t| matches!(t.event, Ev::Wiped));
        let exit = ended.iter().find_map(|t| match &t.event {
            Ev::Exited(how) => Some(how.clone()),
            _ => None,
        });
        let keys_left = identity_files(&self.setup.dir.join("devices").join(&retired));
        let after = self
            .need_operator()?
            .device(&retired)
            .await
            .map_err(failed)?;
        let registry = self.need_operator()?.devices().await.map_err(failed)?;
        let counts = registry_counts(&registry);
        // The database itself: one certificate per device (the demo renews none), none lost or
        // issued twice; the two revoked devices' certificates revoked.
        let stored = self.stored_counts().await;
        let expected_certificates = self.n() as u64;
        let db_ok = stored.as_ref().is_ok_and(|c| {
            c.devices == self.n() as u64
                && c.certificates == expected_certificates
                && c.revoked_certificates == 2
        });
        let mut latencies = Latencies::default();
        latencies.push(started.elapsed());
        Ok(Observation {
            ok: record.decommissioned
                && after.decommissioned
                && after.revoked
                && wiped
                && exit.as_deref() == Some("Wiped")
                && keys_left.is_empty()
                && db_ok,
            observed: format!(
                "{retired}: registry decommissioned={} revoked={}, device {} and {}, {} key or certificate files left; database: {}",
                after.decommissioned,
                after.revoked,
                if wiped {
                    "wiped its keys"
                } else {
                    "did NOT wipe"
                },
                match &exit {
                    Some(how) => format!("exited ({how})"),
                    None => "is STILL RUNNING".into(),
                },
                keys_left.len(),
                match &stored {
                    Ok(c) => format!(
                        "{} devices, {} certificates ({}expected {expected_certificates}), {} revoked",
                        c.devices,
                        c.certificates,
                        if c.certificates == expected_certificates {
                            ""
                        } else {
                            "NOT as "
                        },
                        c.revoked_certificates
                    ),
                    Err(e) => format!("NOT READ ({e})"),
                }
            ),
            latencies,
            details: json!({
                "device": retired,
                "decommissioned": after.decommissioned,
                "revoked": after.revoked,
                "wiped": wiped,
                "exit": exit,
                "key_files_left": keys_left,
                "registry": counts,
                "database": stored.ok(),
                "expected_certificates": expected_certificates,
            }),
        })
    }
}

/// The EST bootstrap user of the demo's factory.
const BOOTSTRAP_USER: &str = "factory";

/// The factory's bootstrap password: random per process.
fn bootstrap_password() -> String {
    static PASSWORD: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PASSWORD
        .get_or_init(|| {
            let mut bytes = [0u8; 16];
            rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
            hex::encode(bytes)
        })
        .clone()
}

/// Whether a client with `tls` gets a CONNACK from the broker (bounded).
async fn mqtt_connects(
    tls: rustls::ClientConfig,
    port: u16,
    client_id: &str,
) -> Result<(), String> {
    let mut options = rumqttc::MqttOptions::new(client_id, "127.0.0.1", port);
    options.set_transport(rumqttc::Transport::tls_with_config(
        rumqttc::TlsConfiguration::Rustls(Arc::new(tls)),
    ));
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut events) = rumqttc::AsyncClient::new(options, 10);
    let answer = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(ack))) => {
                    return match ack.code {
                        rumqttc::ConnectReturnCode::Success => Ok(()),
                        code => Err(format!("CONNACK {code:?}")),
                    };
                }
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    })
    .await
    .unwrap_or_else(|_| Err("no CONNACK within 10 s".into()));
    let _ = client.try_disconnect();
    answer
}

/// Waits (bounded) until the cloud reports the rollout halted: why.
async fn wait_halted(operator: &Operator) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(status) = operator.rollout_status().await
            && status.halted.is_some()
        {
            return status.halted;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Each device's rollout cohort from the registry.
fn cohorts(fleet: &Fleet, registry: &[DeviceRecord]) -> BTreeMap<usize, u32> {
    let by_id: BTreeMap<&str, u32> = registry
        .iter()
        .map(|r| (r.id.as_str(), r.cohort_bps))
        .collect();
    fleet
        .ids
        .iter()
        .enumerate()
        .filter_map(|(i, id)| by_id.get(id.as_str()).map(|c| (i, *c)))
        .collect()
}

/// Files under `dir` whose name says they hold the device's identity (key, certificate).
fn identity_files(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if ["key", "cert"]
                .iter()
                .any(|w| entry.file_name().to_string_lossy().contains(w))
            {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

/// The registry's counts after the walk.
fn registry_counts(registry: &[DeviceRecord]) -> Value {
    let mut quarantine: BTreeMap<String, usize> = BTreeMap::new();
    let mut firmware: BTreeMap<String, usize> = BTreeMap::new();
    for r in registry {
        if let Some(q) = &r.quarantine {
            *quarantine.entry(q.clone()).or_default() += 1;
        }
        *firmware
            .entry(r.firmware.clone().unwrap_or_else(|| "unknown".into()))
            .or_default() += 1;
    }
    json!({
        "devices": registry.len(),
        "revoked": registry.iter().filter(|r| r.revoked).count(),
        "decommissioned": registry.iter().filter(|r| r.decommissioned).count(),
        "quarantined": quarantine,
        "firmware": firmware,
    })
}
