//! The update manifest: what a device may install, for whom, and in which order.
//!
//! Modelled on IETF SUIT (RFC 9124 §8.4: sequence number, vendor/class conditions, image digest
//! and size) with additions SUIT leaves to profiles: a security counter for anti-rollback
//! (MCUboot's `SECURITY_CNT`), an optional expiry against freeze attacks (TUF §1.5.2) and a
//! signed rollout gate. All components of one release live in one signed manifest, so they
//! cannot be mixed and matched with components of another release.
//!
//! Encoding: a CBOR map with small unsigned keys in deterministic order (RFC 8949 §4.2.1):
//!
//! | key | field | type |
//! |---|---|---|
//! | 0 | format version | uint, must be [`FORMAT_VERSION`] |
//! | 1 | vendor id | bstr .size 16 (UUID) |
//! | 2 | class id | bstr .size 16 (UUID) |
//! | 3 | device ids (optional, non-empty) | [+ bstr .size (1..32)] |
//! | 4 | components | [+ {0: tstr id, 1: bstr .size 32 SHA-256, 2: uint size, ? 3: bstr .size 32 delta base}] |
//! | 5 | security counter | uint |
//! | 6 | sequence number | uint |
//! | 7 | version (SemVer 2.0.0) | tstr |
//! | 8 | expires at (optional) | uint, seconds since the Unix epoch |
//! | 9 | rollout gate (optional) | [uint basis points 1..=10000, bstr .size (8..32) seed] |

use heapless::Vec;

use crate::canonical_cbor::{CanonicalDecoder, CborError, SeenKeys};

/// The only manifest format this crate reads and writes.
pub const FORMAT_VERSION: u64 = 1;
/// Most components one manifest may bind together.
pub const MAX_COMPONENTS: usize = 4;
/// Most device ids one manifest may list.
pub const MAX_DEVICE_IDS: usize = 16;
/// Longest device id, in bytes.
pub const MAX_DEVICE_ID_LEN: usize = 32;
/// Longest component id, in bytes.
pub const MAX_COMPONENT_ID_LEN: usize = 32;
/// Longest version string, in bytes.
pub const MAX_VERSION_LEN: usize = 64;
/// Shortest and longest rollout seed, in bytes.
pub const ROLLOUT_SEED_LEN: core::ops::RangeInclusive<usize> = 8..=32;
/// Basis points meaning "every device".
pub const ALL_DEVICES_BPS: u16 = 10_000;

/// One image of a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Component<'a> {
    /// Which part of the device this image is for (`"app"`, `"modem"`, ...).
    pub id: &'a str,
    /// SHA-256 of the full image.
    pub digest: [u8; 32],
    /// Exact image size in bytes.
    pub size: u64,
    /// For a delta image: SHA-256 of the image it applies to.
    pub delta_base: Option<[u8; 32]>,
}

/// The signed rollout gate: a device is in the cohort when
/// `SHA-256(seed || device_id)[0..8] as u64 (big endian) mod 10000 < basis_points`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RolloutGate<'a> {
    /// Share of the fleet, in basis points (1..=10000).
    pub basis_points: u16,
    /// Per-release seed, so cohorts differ between releases.
    pub seed: &'a [u8],
}

/// A decoded manifest, borrowing from its encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest<'a> {
    /// Vendor UUID (SUIT vendor-identifier condition).
    pub vendor_id: [u8; 16],
    /// Device class UUID (SUIT class-identifier condition).
    pub class_id: [u8; 16],
    /// When non-empty, only these devices may install.
    pub device_ids: Vec<&'a [u8], MAX_DEVICE_IDS>,
    /// The images of this release, bound together by the signature.
    pub components: Vec<Component<'a>, MAX_COMPONENTS>,
    /// Anti-rollback counter: committed on the device only after a confirmed boot.
    pub security_counter: u64,
    /// Freshness: must be larger than the last sequence number the device accepted.
    pub sequence_number: u64,
    /// SemVer 2.0.0 version, for people.
    pub version: &'a str,
    /// Seconds since the Unix epoch after which devices with a trusted clock refuse it.
    pub expires_at: Option<u64>,
    /// Staged rollout: which share of the fleet may install.
    pub rollout: Option<RolloutGate<'a>>,
}

impl<'a> Manifest<'a> {
    /// Decodes a manifest from deterministic CBOR, refusing anything non-canonical, unknown,
    /// over a cap, or followed by trailing bytes.
    pub fn from_cbor(input: &'a [u8]) -> Result<Self, CborError> {
        let mut d = CanonicalDecoder::new(input);
        let manifest = Self::decode(&mut d)?;
        d.finish()?;
        Ok(manifest)
    }

