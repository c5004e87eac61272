//! Step 2, attestation (iotsec-attest): a secure-element-class device (no TPM) answers a fresh
//! cloud nonce with SE evidence signed by its P-256 key; the cloud appraises it against the
//! measurement of the factory firmware. The nonce comes from the verifier's `NonceIssuer` and is
//! redeemed once. Attacks: the same evidence replayed against the next nonce is refused, and so
//! is a second use of the redeemed nonce.

use iotsec_attest::appraise::nonce_issuer::NonceIssuer;
use iotsec_attest::identity::credential::OsRng;
use iotsec_attest::se_evidence::{
    MAX_EVIDENCE_LEN, SeEvidenceError, SeExpectations, appraise_se_evidence, produce_se_evidence,
};
use iotsec_pki::{DeviceKey, KeyAlgorithm};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Attack, DEVICE_ID, FACTORY_VERSION, Fleet, Step, failed, firmware_image, hex};

const NAME: &str = "attestation";

/// The device's secure element: its key and monotonic counter.
struct SecureElement {
    key: DeviceKey,
    counter: u64,
}

/// Runs the step and its replay attack.
pub fn run(fleet: &mut Fleet, attacks: &mut Vec<Attack>) -> Step {
    match appraise(fleet, attacks) {
        Ok(step) => step,
        Err(e) => failed(NAME, e),
    }
}

/// The SE public key as the verifier pins it: raw X||Y (the SEC1 point without its 0x04).
fn raw_public_key(key: &DeviceKey) -> Result<[u8; 64], String> {
    match key.raw_public_key().split_first() {
        Some((0x04, xy)) => xy.try_into().map_err(|_| "not a P-256 point".to_string()),
        _ => Err("not an uncompressed P-256 point".into()),
    }
}

/// Seconds since the epoch.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Device side: evidence for `nonce` over the running firmware.
fn answer(se: &mut SecureElement, nonce: &[u8], firmware: &[u8; 32]) -> Result<Vec<u8>, String> {
    let DeviceKey::P256(signer) = &mut se.key else {
        return Err("the secure element key is not P-256".into());
    };
    se.counter += 1;
    let device_id: [u8; 32] = Sha256::digest(DEVICE_ID).into();
    let mut out = [0u8; MAX_EVIDENCE_LEN];
    let n = produce_se_evidence(signer, nonce, &device_id, firmware, se.counter, &mut out)
        .map_err(|e| e.to_string())?;
    Ok(out.get(..n).unwrap_or_default().to_vec())
}

/// What the cloud pinned when the device was enrolled at manufacture.
struct Verifier {
    public_key: [u8; 64],
    device_id: [u8; 32],
    references: [[u8; 32]; 1],
}

impl Verifier {
    /// Appraises `evidence` against the challenge `nonce`; returns the accepted counter.
    fn appraise(&self, evidence: &[u8], nonce: &[u8]) -> Result<u64, SeEvidenceError> {
        let expect = SeExpectations {
            public_key: &self.public_key,
            nonce,
            device_id: Some(&self.device_id),
            firmware_references: &self.references,
            last_counter: None,
        };
        appraise_se_evidence(evidence, &expect).map(|e| e.counter)
    }
}

fn appraise(fleet: &mut Fleet, attacks: &mut Vec<Attack>) -> Result<Step, String> {
    let mut se = SecureElement {
        key: DeviceKey::generate(KeyAlgorithm::P256, &mut OsRng),
        counter: 0,
    };
    let reference: [u8; 32] = Sha256::digest(firmware_image(FACTORY_VERSION)).into();
    let cloud = Verifier {
        public_key: raw_public_key(&se.key)?,
        device_id: Sha256::digest(DEVICE_ID).into(),
        references: [reference],
    };

    // Nonces live 60 s; at most 1024 are outstanding (a flood evicts the oldest).
    let mut issuer = NonceIssuer::new(60, 1024);
    let now = unix_now();
    let challenge = issuer.issue(now).map_err(|e| e.to_string())?;
    let nonce = *challenge.as_bytes();
    let evidence = answer(&mut se, &nonce, &reference)?;
    let accepted = cloud
        .appraise(&evidence, &nonce)
        .map_err(|e| e.to_string())
        .and_then(|counter| {
            issuer
                .redeem(&nonce, now)
                .map(|()| counter)
                .map_err(|e| e.to_string())
        });
    let (ok, summary) = match &accepted {
        Ok(counter) => (
            true,
            format!(
                "SE evidence for nonce {}.. accepted: firmware {FACTORY_VERSION} (sha256 {}..), counter {counter}",
                hex(nonce.get(..4).unwrap_or_default()),
                hex(reference.get(..4).unwrap_or_default()),
            ),
        ),
        Err(e) => (false, format!("genuine evidence refused: {e}")),
    };
    if ok {
        fleet.attestation_age = Some(0);
    }

    // Attack: an eavesdropper replays the accepted evidence to the next challenge.
    let next = issuer.issue(now).map_err(|e| e.to_string())?;
    attacks.push(match cloud.appraise(&evidence, next.as_bytes()) {
        Ok(_) => Attack::accepted("evidence_replay", NAME, "nonce_mismatch"),
        Err(e) => Attack::refused("evidence_replay", NAME, "nonce_mismatch", e.code()).because(e),
    });
    // Attack: the accepted evidence comes back with its own (already redeemed) nonce.
    attacks.push(match issuer.redeem(&nonce, now) {
        Ok(()) => Attack::accepted("nonce_reuse", NAME, "already_used"),
        Err(e) => Attack::refused("nonce_reuse", NAME, "already_used", e.code()).because(e),
    });
    Ok(Step {
        name: NAME,
        ok,
        summary,
        details: json!({
            "nonce": hex(&nonce),
            "evidence_bytes": evidence.len(),
            "firmware_measurement": hex(&reference),
            "counter": accepted.as_ref().ok(),
            "error": accepted.as_ref().err(),
        }),
    })
}
