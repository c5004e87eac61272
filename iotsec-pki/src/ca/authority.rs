//! The CA hierarchy (RFC 5280 §6 path model): an offline root that signs online issuing
//! intermediates (one by default, more with [`create_intermediate`]), each of which signs
//! device certificates and its own CRLs.
//!
//! Issuance builds FRESH certificate parameters from the [`IssuanceProfile`] and takes from the
//! verified CSR only its public key, its (plain) subject and the allow-listed subjectAltNames.
//! rcgen's `CertificateSigningRequestParams::from_der` is deliberately not used: it copies
//! basicConstraints, keyUsage, EKU and SAN from the request.

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
    DistinguishedName, DnType, DnValue, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyUsagePurpose,
    RevokedCertParams, SanType, SerialNumber,
};
use time::OffsetDateTime;

use crate::ca::csr_check::{SanEntry, SubjectAttribute, VerifiedCsr};
use crate::ca::devid::{self, DevIdKind, DevIdProfile, DeviceIdentity};
use crate::ca::error::CaError;
use crate::ca::profile::IssuanceProfile;
use crate::device::key::KeyAlgorithm;
use crate::keys::signer::{RcgenSigner, Signer, SoftwareSigner, key_id_of};

/// Root CA lifetime.
pub const ROOT_LIFETIME: time::Duration = time::Duration::days(20 * 365);
/// Issuing intermediate lifetime.
pub const INTERMEDIATE_LIFETIME: time::Duration = time::Duration::days(5 * 365);
/// Backdating of notBefore to absorb device clock skew.
pub const CLOCK_SKEW: time::Duration = time::Duration::minutes(5);

/// A freshly created hierarchy: the root key must then leave the online machine.
pub struct Hierarchy {
    /// Root certificate (DER).
    pub root_der: Vec<u8>,
    /// Root key (to be stored offline).
    pub root_key: SoftwareSigner,
    /// Intermediate certificate (DER).
    pub intermediate_der: Vec<u8>,
    /// Intermediate key (online; or move it into an HSM behind [`Signer`]).
    pub intermediate_key: SoftwareSigner,
}

fn ca_name(org: &str, cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, org);
    dn.push(DnType::CommonName, cn);
    dn
}

fn root_params(org: &str, now: OffsetDateTime) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = ca_name(org, &format!("{org} Root CA"));
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = now - CLOCK_SKEW;
    p.not_after = now + ROOT_LIFETIME;
    p
}

fn intermediate_params(org: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = ca_name(org, &format!("{org} Issuing CA"));
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    p.use_authority_key_identifier_extension = true;
    p
}

/// Creates a root and an intermediate (both P-256, software keys) for organization `org`.
pub fn create_hierarchy(org: &str, now: OffsetDateTime) -> Result<Hierarchy, CaError> {
    let root_key = SoftwareSigner::generate_p256()?;
    let intermediate_key = SoftwareSigner::generate_p256()?;
    let certs = create_hierarchy_with(org, now, &root_key, &intermediate_key)?;
    Ok(Hierarchy {
        root_der: certs.root_der,
        intermediate_der: certs.intermediate_der,
        root_key,
        intermediate_key,
    })
}

/// The two certificates of a hierarchy whose keys live elsewhere (a PKCS#11 token, a KMS).
#[derive(Debug, Clone)]
pub struct HierarchyCertificates {
    /// Root certificate (DER), self-signed.
    pub root_der: Vec<u8>,
    /// Intermediate certificate (DER), signed by the root.
    pub intermediate_der: Vec<u8>,
}

/// Creates the root certificate for `root_key` (self-signed) and the intermediate certificate
/// for `intermediate_key` (signed by `root_key`); any [`Signer`], e.g. keys in HSMs.
pub fn create_hierarchy_with(
    org: &str,
    now: OffsetDateTime,
    root_key: &dyn Signer,
    intermediate_key: &dyn Signer,
) -> Result<HierarchyCertificates, CaError> {
    create_hierarchy_publishing(org, now, root_key, intermediate_key, None)
}