    fn decode(d: &mut CanonicalDecoder<'a>) -> Result<Self, CborError> {
        let mut manifest = Manifest {
            vendor_id: [0; 16],
            class_id: [0; 16],
            device_ids: Vec::new(),
            components: Vec::new(),
            security_counter: 0,
            sequence_number: 0,
            version: "",
            expires_at: None,
            rollout: None,
        };
        let mut seen = SeenKeys::default();
        let mut keys = d.map(10)?;
        while let Some((offset, key)) = d.next_key(&mut keys)? {
            seen.mark(key);
            match key {
                0 => {
                    let value_offset = d.position();
                    if d.uint()? != FORMAT_VERSION {
                        return Err(CborError::InvalidValue {
                            offset: value_offset,
                            reason: "unsupported manifest format version",
                        });
                    }
                }
                1 => manifest.vendor_id = d.byte_array()?,
                2 => manifest.class_id = d.byte_array()?,
                3 => manifest.device_ids = decode_device_ids(d)?,
                4 => manifest.components = decode_components(d)?,
                5 => manifest.security_counter = d.uint()?,
                6 => manifest.sequence_number = d.uint()?,
                7 => {
                    let value_offset = d.position();
                    let version = d.text(MAX_VERSION_LEN)?;
                    if !is_semver(version) {
                        return Err(CborError::InvalidValue {
                            offset: value_offset,
                            reason: "version is not SemVer 2.0.0",
                        });
                    }
                    manifest.version = version;
                }
                8 => manifest.expires_at = Some(d.uint()?),
                9 => manifest.rollout = Some(decode_rollout(d)?),
                _ => return Err(CborError::UnknownKey { offset, key }),
            }
        }
        seen.require(&[0, 1, 2, 4, 5, 6, 7])?;
        Ok(manifest)
    }

    /// The component with this id.
    pub fn component(&self, id: &str) -> Option<&Component<'a>> {
        self.components.iter().find(|c| c.id == id)
    }
}

fn decode_device_ids<'a>(
    d: &mut CanonicalDecoder<'a>,
) -> Result<Vec<&'a [u8], MAX_DEVICE_IDS>, CborError> {
    let offset = d.position();
    let count = d.array(MAX_DEVICE_IDS)?;
    if count == 0 {
        return Err(CborError::InvalidValue {
            offset,
            reason: "empty device id list (omit the field instead)",
        });
    }
    let mut ids = Vec::new();
    for _ in 0..count {
        let id_offset = d.position();
        let id = d.bytes(MAX_DEVICE_ID_LEN)?;
        if id.is_empty() {
            return Err(CborError::InvalidValue {
                offset: id_offset,
                reason: "empty device id",
            });
        }
        ids.push(id).map_err(|_| CborError::OverCap {
            offset,
            length: count as u64,
            cap: MAX_DEVICE_IDS as u64,
        })?;
    }
    Ok(ids)
}

fn decode_components<'a>(
    d: &mut CanonicalDecoder<'a>,
) -> Result<Vec<Component<'a>, MAX_COMPONENTS>, CborError> {
    let offset = d.position();
    let count = d.array(MAX_COMPONENTS)?;
    if count == 0 {
        return Err(CborError::InvalidValue {
            offset,
            reason: "a manifest needs at least one component",
        });
    }
    let mut components: Vec<Component<'a>, MAX_COMPONENTS> = Vec::new();
    for _ in 0..count {
        let component_offset = d.position();
        let component = decode_component(d)?;
        if components.iter().any(|c| c.id == component.id) {
            return Err(CborError::InvalidValue {
                offset: component_offset,
                reason: "component id listed twice",
            });
        }
        components.push(component).map_err(|_| CborError::OverCap {
            offset,
            length: count as u64,
            cap: MAX_COMPONENTS as u64,
        })?;
    }
    Ok(components)
}

fn decode_component<'a>(d: &mut CanonicalDecoder<'a>) -> Result<Component<'a>, CborError> {
    let mut component = Component {
        id: "",
        digest: [0; 32],
        size: 0,
        delta_base: None,
    };
    let mut seen = SeenKeys::default();
    let mut keys = d.map(4)?;
    while let Some((offset, key)) = d.next_key(&mut keys)? {
        seen.mark(key);
        match key {
            0 => {
                let id_offset = d.position();
                component.id = d.text(MAX_COMPONENT_ID_LEN)?;
                if component.id.is_empty() {
                    return Err(CborError::InvalidValue {
                        offset: id_offset,
                        reason: "empty component id",
                    });
                }
            }
            1 => component.digest = d.byte_array()?,
            2 => component.size = d.uint()?,
            3 => component.delta_base = Some(d.byte_array()?),
            _ => return Err(CborError::UnknownKey { offset, key }),
        }
    }
    seen.require(&[0, 1, 2])?;
    Ok(component)
}

