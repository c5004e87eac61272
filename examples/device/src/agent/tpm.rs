//! TPM evidence of the agent (`iotsec-device run --tpm`): the agent measures the running
//! firmware into SHA-256 PCR [`FIRMWARE_PCR`] (reset, then one extend with the image's
//! SHA-256, as a boot stage would) and quotes that PCR with the cloud's nonce as qualifying
//! data (TPM 2.0 Part 3 §18.4) by the attestation key provisioned at a persistent handle
//! (`tpm2_createak` under the EK, then `tpm2_evictcontrol`). The evidence carries the AK's
//! TPM2B_PUBLIC; the cloud registers the AK's Name for this device's certificate identity at
//! the first accepted quote and accepts only that AK afterwards
//! (`iotsec_attest::appraise::tpm_evidence`).
//!
//! Registration (before the first quote, when [`TpmConfig::ek_handle`] is set): the agent
//! reads the EK's and the AK's public areas (TPM2_ReadPublic), the cloud answers with a
//! credential sealed to the EK for the AK's Name, and the TPM recovers its secret with
//! TPM2_ActivateCredential (`iotsec_attest::device::activate`), which it performs only when it
//! holds both keys. The cloud then binds the AK to the device beside that EK
//! (`iotsec_attest::identity::registration`).
//!
//! Every call opens the TPM, runs its commands and closes it: swtpm and a kernel resource
//! manager serve one client at a time, and the agent holds no TPM state between steps.

use iotsec_attest::ErrorCode;
use iotsec_attest::PcrSelectionList;
use iotsec_attest::appraise::tpm_evidence::{FIRMWARE_PCR, TpmEvidence};
use iotsec_attest::device::activate::activate_credential;
use iotsec_attest::device::command::{
    TpmCommandError, pcr_extend_sha256, pcr_reset, quote, read_pcrs, read_public,
};
use iotsec_attest::device::transport::{SwtpmTcp, SwtpmUnix, TpmDevice, TpmTransport};
use iotsec_attest::tpm::algorithm::HashAlg;
use iotsec_attest::tpm::pcr_file::serialize_pcrs;
use iotsec_attest::tpm::pcr_selection::PcrBankSelection;

use super::error::AgentError;

/// The persistent handle `tpm2_createak` keys are usually made persistent at (TCG "TPM v2.0
/// Provisioning Guidance" §7.8: 0x8101xxxx is the owner's range for attestation keys).
pub const DEFAULT_AK_HANDLE: u32 = 0x8101_0002;

/// Which TPM the agent quotes with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpmConfig {
    /// The TPM: a character device (`/dev/tpmrm0`), `unix:PATH` (swtpm `--server
    /// type=unixio`) or HOST:PORT (swtpm `--server type=tcp`).
    pub tpm: String,
    /// Persistent handle of the AK.
    pub ak_handle: u32,
    /// Persistent handle of the EK the AK registers beside ([`DEFAULT_EK_HANDLE`]); `None`:
    /// no registration, for a cloud that binds the AK on first use.
    pub ek_handle: Option<u32>,
}

/// The persistent handle of the EK (TCG "TPM v2.0 Provisioning Guidance" §7.8: 0x81010001 is
/// the RSA EK; `tpm2_createek -c 0x81010001` makes one there).
pub const DEFAULT_EK_HANDLE: u32 = 0x8101_0001;

/// `/dev/...` is a TPM character device, `unix:PATH` a Unix socket, anything else HOST:PORT.
pub fn open_tpm(spec: &str) -> std::io::Result<Box<dyn TpmTransport>> {
    Ok(if spec.starts_with("/dev/") {
        Box::new(TpmDevice::open(spec)?)
    } else if let Some(path) = spec.strip_prefix("unix:") {
        Box::new(SwtpmUnix::connect_unix(path)?)
    } else {
        Box::new(SwtpmTcp::connect(spec)?)
    })
}

/// The fixed PCR selection the agent quotes: SHA-256 PCR [`FIRMWARE_PCR`].
fn selection() -> Result<PcrSelectionList, AgentError> {
    let mut list = PcrSelectionList::default();
    let bank = PcrBankSelection::new(HashAlg::Sha256, &[FIRMWARE_PCR]).ok_or_else(|| {
        AgentError::BadConfig {
            reason: "firmware PCR out of range".into(),
        }
    })?;
    list.push(bank).map_err(|e| AgentError::BadConfig {
        reason: e.to_string(),
    })?;
    Ok(list)
}

fn tpm_error(e: TpmCommandError) -> AgentError {
    AgentError::Tpm {
        code: e.code(),
        reason: e.to_string(),
    }
}

fn open(config: &TpmConfig) -> Result<Box<dyn TpmTransport>, AgentError> {
    open_tpm(&config.tpm).map_err(|e| AgentError::Tpm {
        code: "tpm_unreachable",
        reason: format!("cannot reach the TPM at {}: {e}", config.tpm),
    })
}