/// [`create_hierarchy_with`] whose intermediate carries a CRL distribution point for the root's
/// CRL (the ARL, [`crate::ca::root_crl`]) at `root_crl_url`, when one is given.
pub fn create_hierarchy_publishing(
    org: &str,
    now: OffsetDateTime,
    root_key: &dyn Signer,
    intermediate_key: &dyn Signer,
    root_crl_url: Option<&str>,
) -> Result<HierarchyCertificates, CaError> {
    let mut rp = root_params(org, now);
    rp.key_identifier_method = key_id_of(&RcgenSigner(root_key));
    rp.serial_number = Some(random_serial()?);
    let root = rp
        .self_signed(&RcgenSigner(root_key))
        .map_err(CaError::generate)?;
    let root_issuer = Issuer::new(rp, RcgenSigner(root_key));
    let intermediate = sign_intermediate(
        intermediate_params(org),
        &root_issuer,
        intermediate_key,
        root_crl_url,
        now,
    )?;
    Ok(HierarchyCertificates {
        root_der: root.der().to_vec(),
        intermediate_der: intermediate,
    })
}

/// Signs an intermediate certificate `ip` (its subject set) for `subject_key` under
/// `root_issuer`: a fresh random serial, the intermediate lifetime, and a CRL distribution
/// point for the root's CRL when `root_crl_url` is given (RFC 5280 §4.2.1.13).
fn sign_intermediate(
    mut ip: CertificateParams,
    root_issuer: &Issuer<'_, RcgenSigner<'_>>,
    subject_key: &dyn Signer,
    root_crl_url: Option<&str>,
    now: OffsetDateTime,
) -> Result<Vec<u8>, CaError> {
    ip.key_identifier_method = key_id_of(&RcgenSigner(subject_key));
    ip.serial_number = Some(random_serial()?);
    ip.not_before = now - CLOCK_SKEW;
    ip.not_after = now + INTERMEDIATE_LIFETIME;
    if let Some(url) = root_crl_url {
        ip.crl_distribution_points = vec![CrlDistributionPoint {
            uris: vec![url.to_owned()],
        }];
    }
    Ok(ip
        .signed_by(&RcgenSigner(subject_key), root_issuer)
        .map_err(CaError::generate)?
        .der()
        .to_vec())
}

/// The root as rcgen's issuer: its name decoded from `root_der`, its key `root_key`.
fn root_issuer<'a>(
    root_der: &[u8],
    root_key: &'a dyn Signer,
    now: OffsetDateTime,
) -> Result<Issuer<'static, RcgenSigner<'a>>, CaError> {
    let mut rp = root_params("", now);
    rp.distinguished_name = subject_of(root_der)?;
    rp.key_identifier_method = key_id_of(&RcgenSigner(root_key));
    Ok(Issuer::new(rp, RcgenSigner(root_key)))
}

/// A PrintableString subject value for rcgen. X.680's PrintableString includes '?', but rcgen's
/// DER writer (yasna 0.6) panics on it, so such a value is refused here with a typed error
/// (a client sends it as UTF8String instead; our own CSR builder does).
fn printable(value: &str, not_printable: &'static str) -> Result<DnValue, CaError> {
    if value.contains('?') {
        return Err(CaError::SubjectNotAllowed {
            reason: "'?' in a PrintableString (send the value as UTF8String)",
        });
    }
    Ok(DnValue::PrintableString(value.try_into().map_err(
        |_| CaError::SubjectNotAllowed {
            reason: not_printable,
        },
    )?))
}

/// Decodes a CA certificate's subject into rcgen's name (UTF8String and PrintableString only,
/// which is what this crate writes).
fn subject_of(cert_der: &[u8]) -> Result<DistinguishedName, CaError> {
    use der::Decode;
    use der::Tagged;
    use der::asn1::{PrintableStringRef, Utf8StringRef};
    let cert = x509_cert::Certificate::from_der(cert_der).map_err(|error| {
        CaError::MalformedCertificate {
            which: "CA certificate",
            error,
        }
    })?;
    let mut dn = DistinguishedName::new();
    for rdn in cert.tbs_certificate.subject.0.iter() {
        for atv in rdn.0.iter() {
            let arcs: Vec<u64> = atv.oid.arcs().map(u64::from).collect();
            let value = match atv.value.tag() {
                der::Tag::Utf8String => DnValue::Utf8String(
                    atv.value
                        .decode_as::<Utf8StringRef<'_>>()
                        .map_err(|error| CaError::MalformedCertificate {
                            which: "CA certificate",
                            error,
                        })?
                        .to_string(),
                ),
                der::Tag::PrintableString => DnValue::PrintableString(
                    atv.value
                        .decode_as::<PrintableStringRef<'_>>()
                        .map_err(|error| CaError::MalformedCertificate {
                            which: "CA certificate",
                            error,
                        })?
                        .as_str()
                        .try_into()
                        .map_err(|_| CaError::UnsupportedCaName {
                            reason: "holds a PrintableString rcgen cannot print",
                        })?,
                ),
                _ => {
                    return Err(CaError::UnsupportedCaName {
                        reason: "uses a string type other than UTF8String or PrintableString",
                    });
                }
            };
            dn.push(DnType::CustomDnType(arcs), value);
        }
    }
    Ok(dn)
}

