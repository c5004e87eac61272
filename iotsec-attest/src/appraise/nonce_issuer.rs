//! Verifier-side freshness: single-use nonces for `TPM2_Quote`'s qualifyingData (TPM 2.0 Part 3
//! §18.4) and any other challenge the appraisal checks with [`crate::appraise::appraise_quote`].
//!
//! A [`NonceIssuer`] hands out 32 random bytes (ring's `SystemRandom`), remembers each until it
//! is redeemed once or its lifetime passes, and holds at most `capacity` outstanding nonces:
//! issuing one more evicts the oldest outstanding nonce (which then redeems as
//! [`NonceError::Unknown`]), so a flood of challenge requests cannot grow memory. It also
//! remembers up to `capacity` redeemed nonces to report a replay as
//! [`NonceError::AlreadyUsed`]; an older replay reports `Unknown`, which is refused all the same.
//!
//! Time is an argument (unix seconds), as everywhere in this crate: the caller owns the clock.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use ring::rand::{SecureRandom, SystemRandom};

/// Length of an issued nonce.
pub const NONCE_LEN: usize = 32;

/// Why a nonce was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NonceError {
    /// Never issued here, evicted by newer nonces, or forgotten after expiry.
    #[error("nonce was not issued by this verifier (or was evicted)")]
    Unknown,
    /// Issued, but its lifetime passed before it came back.
    #[error("nonce expired at {expired_at} (unix seconds)")]
    Expired {
        /// Last second at which it was valid.
        expired_at: u64,
    },
    /// Issued and already redeemed once: a replay.
    #[error("nonce was already used")]
    AlreadyUsed,
    /// The system random generator failed; no nonce was issued.
    #[error("the system random generator failed")]
    RandomUnavailable,
}

crate::error::error_codes!(NonceError {
    NonceError::Unknown => "unknown", Refusal;
    NonceError::Expired { .. } => "expired", Refusal;
    NonceError::AlreadyUsed => "already_used", Refusal;
    NonceError::RandomUnavailable => "random_unavailable", Unavailable;
});

impl NonceError {
    /// A stable snake_case code for the error (`"unknown"`, ...), for logs and
    /// machine-readable output. New variants get new codes; codes never change.
    pub fn code(&self) -> &'static str {
        match self {
            NonceError::Unknown => "unknown",
            NonceError::Expired { .. } => "expired",
            NonceError::AlreadyUsed => "already_used",
            NonceError::RandomUnavailable => "random_unavailable",
        }
    }
}

/// A nonce as issued: 32 random bytes. `Debug` does not show them.
#[derive(Clone, PartialEq, Eq)]
pub struct Nonce([u8; NONCE_LEN]);

impl Nonce {
    /// The bytes to send to the device (e.g. `tpm2_quote -q`).
    pub fn as_bytes(&self) -> &[u8; NONCE_LEN] {
        &self.0
    }
}

impl core::fmt::Debug for Nonce {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Nonce(..)")
    }
}

/// Issues and redeems single-use nonces (see the module documentation for the bounds).
pub struct NonceIssuer {
    rng: SystemRandom,
    lifetime: u64,
    capacity: usize,
    next_seq: u64,
    /// Outstanding nonces: issue sequence number and last valid second.
    outstanding: HashMap<[u8; NONCE_LEN], (u64, u64)>,
    /// The same nonces by issue order, for eviction of the oldest.
    by_age: BTreeMap<u64, [u8; NONCE_LEN]>,
    /// Recently redeemed nonces, oldest first.
    redeemed: HashSet<[u8; NONCE_LEN]>,
    redeemed_order: VecDeque<[u8; NONCE_LEN]>,
}

impl core::fmt::Debug for NonceIssuer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NonceIssuer")
            .field("lifetime", &self.lifetime)
            .field("capacity", &self.capacity)
            .field("outstanding", &self.outstanding.len())
            .field("redeemed", &self.redeemed.len())
            .finish()
    }
}

impl NonceIssuer {
    /// An issuer whose nonces are valid for `lifetime` seconds after issue (inclusive) and of
    /// which at most `capacity` (at least 1) are outstanding at once.
    pub fn new(lifetime: u64, capacity: usize) -> Self {
        Self {
            rng: SystemRandom::new(),
            lifetime,
            capacity: capacity.max(1),
            next_seq: 0,
            outstanding: HashMap::new(),
            by_age: BTreeMap::new(),
            redeemed: HashSet::new(),
            redeemed_order: VecDeque::new(),
        }
    }

    /// How many nonces are outstanding (issued, not redeemed, not evicted).
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    /// Issues a fresh nonce at `now` (unix seconds), evicting the oldest outstanding one when
    /// `capacity` are outstanding.
    pub fn issue(&mut self, now: u64) -> Result<Nonce, NonceError> {
        let mut bytes = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut bytes)
            .map_err(|_| NonceError::RandomUnavailable)?;
        while self.outstanding.len() >= self.capacity {
            let Some((_, oldest)) = self.by_age.pop_first() else {
                break;
            };
            self.outstanding.remove(&oldest);
        }
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.outstanding
            .insert(bytes, (seq, now.saturating_add(self.lifetime)));
        self.by_age.insert(seq, bytes);
        Ok(Nonce(bytes))
    }

    /// Redeems `nonce` at `now`: succeeds once for a nonce issued here within its lifetime.
    /// An expired nonce is forgotten; a redeemed one is remembered as used.
    pub fn redeem(&mut self, nonce: &[u8], now: u64) -> Result<(), NonceError> {
        let Ok(key) = <[u8; NONCE_LEN]>::try_from(nonce) else {
            return Err(NonceError::Unknown);
        };
        let Some((seq, expires)) = self.outstanding.remove(&key) else {
            return Err(if self.redeemed.contains(&key) {
                NonceError::AlreadyUsed
            } else {
                NonceError::Unknown
            });
        };
        self.by_age.remove(&seq);
        if now > expires {
            return Err(NonceError::Expired {
                expired_at: expires,
            });
        }
        if self.redeemed_order.len() >= self.capacity
            && let Some(old) = self.redeemed_order.pop_front()
        {
            self.redeemed.remove(&old);
        }
        self.redeemed.insert(key);
        self.redeemed_order.push_back(key);
        Ok(())
    }
}