/// Measures `firmware_sha256` into the firmware PCR and quotes it with `nonce`: the evidence
/// bytes (`iotsec_attest::appraise::tpm_evidence` wire format). Blocking (TPM I/O).
pub fn measure_and_quote(
    config: &TpmConfig,
    firmware_sha256: &[u8; 32],
    nonce: &[u8],
) -> Result<Vec<u8>, AgentError> {
    let mut tpm = open(config)?;
    pcr_reset(tpm.as_mut(), FIRMWARE_PCR).map_err(tpm_error)?;
    pcr_extend_sha256(tpm.as_mut(), FIRMWARE_PCR, firmware_sha256).map_err(tpm_error)?;
    drop(tpm);
    quote_firmware_pcr(config, nonce)
}

/// Quotes the firmware PCR as it stands with `nonce`: the evidence bytes. Blocking (TPM I/O).
pub fn quote_firmware_pcr(config: &TpmConfig, nonce: &[u8]) -> Result<Vec<u8>, AgentError> {
    let selection = selection()?;
    let mut tpm = open(config)?;
    let ak_public = public_of(tpm.as_mut(), config.ak_handle)?;
    let mut buf = vec![0u8; 4096];
    let q =
        quote(tpm.as_mut(), config.ak_handle, nonce, &selection, &mut buf).map_err(tpm_error)?;
    let (attest, signature) = (q.attest.to_vec(), q.signature.to_vec());
    let mut buf = vec![0u8; 4096];
    let read = read_pcrs(tpm.as_mut(), &selection, &mut buf).map_err(tpm_error)?;
    if read.selection.total_selected() != 1 {
        return Err(AgentError::Tpm {
            code: "pcr_missing",
            reason: format!("the TPM did not return sha256 PCR {FIRMWARE_PCR}"),
        });
    }
    let values: Vec<&[u8]> = read.digests().collect();
    let pcrs = serialize_pcrs(&selection, &values);
    TpmEvidence {
        ak_public: &ak_public,
        attest: &attest,
        signature: &signature,
        pcrs: &pcrs,
    }
    .encode()
    .ok_or_else(|| AgentError::Tpm {
        code: "evidence_too_large",
        reason: "the TPM evidence exceeds its size cap".into(),
    })
}

/// The TPM2B_PUBLIC of the persistent object at `handle`.
fn public_of(tpm: &mut dyn TpmTransport, handle: u32) -> Result<Vec<u8>, AgentError> {
    let mut buf = vec![0u8; 4096];
    Ok(read_public(tpm, handle, &mut buf)
        .map_err(tpm_error)?
        .tpm2b_public
        .to_vec())
}

/// What registration sends: the EK's TPM2B_PUBLIC, its certificate from NV when the
/// manufacturer stored one (the index of the EK's algorithm), the AK's TPM2B_PUBLIC.
/// Blocking (TPM I/O).
pub fn registration_keys(
    config: &TpmConfig,
    ek_handle: u32,
) -> Result<RegistrationKeys, AgentError> {
    use iotsec_attest::identity::ek_nv::{
        ECC_EK_CERTIFICATE_INDEX, RSA_EK_CERTIFICATE_INDEX, read_ek_certificate,
    };
    use iotsec_attest::tpm::public::PublicKey;
    let mut tpm = open(config)?;
    let ek_public = public_of(tpm.as_mut(), ek_handle)?;
    let index = match iotsec_attest::PublicArea::parse_tpm2b(&ek_public)
        .map_err(|e| tpm_error(e.into()))?
        .key
    {
        PublicKey::Rsa { .. } => RSA_EK_CERTIFICATE_INDEX,
        PublicKey::Ecc { .. } => ECC_EK_CERTIFICATE_INDEX,
    };
    let ek_certificate = read_ek_certificate(tpm.as_mut(), index).map_err(tpm_error)?;
    let ak_public = public_of(tpm.as_mut(), config.ak_handle)?;
    Ok(RegistrationKeys {
        ek_public,
        ek_certificate,
        ak_public,
    })
}

/// The TPM's keys as registration sends them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationKeys {
    /// The EK's TPM2B_PUBLIC.
    pub ek_public: Vec<u8>,
    /// The EK certificate (DER) from NV, if the TPM has one.
    pub ek_certificate: Option<Vec<u8>>,
    /// The AK's TPM2B_PUBLIC.
    pub ak_public: Vec<u8>,
}

/// Recovers the secret of the cloud's credential (TPM2_ActivateCredential with the EK at
/// `ek_handle` for the AK): refused (`credential_refused`) when this TPM does not hold both
/// keys the credential names. Blocking (TPM I/O).
pub fn activate(
    config: &TpmConfig,
    ek_handle: u32,
    id_object: &[u8],
    encrypted_secret: &[u8],
) -> Result<zeroize::Zeroizing<Vec<u8>>, AgentError> {
    let mut tpm = open(config)?;
    activate_credential(
        tpm.as_mut(),
        ek_handle,
        config.ak_handle,
        id_object,
        encrypted_secret,
    )
    .map_err(|e| AgentError::Tpm {
        code: e.code(),
        reason: e.to_string(),
    })
}
