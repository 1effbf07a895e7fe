use std::collections::HashMap;
use std::sync::Arc;

use weft_proto::config::{ConsistentHash, HashKey, HashTable, LbPolicy};

use super::Place;
use crate::telemetry::PeerLabels;
use crate::upstream::{Balancer, Endpoint};

/// Endpoints on ports 1000.. with the given (priority, locality, locality
/// weight).
fn placed(places: &[(u32, &str, Option<u32>)]) -> Vec<(Arc<Endpoint>, Place)> {
    places
        .iter()
        .enumerate()
        .map(|(i, (priority, loc, lw))| {
            let addr = format!("127.0.0.1:{}", 1000 + i).parse().unwrap();
            let ep = Arc::new(Endpoint::new(addr, 1, Arc::new(PeerLabels::unknown())));
            let place = Place {
                priority: *priority,
                locality: Some(loc.to_string()),
                locality_weight: *lw,
            };
            (ep, place)
        })
        .collect()
}

/// `n0` endpoints at priority 0 (ports 1000..) then `n1` at priority 1.
fn two_levels(n0: usize, n1: usize) -> Vec<(Arc<Endpoint>, Place)> {
    let mut places = vec![(0, "r/a", None); n0];
    places.extend(vec![(1, "r/b", None); n1]);
    placed(&places)
}

fn fail(eps: &[(Arc<Endpoint>, Place)], which: std::ops::Range<usize>) {
    for (e, _) in &eps[which] {
        e.mark_failed_for_test();
    }
}

/// Picks per port.
fn counts(b: &Balancer, n: usize) -> HashMap<u16, usize> {
    let mut m = HashMap::new();
    for _ in 0..n {
        *m.entry(b.pick(None).unwrap().addr.port()).or_default() += 1;
    }
    m
}

/// Share of `n` picks that went to ports at or past `from`.
fn share_from(b: &Balancer, n: usize, from: u16) -> f64 {
    let c = counts(b, n);
    c.iter()
        .filter(|(p, _)| **p >= from)
        .map(|(_, n)| n)
        .sum::<usize>() as f64
        / n as f64
}

fn loads(b: &Balancer) -> Vec<u32> {
    b.priorities.as_ref().unwrap().loads()
}

#[test]
fn all_available_keeps_every_request_at_priority_0() {
    for policy in [
        LbPolicy::P2cPeakEwma,
        LbPolicy::RoundRobin,
        LbPolicy::Random,
    ] {
        let b = Balancer::with_places(policy.clone(), two_levels(3, 3));
        let c = counts(&b, 600);
        assert!(c.keys().all(|p| *p < 1003), "{policy:?}: {c:?}");
        // (P2C over fresh EWMA estimates settles ties by age, so only the
        // policies without state are sure to visit all three.)
        if policy != LbPolicy::P2cPeakEwma {
            assert_eq!(c.len(), 3, "{policy:?}: {c:?}");
        }
        assert_eq!(loads(&b), vec![100, 0]);
    }
}

#[test]
fn half_of_priority_0_down_spills_30_percent_as_envoy_computes() {
    // Envoy: health(P0) = min(100, 1.4 × 100 × 5/10) = 70, so P0 keeps
    // 70% and P1 (fully healthy) takes the other 30%.
    let eps = two_levels(10, 4);
    fail(&eps, 0..5);
    let b = Balancer::with_places(LbPolicy::RoundRobin, eps);
    let spill = share_from(&b, 20_000, 1010);
    assert_eq!(loads(&b), vec![70, 30]);
    assert!((0.27..0.33).contains(&spill), "{spill}");
    // A level that is 3/4 available is still over 100 with the factor:
    // no spill at all.
    let eps = two_levels(4, 4);
    fail(&eps, 0..1);
    let b = Balancer::with_places(LbPolicy::P2cPeakEwma, eps);
    assert_eq!(share_from(&b, 2000, 1004), 0.0);
}

#[test]
fn priority_0_down_sends_everything_to_priority_1_then_2() {
    let mut places = vec![(0, "r/a/x", None); 2];
    places.extend([(1, "r/a/y", None), (2, "r/b", None)]);
    let eps = placed(&places);
    fail(&eps, 0..2);
    let b = Balancer::with_places(LbPolicy::P2cPeakEwma, eps.clone());
    assert_eq!(counts(&b, 200), HashMap::from([(1002, 200)]));
    fail(&eps, 2..3);
    let b = Balancer::with_places(LbPolicy::P2cPeakEwma, eps.clone());
    assert_eq!(counts(&b, 200), HashMap::from([(1003, 200)]));
    fail(&eps, 3..4);
    let b = Balancer::with_places(LbPolicy::P2cPeakEwma, eps);
    assert!(b.pick(None).is_none());
}

#[test]
fn healths_below_100_in_total_are_scaled_up() {
    // health 28 (2/10) and 42 (3/10): normalized to 40% and 60%.
    let eps = two_levels(10, 10);
    fail(&eps, 0..8);
    fail(&eps, 10..17);
    let b = Balancer::with_places(LbPolicy::Random, eps);
    let spill = share_from(&b, 20_000, 1010);
    assert_eq!(loads(&b), vec![40, 60]);
    assert!((0.56..0.64).contains(&spill), "{spill}");
}

#[test]
fn locality_weights_split_a_level_and_follow_availability() {
    // Two localities 80/20 at one priority, two endpoints each.
    let places = [
        (0, "r/a", Some(80)),
        (0, "r/a", Some(80)),
        (0, "r/b", Some(20)),
        (0, "r/b", Some(20)),
    ];
    let b = Balancer::with_places(LbPolicy::RoundRobin, placed(&places));
    let b_share = share_from(&b, 20_000, 1002);
    assert!((0.17..0.23).contains(&b_share), "{b_share}");
    // Half of r/a down: its weight counts at 70% (80 × 0.7 = 56 against
    // 20): r/b's share is 20/76.
    let eps = placed(&places);
    fail(&eps, 0..1);
    let b = Balancer::with_places(LbPolicy::RoundRobin, eps);
    let b_share = share_from(&b, 20_000, 1002);
    assert!((0.23..0.30).contains(&b_share), "{b_share}");
}

#[test]
fn consistent_hash_sticks_within_priority_0_and_moves_when_it_fails() {
    let policy = LbPolicy::ConsistentHash(ConsistentHash {
        key: Some(HashKey::SourceIp),
        table: HashTable::Ring { min_size: 1024 },
    });
    let eps = two_levels(3, 3);
    let b = Balancer::with_places(policy.clone(), eps.clone());
    for h in [1u64, 42, 7777, u64::MAX] {
        let first = b.pick(Some(h)).unwrap().addr;
        assert!(first.port() < 1003, "{first}");
        assert!((0..50).all(|_| b.pick(Some(h)).unwrap().addr == first));
    }
    fail(&eps, 0..3);
    let b = Balancer::with_places(policy, eps);
    assert!((0..100).all(|h| b.pick(Some(h)).unwrap().addr.port() >= 1003));
}

#[test]
fn unplaced_endpoints_make_a_flat_balancer() {
    let b = Balancer::with_places(LbPolicy::RoundRobin, placed(&[(0, "r/a", None); 3]));
    assert!(b.priorities.is_none());
    assert_eq!(counts(&b, 300).len(), 3);
}
