//! A bounded cache of allow verdicts, so that a client that repeats a check (the same
//! publisher on the same topic, a subscriber receiving on it) skips the UTF-8 checks and the
//! policy walk.
//!
//! - **Key**: every input the decision reads that varies per check: the client id, the
//!   username (absent and empty are different keys), the access value, the topic, the QoS and
//!   the retain flag, compared byte for byte. Everything else the decision reads is fixed for
//!   a plugin instance (the mode, `username_is_cert_cn`, the deny stream) or is covered by the
//!   generation (the policy, the posture feed). The certificate CN is the username when it is
//!   used at all (`plugin_opt_username_is_cert_cn`), so it is in the key.
//! - **What is cached**: only allows, and only those whose decision did not read the time
//!   ([`iotsec_mqtt_acl::decision::UntracedDecision::reads_time`]: an attestation-age
//!   condition was evaluated). Denials are never cached: each one is still logged, counted,
//!   rate-limited and published on the deny stream.
//! - **Invalidation**: each entry carries the generation it was decided in; the plugin bumps
//!   the generation after every policy or posture swap (SIGHUP, a changed file, a revocation
//!   feed), so every older entry stops matching at once.
//! - **Bounds**: a fixed number of entries (`plugin_opt_verdict_cache`, allocated once), two
//!   ways per set, each entry with its key inline in [`KEY_BYTES`] bytes; a request whose key
//!   is longer is decided without the cache. A client that floods unique allowed topics costs a
//!   hash, a probe and one copy of at most [`KEY_BYTES`] bytes per check on top of the
//!   uncached decision, and no memory.
//!
//! Hand-written (no map crate): a fixed set-associative array with inline keys is what bounds
//! both the memory and the cost of an insert; general maps grow or allocate per key.

use std::hash::BuildHasher;

use crate::access::Access;
use crate::authorize::AclRequest;

/// Most key bytes (client id + username + topic) an entry holds inline (< 256: each length
/// fits in a byte of the meta word).
pub const KEY_BYTES: usize = 232;
const _: () = assert!(KEY_BYTES < 256);
/// Entries per set.
const WAYS: usize = 2;

/// The per-check part of a key that is not bytes, packed one-to-one into a word (so an entry
/// compares it with one instruction): the access type (2 bits; unknown access values are
/// always denied and never keys), QoS (8), retain (1), username present (1), and the three
/// lengths (8 bits each; [`KEY_BYTES`] < 256).
#[inline]
fn meta(access: Access, req: &AclRequest<'_>, [client_id, username, topic]: [usize; 3]) -> u64 {
    let access: u64 = match access {
        Access::Read => 0,
        Access::Write => 1,
        Access::Subscribe => 2,
        Access::Unsubscribe => 3,
    };
    // The caller bounded the sum of the lengths by KEY_BYTES (< 256): each fits in 8 bits.
    access
        | u64::from(req.qos) << 2
        | u64::from(req.retain) << 10
        | u64::from(req.username.is_some()) << 11
        | (client_id as u64 & 0xff) << 12
        | (username as u64 & 0xff) << 20
        | (topic as u64 & 0xff) << 28
}

/// A request as a cache key: borrowed bytes that fit in an entry.
struct Key<'a> {
    meta: u64,
    client_id: &'a [u8],
    username: &'a [u8],
    topic: &'a [u8],
}

impl<'a> Key<'a> {
    /// `None` for a request that is never cached: a null client id or topic or an unknown
    /// access value (always denied), or a key longer than [`KEY_BYTES`].
    #[inline(always)]
    fn of(req: &AclRequest<'a>) -> Option<Self> {
        let client_id = req.client_id?;
        let topic = req.topic?;
        let username = req.username.unwrap_or_default();
        if client_id.len() + username.len() + topic.len() > KEY_BYTES {
            return None;
        }
        let access = Access::from_raw(req.access)?;
        Some(Key {
            meta: meta(access, req, [client_id.len(), username.len(), topic.len()]),
            client_id,
            username,
            topic,
        })
    }

    fn parts(&self) -> [&'a [u8]; 3] {
        [self.client_id, self.username, self.topic]
    }
}

