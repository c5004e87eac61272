//! HTTP Basic authentication (RFC 7617) of EST clients (RFC 7030 §3.2.3): the credential check
//! and the limit on failed attempts per client address.
//!
//! * The check compares SHA-256 digests of the given and the expected user and password in
//!   constant time (`subtle`): comparing the strings themselves returns early on a length
//!   difference and tells a client how long the password is.
//! * A password guesser is slowed by a token bucket per client address (IPv4, or the /64 of
//!   IPv6, as [`crate::est::admission`] counts connections): each failed attempt takes a token,
//!   a token comes back every [`FailedAuthLimit::refill_secs`], and an address with no token
//!   left is answered 429 without its credentials being checked. The table is bounded: when it
//!   is full, addresses whose bucket has refilled are forgotten first, then the one with the
//!   most tokens.

use std::collections::HashMap;
use std::net::IpAddr;

use base64ct::{Base64, Encoding};
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use crate::est::admission::address_key;

/// Whether `authorization` (an `Authorization` header value) carries exactly the credentials
/// `(user, password)`.
pub(crate) fn basic_credentials_match(authorization: &str, expected: (&str, &str)) -> bool {
    let Some((user, password)) = basic_credentials(authorization) else {
        return false;
    };
    credentials_match_with((&user, &password), expected, |a, b| a.ct_eq(b))
}

/// The user and password of a Basic `Authorization` value.
fn basic_credentials(authorization: &str) -> Option<(String, zeroize::Zeroizing<String>)> {
    let b64 = authorization
        .strip_prefix("Basic ")
        .or_else(|| authorization.strip_prefix("basic "))?;
    let decoded = zeroize::Zeroizing::new(Base64::decode_vec(b64.trim()).ok()?);
    let text = std::str::from_utf8(&decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((
        user.to_owned(),
        zeroize::Zeroizing::new(password.to_owned()),
    ))
}

/// Compares fixed-length digests with `eq`, both fields always (no early return).
fn credentials_match_with(
    given: (&str, &str),
    expected: (&str, &str),
    eq: impl Fn(&[u8], &[u8]) -> Choice,
) -> bool {
    let digest = |s: &str| Sha256::digest(s.as_bytes());
    let user = eq(&digest(given.0), &digest(expected.0));
    let password = eq(&digest(given.1), &digest(expected.1));
    bool::from(user & password)
}

/// How many failed Basic authentications an address may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailedAuthLimit {
    /// Failures allowed in a burst.
    pub burst: u32,
    /// Seconds until one more failure is allowed.
    pub refill_secs: u32,
    /// Most addresses remembered at once.
    pub max_tracked: usize,
}

