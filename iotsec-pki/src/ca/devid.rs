//! The optional IEEE 802.1AR DevID issuance profile (IEEE 802.1AR-2018 §8; RFC 4108 §5
//! hardwareModuleName).
//!
//! A DevID certificate names the device by its serial number in the subject (attribute
//! serialNumber, 2.5.4.5) and by a subjectAltName otherName `hardwareModuleName`
//! (id-on-hardwareModuleName, 1.3.6.1.5.5.7.8.4: `SEQUENCE { hwType OBJECT IDENTIFIER,
//! hwSerialNum OCTET STRING }`). Both values come from the CA (its manufacturing record), never
//! from the CSR. An IDevID is meant to live as long as the device: its notAfter is the RFC 5280
//! §4.1.2.5 "no well-defined expiration" value 99991231235959Z; an LDevID keeps the label's
//! short lifetime.

use der::Encode;
use der::asn1::{Any, Ia5String, OctetString, PrintableString};
use der::oid::ObjectIdentifier;
use time::OffsetDateTime;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::{GeneralName, OtherName};

use crate::ca::csr_check::SanEntry;
use crate::ca::error::CaError;

/// id-on-hardwareModuleName (RFC 4108 §5).
pub const ID_ON_HARDWARE_MODULE_NAME: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.8.4");

/// Longest device serial accepted (RFC 5280 ub-serial-number is 64 characters).
pub const MAX_SERIAL_LEN: usize = 64;

/// RFC 4108 `HardwareModuleName ::= SEQUENCE { hwType OBJECT IDENTIFIER, hwSerialNum OCTET STRING }`.
#[derive(Debug, Clone, PartialEq, Eq, der::Sequence)]
pub struct HardwareModuleName {
    /// The hardware type (the manufacturer's OID for the device model).
    pub hw_type: ObjectIdentifier,
    /// The hardware module's serial number.
    pub hw_serial_num: OctetString,
}

/// Which DevID the label issues (IEEE 802.1AR-2018 §5.3 and §5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevIdKind {
    /// Initial DevID: installed at manufacture, valid "forever" (notAfter 99991231235959Z).
    Initial,
    /// Locally significant DevID: the label's (short) lifetime.
    Local,
}

/// The DevID part of a label's issuance profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevIdProfile {
    /// hwType placed in every hardwareModuleName of this label.
    pub hw_type: ObjectIdentifier,
    /// IDevID (long-lived) or LDevID (short-lived).
    pub kind: DevIdKind,
}

/// The device identity the CA asserts (from its own records, not from the CSR).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdentity {
    /// The subject serialNumber (PrintableString).
    pub serial_number: String,
    /// hwSerialNum of the hardwareModuleName (usually the same serial's bytes).
    pub hw_serial_num: Vec<u8>,
}

impl DeviceIdentity {
    /// A device whose hwSerialNum is the bytes of its serial number.
    pub fn from_serial(serial: impl Into<String>) -> Self {
        let serial_number = serial.into();
        Self {
            hw_serial_num: serial_number.as_bytes().to_vec(),
            serial_number,
        }
    }

    /// Checks the serial: 1..=64 characters of PrintableString, hwSerialNum 1..=64 octets.
    pub fn validated_serial(&self) -> Result<PrintableString, CaError> {
        let bad = |reason| CaError::SubjectNotAllowed { reason };
        if self.serial_number.is_empty() || self.serial_number.len() > MAX_SERIAL_LEN {
            return Err(bad("DevID serialNumber must be 1..=64 characters"));
        }
        if self.hw_serial_num.is_empty() || self.hw_serial_num.len() > MAX_SERIAL_LEN {
            return Err(bad("DevID hwSerialNum must be 1..=64 octets"));
        }
        PrintableString::new(&self.serial_number)
            .map_err(|_| bad("DevID serialNumber is not a PrintableString"))
    }
}

/// notAfter of an IDevID: 9999-12-31T23:59:59Z (RFC 5280 §4.1.2.5; encoded as
/// GeneralizedTime because the year is past 2049).
pub fn idevid_not_after() -> Result<OffsetDateTime, CaError> {
    let date = time::Date::from_calendar_date(9999, time::Month::December, 31).map_err(|_| {
        CaError::TimeOutOfRange {
            what: "IDevID notAfter",
        }
    })?;
    let t = time::Time::from_hms(23, 59, 59).map_err(|_| CaError::TimeOutOfRange {
        what: "IDevID notAfter",
    })?;
    Ok(date.with_time(t).assume_utc())
}