/// The 64-bit product of `a` and `b`, folded (high half xor low half): the mixing step of
/// wyhash / foldhash.
#[inline]
fn fold_mul(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ ((full >> 64) as u64)
}

#[inline]
fn word(bytes: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    if let (Some(dst), Some(src)) = (w.get_mut(..bytes.len()), bytes.get(..8.min(bytes.len()))) {
        dst.copy_from_slice(src);
    }
    u64::from_le_bytes(w)
}

#[inline]
fn last_word(bytes: &[u8]) -> u64 {
    bytes
        .last_chunk::<8>()
        .map_or_else(|| word(bytes), |w| u64::from_le_bytes(*w))
}

/// Mixes `bytes` into `h`, 8 bytes at a time (the last word overlapping the one before: the
/// lengths are hashed in the meta word, so no padding is needed).
///
/// Hand-written instead of a `Hasher` crate: the key is short byte strings and a word, hashed
/// on every check; with `foldhash`'s `Hasher` and slice `==` the lookup cost 590 instructions
/// per message in the broker, with this and [`same`] 344 (callgrind, BENCHMARKS.md).
#[inline(always)]
fn mix(mut h: u64, bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    if bytes.len() <= 8 {
        // Short parts (client ids, short topics): one word, read in two overlapping halves
        // when there are 4 or more bytes (no byte copy loop).
        let w = match (bytes.first_chunk::<4>(), bytes.last_chunk::<4>()) {
            (Some(lo), Some(hi)) => {
                u64::from(u32::from_le_bytes(*lo)) | u64::from(u32::from_le_bytes(*hi)) << 32
            }
            _ => bytes.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b)),
        };
        return fold_mul(h ^ w, K);
    }
    let (chunks, _) = bytes.as_chunks::<8>();
    for chunk in chunks {
        h = fold_mul(h ^ u64::from_le_bytes(*chunk), K);
    }
    if !bytes.len().is_multiple_of(8) {
        h = fold_mul(h ^ last_word(bytes), K);
    }
    h
}

/// Equality of two byte strings of the same length, a word at a time (the parts are short:
/// a call to `memcmp` per part costs more than the compare).
#[inline(always)]
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if a.len() <= 8 {
        return match (
            a.first_chunk::<4>(),
            b.first_chunk::<4>(),
            a.last_chunk::<4>(),
            b.last_chunk::<4>(),
        ) {
            (Some(a0), Some(b0), Some(a1), Some(b1)) => a0 == b0 && a1 == b1,
            // 0 to 3 bytes (an empty username: no call at all).
            _ => a.iter().zip(b).all(|(x, y)| x == y),
        };
    }
    let (ca, _) = a.as_chunks::<8>();
    let (cb, _) = b.as_chunks::<8>();
    ca.iter().zip(cb).all(|(x, y)| x == y) && last_word(a) == last_word(b)
}

#[derive(Clone, Debug)]
struct Entry {
    /// 0: empty (generations start at 1).
    generation: u64,
    hash: u64,
    meta: u64,
    /// Client id, username and topic, back to back.
    bytes: [u8; KEY_BYTES],
}

impl Entry {
    const EMPTY: Entry = Entry {
        generation: 0,
        hash: 0,
        meta: 0,
        bytes: [0; KEY_BYTES],
    };

    #[inline(always)]
    fn matches(&self, generation: u64, hash: u64, key: &Key<'_>) -> bool {
        if self.hash != hash || self.meta != key.meta || self.generation != generation {
            return false;
        }
        // The lengths are equal (`meta`), so the stored bytes split the same way.
        let c = key.client_id.len();
        let u = c + key.username.len();
        let t = u + key.topic.len();
        match (
            self.bytes.get(..c),
            self.bytes.get(c..u),
            self.bytes.get(u..t),
        ) {
            (Some(client_id), Some(username), Some(topic)) => {
                same(client_id, key.client_id)
                    && same(username, key.username)
                    && same(topic, key.topic)
            }
            _ => false,
        }
    }

