//! The issuance profile, owned by the CA (RFC 5280 §4.2; RFC 7030 §4.2.1 leaves it to the CA).
//!
//! What an end-entity certificate gets is decided here and nowhere else: lifetime, keyUsage
//! digitalSignature, EKU clientAuth, basicConstraints cA=FALSE, a CRL distribution point, and
//! only those requested subjectAltNames that the label's allow-list admits; optionally the
//! IEEE 802.1AR DevID identity ([`crate::ca::devid`]).

use std::time::Duration;

use crate::ca::csr_check::SanEntry;
use crate::ca::devid::DevIdProfile;

/// One rule of a subjectAltName allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SanRule {
    /// dNSNames equal to this name or ending in `.` + this suffix.
    DnsSuffix(String),
    /// URIs starting with this prefix (e.g. `urn:dev:`).
    UriPrefix(String),
}

impl SanRule {
    fn admits(&self, entry: &SanEntry) -> bool {
        match (self, entry) {
            (SanRule::DnsSuffix(s), SanEntry::Dns(d)) => {
                let d = d.to_ascii_lowercase();
                let s = s.to_ascii_lowercase();
                d == s || d.ends_with(&format!(".{s}"))
            }
            (SanRule::UriPrefix(p), SanEntry::Uri(u)) => u.starts_with(p.as_str()),
            _ => false,
        }
    }
}

/// What the CA puts into every end-entity certificate of a label.
#[derive(Debug, Clone)]
pub struct IssuanceProfile {
    /// Certificate lifetime (short-lived by default: 24 h).
    pub lifetime: Duration,
    /// Requested subjectAltNames must each match one rule; an empty list admits none.
    pub san_allow: Vec<SanRule>,
    /// URL of the CRL, placed in every certificate's cRLDistributionPoints.
    pub crl_url: String,
    /// IEEE 802.1AR DevID profile; `None` issues plain device certificates.
    pub devid: Option<DevIdProfile>,
}

impl IssuanceProfile {
    /// The default profile: 24 h lifetime, SANs under `.devices.invalid` or `urn:dev:`.
    pub fn short_lived(crl_url: impl Into<String>) -> Self {
        Self {
            lifetime: Duration::from_secs(24 * 3600),
            san_allow: vec![
                SanRule::DnsSuffix("devices.invalid".into()),
                SanRule::UriPrefix("urn:dev:".into()),
            ],
            crl_url: crl_url.into(),
            devid: None,
        }
    }

    /// The path of [`IssuanceProfile::crl_url`] (`/crl.der` for `http://h:8080/crl.der?x`),
    /// the request path at which this CA's CRL is served; `/` for a URL without a path, None
    /// for one without `scheme://`.
    pub fn crl_path(&self) -> Option<&str> {
        url_path(&self.crl_url)
    }

    /// Returns the first requested SAN the allow-list does not admit.
    pub fn first_disallowed<'a>(&self, sans: &'a [SanEntry]) -> Option<&'a SanEntry> {
        sans.iter()
            .find(|e| !self.san_allow.iter().any(|r| r.admits(e)))
    }
}

/// The request path of an `http://` URL (`/crl.der` for `http://h:8080/crl.der?x`); `/` for a
/// URL without a path, None for one without `scheme://`.
pub fn url_path(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    Some(rest.find('/').and_then(|i| rest.get(i..)).unwrap_or("/"))
}
