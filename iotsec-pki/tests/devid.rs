//! IEEE 802.1AR DevID issuance, checked with x509-cert, OpenSSL and pkilint (peers we did not
//! write).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
mod peers;

use std::path::Path;
use std::process::Command;

use common::{acme_ca, copy_ca_certs, write_pem};
use der::Decode;
use der::asn1::PrintableStringRef;
use der::oid::ObjectIdentifier;
use iotsec_pki::authority::IssuedCertificate;
use iotsec_pki::ca_error::CaError;
use iotsec_pki::ca_state::{CaState, enable_devid};
use iotsec_pki::devid::{
    DevIdKind, DevIdProfile, DeviceIdentity, HardwareModuleName, ID_ON_HARDWARE_MODULE_NAME,
};
use peers::{have, openssl, openssl_csr, run, verify_client};
use time::OffsetDateTime;
use x509_cert::Certificate;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::RelativeDistinguishedName;
use x509_cert::time::Time;

const HW_TYPE: &str = "1.3.6.1.4.1.32473.1.7";
const SERIAL_NUMBER_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.5");

fn devid_ca(name: &str, kind: DevIdKind) -> (std::path::PathBuf, CaState) {
    let (dir, state) = acme_ca(name);
    enable_devid(
        &state,
        &DevIdProfile {
            hw_type: HW_TYPE.parse().unwrap(),
            kind,
        },
    )
    .unwrap();
    copy_ca_certs(&state, &dir);
    (dir, CaState::open(&state).unwrap())
}

/// A CSR made by OpenSSL: `extra` is added to `openssl req`.
fn csr(dir: &Path, subj: &str, extra: &[&str]) -> Vec<u8> {
    openssl_csr(dir, "dev.key", "dev.csr", subj, extra);
    std::fs::read(dir.join("dev.csr")).unwrap()
}

/// The CA issues a DevID now from the DER CSR `der` for the device with `serial`.
fn issue(ca: &mut CaState, der: &[u8], serial: &str) -> Result<IssuedCertificate, CaError> {
    ca.issue_devid(
        der,
        &DeviceIdentity::from_serial(serial),
        OffsetDateTime::now_utc(),
    )
}

/// The subject serialNumber values and the hardwareModuleNames of a certificate.
fn devid_names(der: &[u8]) -> (Vec<String>, Vec<HardwareModuleName>, Certificate) {
    let cert = Certificate::from_der(der).unwrap();
    let mut serials = Vec::new();
    for rdn in cert.tbs_certificate.subject.0.iter() {
        for atv in rdn.0.iter() {
            if atv.oid == SERIAL_NUMBER_OID {
                serials.push(
                    atv.value
                        .decode_as::<PrintableStringRef<'_>>()
                        .unwrap()
                        .to_string(),
                );
            }
        }
    }
    let mut hmns = Vec::new();
    for ext in cert.tbs_certificate.extensions.iter().flatten() {
        if ext.extn_id.to_string() == "2.5.29.17" {
            let san = SubjectAltName::from_der(ext.extn_value.as_bytes()).unwrap();
            for n in san.0 {
                if let GeneralName::OtherName(on) = n {
                    assert_eq!(on.type_id, ID_ON_HARDWARE_MODULE_NAME);
                    hmns.push(on.value.decode_as::<HardwareModuleName>().unwrap());
                }
            }
        }
    }
    (serials, hmns, cert)
}

