//! `iotsec-cloud serve` over real TLS 1.3 on 127.0.0.1: the fleet API end to end (EST
//! enrollment, attestation, the release channel behind the SBOM gate, a staged rollout halted
//! by a canary's revert, revocation), and every endpoint's refusal of bad input, which leaves
//! the registry as it was.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod serve_support;

use base64ct::{Base64, Encoding};
use serde_json::{Value, json};
use serve_support::{Cloud, FACTORY, Fleet, Identity, image, publish_body, sbom};

/// The cohort the service gives `id` (SHA-256 over a fixed prefix and the id, mod 10000).
fn cohort(id: &str) -> u32 {
    u32::from(iotsec_ota::rollout_cohort::cohort_bucket(
        b"iotsec-fleet-cohort/v1",
        id.as_bytes(),
    ))
}

async fn enroll_fleet(cloud: &Cloud, n: usize) -> Vec<Identity> {
    let mut devices = Vec::new();
    for i in 0..n {
        devices.push(cloud.enroll(&format!("dev-{i:03}")).await);
    }
    devices
}

/// The registry and the rollout as the operator sees them.
async fn snapshot(cloud: &Cloud, ops: &Identity) -> (Value, Value) {
    let devices = cloud.get(Some(ops), "/v1/admin/devices").await;
    assert_eq!(devices.status, 200);
    let rollout = cloud.get(Some(ops), "/v1/admin/rollout").await;
    assert_eq!(rollout.status, 200);
    (devices.json(), rollout.json())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_lifecycle_attest_publish_stage_halt_on_canary_revert() {
    let fleet = Fleet::new("lifecycle");
    let cloud = fleet.start::<&str>(&[]);
    let ops = fleet.operator();
    let mut devices = enroll_fleet(&cloud, 12).await;

    // The registry lists every device once, with its fixed cohort.
    let list = cloud.get(Some(&ops), "/v1/admin/devices").await.json();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 12, "{list}");
    for d in list.as_array().unwrap() {
        assert_eq!(d["cohort_bps"], cohort(d["id"].as_str().unwrap()));
        let id = d["id"].as_str().unwrap();
        let serial = devices.iter().find(|x| x.cn == id).unwrap().serial_hex();
        assert_eq!(d["cert_serial"], serial.as_str());
        assert_eq!(
            (d["revoked"].clone(), d["quarantine"].clone()),
            (json!(false), Value::Null)
        );
    }

    // Attestation: the factory image is accepted; unknown firmware is refused and quarantines.
    let a = cloud.attest(&mut devices[0], &image(FACTORY)).await;
    assert_eq!(a.status, 200);
    let a = a.json();
    assert_eq!(a["accepted"], true, "{a}");
    assert_eq!(a["quarantined"], false);
    assert_eq!(a["claims"]["firmware"], FACTORY);
    assert_eq!(a["claims"]["counter"], 1);
    let bad = cloud
        .attest(&mut devices[1], b"not a published image")
        .await
        .json();
    assert_eq!(bad["accepted"], false);
    assert_eq!(bad["code"], "unknown_firmware");
    assert_eq!(bad["quarantined"], true);
    let rec = cloud
        .get(Some(&ops), "/v1/admin/devices/dev-001")
        .await
        .json();
    assert_eq!(rec["quarantine"], "attestation_failed");
    assert_eq!(rec["attestation_ok"], false);

    // The release channel: 1.1.0 fails the SBOM gate (nothing stored), 1.1.1 is published.
    let blocked = cloud
        .post_json(
            Some(&ops),
            "/v1/admin/releases",
            &publish_body(&fleet, "1.1.0", &image("1.1.0"), &sbom("1.1.0")),
        )
        .await;
    assert_eq!(blocked.status, 422);
    assert_eq!(blocked.json()["reasons"], json!(["gate_failed"]));
    assert_eq!(blocked.json()["gate"], "fail");
    // A manifest naming another image: refused even though the SBOM passes.
    let mut swapped = publish_body(&fleet, "1.1.1", &image("1.1.1"), &sbom("1.1.1"));
    swapped["image"] = json!(Base64::encode_string(&image("evil")));
    let refused = cloud
        .post_json(Some(&ops), "/v1/admin/releases", &swapped)
        .await;
    assert_eq!(refused.status, 422);
    assert_eq!(refused.json()["reasons"], json!(["digest_mismatch"]));
    let published = publish_body(&fleet, "1.1.1", &image("1.1.1"), &sbom("1.1.1"));
    let ok = cloud
        .post_json(Some(&ops), "/v1/admin/releases", &published)
        .await;
    assert_eq!(ok.status, 201, "{ok:?}");
    assert_eq!(ok.json()["published"], true);
    assert_eq!(ok.json()["gate"], "pass");
    let again = cloud
        .post_json(
            Some(&ops),
            "/v1/admin/releases",
            &publish_body(&fleet, "1.1.1", &image("1.1.1"), &sbom("1.1.1")),
        )
        .await;
    assert_eq!((again.status, again.code()), (409, "release_exists".into()));
    // A published release's image is an accepted measurement from now on.
    let a = cloud.attest(&mut devices[2], &image("1.1.1")).await.json();
    assert_eq!(
        (a["accepted"].clone(), a["claims"]["firmware"].clone()),
        (json!(true), json!("1.1.1"))
    );

    // Nothing offered before the rollout starts.
    assert_eq!(
        cloud
            .get(Some(&devices[0]), "/v1/device/release")
            .await
            .status,
        204
    );

    // A first stage that holds exactly the device with the lowest cohort.
    let mut by_cohort: Vec<&Identity> = devices.iter().filter(|d| d.cn != "dev-001").collect();
    by_cohort.sort_by_key(|d| cohort(&d.cn));
    let canary = by_cohort[0];
    let outside = by_cohort[1];
    let first = cohort(&canary.cn) + 1;
    assert!(cohort(&outside.cn) >= first);
    let start = cloud
        .rollout(
            &ops,
            &json!({"action": "start", "version": "1.1.1", "stages_bps": [first, 10000]}),
        )
        .await;
    assert_eq!(start.status, 200, "{start:?}");
    let offer = cloud.get(Some(canary), "/v1/device/release").await;
    assert_eq!(offer.status, 200, "{offer:?}");
    let offer = offer.json();
    assert_eq!(offer["version"], "1.1.1");
    assert_eq!(offer["image_len"], image("1.1.1").len());
    assert_eq!(offer["manifest"], published["manifest"]);
    let got = cloud
        .get(Some(canary), "/v1/device/release/1.1.1/image")
        .await;
    assert_eq!((got.status, got.body == image("1.1.1")), (200, true));
    assert_eq!(
        cloud.get(Some(outside), "/v1/device/release").await.status,
        204
    );
    let not_offered = cloud
        .get(Some(outside), "/v1/device/release/1.1.1/image")
        .await;
    assert_eq!(
        (not_offered.status, not_offered.code()),
        (403, "not_offered".into())
    );
    let unknown = cloud
        .get(Some(canary), "/v1/device/release/9.9.9/image")
        .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (404, "unknown_release".into())
    );

    // An outside device's revert does not halt; the canary's does.
    let revert = json!({"firmware": FACTORY, "update": {"version": "1.1.1", "result": "reverted", "code": "trial_boot_failed"}});
    assert_eq!(
        cloud
            .post_json(Some(outside), "/v1/device/report", &revert)
            .await
            .status,
        204
    );
    assert_eq!(
        cloud.get(Some(&ops), "/v1/admin/rollout").await.json()["halted"],
        Value::Null
    );
    assert_eq!(
        cloud
            .post_json(Some(canary), "/v1/device/report", &revert)
            .await
            .status,
        204
    );
    let status = cloud.get(Some(&ops), "/v1/admin/rollout").await.json();
    assert_eq!(status["halted"], "canary_reverted", "{status}");
    assert_eq!(
        (status["reverted"].clone(), status["stage"].clone()),
        (json!(2), json!(0))
    );
    assert_eq!(
        cloud.get(Some(canary), "/v1/device/release").await.status,
        204
    );
    let refused = cloud.rollout(&ops, &json!({"action": "advance"})).await;
    assert_eq!(
        (refused.status, refused.code()),
        (409, "rollout_halted".into())
    );

    // Resume and advance to everyone: the outside device is offered it now.
    for action in ["resume", "advance"] {
        let r = cloud.rollout(&ops, &json!({"action": action})).await;
        assert_eq!(r.status, 200, "{action}: {r:?}");
    }
    assert_eq!(
        cloud.get(Some(outside), "/v1/device/release").await.status,
        200
    );
    let last = cloud.rollout(&ops, &json!({"action": "advance"})).await;
    assert_eq!((last.status, last.code()), (409, "last_stage".into()));
    // A confirmed report records the firmware; the device is not offered what it runs.
    let confirmed = json!({"firmware": "1.1.1", "update": {"version": "1.1.1", "result": "confirmed", "code": null}});
    assert_eq!(
        cloud
            .post_json(Some(outside), "/v1/device/report", &confirmed)
            .await
            .status,
        204
    );
    assert_eq!(
        cloud.get(Some(outside), "/v1/device/release").await.status,
        204
    );
    let rec = cloud
        .get(Some(&ops), &format!("/v1/admin/devices/{}", outside.cn))
        .await
        .json();
    assert_eq!(rec["firmware"], "1.1.1");
    assert_eq!(
        cloud.get(Some(&ops), "/v1/admin/rollout").await.json()["confirmed"],
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_and_decommissioned_devices_are_refused_on_their_next_request() {
    let fleet = Fleet::new("revoke");
    let cloud = fleet.start::<&str>(&[]);
    let ops = fleet.operator();
    let devices = enroll_fleet(&cloud, 3).await;
    for d in &devices {
        let s = cloud.get(Some(d), "/v1/device/status").await;
        assert_eq!(s.status, 200);
        assert_eq!(s.json()["id"], d.cn.as_str());
        assert_eq!(s.json()["decommissioned"], false);
    }
    let r = cloud
        .post_json(Some(&ops), "/v1/admin/devices/dev-000/revoke", &Value::Null)
        .await;
    // `null` is a body: the endpoint takes none.
    assert_eq!((r.status, r.code()), (400, "unexpected_body".into()));
    let r = cloud
        .post_empty(Some(&ops), "/v1/admin/devices/dev-000/revoke")
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        (r.json()["revoked"].clone(), r.json()["quarantine"].clone()),
        (json!(true), json!("revoked"))
    );
    let refused = cloud.get(Some(&devices[0]), "/v1/device/status").await;
    assert_eq!((refused.status, refused.code()), (403, "revoked".into()));
    // EST enrolls devices only: the bootstrap credential does not make an operator.
    let operator = cloud.try_enroll("ops").await;
    assert_eq!(
        (operator.status, operator.code()),
        (403, "operator_cn".into())
    );
    // Enrolling again under the revoked id, with the bootstrap credential, is refused.
    let again = cloud.try_enroll("dev-000").await;
    assert_eq!((again.status, again.code()), (403, "revoked".into()));
    let crl = cloud.get(None, "/crl.der").await;
    assert_eq!(crl.status, 200);
    let serial = devices[0].serial_hex();
    let listed = {
        use der::Decode;
        let crl = x509_cert::crl::CertificateList::from_der(&crl.body).unwrap();
        crl.tbs_cert_list
            .revoked_certificates
            .unwrap_or_default()
            .iter()
            .map(|r| iotsec_pki::store::hex_upper(r.serial_number.as_bytes()))
            .collect::<Vec<_>>()
    };
    assert_eq!(listed, vec![serial]);

    let d = cloud
        .post_empty(Some(&ops), "/v1/admin/devices/dev-001/decommission")
        .await;
    assert_eq!(d.status, 200);
    assert_eq!(d.json()["decommissioned"], true);
    let gone = cloud.get(Some(&devices[1]), "/v1/device/status").await;
    assert_eq!((gone.status, gone.code()), (403, "decommissioned".into()));
    let again = cloud.try_enroll("dev-001").await;
    assert_eq!((again.status, again.code()), (403, "decommissioned".into()));
    // Re-enrollment (EST simplereenroll) with the decommissioned device's own certificate
    // is refused at EST as well.
    let reenroll = cloud.reenroll(&devices[1]).await;
    assert_eq!(reenroll.status, 403, "{reenroll:?}");
    // The third device is untouched.
    assert_eq!(
        cloud
            .get(Some(&devices[2]), "/v1/device/status")
            .await
            .status,
        200
    );
    let q = cloud
        .post_json(
            Some(&ops),
            "/v1/admin/devices/dev-002/quarantine",
            &json!({"quarantined": true, "reason": "operator"}),
        )
        .await;
    assert_eq!(q.json()["quarantine"], "operator");
    let s = cloud
        .get(Some(&devices[2]), "/v1/device/status")
        .await
        .json();
    assert_eq!(s["quarantined"], true);
}

