//! Feeds a verified MCUboot image into the A/B trial-boot flow ([`crate::trial_boot`]) with the
//! same anti-rollback rule as a manifest: the image's protected security counter may not be
//! below the device's committed counter (MCUboot's hardware rollback protection, design
//! document "Security counter"). MCUboot images carry no sequence number; the version, ordered
//! as MCUboot orders versions, takes its place, so the replay check refuses a version not
//! newer than the last confirmed one (MCUboot's downgrade prevention).

use crate::mcuboot::error::McubootError;
use crate::mcuboot::header::flags;
use crate::mcuboot::tlv::kind;
use crate::mcuboot::verify::VerifiedImage;
use crate::trial_boot::InstallTicket;

/// The install ticket for `image` on a device whose committed security counter is `stored`.
/// `file_digest` and `file_size` describe the bytes that go into the slot (the whole image
/// file, SHA-256), which the install checks again while writing.
///
/// Refused: an image without a security counter (nothing to hold it to), a counter below
/// `stored`, a dependency (this device runs one image and cannot check another's version),
/// and a non-bootable image (it could not pass its trial boot).
pub fn install_ticket(
    image: &VerifiedImage,
    stored: u64,
    file_digest: [u8; 32],
    file_size: u64,
) -> Result<InstallTicket, McubootError> {
    let Some(counter) = image.security_counter else {
        return Err(McubootError::MissingTlv {
            kind: kind::SEC_CNT,
        });
    };
    if u64::from(counter) < stored {
        return Err(McubootError::Rollback {
            stored,
            offered: counter.into(),
        });
    }
    if let Some(dependency) = image.dependencies.first() {
        return Err(McubootError::UnsupportedDependency {
            image_id: dependency.image_id,
        });
    }
    if image.header.flags & flags::NON_BOOTABLE != 0 {
        return Err(McubootError::NonBootable);
    }
    Ok(InstallTicket {
        security_counter: counter.into(),
        sequence_number: image.version().ordinal(),
        digest: file_digest,
        size: file_size,
    })
}
