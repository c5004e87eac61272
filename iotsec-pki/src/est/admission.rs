//! Which TCP connections an EST server takes on, shared by the blocking server
//! ([`crate::est::transport`]) and the tokio one (`est::http`, feature `est-axum`).
//!
//! A slow client (slowloris) holds a connection by sending a byte every few seconds; every
//! server has a finite number of connections it can hold, so three bounds keep the slots for
//! honest clients: one deadline for the TLS handshake, the request head and the body together
//! (trickling does not extend it), at most [`ServeLimits::max_per_address`] connections per
//! client address (an IPv6 client by its /64, what one host is usually given), and a reserve:
//! the last [`ServeLimits::reserve`] of [`ServeLimits::max_connections`] slots go only to
//! addresses that hold no connection yet, so a client that filled its per-address share cannot
//! take them, and an attacker needs as many addresses as there are slots to lock everyone out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The bounds of an EST server's connections and requests.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServeLimits {
    /// One deadline for the TLS handshake, the request head and the body of a connection's
    /// first request, and, after each answer, for sending it and reading the next request
    /// whole; a client that trickles bytes is cut off when it passes. The time the application
    /// takes to decide is not counted.
    pub deadline: Duration,
    /// Most connections held at once.
    pub max_connections: usize,
    /// Most connections one client address holds at once (IPv6: one /64).
    pub max_per_address: usize,
    /// Slots of `max_connections` kept for addresses that hold no connection yet.
    pub reserve: usize,
    /// Largest request body (413 above it).
    pub max_body: usize,
    /// Most requests served on one connection; the last answer says `Connection: close`.
    pub max_requests_per_connection: usize,
}

impl Default for ServeLimits {
    /// 10 s deadline, 512 connections of which 64 are reserved, 32 per address, 64 KiB bodies,
    /// 32 requests per connection.
    fn default() -> Self {
        ServeLimits {
            deadline: Duration::from_secs(10),
            max_connections: 512,
            max_per_address: 32,
            reserve: 64,
            max_body: 64 * 1024,
            max_requests_per_connection: 32,
        }
    }
}

impl ServeLimits {
    /// These limits with `deadline`.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// These limits with `max_connections` in all, `max_per_address` per address and `reserve`
    /// kept for new addresses.
    pub fn with_connections(
        mut self,
        max_connections: usize,
        max_per_address: usize,
        reserve: usize,
    ) -> Self {
        self.max_connections = max_connections;
        self.max_per_address = max_per_address;
        self.reserve = reserve;
        self
    }

    /// These limits with `max_body`.
    pub fn with_max_body(mut self, max_body: usize) -> Self {
        self.max_body = max_body;
        self
    }

    /// These limits with `max_requests_per_connection`.
    pub fn with_max_requests_per_connection(mut self, n: usize) -> Self {
        self.max_requests_per_connection = n;
        self
    }
}

/// Why a connection was not taken on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdmissionRefusal {
    /// Every slot is held.
    Full,
    /// The address holds its share of connections.
    AddressCap,
    /// Only the reserve is left, and the address already holds a connection.
    ReserveForNewAddresses,
}

impl AdmissionRefusal {
    /// A stable code for logs.
    pub fn code(&self) -> &'static str {
        match self {
            AdmissionRefusal::Full => "connections-full",
            AdmissionRefusal::AddressCap => "address-cap",
            AdmissionRefusal::ReserveForNewAddresses => "reserve-for-new-addresses",
        }
    }
}

/// The key an address is counted under: an IPv4 address, or the /64 of an IPv6 one (an
/// IPv4-mapped IPv6 address counts as the IPv4 address).
pub(crate) fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut seg = v6.segments();
                for s in seg.iter_mut().skip(4) {
                    *s = 0;
                }
                IpAddr::V6(seg.into())
            }
        },
    }
}

#[derive(Debug, Default)]
struct Held {
    total: usize,
    // One entry per address holding a connection, so it never outgrows `max_connections`.
    per_address: HashMap<IpAddr, usize>,
}

