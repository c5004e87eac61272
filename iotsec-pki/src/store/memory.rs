//! A [`CertStore`], [`ApprovalStore`] and [`EnrollmentStore`] in memory: no file, no clock,
//! no randomness. For a CA whose records another layer persists, and for tests of the EST core
//! (`ca::issuer::StoreCa`).

use std::collections::BTreeMap;

use super::{
    ApprovalStore, CertStore, EnrollmentKey, EnrollmentStore, IssuedRecord, RevocationRecord,
    hex_upper,
};
use crate::ca::error::CaError;

/// Records kept in memory (ordered maps, so iteration and answers are deterministic).
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    issued: BTreeMap<Vec<u8>, IssuedRecord>,
    revoked: BTreeMap<Vec<u8>, RevocationRecord>,
    crl_number: u64,
    /// id -> (label, CSR DER, approved)
    pending: BTreeMap<i64, (String, Vec<u8>, bool)>,
    next_pending: i64,
    /// (request, at, serial), in the order recorded.
    enrollments: Vec<(EnrollmentKey, i64, Vec<u8>)>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl CertStore for MemoryStore {
    fn record_issued(&mut self, record: &IssuedRecord) -> Result<(), CaError> {
        if self.issued.contains_key(&record.serial) {
            return Err(CaError::DuplicateSerial {
                serial_hex: hex_upper(&record.serial),
            });
        }
        self.issued.insert(record.serial.clone(), record.clone());
        Ok(())
    }

    fn issued(&self, serial: &[u8]) -> Result<Option<IssuedRecord>, CaError> {
        Ok(self.issued.get(serial).cloned())
    }

    fn revoke(&mut self, serial: &[u8], reason: u8, at: i64) -> Result<bool, CaError> {
        if !self.issued.contains_key(serial) {
            return Err(CaError::UnknownSerial {
                serial_hex: hex_upper(serial),
            });
        }
        if self.revoked.contains_key(serial) {
            return Ok(false);
        }
        self.revoked.insert(
            serial.to_vec(),
            RevocationRecord {
                serial: serial.to_vec(),
                reason,
                revoked_at: at,
            },
        );
        Ok(true)
    }

    fn revocation(&self, serial: &[u8]) -> Result<Option<RevocationRecord>, CaError> {
        Ok(self.revoked.get(serial).cloned())
    }

    fn revocations(&self, now: i64) -> Result<Vec<RevocationRecord>, CaError> {
        let mut out: Vec<RevocationRecord> = self
            .revoked
            .values()
            .filter(|r| {
                self.issued
                    .get(&r.serial)
                    .is_some_and(|i| i.not_after >= now)
            })
            .cloned()
            .collect();
        // The SQLite store's order: by revocation time, then serial.
        out.sort_by(|a, b| (a.revoked_at, &a.serial).cmp(&(b.revoked_at, &b.serial)));
        Ok(out)
    }

    fn next_crl_number(&mut self) -> Result<u64, CaError> {
        self.crl_number = self
            .crl_number
            .checked_add(1)
            .ok_or(CaError::CrlNumberOutOfRange {
                number: self.crl_number,
            })?;
        Ok(self.crl_number)
    }

    fn add_pending(&mut self, label: &str, csr_der: &[u8], at: i64) -> Result<i64, CaError> {
        ApprovalStore::add_pending(self, label, csr_der, at)
    }

    fn pending_approved(&self, id: i64) -> Result<Option<bool>, CaError> {
        ApprovalStore::pending_approved(self, id)
    }

    fn approve_pending(&mut self, id: i64) -> Result<bool, CaError> {
        ApprovalStore::approve_pending(self, id)
    }

    fn issued_count(&self) -> Result<u64, CaError> {
        Ok(self.issued.len() as u64)
    }

    fn find_pending(&self, label: &str, csr_der: &[u8]) -> Result<Option<(i64, bool)>, CaError> {
        ApprovalStore::find_pending(self, label, csr_der)
    }

    fn remove_pending(&mut self, id: i64) -> Result<(), CaError> {
        ApprovalStore::remove_pending(self, id)
    }
}

impl ApprovalStore for MemoryStore {
    fn add_pending(&mut self, label: &str, csr_der: &[u8], _at: i64) -> Result<i64, CaError> {
        self.next_pending = self
            .next_pending
            .checked_add(1)
            .ok_or(CaError::CorruptStore {
                what: "pending ids exhausted",
            })?;
        self.pending.insert(
            self.next_pending,
            (label.to_owned(), csr_der.to_vec(), false),
        );
        Ok(self.next_pending)
    }

