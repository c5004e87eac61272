//! The device verifier: one call decides whether a signed manifest may be installed here.
//!
//! Order of checks (cheap structural checks first, signatures before any field is trusted):
//! root freshness (version and expiry); document size cap; `COSE_Sign` structure and content type (RFC 9052 §4.1);
//! release-role threshold (TUF §5.4); manifest schema (RFC 8949 §4.2.1); vendor, class and
//! device conditions (RFC 9124 §8.4.8.2-4); image size against the slot; expiry against a
//! trusted clock; security counter (anti-rollback) and sequence number (anti-replay,
//! RFC 9124 §8.4.2); the signed rollout gate.

use crate::cose_sign::CoseSign;
use crate::error::Error;
use crate::manifest::Manifest;
use crate::rollout_cohort::{cohort_bucket, in_cohort};
use crate::trust_root::{Role, TrustRoot};

/// Content type of a signed manifest.
pub const MANIFEST_CONTENT_TYPE: &str = "application/iotsec-ota-manifest+cose";

/// What the device knows of the time, for the expiry checks of trust roots and manifests
/// (TUF specification §5.4, freeze attack; RFC 9124 §4.2.2).
///
/// There is no default: a device without a trusted clock says so with
/// [`TrustedTime::NoTrustedClock`], and the outcome says it back ([`Verified::expiry`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustedTime {
    /// Seconds since the Unix epoch from a clock the device trusts (a secure RTC, an
    /// authenticated time source): expired roots and manifests are refused.
    At(u64),
    /// The device has no trusted clock (a bootloader, a device before its first time sync).
    /// Root and manifest expiry are then not checked, so a replayed, expired but otherwise
    /// valid manifest is accepted as long as the security counter and sequence number allow it:
    /// the freeze attack is not detected.
    NoTrustedClock,
}

/// Whether a verified manifest's and root's expiry were checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryCheck {
    /// Checked against this trusted time (seconds since the Unix epoch).
    CheckedAt(u64),
    /// Not checked: the device state said [`TrustedTime::NoTrustedClock`].
    NotChecked,
}

/// What the device knows about itself; every field is explicit (no "version 0" defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceState<'a> {
    /// This device's vendor UUID.
    pub vendor_id: [u8; 16],
    /// This device's class UUID.
    pub class_id: [u8; 16],
    /// This device's id (as listed in manifests and hashed into rollout buckets).
    pub device_id: &'a [u8],
    /// The security counter committed after the last confirmed boot.
    pub security_counter: u64,
    /// The sequence number of the last manifest accepted.
    pub last_sequence: u64,
    /// The trust root version the device has stored (roots older than this are refused).
    pub trusted_root_version: u64,
    /// Largest image an install slot holds, in bytes.
    pub slot_capacity: u64,
    /// Trusted time, or the device's statement that it has none.
    pub now: TrustedTime,
}

/// A manifest that passed every check, for this device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified<'a> {
    /// The manifest.
    pub manifest: Manifest<'a>,
    /// Distinct release keys with valid signatures.
    pub signers: u8,
    /// Whether the root's and the manifest's expiry were checked, and against which time.
    pub expiry: ExpiryCheck,
}

impl TrustedTime {
    fn seconds(self) -> Option<u64> {
        match self {
            TrustedTime::At(now) => Some(now),
            TrustedTime::NoTrustedClock => None,
        }
    }
}

/// Decides whether the signed manifest `document` may be installed on the device in `state`,
/// trusting `root`. Fails closed with an error naming the attack it stopped.
pub fn verify<'m>(
    document: &'m [u8],
    root: &TrustRoot<'_>,
    state: &DeviceState<'_>,
) -> Result<Verified<'m>, Error> {
    if root.version() < state.trusted_root_version {
        return Err(Error::RootRollback {
            trusted: state.trusted_root_version,
            offered: root.version(),
        });
    }
    if let (Some(expires_at), Some(now)) = (root.expires_at(), state.now.seconds())
        && now >= expires_at
    {
        return Err(Error::RootExpired { expires_at, now });
    }
    let (manifest, signers) = verify_release_signatures(document, root)?;
    check_applicability(&manifest, state)?;
    let expiry = match state.now {
        TrustedTime::At(now) => ExpiryCheck::CheckedAt(now),
        TrustedTime::NoTrustedClock => ExpiryCheck::NotChecked,
    };
    Ok(Verified {
        manifest,
        signers,
        expiry,
    })
}

/// The signature half of [`verify`], for a party that holds no device state (a release
/// pipeline, an operator's check): `document` must be a manifest (its COSE content type) signed
/// by `root`'s release threshold, and its payload a manifest. Nothing about a device is
/// checked: not the root's version or expiry, rollback, replay, applicability or the
/// manifest's expiry; a device uses [`verify`]. Returns the manifest and how many distinct
/// release keys signed it.
pub fn verify_release_signatures<'m>(
    document: &'m [u8],
    root: &TrustRoot<'_>,
) -> Result<(Manifest<'m>, u8), Error> {
    let signed = CoseSign::from_cbor(document)?;
    if signed.content_type != MANIFEST_CONTENT_TYPE {
        return Err(Error::WrongDocumentType {
            expected: MANIFEST_CONTENT_TYPE,
        });
    }
    let signers = root.check_threshold(Role::Release, &signed)?;
    Ok((Manifest::from_cbor(signed.payload)?, signers))
}

fn check_applicability(manifest: &Manifest<'_>, state: &DeviceState<'_>) -> Result<(), Error> {
    if manifest.vendor_id != state.vendor_id {
        return Err(Error::WrongVendor);
    }
    if manifest.class_id != state.class_id {
        return Err(Error::WrongClass);
    }
    if !manifest.device_ids.is_empty() && !manifest.device_ids.contains(&state.device_id) {
        return Err(Error::WrongDevice);
    }
    if let Some(component) = manifest
        .components
        .iter()
        .find(|c| c.size > state.slot_capacity)
    {
        return Err(Error::ImageTooLarge {
            size: component.size,
            capacity: state.slot_capacity,
        });
    }
    if let (Some(expires_at), Some(now)) = (manifest.expires_at, state.now.seconds())
        && now >= expires_at
    {
        return Err(Error::Expired { expires_at, now });
    }
    if manifest.security_counter < state.security_counter {
        return Err(Error::Rollback {
            stored: state.security_counter,
            offered: manifest.security_counter,
        });
    }
    if manifest.sequence_number <= state.last_sequence {
        return Err(Error::Replay {
            last: state.last_sequence,
            offered: manifest.sequence_number,
        });
    }
    if let Some(gate) = &manifest.rollout
        && !in_cohort(gate, state.device_id)
    {
        return Err(Error::OutsideCohort {
            bucket: cohort_bucket(gate.seed, state.device_id),
            basis_points: gate.basis_points,
        });
    }
    Ok(())
}
