//! The issuing CA as the EST core uses it ([`IssuingCa`]): an [`Authority`], its records
//! behind the store traits, the certificates of its earlier key generations, and its CRL
//! numbers. The decisions over them (issue and record, find a certificate across key
//! generations, hand out a certificate again, sign the CRL: RFC 5280 §4.1.2.2, §5) are the free
//! functions of this module; they read no clock, no file and no random source of their own:
//! the time and the randomness are arguments. [`StoreCa`] is an issuing CA over any store
//! (in memory: [`crate::store::MemoryStore`]); the CA state directory on SQLite
//! (`ca::state::CaState`, feature `sqlite`) is the one the servers plug in.

use time::OffsetDateTime;

use crate::ca::authority::{Authority, IssuedCertificate, RevokedEntry};
use crate::ca::csr_check::VerifiedCsr;
use crate::ca::devid::DeviceIdentity;
use crate::ca::error::CaError;
use crate::store::{
    ApprovalStore, CertStore, EnrollmentKey, EnrollmentStore, IssuedRecord, RevocationRecord,
    hex_upper,
};

/// How many serials the issuer draws before giving up on collisions (each has about 126 random
/// bits: a second collision means a broken random source or store, not bad luck).
pub const ISSUE_ATTEMPTS: u32 = 4;

/// How long a CRL is valid (nextUpdate - thisUpdate).
pub const CRL_VALIDITY: time::Duration = time::Duration::hours(24);

/// Why a CA may not issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssuerRefusal {
    /// Its key was rotated out ([`CaError::IssuerRetired`]).
    Retired,
    /// The root revoked its certificate ([`CaError::IssuerRevoked`]).
    RevokedByRoot,
}

/// A certificate found by serial, with its revocation if it is revoked.
pub type FoundCertificate = (IssuedRecord, Option<RevocationRecord>);

/// The records an issuing CA keeps: its certificates and revocations, the enrollments that
/// asked for them, its manual-approval queue. Every type implementing the three store traits
/// is one ([`crate::store::MemoryStore`], the SQLite store).
pub trait IssuerRecords: CertStore + EnrollmentStore + ApprovalStore {}

impl<T: CertStore + EnrollmentStore + ApprovalStore + ?Sized> IssuerRecords for T {}

/// An issuing CA as the EST core sees it: every effect goes through these methods. The
/// provided ones describe a CA with no earlier key generation that may issue and numbers its
/// CRLs in its own records.
pub trait IssuingCa {
    /// The authority that signs.
    fn authority(&self) -> &Authority;
    /// Its records.
    fn records(&self) -> &dyn IssuerRecords;
    /// Its records, to add to.
    fn records_mut(&mut self) -> &mut dyn IssuerRecords;
    /// The certificate `serial` issued by a key rotated out of this CA, if one did
    /// (`ca::rotation`): the key-generation lookup.
    fn earlier_issued(&self, serial: &[u8]) -> Result<Option<FoundCertificate>, CaError> {
        let _ = serial;
        Ok(None)
    }
    /// The next number of the CRL sequence this CA's CRLs continue (RFC 5280 §5.2.3).
    fn next_crl_number(&mut self) -> Result<u64, CaError> {
        self.records_mut().next_crl_number()
    }
    /// Why this CA may not issue, if it may not.
    fn refusal(&self) -> Option<IssuerRefusal> {
        None
    }
    /// Whether the root revoked this CA's certificate.
    fn revoked_by_root(&self) -> bool {
        false
    }
}

/// An issuing CA over `store`, with no earlier key generation, that may issue.
pub struct StoreCa<S> {
    /// The authority.
    pub authority: Authority,
    /// The records.
    pub store: S,
}

impl<S> StoreCa<S> {
    /// `authority` recording into `store`.
    pub fn new(authority: Authority, store: S) -> Self {
        Self { authority, store }
    }
}

impl<S: IssuerRecords> IssuingCa for StoreCa<S> {
    fn authority(&self) -> &Authority {
        &self.authority
    }
    fn records(&self) -> &dyn IssuerRecords {
        &self.store
    }
    fn records_mut(&mut self) -> &mut dyn IssuerRecords {
        &mut self.store
    }
}

/// Fails with [`CaError::IssuerRetired`] or [`CaError::IssuerRevoked`] when `ca` may not issue.
pub fn ensure_may_issue<C: IssuingCa + ?Sized>(ca: &C) -> Result<(), CaError> {
    use der::Decode;
    let Some(refusal) = ca.refusal() else {
        return Ok(());
    };
    let serial_hex = x509_cert::Certificate::from_der(ca.authority().intermediate_der())
        .map(|c| hex_upper(c.tbs_certificate.serial_number.as_bytes()))
        .unwrap_or_default();
    Err(match refusal {
        IssuerRefusal::Retired => CaError::IssuerRetired { serial_hex },
        IssuerRefusal::RevokedByRoot => CaError::IssuerRevoked { serial_hex },
    })
}