    fn store(&mut self, generation: u64, hash: u64, key: &Key<'_>) {
        let mut at = 0;
        for part in key.parts() {
            let end = at + part.len();
            let Some(slot) = self.bytes.get_mut(at..end) else {
                // `Key::of` bounded the total; should that ever fail, store nothing.
                self.generation = 0;
                return;
            };
            slot.copy_from_slice(part);
            at = end;
        }
        self.generation = generation;
        self.hash = hash;
        self.meta = key.meta;
    }
}

/// The cache: `sets` x 2 entries, allocated once.
#[derive(Debug)]
pub struct VerdictCache {
    entries: Box<[Entry]>,
    /// Per set, the way the next insert replaces when both hold current entries.
    victim: Box<[u8]>,
    mask: usize,
    /// Random per cache: a client cannot aim its keys at another client's set.
    seed: u64,
}

impl VerdictCache {
    /// A cache of `entries` entries (a power of two, at least 2; see
    /// [`crate::options::MAX_CACHE_ENTRIES`]).
    pub fn new(entries: usize) -> Self {
        let sets = (entries / WAYS).max(1).next_power_of_two();
        VerdictCache {
            entries: vec![Entry::EMPTY; sets * WAYS].into_boxed_slice(),
            victim: vec![0; sets].into_boxed_slice(),
            mask: sets - 1,
            seed: std::collections::hash_map::RandomState::new().hash_one(0x6b65_7973_u64),
        }
    }

    /// The number of entries.
    pub fn capacity(&self) -> usize {
        self.entries.len()
    }

    #[inline(always)]
    fn hash(&self, key: &Key<'_>) -> u64 {
        // Not the username: it is usually fixed per client id (the certificate CN), and its
        // presence and length are in the meta word; the compare still checks its bytes.
        let h = mix(mix(self.seed ^ key.meta, key.client_id), key.topic);
        fold_mul(h, self.seed | 1)
    }

    #[inline]
    fn set(&self, hash: u64) -> usize {
        (hash as usize) & self.mask
    }

    /// Whether `req` was allowed in `generation` (and is still in the cache).
    #[inline]
    pub fn allows(&self, generation: u64, req: &AclRequest<'_>) -> bool {
        let Some(key) = Key::of(req) else {
            return false;
        };
        let hash = self.hash(&key);
        let first = self.set(hash) * WAYS;
        self.entries
            .get(first..first + WAYS)
            .is_some_and(|ways| ways.iter().any(|e| e.matches(generation, hash, &key)))
    }

