//! `NonceIssuer`: single use, lifetime, bounded outstanding set with oldest-first eviction, and a
//! proptest of random issue/redeem sequences against a plain model of those rules.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::VecDeque;

use iotsec_attest::appraise::nonce_issuer::{NONCE_LEN, Nonce, NonceError, NonceIssuer};
use proptest::prelude::*;

#[test]
fn a_nonce_redeems_once_within_its_lifetime() {
    let mut issuer = NonceIssuer::new(60, 16);
    let n = issuer.issue(1_000).unwrap();
    assert_eq!(n.as_bytes().len(), NONCE_LEN);
    assert_eq!(issuer.outstanding(), 1);
    assert_eq!(
        issuer.redeem(n.as_bytes(), 1_060),
        Ok(()),
        "the last second is inside"
    );
    assert_eq!(issuer.outstanding(), 0);
    assert_eq!(
        issuer.redeem(n.as_bytes(), 1_061),
        Err(NonceError::AlreadyUsed)
    );
    assert_eq!(
        issuer.redeem(n.as_bytes(), 1_000),
        Err(NonceError::AlreadyUsed)
    );
}

#[test]
fn expired_unknown_and_wrong_length_nonces_are_refused() {
    let mut issuer = NonceIssuer::new(60, 16);
    let n = issuer.issue(1_000).unwrap();
    assert_eq!(
        issuer.redeem(n.as_bytes(), 1_061),
        Err(NonceError::Expired { expired_at: 1_060 })
    );
    // Forgotten once it expired: it neither succeeds nor counts as used.
    assert_eq!(issuer.redeem(n.as_bytes(), 1_000), Err(NonceError::Unknown));
    assert_eq!(
        issuer.redeem(&[0u8; NONCE_LEN], 1_000),
        Err(NonceError::Unknown)
    );
    let m = issuer.issue(2_000).unwrap();
    assert_eq!(
        issuer.redeem(&m.as_bytes()[..31], 2_000),
        Err(NonceError::Unknown)
    );
    let mut flipped = *m.as_bytes();
    flipped[0] ^= 1;
    assert_eq!(issuer.redeem(&flipped, 2_000), Err(NonceError::Unknown));
    assert_eq!(issuer.redeem(m.as_bytes(), 2_000), Ok(()));
}

#[test]
fn a_flood_evicts_the_oldest_and_memory_stays_bounded() {
    let mut issuer = NonceIssuer::new(600, 4);
    let first = issuer.issue(0).unwrap();
    let second = issuer.issue(0).unwrap();
    for _ in 0..10_000 {
        issuer.issue(1).unwrap();
        assert!(issuer.outstanding() <= 4);
    }
    assert_eq!(issuer.outstanding(), 4);
    assert_eq!(issuer.redeem(first.as_bytes(), 2), Err(NonceError::Unknown));
    assert_eq!(
        issuer.redeem(second.as_bytes(), 2),
        Err(NonceError::Unknown)
    );
    let newest: Vec<Nonce> = (0..4).map(|_| issuer.issue(3).unwrap()).collect();
    for n in &newest {
        assert_eq!(issuer.redeem(n.as_bytes(), 3), Ok(()));
    }
}

#[test]
fn nonces_differ_and_debug_does_not_show_them() {
    let mut issuer = NonceIssuer::new(60, 8);
    let a = issuer.issue(0).unwrap();
    let b = issuer.issue(0).unwrap();
    assert_ne!(a, b);
    assert_eq!(format!("{a:?}"), "Nonce(..)");
    let shown = format!("{issuer:?}");
    assert_eq!(
        shown,
        "NonceIssuer { lifetime: 60, capacity: 8, outstanding: 2, redeemed: 0 }"
    );
}

#[derive(Debug, Clone)]
enum Op {
    Issue {
        advance: u64,
    },
    /// Redeem the i-th issued nonce (modulo how many were issued), or a never-issued one.
    Redeem {
        advance: u64,
        which: Option<usize>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u64..20).prop_map(|advance| Op::Issue { advance }),
        (0u64..20, proptest::option::weighted(0.9, 0usize..64))
            .prop_map(|(advance, which)| Op::Redeem { advance, which }),
    ]
}

/// The rules, stated plainly: outstanding nonces in issue order with their last valid second,
/// and the last `capacity` redeemed ones.
struct Model {
    lifetime: u64,
    capacity: usize,
    outstanding: VecDeque<(usize, u64)>,
    redeemed: VecDeque<usize>,
}

impl Model {
    fn issue(&mut self, id: usize, now: u64) {
        if self.outstanding.len() == self.capacity {
            self.outstanding.pop_front();
        }
        self.outstanding.push_back((id, now + self.lifetime));
    }

    fn redeem(&mut self, id: usize, now: u64) -> Result<(), NonceError> {
        let Some(pos) = self.outstanding.iter().position(|(i, _)| *i == id) else {
            return Err(if self.redeemed.contains(&id) {
                NonceError::AlreadyUsed
            } else {
                NonceError::Unknown
            });
        };
        let (_, expires) = self.outstanding.remove(pos).unwrap();
        if now > expires {
            return Err(NonceError::Expired {
                expired_at: expires,
            });
        }
        if self.redeemed.len() == self.capacity {
            self.redeemed.pop_front();
        }
        self.redeemed.push_back(id);
        Ok(())
    }
}

proptest! {
    #[test]
    fn issue_redeem_sequences_follow_the_model(
        lifetime in 0u64..40,
        capacity in 1usize..6,
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        let mut issuer = NonceIssuer::new(lifetime, capacity);
        let mut model = Model { lifetime, capacity, outstanding: VecDeque::new(), redeemed: VecDeque::new() };
        let mut issued: Vec<Nonce> = Vec::new();
        let mut now = 1_700_000_000u64;
        for op in ops {
            match op {
                Op::Issue { advance } => {
                    now += advance;
                    issued.push(issuer.issue(now).unwrap());
                    model.issue(issued.len() - 1, now);
                }
                Op::Redeem { advance, which } => {
                    now += advance;
                    match which.filter(|_| !issued.is_empty()) {
                        Some(i) => {
                            let id = i % issued.len();
                            prop_assert_eq!(issuer.redeem(issued[id].as_bytes(), now), model.redeem(id, now));
                        }
                        None => prop_assert_eq!(issuer.redeem(&[0x5a; NONCE_LEN], now), Err(NonceError::Unknown)),
                    }
                }
            }
            prop_assert_eq!(issuer.outstanding(), model.outstanding.len());
            prop_assert!(issuer.outstanding() <= capacity);
        }
    }
}