/// Issues with `issue` and records the certificate before returning it (with the enrollment
/// `request` at its time, when given). A serial collision is retried with a fresh serial.
pub fn issue_recorded<C: IssuingCa + ?Sized>(
    ca: &mut C,
    mut issue: impl FnMut(&Authority) -> Result<IssuedCertificate, CaError>,
    request: Option<(&EnrollmentKey, i64)>,
) -> Result<IssuedCertificate, CaError> {
    use der::{Decode, Encode};
    ensure_may_issue(ca)?;
    for _ in 0..ISSUE_ATTEMPTS {
        let cert = issue(ca.authority())?;
        // The subject as issued (a DevID's differs from the request's).
        let subject_der = x509_cert::Certificate::from_der(&cert.der)
            .and_then(|c| c.tbs_certificate.subject.to_der())
            .map_err(|error| CaError::MalformedCertificate {
                which: "issued certificate",
                error,
            })?;
        let rec = IssuedRecord {
            serial: cert.serial.clone(),
            subject_der,
            cert_der: cert.der.clone(),
            not_after: cert.not_after.unix_timestamp(),
        };
        let recorded = match request {
            Some((key, at)) => ca.records_mut().record_issued_for(&rec, key, at),
            None => ca.records_mut().record_issued(&rec),
        };
        match recorded {
            Ok(()) => return Ok(cert),
            Err(CaError::DuplicateSerial { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Err(CaError::SerialCollisions {
        attempts: ISSUE_ATTEMPTS,
    })
}

/// Issues for `csr` (as a DevID for `identity` when given) with serials drawn from `rng`,
/// and records it, with the enrollment `request` when given.
pub fn issue_for<C: IssuingCa + ?Sized>(
    ca: &mut C,
    csr: &VerifiedCsr,
    identity: Option<&DeviceIdentity>,
    request: Option<&EnrollmentKey>,
    now: OffsetDateTime,
    rng: &mut dyn rand_core::CryptoRngCore,
) -> Result<IssuedCertificate, CaError> {
    let at = now.unix_timestamp();
    issue_recorded(
        ca,
        |a| a.issue_using(csr, identity, now, &mut *rng),
        request.map(|r| (r, at)),
    )
}

/// The record of the certificate `serial` issued by `ca`'s current key or by a key rotated
/// out of it, with its revocation if it is revoked.
pub fn find_issued<C: IssuingCa + ?Sized>(
    ca: &C,
    serial: &[u8],
) -> Result<Option<FoundCertificate>, CaError> {
    if let Some(record) = ca.records().issued(serial)? {
        return Ok(Some((record, ca.records().revocation(serial)?)));
    }
    ca.earlier_issued(serial)
}

/// Fails with [`CaError::Revoked`] if `serial` is revoked, by this key or by a key rotated
/// out of this CA.
pub fn ensure_not_revoked<C: IssuingCa + ?Sized>(ca: &C, serial: &[u8]) -> Result<(), CaError> {
    let revoked = match ca.records().revocation(serial)? {
        Some(_) => true,
        None => find_issued(ca, serial)?.is_some_and(|(_, revocation)| revocation.is_some()),
    };
    if revoked {
        return Err(CaError::Revoked {
            serial_hex: hex_upper(serial),
        });
    }
    Ok(())
}

/// The certificate `ca` issued for `request` at or after `since` (Unix seconds), if it is
/// still one to hand out at `now`: unexpired, unrevoked, and the CA may still issue.
pub fn reissuable_for<C: IssuingCa + ?Sized>(
    ca: &C,
    request: &EnrollmentKey,
    since: i64,
    now: OffsetDateTime,
) -> Result<Option<IssuedRecord>, CaError> {
    if ca.refusal().is_some() {
        return Ok(None);
    }
    let Some(record) = ca.records().issued_for(request, since)? else {
        return Ok(None);
    };
    if record.not_after <= now.unix_timestamp()
        || ca.records().revocation(&record.serial)?.is_some()
    {
        return Ok(None);
    }
    Ok(Some(record))
}

/// Signs a fresh CRL over all revocations of certificates unexpired at `now`, with the next
/// CRL number, valid for [`CRL_VALIDITY`].
pub fn sign_crl<C: IssuingCa + ?Sized>(
    ca: &mut C,
    now: OffsetDateTime,
) -> Result<Vec<u8>, CaError> {
    let entries: Vec<RevokedEntry> = ca
        .records()
        .revocations(now.unix_timestamp())?
        .into_iter()
        .map(|r| RevokedEntry {
            revoked_at: OffsetDateTime::from_unix_timestamp(r.revoked_at).unwrap_or(now),
            serial: r.serial,
            reason: r.reason,
        })
        .collect();
    let number = ca.next_crl_number()?;
    ca.authority()
        .sign_crl(&entries, number, now, now + CRL_VALIDITY)
}
