//! The deny stream's rate limit: a token bucket per client id, under a bucket for the whole
//! stream, so that one client flooding denials uses up its own share and not the others'.
//!
//! Memory is bounded: at most [`MAX_TRACKED_CLIENTS`] buckets. When the map is full, buckets
//! that have refilled (their client was quiet for a second, so a fresh bucket would be the same)
//! are dropped; if none has, the new client shares one overflow bucket. Events over a limit are
//! counted: each event carries the client's own dropped count since its previous event, and the
//! stream's dropped count since the previous event of any client.

use std::collections::HashMap;
use std::time::Instant;

/// Most clients with a bucket of their own.
pub const MAX_TRACKED_CLIENTS: usize = 4096;

/// One token bucket: `rate` tokens per second, at most `rate` held.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
    /// Events of this bucket's client dropped since its previous event went out.
    suppressed: u64,
}

impl Bucket {
    fn full(rate: u32, now: Instant) -> Self {
        Bucket {
            tokens: f64::from(rate),
            last: now,
            suppressed: 0,
        }
    }

    fn refill(&mut self, rate: u32, now: Instant) {
        let rate = f64::from(rate);
        let earned = now.saturating_duration_since(self.last).as_secs_f64() * rate;
        self.tokens = (self.tokens + earned).min(rate);
        self.last = now;
    }

    fn has_token(&self) -> bool {
        self.tokens >= 1.0
    }

    /// Whether a quiet second has refilled it: dropping it then loses nothing but its count.
    fn is_idle(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last).as_secs_f64() >= 1.0
    }
}

/// What an admitted event reports about the events that were not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Admitted {
    /// This client's events dropped since its previous event.
    pub suppressed: u64,
    /// All clients' events dropped since the previous event on the stream.
    pub suppressed_total: u64,
}

/// Per-client and whole-stream token buckets.
#[derive(Debug)]
pub struct DenyLimiter {
    rate: u32,
    rate_total: u32,
    total: Option<Bucket>,
    clients: HashMap<Vec<u8>, Bucket>,
    overflow: Option<Bucket>,
    suppressed_total: u64,
}

impl DenyLimiter {
    /// `rate` events per second per client, `rate_total` for the whole stream (bursts of the
    /// same sizes).
    pub fn new(rate: u32, rate_total: u32) -> Self {
        DenyLimiter {
            rate,
            rate_total,
            total: None,
            clients: HashMap::new(),
            overflow: None,
            suppressed_total: 0,
        }
    }

    /// Number of clients with a bucket of their own.
    pub fn tracked_clients(&self) -> usize {
        self.clients.len()
    }

    /// Whether an event of `client` (its client id bytes) may go out at `now`; if so, the
    /// counts of what was dropped before it.
    pub fn admit(&mut self, client: &[u8], now: Instant) -> Option<Admitted> {
        let (rate, rate_total) = (self.rate, self.rate_total);
        if !self.clients.contains_key(client) && self.clients.len() >= MAX_TRACKED_CLIENTS {
            self.clients.retain(|_, b| !b.is_idle(now));
        }
        let bucket =
            if self.clients.contains_key(client) || self.clients.len() < MAX_TRACKED_CLIENTS {
                self.clients
                    .entry(client.to_vec())
                    .or_insert_with(|| Bucket::full(rate, now))
            } else {
                self.overflow.get_or_insert_with(|| Bucket::full(rate, now))
            };
        bucket.refill(rate, now);
        let total = self
            .total
            .get_or_insert_with(|| Bucket::full(rate_total, now));
        total.refill(rate_total, now);
        if !(bucket.has_token() && total.has_token()) {
            bucket.suppressed = bucket.suppressed.saturating_add(1);
            self.suppressed_total = self.suppressed_total.saturating_add(1);
            return None;
        }
        bucket.tokens -= 1.0;
        total.tokens -= 1.0;
        Some(Admitted {
            suppressed: std::mem::take(&mut bucket.suppressed),
            suppressed_total: std::mem::take(&mut self.suppressed_total),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ok(suppressed: u64, suppressed_total: u64) -> Option<Admitted> {
        Some(Admitted {
            suppressed,
            suppressed_total,
        })
    }

    #[test]
    fn one_client_gets_its_burst_then_counts_what_it_drops() {
        let mut l = DenyLimiter::new(3, 100);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.admit(b"a", t0), ok(0, 0));
        }
        for _ in 0..1000 {
            assert_eq!(l.admit(b"a", t0), None);
        }
        // a third of a second later: one token, and the 1000 dropped are reported
        let t1 = t0 + Duration::from_millis(334);
        assert_eq!(l.admit(b"a", t1), ok(1000, 1000));
        assert_eq!(l.admit(b"a", t1), None);
        // a long pause refills only up to the burst
        let later = t0 + Duration::from_secs(3600);
        assert_eq!(l.admit(b"a", later), ok(1, 1));
        assert_eq!(l.admit(b"a", later), ok(0, 0));
        assert_eq!(l.admit(b"a", later), ok(0, 0));
        assert_eq!(l.admit(b"a", later), None);
    }

    #[test]
    fn a_flooding_client_does_not_crowd_out_another() {
        let mut l = DenyLimiter::new(2, 10);
        let t0 = Instant::now();
        let mut flood_events = 0;
        for _ in 0..500 {
            flood_events += usize::from(l.admit(b"flooder", t0).is_some());
        }
        assert_eq!(flood_events, 2);
        // the other client's first denial goes out, reporting the stream's 498 drops
        assert_eq!(l.admit(b"victim", t0), ok(0, 498));
        assert_eq!(l.admit(b"victim", t0), ok(0, 0));
        assert_eq!(l.admit(b"victim", t0), None);
    }

    #[test]
    fn the_whole_stream_is_capped() {
        let mut l = DenyLimiter::new(5, 4);
        let t0 = Instant::now();
        let admitted = (0..20u8).filter(|i| l.admit(&[*i], t0).is_some()).count();
        assert_eq!(admitted, 4);
        // the next event, a quarter of a second later, reports the 16 the cap dropped; the
        // client itself had dropped nothing
        assert_eq!(l.admit(b"new", t0 + Duration::from_millis(250)), ok(0, 16));
    }

    #[test]
    fn memory_is_bounded_and_idle_buckets_make_room() {
        let mut l = DenyLimiter::new(1, 10_000);
        let t0 = Instant::now();
        for i in 0..MAX_TRACKED_CLIENTS + 100 {
            let id = i.to_be_bytes();
            assert!(l.admit(&id, t0).is_some() || i > MAX_TRACKED_CLIENTS);
        }
        assert_eq!(l.tracked_clients(), MAX_TRACKED_CLIENTS);
        // beyond the cap, clients share one overflow bucket (rate 1: one event, then drops)
        let (a, b) = (usize::MAX.to_be_bytes(), (usize::MAX - 1).to_be_bytes());
        assert_eq!(l.admit(&a, t0), None);
        assert_eq!(l.admit(&b, t0), None);
        // a second later every bucket is idle: a new client gets its own again
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(l.admit(&a, t1), ok(0, 101));
        assert_eq!(l.tracked_clients(), 1);
    }
}