impl Default for FailedAuthLimit {
    /// 5 failures, then one per 12 s (5 a minute), 4096 addresses remembered.
    fn default() -> Self {
        FailedAuthLimit {
            burst: 5,
            refill_secs: 12,
            max_tracked: 4096,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: u32,
    /// When the tokens were last counted (Unix seconds).
    at: i64,
}

/// The failed-authentication buckets of a service.
#[derive(Debug)]
pub(crate) struct FailedAuth {
    limit: FailedAuthLimit,
    buckets: HashMap<Option<IpAddr>, Bucket>,
}

impl FailedAuth {
    pub(crate) fn new(limit: FailedAuthLimit) -> Self {
        FailedAuth {
            limit,
            buckets: HashMap::new(),
        }
    }

    fn refilled(&self, bucket: Bucket, now: i64) -> Bucket {
        let refill = i64::from(self.limit.refill_secs.max(1));
        let earned = (now - bucket.at).max(0) / refill;
        let tokens = u32::try_from(earned)
            .unwrap_or(u32::MAX)
            .saturating_add(bucket.tokens)
            .min(self.limit.burst);
        Bucket {
            tokens,
            at: if tokens == self.limit.burst {
                now
            } else {
                bucket.at + earned * refill
            },
        }
    }

    /// `None` if `peer` may try to authenticate at `now`, else the seconds until it may.
    pub(crate) fn retry_after(&self, peer: Option<IpAddr>, now: i64) -> Option<u32> {
        let key = peer.map(address_key);
        let bucket = self.refilled(*self.buckets.get(&key)?, now);
        (bucket.tokens == 0).then(|| {
            let wait = bucket.at + i64::from(self.limit.refill_secs.max(1)) - now;
            u32::try_from(wait.max(1)).unwrap_or(u32::MAX)
        })
    }

    /// Counts a failed attempt of `peer` at `now`.
    pub(crate) fn record_failure(&mut self, peer: Option<IpAddr>, now: i64) {
        let key = peer.map(address_key);
        if !self.buckets.contains_key(&key) && self.buckets.len() >= self.limit.max_tracked {
            self.make_room(now);
        }
        let full = Bucket {
            tokens: self.limit.burst,
            at: now,
        };
        let current = self.buckets.get(&key).copied().unwrap_or(full);
        let mut bucket = self.refilled(current, now);
        bucket.tokens = bucket.tokens.saturating_sub(1);
        self.buckets.insert(key, bucket);
    }

    fn make_room(&mut self, now: i64) {
        let burst = self.limit.burst;
        let refill = i64::from(self.limit.refill_secs.max(1));
        let tokens_at = |b: &Bucket| {
            let earned = u32::try_from((now - b.at).max(0) / refill).unwrap_or(u32::MAX);
            earned.saturating_add(b.tokens).min(burst)
        };
        self.buckets.retain(|_, b| tokens_at(b) < burst);
        if self.buckets.len() >= self.limit.max_tracked
            && let Some(key) = self
                .buckets
                .iter()
                .max_by_key(|(_, b)| tokens_at(b))
                .map(|(k, _)| *k)
        {
            self.buckets.remove(&key);
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn digests_of_equal_length_are_compared_whatever_the_lengths_given() {
        let seen = RefCell::new(Vec::new());
        let record = |a: &[u8], b: &[u8]| {
            seen.borrow_mut().push((a.len(), b.len()));
            a.ct_eq(b)
        };
        for given in [
            "",
            "s",
            "s3cret",
            "s3cret-but-much-longer-than-the-real-one",
        ] {
            let ok = credentials_match_with(("dev", given), ("dev", "s3cret"), record);
            assert_eq!(ok, given == "s3cret");
        }
        assert_eq!(
            seen.borrow().len(),
            8,
            "user and password compared every time"
        );
        assert!(seen.borrow().iter().all(|&l| l == (32, 32)), "{seen:?}");
    }

    #[test]
    fn basic_header_values_are_decoded_exactly() {
        let header = |s: &str| format!("Basic {}", Base64::encode_string(s.as_bytes()));
        assert!(basic_credentials_match(
            &header("dev:s3cret"),
            ("dev", "s3cret")
        ));
        assert!(basic_credentials_match(&header("dev:a:b"), ("dev", "a:b")));
        for wrong in ["dev:s3cre", "dev:s3cretx", "de:s3cret", "dev", ":"] {
            assert!(!basic_credentials_match(&header(wrong), ("dev", "s3cret")));
        }
        assert!(!basic_credentials_match("Bearer x", ("dev", "s3cret")));
        assert!(!basic_credentials_match("Basic ***", ("dev", "s3cret")));
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn failures_drain_a_bucket_per_address_which_refills_over_time() {
        let mut f = FailedAuth::new(FailedAuthLimit {
            burst: 3,
            refill_secs: 10,
            max_tracked: 8,
        });
        let t = 1_000;
        for _ in 0..3 {
            assert_eq!(f.retry_after(ip("10.0.0.1"), t), None);
            f.record_failure(ip("10.0.0.1"), t);
        }
        assert_eq!(f.retry_after(ip("10.0.0.1"), t), Some(10));
        assert_eq!(f.retry_after(ip("10.0.0.1"), t + 4), Some(6));
        // Another address, and the same host over IPv6 in another /64, are not affected.
        assert_eq!(f.retry_after(ip("10.0.0.2"), t), None);
        assert_eq!(f.retry_after(ip("::ffff:10.0.0.1"), t), Some(10));
        assert_eq!(f.retry_after(ip("2001:db8::1"), t), None);
        // One token back after 10 s: one more try, then wait again.
        assert_eq!(f.retry_after(ip("10.0.0.1"), t + 10), None);
        f.record_failure(ip("10.0.0.1"), t + 10);
        assert_eq!(f.retry_after(ip("10.0.0.1"), t + 10), Some(10));
        assert_eq!(f.retry_after(ip("10.0.0.1"), t + 100), None);
    }

    #[test]
    fn the_table_is_bounded_and_keeps_the_most_limited_addresses() {
        let mut f = FailedAuth::new(FailedAuthLimit {
            burst: 2,
            refill_secs: 60,
            max_tracked: 3,
        });
        f.record_failure(ip("10.0.0.1"), 0);
        f.record_failure(ip("10.0.0.1"), 0);
        for last in 2..=20u8 {
            f.record_failure(ip(&format!("10.0.0.{last}")), 0);
            assert!(f.tracked() <= 3);
        }
        assert_eq!(f.retry_after(ip("10.0.0.1"), 0), Some(60), "exhausted kept");
    }
}