#[test]
fn idevid_carries_the_cas_serial_and_hardware_module_name_and_openssl_verifies_it() {
    if !have("openssl") {
        return;
    }
    let (dir, mut ca) = devid_ca("devid-idevid", DevIdKind::Initial);
    let der = csr(
        &dir,
        "/CN=dev-0042",
        &["-addext", "subjectAltName=DNS:dev-0042.devices.invalid"],
    );
    let cert = issue(&mut ca, &der, "SN-0042").unwrap();
    let (serials, hmns, parsed) = devid_names(&cert.der);
    assert_eq!(serials, ["SN-0042"]);
    assert_eq!(hmns.len(), 1);
    assert_eq!(hmns[0].hw_type.to_string(), HW_TYPE);
    assert_eq!(hmns[0].hw_serial_num.as_bytes(), b"SN-0042");
    // RFC 5280 §4.1.2.5: 99991231235959Z as GeneralizedTime.
    match parsed.tbs_certificate.validity.not_after {
        Time::GeneralTime(t) => {
            assert_eq!(t.to_unix_duration().as_secs(), 253_402_300_799);
        }
        Time::UtcTime(_) => panic!("IDevID notAfter encoded as UTCTime"),
    }

    write_pem(&dir, "dev.pem", "CERTIFICATE", &cert.der);
    let (ok, text) = openssl(&dir, &["x509", "-in", "dev.pem", "-noout", "-text"]);
    assert!(ok, "{text}");
    assert!(text.contains("serialNumber = SN-0042"), "{text}");
    assert!(
        text.contains("Not After : Dec 31 23:59:59 9999 GMT"),
        "{text}"
    );
    assert!(text.contains("DNS:dev-0042.devices.invalid"), "{text}");
    assert!(
        text.contains("othername") || text.contains("Other Name"),
        "{text}"
    );
    assert!(text.contains("CA:FALSE"), "{text}");
    assert!(text.contains("Digital Signature"), "{text}");
    assert!(text.contains("TLS Web Client Authentication"), "{text}");
    assert!(
        text.contains("othername: 1.3.6.1.5.5.7.8.4::"),
        "hardwareModuleName missing: {text}"
    );
    // OpenSSL 3.0 does not print hardwareModuleName's content: parse the SAN extension's
    // OCTET STRING with asn1parse and read SEQUENCE { OID hwType, OCTET STRING hwSerialNum }.
    let (ok, asn1) = openssl(&dir, &["asn1parse", "-in", "dev.pem"]);
    assert!(ok, "{asn1}");
    let lines: Vec<&str> = asn1.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("X509v3 Subject Alternative Name"))
        .unwrap();
    let offset = lines[at + 1].split(':').next().unwrap().trim().to_owned();
    let (ok, san) = openssl(
        &dir,
        &["asn1parse", "-in", "dev.pem", "-strparse", &offset, "-i"],
    );
    assert!(ok, "{san}");
    assert!(san.contains(":1.3.6.1.5.5.7.8.4"), "{san}");
    assert!(san.contains(&format!(":{HW_TYPE}")), "{san}");
    // hwSerialNum: OCTET STRING "SN-0042".
    assert!(san.contains("OCTET STRING      :SN-0042"), "{san}");

    let (ok, out) = verify_client(&dir, "int.pem", "dev.pem");
    assert!(ok && out.contains("dev.pem: OK"), "{out}");

    // The database holds the subject as issued (with the CA's serial), for re-enroll checks.
    assert!(ca.ensure_not_revoked(&cert.serial).is_ok());
}

#[test]
fn ldevid_keeps_the_short_lifetime() {
    if !have("openssl") {
        return;
    }
    let (dir, mut ca) = devid_ca("devid-ldevid", DevIdKind::Local);
    let der = csr(&dir, "/CN=dev-7", &[]);
    let now = OffsetDateTime::now_utc();
    let cert = ca
        .issue_devid(&der, &DeviceIdentity::from_serial("SN-7"), now)
        .unwrap();
    assert_eq!(cert.not_after.unix_timestamp() - now.unix_timestamp(), 3600);
    let (serials, hmns, parsed) = devid_names(&cert.der);
    assert_eq!(serials, ["SN-7"]);
    assert_eq!(hmns[0].hw_serial_num.as_bytes(), b"SN-7");
    assert!(matches!(
        parsed.tbs_certificate.validity.not_after,
        Time::UtcTime(_)
    ));
}

#[test]
fn csr_smuggling_its_own_serial_or_hardware_module_name_gets_only_the_cas_values() {
    if !have("openssl") {
        return;
    }
    let (dir, mut ca) = devid_ca("devid-smuggle", DevIdKind::Initial);
    // 1. A subject serialNumber in the CSR is dropped; the CA's is the only one.
    let der = csr(&dir, "/CN=dev-9/serialNumber=EVIL-1", &[]);
    let cert = issue(&mut ca, &der, "SN-9").unwrap();
    let (serials, hmns, _) = devid_names(&cert.der);
    assert_eq!(serials, ["SN-9"]);
    assert_eq!(hmns.len(), 1);
    assert_eq!(hmns[0].hw_serial_num.as_bytes(), b"SN-9");

    // 2. A CSR that asks for its own hardwareModuleName otherName is refused outright.
    std::fs::write(
        dir.join("smuggle.cnf"),
        format!(
            "[req]\ndistinguished_name=dn\nreq_extensions=ext\nprompt=no\n[dn]\nCN=dev-9\n\
             [ext]\nsubjectAltName=otherName:1.3.6.1.5.5.7.8.4;SEQUENCE:hmn\n\
             [hmn]\nhwType=OID:{HW_TYPE}\nhwSerialNum=OCT:EVIL-2\n"
        ),
    )
    .unwrap();
    let der = csr(&dir, "/CN=dev-9", &["-config", "smuggle.cnf"]);
    let (ok, text) = openssl(
        &dir,
        &["req", "-in", "dev.csr", "-inform", "DER", "-noout", "-text"],
    );
    assert!(
        ok && text.contains("othername"),
        "the CSR lacks the otherName: {text}"
    );
    let err = issue(&mut ca, &der, "SN-9").unwrap_err();
    assert!(matches!(err, CaError::SanNotAllowed { .. }), "{err:?}");
}