/// Creates one more issuing intermediate `name` under an existing root (the root key must be
/// at hand: run this where the offline root key is, or with its token attached).
pub fn create_intermediate(
    org: &str,
    name: &str,
    root_der: &[u8],
    root_key: &dyn Signer,
    now: OffsetDateTime,
) -> Result<(Vec<u8>, SoftwareSigner), CaError> {
    let key = SoftwareSigner::generate_p256()?;
    let cert = certify_intermediate(org, name, root_der, root_key, &key, now)?;
    Ok((cert, key))
}

/// Has the root certify an intermediate whose key is `subject_key` (any [`Signer`], e.g. a key
/// generated inside an HSM: only its public key is used here), signing with `root_key` (a
/// file key or a token key: any [`Signer`]).
pub fn certify_intermediate(
    org: &str,
    name: &str,
    root_der: &[u8],
    root_key: &dyn Signer,
    subject_key: &dyn Signer,
    now: OffsetDateTime,
) -> Result<Vec<u8>, CaError> {
    certify_intermediate_publishing(org, name, root_der, root_key, subject_key, None, now)
}

/// [`certify_intermediate`] with a CRL distribution point for the root's CRL at
/// `root_crl_url`, when one is given.
pub fn certify_intermediate_publishing(
    org: &str,
    name: &str,
    root_der: &[u8],
    root_key: &dyn Signer,
    subject_key: &dyn Signer,
    root_crl_url: Option<&str>,
    now: OffsetDateTime,
) -> Result<Vec<u8>, CaError> {
    let mut ip = intermediate_params(org);
    ip.distinguished_name = ca_name(org, &format!("{org} Issuing CA {name}"));
    let issuer = root_issuer(root_der, root_key, now)?;
    sign_intermediate(ip, &issuer, subject_key, root_crl_url, now)
}

/// Key rollover of an intermediate: has the root certify `new_key` under the SAME subject as
/// the intermediate certificate `current_der` (string types preserved), with a fresh serial
/// and lifetime; the subject key identifier (from the new key) and the serial tell the two
/// certificates apart, the authority key identifier of what each key signs says which one
/// signed it.
pub fn recertify_intermediate(
    current_der: &[u8],
    root_der: &[u8],
    root_key: &dyn Signer,
    new_key: &dyn Signer,
    root_crl_url: Option<&str>,
    now: OffsetDateTime,
) -> Result<Vec<u8>, CaError> {
    let mut ip = intermediate_params("");
    ip.distinguished_name = subject_of(current_der)?;
    let issuer = root_issuer(root_der, root_key, now)?;
    sign_intermediate(ip, &issuer, new_key, root_crl_url, now)
}

/// Signs the root's own CRL (an authority revocation list, RFC 5280 §5: it lists revoked
/// intermediate certificates) with `root_key`, whose certificate is `root_der`.
pub fn sign_root_crl(
    root_der: &[u8],
    root_key: &dyn Signer,
    revoked: &[RevokedEntry],
    crl_number: u64,
    now: OffsetDateTime,
    next_update: OffsetDateTime,
) -> Result<Vec<u8>, CaError> {
    let issuer = root_issuer(root_der, root_key, now)?;
    Ok(crl_params(revoked, crl_number, now, next_update, root_key)
        .signed_by(&issuer)
        .map_err(CaError::generate)?
        .der()
        .to_vec())
}

