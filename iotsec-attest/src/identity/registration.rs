//! AK registration: proof that an attestation key lives in a TPM whose endorsement key the
//! verifier trusts, before any quote by that key is believed (the exchange of Keylime's
//! registrar; TPM 2.0 Part 1 §24 "Credential Protection", Part 3 §12.5 TPM2_ActivateCredential
//! and §12.6 TPM2_MakeCredential; EK trust per TCG EK Credential Profile 2.5 §3 or an
//! operator's allow-list).
//!
//! Sans I/O: the caller moves the bytes and keeps the pending registrations.
//! 1. [`Registrar::challenge`]: the EK is trusted (its certificate chains to a configured root,
//!    or the SHA-256 of its TPM2B_PUBLIC is on the allow-list), the AK public area is a
//!    restricted signing key with fixedTPM, fixedParent and sensitiveDataOrigin, and a fresh
//!    32-byte secret is sealed by MakeCredential to the EK for the AK's Name. The caller stores
//!    the [`PendingRegistration`] (only a digest of the secret) and sends the credential.
//! 2. The device recovers the secret with TPM2_ActivateCredential, which the TPM performs only
//!    when it holds the EK's private key **and** an object with the AK's Name
//!    ([`crate::device::activate`]).
//! 3. [`PendingRegistration::verify`]: same subject, not expired, secret equal (constant time).
//!    The caller removes the pending registration before or with this call (single use) and
//!    binds the AK Name to the subject when it passes.
//!
//! What it stops: an AK that is a software key (no TPM can activate a credential for it under
//! a trusted EK) and an AK of another TPM presented beside a trusted EK (the credential names
//! the AK, the seed is sealed to the EK: both must be in one TPM).

use std::string::String;
use std::vec::Vec;

use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::appraise::ak_attribute_problems;
use crate::error::ParseError;
use crate::identity::credential::{CredentialBlob, CredentialError, make_credential};
use crate::identity::ek_certificate::{
    EkCertError, EkIdentity, EkQuirks, validate_ek_certificate_at,
};
use crate::tpm::algorithm::HashAlg;
use crate::tpm::public::PublicArea;

/// Length of the secret sealed in the credential.
pub const SECRET_LEN: usize = 32;
/// Length of a registration id.
pub const REGISTRATION_ID_LEN: usize = 16;
/// Seconds a pending registration stays redeemable by default.
pub const DEFAULT_TTL_SECS: u64 = 120;
/// Largest TPM2B_PUBLIC accepted (an RSA-4096 key with a SHA-512 policy fits).
pub const MAX_PUBLIC_LEN: usize = 1200;
/// Largest EK certificate accepted (NV certificates are 1-2 KiB).
pub const MAX_EK_CERTIFICATE_LEN: usize = 4096;
/// Most lines an allow-list may have.
pub const MAX_ALLOW_LIST_LINES: usize = 100_000;

/// Why a registration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrationError {
    /// A field is over its cap (`field` names it).
    #[error("{field} of {len} bytes exceeds {cap}")]
    TooLarge {
        /// The field.
        field: &'static str,
        /// Offered length.
        len: usize,
        /// Cap.
        cap: usize,
    },
    /// A public area does not parse.
    #[error("{field} is not a TPM2B_PUBLIC: {error}")]
    Malformed {
        /// `ek_public` or `ak_public`.
        field: &'static str,
        /// The parser's reason.
        error: ParseError,
    },
    /// Nothing is trusted: no EK root and an empty allow-list.
    #[error("no EK root certificate or allow-list is configured")]
    NoEkTrust,
    /// The EK certificate was refused.
    #[error("the EK certificate was refused: {0} ({code})", code = crate::ErrorCode::code(.0))]
    EkCertificate(EkCertError),
    /// The EK has no valid certificate and is not on the allow-list.
    #[error("the EK is not on the allow-list and has no certificate to check")]
    EkNotAllowed,
    /// MakeCredential cannot use the EK (not a storage key, unsupported symmetric, SHA-1).
    #[error("the EK cannot seal a credential: {0}")]
    EkUnusable(CredentialError),
    /// The AK public area is not a restricted signing key resident in a TPM.
    #[error("the AK is not an attestation key: missing or wrong {0:?}")]
    AkAttributes(Vec<&'static str>),
    /// The secret is not [`SECRET_LEN`] bytes.
    #[error("the secret is {len} bytes, not {SECRET_LEN}")]
    SecretLength {
        /// Offered length.
        len: usize,
    },
    /// The registration was asked for by another subject.
    #[error("the registration belongs to another device")]
    WrongSubject,
    /// The registration expired.
    #[error("the registration expired at {expires_at} (unix seconds)")]
    Expired {
        /// Its expiry.
        expires_at: u64,
    },
    /// The secret is not the sealed one: the TPM did not activate this credential.
    #[error("the secret does not match the credential")]
    SecretMismatch,
    /// An allow-list line is not 64 hex digits.
    #[error("allow-list line {line}: not a hex SHA-256 (64 hex digits)")]
    AllowListLine {
        /// 1-based line number.
        line: usize,
    },
}

