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

use std::hash::{BuildHasher, Hasher};

use crate::authorize::AclRequest;

/// Most key bytes (client id + username + topic) an entry holds inline.
pub const KEY_BYTES: usize = 232;
/// Entries per set.
const WAYS: usize = 2;

/// The per-check part of a key that is not bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Meta {
    access: i32,
    qos: u8,
    retain: bool,
    client_id_len: u8,
    /// `None`: no username (anonymous), which is not the same as an empty one.
    username_len: Option<u8>,
    topic_len: u8,
}

impl Meta {
    fn word(self) -> u64 {
        u64::from(self.access as u32)
            | u64::from(self.qos) << 32
            | u64::from(self.retain) << 40
            | u64::from(self.client_id_len) << 41
            | u64::from(self.username_len.map_or(0x1ff, u16::from)) << 49
            | u64::from(self.topic_len) << 58
    }
}

/// A request as a cache key: borrowed bytes that fit in an entry.
struct Key<'a> {
    meta: Meta,
    client_id: &'a [u8],
    username: &'a [u8],
    topic: &'a [u8],
}

impl<'a> Key<'a> {
    /// `None` for a request that is never cached: a null client id or topic (always denied)
    /// or a key longer than [`KEY_BYTES`].
    fn of(req: &AclRequest<'a>) -> Option<Self> {
        let client_id = req.client_id?;
        let topic = req.topic?;
        let username = req.username.unwrap_or_default();
        if client_id.len() + username.len() + topic.len() > KEY_BYTES {
            return None;
        }
        let meta = Meta {
            access: req.access,
            qos: req.qos,
            retain: req.retain,
            client_id_len: u8::try_from(client_id.len()).ok()?,
            username_len: match req.username {
                None => None,
                Some(u) => Some(u8::try_from(u.len()).ok()?),
            },
            topic_len: u8::try_from(topic.len()).ok()?,
        };
        Some(Key {
            meta,
            client_id,
            username,
            topic,
        })
    }

    fn parts(&self) -> [&'a [u8]; 3] {
        [self.client_id, self.username, self.topic]
    }
}

#[derive(Clone, Debug)]
struct Entry {
    /// 0: empty (generations start at 1).
    generation: u64,
    hash: u64,
    meta: Meta,
    /// Client id, username and topic, back to back.
    bytes: [u8; KEY_BYTES],
}

impl Entry {
    const EMPTY: Entry = Entry {
        generation: 0,
        hash: 0,
        meta: Meta {
            access: 0,
            qos: 0,
            retain: false,
            client_id_len: 0,
            username_len: None,
            topic_len: 0,
        },
        bytes: [0; KEY_BYTES],
    };

    fn matches(&self, generation: u64, hash: u64, key: &Key<'_>) -> bool {
        if self.generation != generation || self.hash != hash || self.meta != key.meta {
            return false;
        }
        // The lengths are equal (`meta`), so the stored bytes split the same way.
        let mut rest: &[u8] = &self.bytes;
        for part in key.parts() {
            let Some((stored, tail)) = rest.split_at_checked(part.len()) else {
                return false;
            };
            if stored != part {
                return false;
            }
            rest = tail;
        }
        true
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
    /// Randomly seeded per cache: a client cannot aim its keys at another client's set.
    state: foldhash::fast::RandomState,
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
            state: foldhash::fast::RandomState::default(),
        }
    }

    /// The number of entries.
    pub fn capacity(&self) -> usize {
        self.entries.len()
    }

    fn hash(&self, key: &Key<'_>) -> u64 {
        let mut h = self.state.build_hasher();
        for part in key.parts() {
            h.write(part);
        }
        h.write_u64(key.meta.word());
        h.finish()
    }

    fn set(&self, hash: u64) -> usize {
        // The hash's high bits: foldhash mixes them best.
        (hash.rotate_left(20) as usize) & self.mask
    }

    /// Whether `req` was allowed in `generation` (and is still in the cache).
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
