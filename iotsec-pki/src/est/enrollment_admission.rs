//! Which identities an EST server enrolls, beyond the CA's own rules (RFC 7030 §3.7: the
//! server authorizes the identity a request asks for, not only the client): names the
//! application reserves for identities EST must not make (operators, the service accounts of
//! a broker's deny stream), and identities that ended (revoked, decommissioned) and must not
//! come back under the same id. The application answers through [`EnrollmentAdmission`]; the
//! decision ([`admit_enrollment`]) reads nothing else. Connection-level admission (deadlines,
//! per-address caps) is [`crate::est::admission`].

use crate::ca::csr_check::{SubjectAttribute, VerifiedCsr};
use crate::ca::error::{BarredReason, CaError};

/// The application's word on the identities a request names.
pub trait EnrollmentAdmission: Send + Sync {
    /// Whether `common_name` is reserved for identities EST must not make. Compared as the
    /// application lists them; [`ReservedNames`] ignores ASCII case and surrounding space.
    fn is_reserved(&self, common_name: &str) -> bool;
    /// Whether the identity `common_name` has ended and may not enroll again.
    fn barred(&self, common_name: &str) -> Result<Option<BarredReason>, CaError>;
}

/// An [`EnrollmentAdmission`] from a list of reserved names and a query for ended identities.
pub struct ReservedNames<F> {
    names: Vec<String>,
    barred: F,
}

impl<F> ReservedNames<F>
where
    F: Fn(&str) -> Result<Option<BarredReason>, CaError> + Send + Sync,
{
    /// Reserves `names` (empty ones are ignored: they reserve nothing) and asks `barred` about
    /// every other commonName.
    pub fn new(names: impl IntoIterator<Item = String>, barred: F) -> Self {
        Self {
            names: names
                .into_iter()
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty())
                .collect(),
            barred,
        }
    }
}

impl<F> EnrollmentAdmission for ReservedNames<F>
where
    F: Fn(&str) -> Result<Option<BarredReason>, CaError> + Send + Sync,
{
    fn is_reserved(&self, common_name: &str) -> bool {
        // Case and padding variants are refused too: wherever a peer compares names loosely
        // (a broker's ACL, a person reading a log), "OPS " would pass for "ops".
        let asked = common_name.trim();
        self.names.iter().any(|n| n.eq_ignore_ascii_case(asked))
    }

    fn barred(&self, common_name: &str) -> Result<Option<BarredReason>, CaError> {
        (self.barred)(common_name)
    }
}

/// Admits the identity `csr` asks for: every commonName of its subject is checked, a reserved
/// one first ([`CaError::ReservedName`], whatever the registry says of it), then whether it
/// ended ([`CaError::IdentityBarred`]).
pub fn admit_enrollment(
    csr: &VerifiedCsr,
    admission: &dyn EnrollmentAdmission,
) -> Result<(), CaError> {
    let common_names = || {
        csr.subject
            .iter()
            .filter(|e| e.attribute == SubjectAttribute::CommonName)
            .map(|e| e.value.as_str())
    };
    if let Some(reserved) = common_names().find(|cn| admission.is_reserved(cn)) {
        return Err(CaError::ReservedName {
            common_name: reserved.to_owned(),
        });
    }
    for cn in common_names() {
        if let Some(reason) = admission.barred(cn)? {
            return Err(CaError::IdentityBarred {
                common_name: cn.to_owned(),
                reason,
            });
        }
    }
    Ok(())
}
