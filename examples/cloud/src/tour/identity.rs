//! Step 1, identity (iotsec-pki): a CA hierarchy in the state directory; the device makes a
//! P-256 key and a PKCS#10 CSR naming its device id; the CA verifies and issues it.

use iotsec_attest::identity::credential::OsRng;
use iotsec_pki::ca_state::{CaSettings, CaState, init_state, to_pem};
use iotsec_pki::csr_check::{SubjectAttribute, verify_csr};
use iotsec_pki::store::hex_upper;
use iotsec_pki::{CsrRequest, DeviceKey, KeyAlgorithm, build_csr};
use serde_json::json;

use super::{DEVICE_ID, Fleet, Step, failed};
use crate::pki::utc;

const NAME: &str = "identity";

/// Runs the step; on success the fleet learns the certificate's CN.
pub fn run(fleet: &mut Fleet) -> Step {
    match enroll(fleet) {
        Ok(step) => step,
        Err(e) => failed(NAME, e),
    }
}

fn short_name(attribute: SubjectAttribute) -> &'static str {
    match attribute {
        SubjectAttribute::CommonName => "CN",
        SubjectAttribute::SerialNumber => "serialNumber",
        SubjectAttribute::Country => "C",
        SubjectAttribute::Organization => "O",
        SubjectAttribute::OrganizationalUnit => "OU",
    }
}

fn enroll(fleet: &mut Fleet) -> Result<Step, String> {
    let ca_dir = fleet.dir.join("ca");
    let settings = CaSettings {
        organization: "iotsec demo fleet".into(),
        crl_url: "http://127.0.0.1:8080/crl.der".into(),
        lifetime_secs: 24 * 3600,
    };
    init_state(&ca_dir, &settings, fleet.now).map_err(|e| e.to_string())?;
    let mut ca = CaState::open(&ca_dir).map_err(|e| e.to_string())?;

    // Device side: the key never leaves the device; only the CSR does.
    let key = DeviceKey::generate(KeyAlgorithm::P256, &mut OsRng);
    let request = CsrRequest {
        common_name: DEVICE_ID,
        ..CsrRequest::default()
    };
    let csr = build_csr(&key, &request).map_err(|e| e.to_string())?;

    // Cloud side: proof of possession, then issuance (the subject is copied from the CSR).
    let verified = verify_csr(&csr).map_err(|e| e.to_string())?;
    let subject: Vec<String> = verified
        .subject
        .iter()
        .map(|e| format!("{}={}", short_name(e.attribute), e.value))
        .collect();
    let cn = verified
        .subject
        .iter()
        .find(|e| e.attribute == SubjectAttribute::CommonName)
        .map(|e| e.value.clone());
    let cert = ca
        .issue_verified(&verified, fleet.now)
        .map_err(|e| e.to_string())?;
    let pem = to_pem("CERTIFICATE", &cert.der).map_err(|e| e.to_string())?;
    let cert_file = format!("{DEVICE_ID}.pem");
    let cert_path = fleet.dir.join(&cert_file);
    std::fs::write(&cert_path, pem).map_err(|e| format!("{}: {e}", cert_path.display()))?;

    let serial = hex_upper(&cert.serial);
    let not_after = utc(cert.not_after);
    let subject = subject.join(",");
    let ok = cn.as_deref() == Some(DEVICE_ID);
    fleet.cert_cn = cn;
    Ok(Step {
        name: NAME,
        ok,
        summary: format!("{subject} serial {serial} notAfter {not_after}"),
        details: json!({
            "subject": subject,
            "serial": serial,
            "not_after": not_after,
            "certificate": cert_file,
            "ca": "ca",
        }),
    })
}
