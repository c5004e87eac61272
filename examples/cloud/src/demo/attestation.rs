//! Step 2, attestation (iotsec-attest): a secure-element-class device (no TPM) answers a fresh
//! cloud nonce with SE evidence signed by its P-256 key; the cloud appraises it against the
//! measurement of the factory firmware. Attack: the same evidence replayed against the next
//! nonce is refused.

use iotsec_attest::credential::OsRng;
use iotsec_attest::se_evidence::{
    MAX_EVIDENCE_LEN, SeEvidenceError, SeExpectations, appraise_se_evidence, produce_se_evidence,
};
use iotsec_ota::signer::Ed25519Key;
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

/// A fresh 32-byte challenge from the OS RNG (the seed of a newly generated key: this binary
/// reaches the OS RNG only through the crates' key generators).
fn fresh_nonce() -> [u8; 32] {
    *Ed25519Key::generate().to_seed()
}

/// The SE public key as the verifier pins it: raw X||Y, the tail of the P-256 SPKI.
fn raw_public_key(key: &DeviceKey) -> Result<[u8; 64], String> {
    let spki = key.public_key_der().map_err(|e| e.to_string())?;
    let at = spki.len().checked_sub(64).ok_or("short SPKI")?;
    if at.checked_sub(1).and_then(|i| spki.get(i)) != Some(&0x04) {
        return Err("SPKI is not an uncompressed P-256 point".into());
    }
    spki.get(at..)
        .and_then(|raw| raw.try_into().ok())
        .ok_or_else(|| "SPKI is not an uncompressed P-256 point".into())
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

    let nonce = fresh_nonce();
    let evidence = answer(&mut se, &nonce, &reference)?;
    let accepted = cloud.appraise(&evidence, &nonce);
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
    let next = fresh_nonce();
    attacks.push(match cloud.appraise(&evidence, &next) {
        Ok(_) => Attack::accepted("evidence_replay", NAME, "nonce_mismatch"),
        Err(e) => Attack::refused("evidence_replay", NAME, "nonce_mismatch", e.code()).because(e),
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
            "error": accepted.as_ref().err().map(ToString::to_string),
        }),
    })
}
