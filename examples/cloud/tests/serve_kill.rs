//! `iotsec-cloud serve` killed with SIGKILL and restarted from its state directory: every
//! acknowledged change (enrollments, a published release, a staged rollout and its stage, an
//! appraisal, a revocation) is there after the restart, nothing is duplicated, and the rollout
//! continues from its stage. Enrollments in flight at the kill are either recorded whole or
//! not at all.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod serve_support;

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Value, json};
use serve_support::{FACTORY, Fleet, image, publish_body, sbom};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_nothing_acknowledged_and_the_rollout_continues_from_its_stage() {
    let fleet = Fleet::new("kill");
    let cloud = fleet.start::<&str>(&[]);
    let ops = fleet.operator();
    let mut devices = Vec::new();
    for i in 0..8 {
        devices.push(cloud.enroll(&format!("dev-{i:03}")).await);
    }
    let published = cloud
        .post_json(
            Some(&ops),
            "/v1/admin/releases",
            &publish_body(&fleet, "1.1.1", &image("1.1.1"), &sbom("1.1.1")),
        )
        .await;
    assert_eq!(published.status, 201);
    let start = json!({"action": "start", "version": "1.1.1", "stages_bps": [100, 5000, 10000]});
    assert_eq!(cloud.rollout(&ops, &start).await.status, 200);
    let advanced = cloud.rollout(&ops, &json!({"action": "advance"})).await;
    assert_eq!(advanced.json()["stage"], 1);
    let appraisal = cloud.attest(&mut devices[0], &image(FACTORY)).await;
    assert_eq!(appraisal.json()["accepted"], true);
    let revoked = cloud
        .post_empty(Some(&ops), "/v1/admin/devices/dev-001/revoke")
        .await;
    assert_eq!(revoked.status, 200);

    // Enrollments racing the kill: those answered 200 are acknowledged.
    let pid = cloud.child.id();
    let cloud = Arc::new(cloud);
    let mut racing = tokio::task::JoinSet::new();
    for i in 100..116 {
        let cloud = cloud.clone();
        racing.spawn(async move {
            let id = format!("dev-{i:03}");
            // An enrollment cut by the kill panics in the helper: not acknowledged.
            let enrolled = {
                let id = id.clone();
                tokio::spawn(async move { cloud.enroll(&id).await })
            };
            let ok = tokio::time::timeout(std::time::Duration::from_secs(20), enrolled)
                .await
                .is_ok_and(|r| r.is_ok());
            (id, ok)
        });
    }
    // Let a few finish, then SIGKILL (no shutdown path runs).
    let mut acknowledged = BTreeSet::new();
    for _ in 0..4 {
        if let Some(Ok((id, true))) = racing.join_next().await {
            acknowledged.insert(id);
        }
    }
    let before_devices = cloud.get(Some(&ops), "/v1/admin/devices").await.json();
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    while let Some(done) = racing.join_next().await {
        if let Ok((id, true)) = done {
            acknowledged.insert(id);
        }
    }
    drop(cloud);

    let cloud = fleet.start::<&str>(&[]);
    let after = cloud.get(Some(&ops), "/v1/admin/devices").await.json();
    let after_list = after.as_array().unwrap();
    let ids: Vec<&str> = after_list
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "duplicated devices: {ids:?}");
    // Everything listed before the kill is there, unchanged.
    for d in before_devices.as_array().unwrap() {
        let now = after_list.iter().find(|a| a["id"] == d["id"]);
        assert_eq!(now, Some(d), "device {} changed or vanished", d["id"]);
    }
    for id in &acknowledged {
        assert!(
            unique.contains(id.as_str()),
            "acknowledged {id} lost: {ids:?}"
        );
    }
    let d0 = after_list.iter().find(|d| d["id"] == "dev-000").unwrap();
    assert_eq!(d0["attestation_ok"], true);
    assert!(d0["last_attestation"].is_string());
    assert_eq!(d0["firmware"], FACTORY);

    // The rollout continues from stage 1.
    let rollout = cloud.get(Some(&ops), "/v1/admin/rollout").await.json();
    assert_eq!(
        (
            rollout["version"].clone(),
            rollout["stage"].clone(),
            rollout["halted"].clone()
        ),
        (json!("1.1.1"), json!(1), Value::Null)
    );
    let advanced = cloud.rollout(&ops, &json!({"action": "advance"})).await;
    assert_eq!(advanced.json()["stage"], 2);
    // The release is still published (once), the revoked device still refused.
    let again = cloud
        .post_json(
            Some(&ops),
            "/v1/admin/releases",
            &publish_body(&fleet, "1.1.1", &image("1.1.1"), &sbom("1.1.1")),
        )
        .await;
    assert_eq!(again.code(), "release_exists");
    let refused = cloud.get(Some(&devices[1]), "/v1/device/status").await;
    assert_eq!((refused.status, refused.code()), (403, "revoked".into()));
    // The counter survived: replaying an older counter is refused.
    devices[0].counter = 0;
    let replay = cloud.attest(&mut devices[0], &image(FACTORY)).await.json();
    assert_eq!(replay["code"], "counter_not_increasing", "{replay}");
    // And the service keeps working: a new device enrolls.
    let late = cloud.enroll("dev-200").await;
    assert_eq!(
        cloud.get(Some(&late), "/v1/device/status").await.status,
        200
    );
}