    /// Remembers that `req` is allowed in `generation` (a request that cannot be a key is not
    /// remembered). Fills an empty or outdated way first, else replaces the ways in turn.
    pub fn insert(&mut self, generation: u64, req: &AclRequest<'_>) {
        let Some(key) = Key::of(req) else {
            return;
        };
        let hash = self.hash(&key);
        let set = self.set(hash);
        let first = set * WAYS;
        let Some(ways) = self.entries.get_mut(first..first + WAYS) else {
            return;
        };
        if ways.iter().any(|e| e.matches(generation, hash, &key)) {
            return;
        }
        let way = match ways.iter().position(|e| e.generation != generation) {
            Some(free) => free,
            None => {
                let Some(turn) = self.victim.get_mut(set) else {
                    return;
                };
                let way = usize::from(*turn) % WAYS;
                *turn = turn.wrapping_add(1);
                way
            }
        };
        if let Some(entry) = ways.get_mut(way) {
            entry.store(generation, hash, &key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(client_id: &'a [u8], username: Option<&'a [u8]>, topic: &'a [u8]) -> AclRequest<'a> {
        AclRequest {
            client_id: Some(client_id),
            username,
            access: 2,
            topic: Some(topic),
            qos: 1,
            retain: false,
        }
    }

    #[test]
    fn every_key_field_counts() {
        let mut c = VerdictCache::new(1024);
        let base = req(b"dev1", Some(b"alice"), b"a/b");
        c.insert(1, &base);
        assert!(c.allows(1, &base));
        assert!(!c.allows(2, &base), "another generation");
        let variants = [
            AclRequest {
                client_id: Some(b"dev2"),
                ..base
            },
            AclRequest {
                username: None,
                ..base
            },
            AclRequest {
                username: Some(b""),
                ..base
            },
            AclRequest {
                username: Some(b"alicE"),
                ..base
            },
            AclRequest { access: 1, ..base },
            AclRequest {
                topic: Some(b"a/c"),
                ..base
            },
            AclRequest { qos: 0, ..base },
            AclRequest {
                retain: true,
                ..base
            },
            // The same bytes split differently between the fields.
            AclRequest {
                client_id: Some(b"dev1a"),
                username: Some(b"lice"),
                ..base
            },
            AclRequest {
                client_id: None,
                ..base
            },
            AclRequest {
                topic: None,
                ..base
            },
        ];
        for v in &variants {
            assert!(!c.allows(1, v), "{v:?}");
        }
        let anonymous = AclRequest {
            username: None,
            ..base
        };
        c.insert(1, &anonymous);
        assert!(c.allows(1, &anonymous));
        assert!(!c.allows(
            1,
            &AclRequest {
                username: Some(b""),
                ..base
            }
        ));
    }

    /// `same` is `==`: every length up to 40, a difference at every position.
    #[test]
    fn word_compare_is_byte_equality() {
        for len in 0..=40usize {
            let a: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            assert!(same(&a, &a.clone()), "{len}");
            for at in 0..len {
                let mut b = a.clone();
                b[at] ^= 0x01;
                assert!(!same(&a, &b), "{len} {at}");
                let mut b = a.clone();
                b[at] ^= 0x80;
                assert!(!same(&a, &b), "{len} {at}");
            }
            if len > 0 {
                assert!(!same(&a, &a[..len - 1]), "different lengths");
            }
        }
    }

    /// Parts that differ only in the middle (`site/s001/temp` vs `site/s002/temp`) still
    /// spread over the sets, so a gateway's topics do not all land in one set.
    #[test]
    fn topics_differing_in_the_middle_spread() {
        let c = VerdictCache::new(1024);
        let mut sets: Vec<usize> = (0..200)
            .map(|i| {
                let topic = format!("site/sensor{i:04}/temperature/value");
                let r = req(b"gw", None, topic.as_bytes());
                c.set(c.hash(&Key::of(&r).unwrap()))
            })
            .collect();
        sets.sort_unstable();
        sets.dedup();
        assert!(sets.len() > 150, "{}", sets.len());
    }

    #[test]
    fn long_keys_are_not_cached() {
        let mut c = VerdictCache::new(2);
        let topic = vec![b'a'; KEY_BYTES - 4];
        let fits = req(b"dev1", None, &topic);
        c.insert(1, &fits);
        assert!(c.allows(1, &fits));
        let long = req(b"dev1", Some(b"u"), &topic);
        c.insert(1, &long);
        assert!(!c.allows(1, &long));
        assert!(c.allows(1, &fits), "the long key replaced nothing");
    }

    #[test]
    fn a_flood_of_unique_keys_stays_within_the_entries() {
        let mut c = VerdictCache::new(8);
        assert_eq!(c.capacity(), 8);
        let topics: Vec<String> = (0..10_000).map(|i| format!("flood/{i}")).collect();
        for t in &topics {
            c.insert(1, &req(b"dev1", None, t.as_bytes()));
        }
        let held = topics
            .iter()
            .filter(|t| c.allows(1, &req(b"dev1", None, t.as_bytes())))
            .count();
        assert!((1..=8).contains(&held), "{held}");
        assert_eq!(c.capacity(), 8);
        // A set with two current entries replaces them in turn.
        let mut one = VerdictCache::new(2);
        let (a, b, d) = (
            req(b"a", None, b"t"),
            req(b"b", None, b"t"),
            req(b"d", None, b"t"),
        );
        one.insert(1, &a);
        one.insert(1, &b);
        assert!(one.allows(1, &a) && one.allows(1, &b));
        one.insert(1, &d);
        assert!(!one.allows(1, &a) && one.allows(1, &b) && one.allows(1, &d));
        one.insert(1, &a);
        assert!(one.allows(1, &a) && !one.allows(1, &b) && one.allows(1, &d));
        // Outdated entries are replaced first.
        one.insert(2, &b);
        assert!(one.allows(2, &b) && !one.allows(2, &a) && !one.allows(2, &d));
    }
}