#[test]
fn devid_profile_refuses_plain_issuance_and_plain_profile_refuses_devid() {
    if !have("openssl") {
        return;
    }
    let (dir, mut ca) = devid_ca("devid-plain", DevIdKind::Local);
    let der = csr(&dir, "/CN=dev-1", &[]);
    assert!(matches!(
        ca.issue_csr(&der, OffsetDateTime::now_utc()),
        Err(CaError::DevIdIdentityRequired)
    ));
    ca.authority.profile.devid = None;
    assert!(matches!(
        issue(&mut ca, &der, "SN-1"),
        Err(CaError::DevIdNotEnabled)
    ));
}

/// pkilint (RFC 5280 linter) finds no warning or error in an IDevID.
#[test]
fn pkilint_accepts_an_idevid() {
    if !have("lint_pkix_cert") || !have("openssl") {
        return;
    }
    let (dir, mut ca) = devid_ca("devid-pkilint", DevIdKind::Initial);
    let der = csr(
        &dir,
        "/CN=dev-5",
        &["-addext", "subjectAltName=DNS:dev-5.devices.invalid"],
    );
    let cert = issue(&mut ca, &der, "SN-5").unwrap();
    std::fs::write(dir.join("dev.der"), &cert.der).unwrap();
    let (ok, out) = run(Command::new("lint_pkix_cert")
        .current_dir(&dir)
        .args(["lint", "-s", "WARNING", "dev.der"]));
    assert!(ok && out.trim().is_empty(), "pkilint on the IDevID: {out}");
}

/// `cert` with its subject's RDNs rewritten by `edit` (the signature is left stale: identity_of
/// reads names only).
fn with_subject(
    cert: &Certificate,
    edit: impl FnOnce(&mut Vec<RelativeDistinguishedName>),
) -> Vec<u8> {
    use der::Encode;
    let mut c = cert.clone();
    edit(&mut c.tbs_certificate.subject.0);
    c.to_der().unwrap()
}

fn serial_rdn(tag: der::Tag, value: &[u8]) -> RelativeDistinguishedName {
    RelativeDistinguishedName(
        der::asn1::SetOfVec::try_from(vec![AttributeTypeAndValue {
            oid: SERIAL_NUMBER_OID,
            value: der::asn1::Any::new(tag, value).unwrap(),
        }])
        .unwrap(),
    )
}

#[test]
fn identity_of_needs_exactly_one_printable_serial_number() {
    use iotsec_pki::devid::identity_of;
    let (_dir, mut ca) = devid_ca("devid-identity", DevIdKind::Initial);
    let key =
        iotsec_pki::DeviceKey::from_secret_bytes(iotsec_pki::KeyAlgorithm::P256, &[9; 32]).unwrap();
    let csr = iotsec_pki::build_csr(
        &key,
        &iotsec_pki::CsrRequest {
            common_name: "dev-1",
            organization: None,
            device_names: &[],
            challenge_password: None,
        },
    )
    .unwrap();
    let issued = issue(&mut ca, &csr, "SN-1").unwrap();
    let hw_type: ObjectIdentifier = HW_TYPE.parse().unwrap();
    let id = identity_of(&issued.der, &hw_type).unwrap().unwrap();
    assert_eq!(id.serial_number, "SN-1");
    assert_eq!(id.hw_serial_num, b"SN-1");
    let cert = Certificate::from_der(&issued.der).unwrap();

    // A UTF8String serialNumber in front of the CA's: two serials, not a DevID (it used to be
    // skipped, and the second one won).
    let two = with_subject(&cert, |rdns| {
        rdns.insert(0, serial_rdn(der::Tag::Utf8String, b"SN-2"));
    });
    assert_eq!(devid_names_count(&two), 2);
    assert_eq!(identity_of(&two, &hw_type).unwrap(), None);
    // Two PrintableString serials: not a DevID either.
    let two_printable = with_subject(&cert, |rdns| {
        rdns.push(serial_rdn(der::Tag::PrintableString, b"SN-1"));
    });
    assert_eq!(identity_of(&two_printable, &hw_type).unwrap(), None);
    // The only serialNumber a UTF8String: not a DevID.
    let utf8 = with_subject(&cert, |rdns| {
        rdns.retain(|rdn| rdn.0.iter().all(|atv| atv.oid != SERIAL_NUMBER_OID));
        rdns.push(serial_rdn(der::Tag::Utf8String, b"SN-1"));
    });
    assert_eq!(devid_names_count(&utf8), 1);
    assert_eq!(identity_of(&utf8, &hw_type).unwrap(), None);
}

/// How many subject serialNumber attributes `der` holds, whatever their string type.
fn devid_names_count(der: &[u8]) -> usize {
    Certificate::from_der(der)
        .unwrap()
        .tbs_certificate
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|atv| atv.oid == SERIAL_NUMBER_OID)
        .count()
}