/// A bad request and its expected refusal: (who, method, path, body, status, code).
type Case<'a> = (
    Option<&'a Identity>,
    &'a str,
    &'a str,
    Vec<u8>,
    u16,
    &'a str,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_at_every_endpoint_gets_a_4xx_and_changes_nothing() {
    let fleet = Fleet::new("bad-input");
    let cloud = fleet.start::<&str>(&[]);
    let ops = fleet.operator();
    let mut devices = enroll_fleet(&cloud, 2).await;
    let ok = cloud
        .post_json(
            Some(&ops),
            "/v1/admin/releases",
            &publish_body(&fleet, "1.1.1", &image("1.1.1"), &sbom("1.1.1")),
        )
        .await;
    assert_eq!(ok.status, 201);
    let before = snapshot(&cloud, &ops).await;
    let dev = &devices[0];
    let big_json = vec![b' '; iotsec_fleet_api::MAX_JSON_BODY + 1];

    // (who, method, path, body, expected status, expected code)
    let cases: Vec<Case<'_>> = vec![
        // No client certificate, or not an operator's.
        (
            None,
            "GET",
            "/v1/device/status",
            vec![],
            401,
            "no_client_certificate",
        ),
        (
            None,
            "POST",
            "/v1/device/attest/nonce",
            vec![],
            401,
            "no_client_certificate",
        ),
        (
            None,
            "GET",
            "/v1/admin/devices",
            vec![],
            401,
            "no_client_certificate",
        ),
        (
            Some(dev),
            "GET",
            "/v1/admin/devices",
            vec![],
            403,
            "not_operator",
        ),
        (
            Some(dev),
            "POST",
            "/v1/admin/devices/dev-001/revoke",
            vec![],
            403,
            "not_operator",
        ),
        (
            Some(&ops),
            "GET",
            "/v1/device/status",
            vec![],
            401,
            "unknown_certificate",
        ),
        // Bodies: garbage, truncated JSON, unknown fields, wrong types, too large.
        (
            Some(dev),
            "POST",
            "/v1/device/report",
            b"\x00\xffgarbage".to_vec(),
            400,
            "bad_json",
        ),
        (
            Some(dev),
            "POST",
            "/v1/device/report",
            br#"{"firmware":"1.0.0","upd"#.to_vec(),
            400,
            "bad_json",
        ),
        (
            Some(dev),
            "POST",
            "/v1/device/report",
            br#"{"firmware":"1.0.0","update":null,"x":1}"#.to_vec(),
            400,
            "bad_json",
        ),
        (
            Some(dev),
            "POST",
            "/v1/device/report",
            br#"{"firmware":"1.0.0 ; rm","update":null}"#.to_vec(),
            400,
            "bad_version",
        ),
        (
            Some(dev),
            "POST",
            "/v1/device/report",
            big_json.clone(),
            413,
            "body_too_large",
        ),
        (
            Some(dev),
            "POST",
            "/v1/device/attest/nonce",
            b"{}".to_vec(),
            400,
            "unexpected_body",
        ),
        (
            Some(dev),
            "POST",
            "/v1/device/attest/evidence",
            br#"{"nonce":"00","format":"se","evidence":""}"#.to_vec(),
            400,
            "bad_nonce",
        ),
        (
            Some(dev),
            "POST",
            "/v1/device/attest/evidence",
            format!(
                r#"{{"nonce":"{}","format":"se","evidence":"AAAA"}}"#,
                "ab".repeat(32)
            )
            .into_bytes(),
            400,
            "bad_evidence",
        ),
        (
            Some(dev),
            "POST",
            "/v1/device/attest/evidence",
            format!(
                r#"{{"nonce":"{}","format":"se","evidence":"***"}}"#,
                "ab".repeat(32)
            )
            .into_bytes(),
            400,
            "bad_evidence",
        ),
        (
            Some(dev),
            "POST",
            "/v1/device/attest/evidence",
            format!(
                r#"{{"nonce":"{}","format":"tpm","evidence":"AAAA"}}"#,
                "ab".repeat(32)
            )
            .into_bytes(),
            400,
            "bad_evidence",
        ),
        (
            Some(dev),
            "POST",
            "/v1/device/attest/evidence",
            format!(
                r#"{{"nonce":"{}","format":"se","evidence":"AAAA","extra":0}}"#,
                "ab".repeat(32)
            )
            .into_bytes(),
            400,
            "bad_json",
        ),
        (
            Some(dev),
            "POST",
            "/v1/device/attest/evidence",
            big_json.clone(),
            413,
            "body_too_large",
        ),
        (
            Some(&ops),
            "POST",
            "/v1/admin/rollout",
            br#"{"action":"start","version":"1.1.1","stages_bps":[5000,100]}"#.to_vec(),
            400,
            "bad_stages",
        ),
        (
            Some(&ops),
            "POST",
            "/v1/admin/rollout",
            br#"{"action":"start","version":"2.0.0","stages_bps":[10000]}"#.to_vec(),
            409,
            "unknown_release",
        ),
        (
            Some(&ops),
            "POST",
            "/v1/admin/rollout",
            br#"{"action":"advance"}"#.to_vec(),
            409,
            "no_rollout",
        ),
        (
            Some(&ops),
            "POST",
            "/v1/admin/rollout",
            br#"{"action":"resume"}"#.to_vec(),
            409,
            "not_halted",
        ),
        (
            Some(&ops),
            "POST",
            "/v1/admin/rollout",
            br#"{"action":"jump"}"#.to_vec(),
            400,
            "bad_json",
        ),
        (
            Some(&ops),
            "POST",
            "/v1/admin/rollout",
            big_json.clone(),
            413,
            "body_too_large",
        ),
        (
            Some(&ops),
            "POST",
            "/v1/admin/devices/dev-000/quarantine",
            br#"{"quarantined":true,"reason":"a b"}"#.to_vec(),
            400,
            "bad_reason",
        ),
        (
            Some(&ops),
            "POST",
            "/v1/admin/devices/dev-000/quarantine",
            br#"{"quarantined":true}"#.to_vec(),
            400,
            "bad_json",
        ),
        (
            Some(&ops),
            "POST",
            "/v1/admin/devices/nobody/quarantine",
            br#"{"quarantined":true,"reason":"operator"}"#.to_vec(),
            404,
            "unknown_device",
        ),
        (
            Some(&ops),
            "POST",
            "/v1/admin/devices/nobody/revoke",
            vec![],
            404,
            "unknown_device",
        ),
        (
            Some(&ops),
            "GET",
            "/v1/admin/devices/nobody",
            vec![],
            404,
            "unknown_device",
        ),
        (
            Some(&ops),
            "POST",
            "/v1/admin/releases",
            b"{".to_vec(),
            400,
            "bad_json",
        ),
        (
            Some(&ops),
            "POST",
            "/v1/admin/releases",
            br#"{"version":"1.2.0","manifest":"!","image":"","sbom":""}"#.to_vec(),
            400,
            "bad_base64",
        ),
        (
            Some(&ops),
            "POST",
            "/v1/admin/releases",
            br#"{"version":"1.2.0","manifest":"","image":"","sbom":"","x":1}"#.to_vec(),
            400,
            "bad_json",
        ),
        (
            Some(&ops),
            "POST",
            "/v1/admin/releases",
            br#"{"version":"1.2.0","manifest":"","image":"","sbom":"e30="}"#.to_vec(),
            400,
            "bad_sbom",
        ),
        (Some(&ops), "GET", "/v1/nothing", vec![], 404, "not_found"),
        (
            Some(dev),
            "GET",
            "/v1/device/attest/nonce",
            vec![],
            405,
            "method_not_allowed",
        ),
        (
            Some(&ops),
            "DELETE",
            "/v1/admin/rollout",
            vec![],
            405,
            "method_not_allowed",
        ),
    ];
    for (who, method, path, body, status, code) in &cases {
        let a = cloud
            .request(*who, method, path, "application/json", "", body)
            .await;
        assert_eq!(
            (a.status, a.code().as_str()),
            (*status, *code),
            "{method} {path} {:?}: {:?}",
            String::from_utf8_lossy(&body[..body.len().min(80)]),
            String::from_utf8_lossy(&a.body)
        );
    }
    // A release upload over the image limit: 413 before anything is parsed.
    let huge = vec![b'A'; iotsec_fleet_api::MAX_IMAGE_BODY + 1];
    let a = cloud
        .request(
            Some(&ops),
            "POST",
            "/v1/admin/releases",
            "application/json",
            "",
            &huge,
        )
        .await;
    assert_eq!(a.status, 413);
    // A body cut short (the client closes before Content-Length bytes arrived).
    let cut = cloud
        .raw_with(
            Some(dev),
            "POST /v1/device/report HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 200\r\n",
            br#"{"firmware":"1.0.0","#,
            true,
        )
        .await;
    assert!(
        (400..500).contains(&cut.status) || cut.status == 0,
        "{cut:?}"
    );
    // EST: a malformed CSR is refused by the EST service.
    let auth = format!(
        "Authorization: Basic {}\r\n",
        Base64::encode_string(serve_support::BOOTSTRAP.as_bytes())
    );
    let est = cloud
        .request(
            None,
            "POST",
            "/.well-known/est/simpleenroll",
            "application/pkcs10",
            &auth,
            b"MIIBdefinitelynotacsr",
        )
        .await;
    assert_eq!(est.status, 400, "{est:?}");
    let est = cloud
        .request(
            None,
            "POST",
            "/.well-known/est/simpleenroll",
            "application/pkcs10",
            "Authorization: Basic Ym9vdDp3cm9uZw==\r\n",
            b"",
        )
        .await;
    assert_eq!(est.status, 401, "{est:?}");
    // OCSP: a request that does not parse gets malformedRequest (RFC 6960 §4.2.1).
    let ocsp = cloud
        .request(
            None,
            "POST",
            "/ocsp",
            "application/ocsp-request",
            "",
            b"\x30\x03garbage",
        )
        .await;
    assert_eq!(
        (ocsp.status, ocsp.body.as_slice()),
        (200, &[0x30, 0x03, 0x0a, 0x01, 0x01][..])
    );
    // Evidence for a nonce that was never issued: refused, no appraisal recorded.
    let forged = serve_support::evidence(&mut devices[1], &[7u8; 32], &image(FACTORY));
    let a = cloud
        .post_json(Some(&devices[1]), "/v1/device/attest/evidence", &json!({"nonce": "07".repeat(32), "format": "se", "evidence": Base64::encode_string(&forged)}))
        .await;
    assert_eq!((a.status, a.code()), (400, "nonce_unknown".into()));

    assert_eq!(
        snapshot(&cloud, &ops).await,
        before,
        "bad input changed the registry"
    );
}