/// The CRL fields every CRL of this crate has: CRL number, nextUpdate, AKI by SHA-256.
fn crl_params(
    revoked: &[RevokedEntry],
    crl_number: u64,
    now: OffsetDateTime,
    next_update: OffsetDateTime,
    issuer_key: &dyn Signer,
) -> CertificateRevocationListParams {
    CertificateRevocationListParams {
        this_update: now,
        next_update,
        crl_number: SerialNumber::from(crl_number),
        issuing_distribution_point: None,
        revoked_certs: revoked
            .iter()
            .map(|r| RevokedCertParams {
                serial_number: SerialNumber::from_slice(&r.serial),
                revocation_time: r.revoked_at,
                reason_code: reason_code(r.reason),
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: key_id_of(&RcgenSigner(issuer_key)),
    }
}

/// A random, positive, minimally encoded serial of 128 bits minus one (RFC 5280 §4.1.2.2;
/// CA/B Forum asks for at least 64 bits of CSPRNG output).
pub fn random_serial() -> Result<SerialNumber, CaError> {
    random_serial_from(&mut rand_core::OsRng)
}

/// [`random_serial`] drawn from `rng` (the EST core's injected source).
pub fn random_serial_from(rng: &mut dyn rand_core::CryptoRngCore) -> Result<SerialNumber, CaError> {
    let mut b = [0u8; 16];
    rng.try_fill_bytes(&mut b)
        .map_err(|_| CaError::Signer("system RNG failed".into()))?;
    // High bit clear keeps the INTEGER positive; a non-zero first octet keeps it minimal.
    b[0] &= 0x7f;
    if b[0] == 0 {
        b[0] = 1;
    }
    Ok(SerialNumber::from_slice(&b))
}

/// A certificate the CA issued.
#[derive(Debug, Clone)]
pub struct IssuedCertificate {
    /// DER.
    pub der: Vec<u8>,
    /// Serial (big-endian magnitude).
    pub serial: Vec<u8>,
    /// The subject DN as issued, as an RFC 4514 string (last RDN first, e.g.
    /// `CN=dev-1,O=Acme`).
    pub subject: String,
    /// notAfter.
    pub not_after: OffsetDateTime,
}

/// The subject of a DER certificate as an RFC 4514 string.
fn subject_rfc4514(cert_der: &[u8]) -> Result<String, CaError> {
    use der::Decode;
    let cert = x509_cert::Certificate::from_der(cert_der).map_err(|error| {
        CaError::MalformedCertificate {
            which: "certificate",
            error,
        }
    })?;
    Ok(cert.tbs_certificate.subject.to_string())
}

/// A revocation to list in a CRL.
#[derive(Debug, Clone)]
pub struct RevokedEntry {
    /// Serial (big-endian magnitude).
    pub serial: Vec<u8>,
    /// When the CA processed it.
    pub revoked_at: OffsetDateTime,
    /// RFC 5280 §5.3.1 reason code.
    pub reason: u8,
}

struct CsrPublicKey<'a> {
    raw: &'a [u8],
    alg: &'static rcgen::SignatureAlgorithm,
}

impl rcgen::PublicKeyData for CsrPublicKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        self.raw
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        self.alg
    }
}

/// The online issuing CA.
pub struct Authority {
    org: String,
    /// The intermediate's subject, decoded once (None: the certificate did not decode).
    issuer_name: Option<DistinguishedName>,
    signer: Box<dyn Signer>,
    intermediate_der: Vec<u8>,
    root_der: Vec<u8>,
    /// The issuance profile.
    pub profile: IssuanceProfile,
}

impl Authority {
    /// An issuing CA for `org` whose key is `signer` and whose certificate is `intermediate_der`.
    pub fn new(
        org: impl Into<String>,
        signer: Box<dyn Signer>,
        intermediate_der: Vec<u8>,
        root_der: Vec<u8>,
        profile: IssuanceProfile,
    ) -> Self {
        Self {
            org: org.into(),
            issuer_name: subject_of(&intermediate_der).ok(),
            signer,
            intermediate_der,
            root_der,
            profile,
        }
    }

    /// Intermediate certificate (DER).
    pub fn intermediate_der(&self) -> &[u8] {
        &self.intermediate_der
    }

    /// Root certificate (DER).
    pub fn root_der(&self) -> &[u8] {
        &self.root_der
    }

    /// The issuer for everything this CA signs: its name is the intermediate certificate's
    /// subject, string types preserved, so several intermediates can share one root.
    fn issuer(&self) -> Result<Issuer<'static, RcgenSigner<'_>>, CaError> {
        let mut p = intermediate_params(&self.org);
        p.distinguished_name = match &self.issuer_name {
            Some(name) => name.clone(),
            // Decoded again only to say why it failed when the authority was built.
            None => subject_of(&self.intermediate_der)?,
        };
        p.key_identifier_method = key_id_of(&RcgenSigner(self.signer.as_ref()));
        Ok(Issuer::new(p, RcgenSigner(self.signer.as_ref())))
    }