/// The DER value of the subjectAltName extension: the CA's hardwareModuleName first, then the
/// (allow-listed) names the CSR asked for.
pub fn subject_alt_name_der(
    profile: &DevIdProfile,
    identity: &DeviceIdentity,
    requested: &[SanEntry],
) -> Result<Vec<u8>, CaError> {
    let hmn = HardwareModuleName {
        hw_type: profile.hw_type,
        hw_serial_num: OctetString::new(identity.hw_serial_num.clone())
            .map_err(CaError::MalformedCsr)?,
    };
    let mut names = vec![GeneralName::OtherName(OtherName {
        type_id: ID_ON_HARDWARE_MODULE_NAME,
        value: Any::encode_from(&hmn).map_err(CaError::MalformedCsr)?,
    })];
    for s in requested {
        names.push(match s {
            SanEntry::Dns(d) => {
                GeneralName::DnsName(Ia5String::new(d).map_err(CaError::MalformedCsr)?)
            }
            SanEntry::Uri(u) => GeneralName::UniformResourceIdentifier(
                Ia5String::new(u).map_err(CaError::MalformedCsr)?,
            ),
            SanEntry::Ip(ip) => GeneralName::IpAddress(
                OctetString::new(match ip {
                    std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
                    std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
                })
                .map_err(CaError::MalformedCsr)?,
            ),
        });
    }
    SubjectAltName(names)
        .to_der()
        .map_err(CaError::MalformedCsr)
}

/// The DevID identity a certificate carries (its IDevID or an earlier LDevID): the subject
/// serialNumber and the hardwareModuleName whose hwType is `hw_type`. `None` when the
/// certificate has no such pair (a plain certificate, or a device of another hardware type).
pub fn identity_of(
    cert_der: &[u8],
    hw_type: &ObjectIdentifier,
) -> Result<Option<DeviceIdentity>, CaError> {
    use der::Decode;
    use der::asn1::PrintableStringRef;
    const SERIAL_NUMBER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.5");
    let cert = x509_cert::Certificate::from_der(cert_der).map_err(|error| {
        CaError::MalformedCertificate {
            which: "client certificate",
            error,
        }
    })?;
    let mut serials = cert
        .tbs_certificate
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|atv| atv.oid == SERIAL_NUMBER);
    // Exactly one serialNumber, and a PrintableString (X520SerialNumber): two serials, or one
    // that does not decode, are not a DevID we can trust, whichever of them would decode.
    let (Some(only), None) = (serials.next(), serials.next()) else {
        return Ok(None);
    };
    let Ok(serial_number) = only.value.decode_as::<PrintableStringRef<'_>>() else {
        return Ok(None);
    };
    let serial_number = serial_number.to_string();
    let mut hw = None;
    for ext in cert.tbs_certificate.extensions.iter().flatten() {
        if ext.extn_id != crate::ca::csr_check::ID_CE_SUBJECT_ALT_NAME {
            continue;
        }
        let san = SubjectAltName::from_der(ext.extn_value.as_bytes()).map_err(|error| {
            CaError::MalformedCertificate {
                which: "client certificate",
                error,
            }
        })?;
        for name in san.0 {
            if let GeneralName::OtherName(on) = name
                && on.type_id == ID_ON_HARDWARE_MODULE_NAME
            {
                let hmn: HardwareModuleName =
                    on.value
                        .decode_as()
                        .map_err(|error| CaError::MalformedCertificate {
                            which: "client certificate",
                            error,
                        })?;
                if &hmn.hw_type == hw_type {
                    hw = Some(hmn.hw_serial_num.as_bytes().to_vec());
                }
            }
        }
    }
    Ok(hw.map(|hw_serial_num| DeviceIdentity {
        serial_number,
        hw_serial_num,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::Decode;

    #[test]
    fn hardware_module_name_round_trips_through_der() {
        let p = DevIdProfile {
            hw_type: ObjectIdentifier::new_unwrap("1.3.6.1.4.1.99999.1"),
            kind: DevIdKind::Initial,
        };
        let id = DeviceIdentity::from_serial("SN-0001");
        let der =
            subject_alt_name_der(&p, &id, &[SanEntry::Dns("a.devices.invalid".into())]).unwrap();
        let san = SubjectAltName::from_der(&der).unwrap();
        assert_eq!(san.0.len(), 2);
        let GeneralName::OtherName(on) = &san.0[0] else {
            panic!("first name is not an otherName")
        };
        assert_eq!(on.type_id, ID_ON_HARDWARE_MODULE_NAME);
        let hmn: HardwareModuleName = on.value.decode_as().unwrap();
        assert_eq!(hmn.hw_type, p.hw_type);
        assert_eq!(hmn.hw_serial_num.as_bytes(), b"SN-0001");
    }

    #[test]
    fn bad_serials_are_refused() {
        for s in ["", "a*b", &"9".repeat(65)] {
            assert!(matches!(
                DeviceIdentity::from_serial(s).validated_serial(),
                Err(CaError::SubjectNotAllowed { .. })
            ));
        }
        assert!(
            DeviceIdentity::from_serial("SN 0001-A")
                .validated_serial()
                .is_ok()
        );
    }

    #[test]
    fn idevid_not_after_is_the_rfc5280_sentinel() {
        let t = idevid_not_after().unwrap();
        assert_eq!(
            (
                t.year(),
                t.month() as u8,
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            ),
            (9999, 12, 31, 23, 59, 59)
        );
    }
}