crate::error::error_codes!(RegistrationError {
    RegistrationError::TooLarge { .. } => "too_large", BadInput;
    RegistrationError::Malformed { .. } => "malformed", BadInput;
    RegistrationError::NoEkTrust => "no_ek_trust", Refusal;
    RegistrationError::EkCertificate(_) => "ek_certificate_refused", Refusal;
    RegistrationError::EkNotAllowed => "ek_not_allowed", Refusal;
    RegistrationError::EkUnusable(_) => "ek_unusable", Refusal;
    RegistrationError::AkAttributes(_) => "ak_attributes", Refusal;
    RegistrationError::SecretLength { .. } => "bad_secret", BadInput;
    RegistrationError::WrongSubject => "registration_not_yours", Refusal;
    RegistrationError::Expired { .. } => "registration_expired", Refusal;
    RegistrationError::SecretMismatch => "secret_mismatch", Refusal;
    RegistrationError::AllowListLine { .. } => "bad_allow_list", BadInput;
});

/// The identity recorded for an EK: SHA-256 of its TPM2B_PUBLIC (size prefix included), what
/// `sha256sum ek.pub` prints for `tpm2_createek -u ek.pub`.
pub fn ek_digest(ek_tpm2b_public: &[u8]) -> [u8; 32] {
    Sha256::digest(ek_tpm2b_public).into()
}

/// Reads an allow-list: one lowercase or uppercase hex SHA-256 of an EK TPM2B_PUBLIC
/// ([`ek_digest`]) per line; empty lines and lines starting with `#` are skipped; anything
/// else is refused with its line number.
pub fn parse_allow_list(text: &str) -> Result<Vec<[u8; 32]>, RegistrationError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line_no > MAX_ALLOW_LIST_LINES {
            return Err(RegistrationError::AllowListLine { line: line_no });
        }
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut digest = [0u8; 32];
        hex::decode_to_slice(line, &mut digest)
            .map_err(|_| RegistrationError::AllowListLine { line: line_no })?;
        out.push(digest);
    }
    Ok(out)
}

/// Which EKs the registrar trusts: certificates chaining to `roots` (through
/// `intermediates`), or EKs whose [`ek_digest`] is allowed. Empty trusts nothing.
#[derive(Debug, Clone, Default)]
pub struct EkTrust {
    /// Trusted roots (DER).
    pub roots: Vec<Vec<u8>>,
    /// Intermediates (DER) a chain may use.
    pub intermediates: Vec<Vec<u8>>,
    /// Allowed EK digests.
    pub allowed: Vec<[u8; 32]>,
    /// Vendor quirks tolerated in EK certificates.
    pub quirks: EkQuirks,
}

/// How an EK was found trustworthy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EkAcceptance {
    /// Its certificate chains to a configured root.
    Certificate(EkIdentity),
    /// Its digest is on the allow-list.
    AllowList,
}

impl EkTrust {
    /// Whether nothing is trusted.
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty() && self.allowed.is_empty()
    }

    /// Decides whether the EK `ek_public` (TPM2B_PUBLIC) with its optional certificate (DER)
    /// is trusted at `now` (unix seconds): an allowed digest is an explicit operator decision
    /// and is consulted first; otherwise the certificate must chain to a configured root.
    pub fn accept(
        &self,
        ek_public: &[u8],
        ek: &PublicArea<'_>,
        ek_certificate: Option<&[u8]>,
        now: u64,
    ) -> Result<EkAcceptance, RegistrationError> {
        if self.is_empty() {
            return Err(RegistrationError::NoEkTrust);
        }
        let digest = ek_digest(ek_public);
        if self.allowed.iter().any(|a| bool::from(a.ct_eq(&digest))) {
            return Ok(EkAcceptance::AllowList);
        }
        match ek_certificate {
            Some(cert) if !self.roots.is_empty() => {
                let inter: Vec<&[u8]> = self.intermediates.iter().map(Vec::as_slice).collect();
                let roots: Vec<&[u8]> = self.roots.iter().map(Vec::as_slice).collect();
                validate_ek_certificate_at(cert, ek, &inter, &roots, &self.quirks, now)
                    .map(EkAcceptance::Certificate)
                    .map_err(RegistrationError::EkCertificate)
            }
            _ => Err(RegistrationError::EkNotAllowed),
        }
    }
}

/// What a device offers to register.
#[derive(Debug, Clone, Copy)]
pub struct RegistrationRequest<'a> {
    /// Who asks (the device's authenticated identity, e.g. its certificate CN).
    pub subject: &'a str,
    /// The EK's TPM2B_PUBLIC.
    pub ek_public: &'a [u8],
    /// The EK certificate (DER), if the TPM has one.
    pub ek_certificate: Option<&'a [u8]>,
    /// The AK's TPM2B_PUBLIC.
    pub ak_public: &'a [u8],
}