fn decode_rollout<'a>(d: &mut CanonicalDecoder<'a>) -> Result<RolloutGate<'a>, CborError> {
    d.array_exact(2)?;
    let offset = d.position();
    let bps = d.uint_at_most(u64::from(ALL_DEVICES_BPS))?;
    if bps == 0 {
        return Err(CborError::InvalidValue {
            offset,
            reason: "rollout gate of 0 basis points",
        });
    }
    let seed_offset = d.position();
    let seed = d.bytes(*ROLLOUT_SEED_LEN.end())?;
    if !ROLLOUT_SEED_LEN.contains(&seed.len()) {
        return Err(CborError::InvalidValue {
            offset: seed_offset,
            reason: "rollout seed must be 8 to 32 bytes",
        });
    }
    Ok(RolloutGate {
        basis_points: bps as u16,
        seed,
    })
}

/// True when `version` is a SemVer 2.0.0 version (semver.org §2, §9, §10).
pub fn is_semver(version: &str) -> bool {
    let (rest, build) = match version.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (version, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (rest, None),
    };
    let mut parts = 0;
    for part in core.split('.') {
        parts += 1;
        if !is_numeric_identifier(part) {
            return false;
        }
    }
    let identifiers_ok = |s: &str, numeric_rule: bool| {
        s.split('.').all(|id| {
            !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && (!numeric_rule
                    || !id.bytes().all(|b| b.is_ascii_digit())
                    || is_numeric_identifier(id))
        })
    };
    parts == 3
        && pre.is_none_or(|p| identifiers_ok(p, true))
        && build.is_none_or(|b| identifiers_ok(b, false))
}

fn is_numeric_identifier(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
}

#[cfg(feature = "alloc")]
mod encode {
    use alloc::vec::Vec;

    use minicbor::Encoder;

    use super::{FORMAT_VERSION, Manifest};

    impl Manifest<'_> {
        /// Encodes the manifest as deterministic CBOR (RFC 8949 §4.2.1): shortest heads,
        /// definite lengths, keys in increasing order, optional fields omitted when absent.
        pub fn to_cbor(&self) -> Vec<u8> {
            let mut e = Encoder::new(Vec::new());
            // Writing into a Vec cannot fail.
            let _ = self.encode(&mut e);
            e.into_writer()
        }

        fn encode(
            &self,
            e: &mut Encoder<Vec<u8>>,
        ) -> Result<(), minicbor::encode::Error<core::convert::Infallible>> {
            let entries = 7
                + u64::from(!self.device_ids.is_empty())
                + u64::from(self.expires_at.is_some())
                + u64::from(self.rollout.is_some());
            e.map(entries)?;
            e.u64(0)?.u64(FORMAT_VERSION)?;
            e.u64(1)?.bytes(&self.vendor_id)?;
            e.u64(2)?.bytes(&self.class_id)?;
            if !self.device_ids.is_empty() {
                e.u64(3)?.array(self.device_ids.len() as u64)?;
                for id in &self.device_ids {
                    e.bytes(id)?;
                }
            }
            e.u64(4)?.array(self.components.len() as u64)?;
            for c in &self.components {
                e.map(3 + u64::from(c.delta_base.is_some()))?;
                e.u64(0)?.str(c.id)?;
                e.u64(1)?.bytes(&c.digest)?;
                e.u64(2)?.u64(c.size)?;
                if let Some(base) = &c.delta_base {
                    e.u64(3)?.bytes(base)?;
                }
            }
            e.u64(5)?.u64(self.security_counter)?;
            e.u64(6)?.u64(self.sequence_number)?;
            e.u64(7)?.str(self.version)?;
            if let Some(expiry) = self.expires_at {
                e.u64(8)?.u64(expiry)?;
            }
            if let Some(gate) = &self.rollout {
                e.u64(9)?.array(2)?;
                e.u64(u64::from(gate.basis_points))?.bytes(gate.seed)?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_syntax() {
        for ok in [
            "1.0.0",
            "0.0.0",
            "1.2.3-rc.1",
            "1.2.3+build.5",
            "10.20.30-alpha-1+x",
        ] {
            assert!(is_semver(ok), "{ok}");
        }
        for bad in [
            "1.0",
            "01.0.0",
            "1.0.0-",
            "1.0.0-01",
            "1.0.0+",
            "a.b.c",
            "1.0.0-a..b",
            "",
        ] {
            assert!(!is_semver(bad), "{bad}");
        }
    }
}