/// The connection slots of one server.
#[derive(Debug, Clone)]
pub struct Admission {
    held: Arc<Mutex<Held>>,
    max_connections: usize,
    max_per_address: usize,
    reserve: usize,
}

/// A connection taken on; dropping it frees its slot.
#[derive(Debug)]
pub struct Admitted {
    held: Arc<Mutex<Held>>,
    key: IpAddr,
}

fn lock(held: &Mutex<Held>) -> MutexGuard<'_, Held> {
    // The counts are updated in one step each, so a panic elsewhere cannot leave them torn.
    held.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Admission {
    /// Slots as `limits` bounds them.
    pub fn new(limits: &ServeLimits) -> Self {
        Admission {
            held: Arc::new(Mutex::new(Held::default())),
            max_connections: limits.max_connections,
            max_per_address: limits.max_per_address,
            reserve: limits.reserve.min(limits.max_connections),
        }
    }

    /// A slot for a connection from `ip`, or why not.
    pub fn try_admit(&self, ip: IpAddr) -> Result<Admitted, AdmissionRefusal> {
        let key = address_key(ip);
        let mut held = lock(&self.held);
        let mine = held.per_address.get(&key).copied().unwrap_or(0);
        if held.total >= self.max_connections {
            return Err(AdmissionRefusal::Full);
        }
        if mine >= self.max_per_address {
            return Err(AdmissionRefusal::AddressCap);
        }
        if mine > 0 && held.total >= self.max_connections - self.reserve {
            return Err(AdmissionRefusal::ReserveForNewAddresses);
        }
        held.total += 1;
        held.per_address.insert(key, mine + 1);
        Ok(Admitted {
            held: self.held.clone(),
            key,
        })
    }

    /// How many connections are held.
    pub fn held(&self) -> usize {
        lock(&self.held).total
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut held = lock(&self.held);
        held.total = held.total.saturating_sub(1);
        match held.per_address.get_mut(&self.key) {
            Some(n) if *n > 1 => *n -= 1,
            _ => {
                held.per_address.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn per_address_cap_and_reserve_for_new_addresses() {
        let a = Admission::new(&ServeLimits::default().with_connections(6, 3, 2));
        let attacker: Vec<_> = (0..3)
            .map(|_| a.try_admit(ip("10.0.0.1")).unwrap())
            .collect();
        assert_eq!(
            a.try_admit(ip("10.0.0.1")).unwrap_err(),
            AdmissionRefusal::AddressCap
        );
        let second = a.try_admit(ip("10.0.0.2")).unwrap();
        // 4 of 6 held: the last 2 are the reserve, for addresses holding nothing.
        assert_eq!(
            a.try_admit(ip("10.0.0.2")).unwrap_err(),
            AdmissionRefusal::ReserveForNewAddresses
        );
        let honest = a.try_admit(ip("10.0.0.3")).unwrap();
        let other = a.try_admit(ip("10.0.0.4")).unwrap();
        assert_eq!(
            a.try_admit(ip("10.0.0.5")).unwrap_err(),
            AdmissionRefusal::Full
        );
        assert_eq!(a.held(), 6);
        drop((attacker, second, honest, other));
        assert_eq!(a.held(), 0);
        assert!(lock(&a.held).per_address.is_empty());
    }

    #[test]
    fn ipv6_counts_by_slash_64_and_mapped_ipv4_as_ipv4() {
        let a = Admission::new(&ServeLimits::default().with_connections(10, 1, 0));
        let _one = a.try_admit(ip("2001:db8:1:2::1")).unwrap();
        assert_eq!(
            a.try_admit(ip("2001:db8:1:2:ffff::9")).unwrap_err(),
            AdmissionRefusal::AddressCap
        );
        let _other_net = a.try_admit(ip("2001:db8:1:3::1")).unwrap();
        let _v4 = a.try_admit(ip("192.0.2.7")).unwrap();
        assert_eq!(
            a.try_admit(ip("::ffff:192.0.2.7")).unwrap_err(),
            AdmissionRefusal::AddressCap
        );
    }
}
