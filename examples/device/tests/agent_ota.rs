//! Updates through the agent (iotsec-ota decides, the agent moves bytes): a newer signed
//! release is installed into the inactive slot, trial-booted and confirmed; a trial boot that
//! fails its health check reverts on its own; the replay of an old, genuinely signed release is
//! refused with the crate's `replay` / `rollback` codes; an image that is not the signed one is
//! refused. The state survives a restart: the device boots the confirmed slot.
//!
//! The EST server of this test serves no fleet API: each update report ends in an `http_404`
//! error event, which the test checks too (the report is attempted after every outcome).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::agent::{Fleet, Running, closed_port, release};
use iotsec_device::agent::{AgentCommand, AgentEvent, AgentExit, UpdateResult};

/// Offers `(manifest, image)`: the update event, then the failed report's error.
async fn offer(dev: &mut Running, (manifest, image): (Vec<u8>, Vec<u8>)) -> AgentEvent {
    let update = dev
        .ask(AgentCommand::OfferManifest { manifest, image })
        .await;
    let AgentEvent::Error { code, .. } = dev.next().await else {
        panic!("the report did not fail as this server has no fleet API");
    };
    assert_eq!(code, "http_404");
    update
}

fn update(version: &str, result: UpdateResult, code: Option<&str>) -> AgentEvent {
    AgentEvent::Update {
        version: version.into(),
        result,
        code: code.map(str::to_owned),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_revert_and_replay() {
    let fleet = Fleet::new("agent-ota");
    let broker = closed_port();
    let mut dev = Running::start(fleet.config("dev-ota", &broker));
    for _ in 0..3 {
        // Booted, Enrolled, Disconnected (no broker in this test)
        dev.next().await;
    }

    let v11 = release("1.1.0", 2, 2, 0x11);
    assert_eq!(
        offer(&mut dev, v11.clone()).await,
        update("1.1.0", UpdateResult::Confirmed, None)
    );

    // The canary's trial boot fails: the device reverts to 1.1.0 by itself.
    assert_eq!(
        dev.ask(AgentCommand::FailNextTrialBoot).await,
        AgentEvent::Armed {
            fault: "fail_next_trial_boot".into()
        }
    );
    assert_eq!(
        offer(&mut dev, release("1.2.0", 3, 3, 0x12)).await,
        update("1.2.0", UpdateResult::Reverted, Some("trial_boot_failed"))
    );

    // Replays: the confirmed release again (same sequence), an older one (lower counter).
    assert_eq!(
        offer(&mut dev, v11).await,
        update("1.1.0", UpdateResult::Refused, Some("replay"))
    );
    assert_eq!(
        offer(&mut dev, release("1.0.9", 1, 9, 0x09)).await,
        update("1.0.9", UpdateResult::Refused, Some("rollback"))
    );
    // A signed manifest with another image: refused while it streams in, never booted.
    let (manifest, _) = release("1.3.0", 4, 4, 0x13);
    let forged = vec![0x66; 30_000 + 0x13];
    let AgentEvent::Update { result, code, .. } = offer(&mut dev, (manifest, forged)).await else {
        panic!("no update event");
    };
    assert_eq!(result, UpdateResult::Refused);
    assert_eq!(code.as_deref(), Some("image_digest_mismatch"));
    assert_eq!(dev.stop().await, AgentExit::Stopped);

    // After a restart the device runs the confirmed 1.1.0 from slot B.
    let mut dev = Running::start(fleet.config("dev-ota", &broker));
    assert_eq!(
        dev.next().await,
        AgentEvent::Booted {
            firmware: "1.1.0".into(),
            slot: "B".into()
        }
    );
    assert!(matches!(dev.next().await, AgentEvent::Resumed { .. }));
    // A newer release still installs after all the refusals.
    dev.next().await;
    assert_eq!(
        offer(&mut dev, release("1.4.0", 5, 5, 0x14)).await,
        update("1.4.0", UpdateResult::Confirmed, None)
    );
    assert_eq!(dev.stop().await, AgentExit::Stopped);
}