/// A registration waiting for its secret. Holds a digest of the secret, never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRegistration {
    /// Random id the device answers with.
    pub id: [u8; REGISTRATION_ID_LEN],
    /// Who asked.
    pub subject: String,
    /// The AK's Name (nameAlg || H(TPMT_PUBLIC)), bound when the secret comes back.
    pub ak_name: Vec<u8>,
    /// [`ek_digest`] of the EK.
    pub ek_digest: [u8; 32],
    /// SHA-256 of the secret.
    pub secret_digest: [u8; 32],
    /// Unix seconds after which the registration is refused.
    pub expires_at: u64,
}

/// The registrar's answer to a request: what to store and what to send.
#[derive(Debug, Clone)]
pub struct Challenge {
    /// To store until the secret comes back.
    pub pending: PendingRegistration,
    /// To send: only the TPM holding the EK and the AK can open it.
    pub credential: CredentialBlob,
    /// How the EK was trusted.
    pub ek: EkAcceptance,
}

/// Issues credentials to devices whose EK is trusted.
#[derive(Debug, Clone)]
pub struct Registrar<'t> {
    trust: &'t EkTrust,
    ttl_secs: u64,
}

fn bounded(field: &'static str, bytes: &[u8], cap: usize) -> Result<(), RegistrationError> {
    if bytes.len() > cap {
        return Err(RegistrationError::TooLarge {
            field,
            len: bytes.len(),
            cap,
        });
    }
    Ok(())
}

fn public_area<'a>(
    field: &'static str,
    bytes: &'a [u8],
) -> Result<PublicArea<'a>, RegistrationError> {
    bounded(field, bytes, MAX_PUBLIC_LEN)?;
    PublicArea::parse_tpm2b(bytes).map_err(|error| RegistrationError::Malformed { field, error })
}

/// The attributes that stop `ak` from being registered: [`ak_attribute_problems`], and a
/// SHA-1 nameAlg (a Name is the AK's identity from then on; it must not collide).
pub fn ak_registration_problems(ak: &PublicArea<'_>) -> Vec<&'static str> {
    let mut problems = ak_attribute_problems(ak.attributes);
    if ak.name_alg == HashAlg::Sha1 {
        problems.push("nameAlg SHA-1");
    }
    problems
}

impl<'t> Registrar<'t> {
    /// A registrar trusting `trust`, with registrations valid for `ttl_secs`.
    pub fn new(trust: &'t EkTrust, ttl_secs: u64) -> Self {
        Self { trust, ttl_secs }
    }

    /// Checks the request and seals a fresh secret to the EK for the AK (step 1).
    pub fn challenge(
        &self,
        request: &RegistrationRequest<'_>,
        rng: &mut dyn CryptoRngCore,
        now: u64,
    ) -> Result<Challenge, RegistrationError> {
        if let Some(cert) = request.ek_certificate {
            bounded("ek_certificate", cert, MAX_EK_CERTIFICATE_LEN)?;
        }
        let ek = public_area("ek_public", request.ek_public)?;
        let ak = public_area("ak_public", request.ak_public)?;
        let problems = ak_registration_problems(&ak);
        if !problems.is_empty() {
            return Err(RegistrationError::AkAttributes(problems));
        }
        let accepted = self
            .trust
            .accept(request.ek_public, &ek, request.ek_certificate, now)?;
        let ak_name = ak.name().as_bytes().to_vec();
        let mut secret = Zeroizing::new([0u8; SECRET_LEN]);
        rng.fill_bytes(secret.as_mut_slice());
        let credential = make_credential(&ek, &ak_name, secret.as_slice(), rng)
            .map_err(RegistrationError::EkUnusable)?;
        let mut id = [0u8; REGISTRATION_ID_LEN];
        rng.fill_bytes(&mut id);
        Ok(Challenge {
            pending: PendingRegistration {
                id,
                subject: request.subject.into(),
                ak_name,
                ek_digest: ek_digest(request.ek_public),
                secret_digest: Sha256::digest(secret.as_slice()).into(),
                expires_at: now.saturating_add(self.ttl_secs),
            },
            credential,
            ek: accepted,
        })
    }
}

impl PendingRegistration {
    /// Checks the secret a device recovered (step 3): `subject` asked for it, `now` is not
    /// past the expiry, and the secret's digest equals the stored one (constant time). The
    /// caller must have taken this registration out of its store (it is single use).
    pub fn verify(&self, subject: &str, secret: &[u8], now: u64) -> Result<(), RegistrationError> {
        if secret.len() != SECRET_LEN {
            return Err(RegistrationError::SecretLength { len: secret.len() });
        }
        if self.subject != subject {
            return Err(RegistrationError::WrongSubject);
        }
        if now > self.expires_at {
            return Err(RegistrationError::Expired {
                expires_at: self.expires_at,
            });
        }
        let offered: [u8; 32] = Sha256::digest(secret).into();
        if !bool::from(offered.ct_eq(&self.secret_digest)) {
            return Err(RegistrationError::SecretMismatch);
        }
        Ok(())
    }
}