    fn find_pending(&self, label: &str, csr_der: &[u8]) -> Result<Option<(i64, bool)>, CaError> {
        Ok(self
            .pending
            .iter()
            .find(|(_, (l, csr, _))| l == label && csr == csr_der)
            .map(|(id, (_, _, approved))| (*id, *approved)))
    }

    fn pending_approved(&self, id: i64) -> Result<Option<bool>, CaError> {
        Ok(self.pending.get(&id).map(|(_, _, approved)| *approved))
    }

    fn approve_pending(&mut self, id: i64) -> Result<bool, CaError> {
        Ok(match self.pending.get_mut(&id) {
            Some(entry) => {
                entry.2 = true;
                true
            }
            None => false,
        })
    }

    fn remove_pending(&mut self, id: i64) -> Result<(), CaError> {
        self.pending.remove(&id);
        Ok(())
    }
}

impl EnrollmentStore for MemoryStore {
    fn record_issued_for(
        &mut self,
        record: &IssuedRecord,
        request: &EnrollmentKey,
        at: i64,
    ) -> Result<(), CaError> {
        CertStore::record_issued(self, record)?;
        self.enrollments.push((*request, at, record.serial.clone()));
        Ok(())
    }

    fn issued_for(
        &self,
        request: &EnrollmentKey,
        since: i64,
    ) -> Result<Option<IssuedRecord>, CaError> {
        // The latest one (the last recorded among equal times), as the SQLite store answers.
        Ok(self
            .enrollments
            .iter()
            .filter(|(key, at, _)| key == request && *at >= since)
            .max_by_key(|(_, at, _)| *at)
            .and_then(|(_, _, serial)| self.issued.get(serial).cloned()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn record(serial: u8, not_after: i64) -> IssuedRecord {
        IssuedRecord {
            serial: vec![serial],
            subject_der: vec![0x30, 0x00],
            cert_der: vec![serial, serial],
            not_after,
        }
    }

    #[test]
    fn duplicate_serials_unknown_revocations_and_crl_scope_as_sqlite() {
        let mut s = MemoryStore::new();
        s.record_issued(&record(1, 100)).unwrap();
        s.record_issued(&record(2, 10)).unwrap();
        assert!(matches!(
            s.record_issued(&record(1, 5)),
            Err(CaError::DuplicateSerial { .. })
        ));
        assert!(matches!(
            s.revoke(&[9], 1, 0),
            Err(CaError::UnknownSerial { .. })
        ));
        assert!(s.revoke(&[2], 1, 7).unwrap());
        assert!(!s.revoke(&[2], 1, 8).unwrap());
        assert!(s.revoke(&[1], 4, 9).unwrap());
        // Serial 2 expired at 10: out of the CRL at 50, in it at 10.
        assert_eq!(
            s.revocations(50)
                .unwrap()
                .iter()
                .map(|r| r.serial.clone())
                .collect::<Vec<_>>(),
            vec![vec![1]]
        );
        assert_eq!(s.revocations(10).unwrap().len(), 2);
        assert_eq!(
            (s.next_crl_number().unwrap(), s.next_crl_number().unwrap()),
            (1, 2)
        );
    }

    #[test]
    fn approvals_and_enrollments_round_trip() {
        let mut s = MemoryStore::new();
        let id = ApprovalStore::add_pending(&mut s, "l", b"csr", 0).unwrap();
        assert_eq!(
            ApprovalStore::find_pending(&s, "l", b"csr").unwrap(),
            Some((id, false))
        );
        assert_eq!(ApprovalStore::find_pending(&s, "m", b"csr").unwrap(), None);
        assert!(ApprovalStore::approve_pending(&mut s, id).unwrap());
        assert!(!ApprovalStore::approve_pending(&mut s, id + 1).unwrap());
        assert_eq!(ApprovalStore::pending_approved(&s, id).unwrap(), Some(true));
        ApprovalStore::remove_pending(&mut s, id).unwrap();
        assert_eq!(ApprovalStore::pending_approved(&s, id).unwrap(), None);

        let key = EnrollmentKey {
            client: [1; 32],
            csr_sha256: [2; 32],
        };
        s.record_issued_for(&record(3, 100), &key, 20).unwrap();
        s.record_issued_for(&record(4, 100), &key, 30).unwrap();
        assert_eq!(s.issued_for(&key, 0).unwrap().unwrap().serial, vec![4]);
        assert_eq!(s.issued_for(&key, 31).unwrap(), None);
        let other = EnrollmentKey {
            client: [9; 32],
            ..key
        };
        assert_eq!(s.issued_for(&other, 0).unwrap(), None);
    }
}