    /// Issues a device certificate for a verified CSR under the CA's profile. A profile with
    /// a DevID part needs [`Authority::issue_devid`] (the CA must assert the device serial).
    pub fn issue(
        &self,
        csr: &VerifiedCsr,
        now: OffsetDateTime,
    ) -> Result<IssuedCertificate, CaError> {
        if self.profile.devid.is_some() {
            return Err(CaError::DevIdIdentityRequired);
        }
        self.issue_with(csr, None, now, &mut rand_core::OsRng)
    }

    /// Issues for `csr`, as a DevID for `identity` when one is given ([`Authority::issue`],
    /// [`Authority::issue_devid`]), with the serial drawn from `rng`: signing is deterministic
    /// (RFC 6979 ECDSA, Ed25519), so the same `rng` state, request and `now` give the same
    /// certificate.
    pub fn issue_using(
        &self,
        csr: &VerifiedCsr,
        identity: Option<&DeviceIdentity>,
        now: OffsetDateTime,
        rng: &mut dyn rand_core::CryptoRngCore,
    ) -> Result<IssuedCertificate, CaError> {
        match identity {
            Some(identity) => {
                let profile = self
                    .profile
                    .devid
                    .as_ref()
                    .ok_or(CaError::DevIdNotEnabled)?;
                self.issue_with(csr, Some((profile, identity)), now, rng)
            }
            None if self.profile.devid.is_some() => Err(CaError::DevIdIdentityRequired),
            None => self.issue_with(csr, None, now, rng),
        }
    }

    /// Issues an IEEE 802.1AR DevID certificate: the subject serialNumber and the SAN
    /// hardwareModuleName are `identity` (the CA's record); any serialNumber in the CSR subject
    /// is dropped. IDevIDs get notAfter 99991231235959Z, LDevIDs the profile lifetime.
    pub fn issue_devid(
        &self,
        csr: &VerifiedCsr,
        identity: &DeviceIdentity,
        now: OffsetDateTime,
    ) -> Result<IssuedCertificate, CaError> {
        let profile = self
            .profile
            .devid
            .as_ref()
            .ok_or(CaError::DevIdNotEnabled)?;
        self.issue_with(csr, Some((profile, identity)), now, &mut rand_core::OsRng)
    }

    fn issue_with(
        &self,
        csr: &VerifiedCsr,
        devid: Option<(&DevIdProfile, &DeviceIdentity)>,
        now: OffsetDateTime,
        rng: &mut dyn rand_core::CryptoRngCore,
    ) -> Result<IssuedCertificate, CaError> {
        if let Some(bad) = self.profile.first_disallowed(&csr.sans) {
            return Err(CaError::SanNotAllowed {
                name: bad.to_string(),
            });
        }
        let mut p = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        for e in &csr.subject {
            if devid.is_some() && e.attribute == SubjectAttribute::SerialNumber {
                continue; // the CA asserts the serial, the device does not
            }
            let value = if e.printable {
                printable(&e.value, "not printable")?
            } else {
                DnValue::Utf8String(e.value.clone())
            };
            dn.push(DnType::CustomDnType(e.attribute.arcs().to_vec()), value);
        }
        if let Some((profile, identity)) = devid {
            let serial = identity.validated_serial()?;
            dn.push(
                DnType::CustomDnType(SubjectAttribute::SerialNumber.arcs().to_vec()),
                printable(
                    serial.as_str(),
                    "DevID serialNumber is not a PrintableString",
                )?,
            );
            p.custom_extensions
                .push(rcgen::CustomExtension::from_oid_content(
                    &[2, 5, 29, 17],
                    devid::subject_alt_name_der(profile, identity, &csr.sans)?,
                ));
        } else {
            for s in &csr.sans {
                p.subject_alt_names.push(match s {
                    SanEntry::Dns(d) => {
                        SanType::DnsName(d.clone().try_into().map_err(CaError::generate)?)
                    }
                    SanEntry::Uri(u) => {
                        SanType::URI(u.clone().try_into().map_err(CaError::generate)?)
                    }
                    SanEntry::Ip(ip) => SanType::IpAddress(*ip),
                });
            }
        }
        p.distinguished_name = dn;
        let serial = random_serial_from(rng)?;
        p.serial_number = Some(serial.clone());
        p.not_before = now - CLOCK_SKEW;
        let lifetime = time::Duration::try_from(self.profile.lifetime).map_err(|_| {
            CaError::TimeOutOfRange {
                what: "the profile's lifetime",
            }
        })?;
        p.not_after = match devid {
            Some((
                DevIdProfile {
                    kind: DevIdKind::Initial,
                    ..
                },
                _,
            )) => devid::idevid_not_after()?,
            _ => now + lifetime,
        };
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        p.crl_distribution_points = vec![CrlDistributionPoint {
            uris: vec![self.profile.crl_url.clone()],
        }];
        p.use_authority_key_identifier_extension = true;
        let key = CsrPublicKey {
            raw: &csr.public_key,
            alg: match csr.key_algorithm {
                KeyAlgorithm::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
                KeyAlgorithm::Ed25519 => &rcgen::PKCS_ED25519,
            },
        };
        p.key_identifier_method = key_id_of(&key);
        let cert = p
            .signed_by(&key, &self.issuer()?)
            .map_err(CaError::generate)?;
        Ok(IssuedCertificate {
            subject: subject_rfc4514(cert.der())?,
            der: cert.der().to_vec(),
            serial: serial.to_bytes(),
            not_after: p.not_after,
        })
    }

