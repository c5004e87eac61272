//! The host plugged into the sans-IO EST core ([`crate::est::service`]): the operating
//! system's random source and clock. The servers of this crate (the blocking transport, the
//! axum mount, the reloading server) and an application that answers requests itself use these;
//! a test or a replay gives the core its own time and random source instead.

use std::collections::HashMap;

use time::OffsetDateTime;

use crate::ca::error::CaError;
use crate::ca::issuer::IssuingCa;
use crate::est::service::{EstRequest, EstResponse, EstService, LabelPolicy};

impl EstService {
    /// A service over `ca` (the CA state directory, `CaState`, or any [`IssuingCa`]) with the
    /// given labels ("" is the default label), drawing serials and serverkeygen keys from the
    /// operating system ([`EstService::from_parts`] with `rand_core::OsRng`).
    pub fn new(ca: impl IssuingCa + Send + 'static, labels: HashMap<String, LabelPolicy>) -> Self {
        Self::from_parts(ca, labels, rand_core::OsRng)
    }

    /// The default CA's CRL now (see [`EstService::current_crl_of_at`]).
    pub fn current_crl(&self) -> Result<Vec<u8>, CaError> {
        self.current_crl_of("")
    }

    /// The CRL of CA `name` to publish now ([`EstService::current_crl_of_at`] at the system
    /// clock's time).
    pub fn current_crl_of(&self, name: &str) -> Result<Vec<u8>, CaError> {
        self.current_crl_of_at(name, OffsetDateTime::now_utc())
    }

    /// [`EstService::handle_crl_at`] at the system clock's time.
    pub fn handle_crl(&self, req: &EstRequest) -> EstResponse {
        self.handle_crl_at(req, OffsetDateTime::now_utc())
    }
}