    /// Signs a CRL (RFC 5280 §5) over `revoked`, with a CRL number and nextUpdate.
    pub fn sign_crl(
        &self,
        revoked: &[RevokedEntry],
        crl_number: u64,
        now: OffsetDateTime,
        next_update: OffsetDateTime,
    ) -> Result<Vec<u8>, CaError> {
        Ok(
            crl_params(revoked, crl_number, now, next_update, self.signer.as_ref())
                .signed_by(&self.issuer()?)
                .map_err(CaError::generate)?
                .der()
                .to_vec(),
        )
    }
}

/// Maps an RFC 5280 §5.3.1 reason number to rcgen's enum (unknown numbers: unspecified).
fn reason_code(n: u8) -> Option<rcgen::RevocationReason> {
    use rcgen::RevocationReason as R;
    Some(match n {
        1 => R::KeyCompromise,
        2 => R::CaCompromise,
        3 => R::AffiliationChanged,
        4 => R::Superseded,
        5 => R::CessationOfOperation,
        6 => R::CertificateHold,
        9 => R::PrivilegeWithdrawn,
        10 => R::AaCompromise,
        // RFC 5280 §5.3.1: unspecified SHOULD be encoded by omitting the extension.
        _ => return None,
    })
}

impl Authority {
    /// Issues a TLS server certificate (EKU serverAuth) for the CA's own services (the EST
    /// endpoint); returns the certificate DER and the PKCS#8 key DER. DNS names and IP
    /// addresses are accepted in `names`.
    pub fn issue_server_cert(
        &self,
        names: &[&str],
        now: OffsetDateTime,
    ) -> Result<(Vec<u8>, zeroize::Zeroizing<Vec<u8>>), CaError> {
        let key = SoftwareSigner::generate_p256()?;
        let mut p =
            CertificateParams::new(names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
                .map_err(CaError::generate)?;
        p.key_identifier_method = key_id_of(&RcgenSigner(&key));
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, names.first().copied().unwrap_or("est"));
        p.distinguished_name = dn;
        p.serial_number = Some(random_serial()?);
        p.not_before = now - CLOCK_SKEW;
        p.not_after = now + time::Duration::days(30);
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.use_authority_key_identifier_extension = true;
        let cert = p
            .signed_by(&RcgenSigner(&key), &self.issuer()?)
            .map_err(CaError::generate)?;
        Ok((cert.der().to_vec(), key.to_pkcs8_der()?))
    }
}

impl Authority {
    /// Signs `message` with the issuing CA key (OCSP responses, RFC 6960 §4.2.2.2: the CA
    /// that issued the certificate may sign responses itself).
    pub fn sign_as_ca(&self, message: &[u8]) -> Result<Vec<u8>, CaError> {
        self.signer.sign(message)
    }

    /// The signature algorithm OID of the CA key.
    pub fn ca_signature_oid(&self) -> der::oid::ObjectIdentifier {
        match self.signer.algorithm() {
            crate::keys::signer::SignerAlgorithm::Ed25519 => crate::device::key::ID_ED25519,
            _ => crate::device::key::ECDSA_WITH_SHA256,
        }
    }

    /// The CA key's raw subjectPublicKey.
    pub fn ca_public_key(&self) -> &[u8] {
        self.signer.public_key()
    }
}
