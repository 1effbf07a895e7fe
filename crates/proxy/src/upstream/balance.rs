//! Picking an endpoint for each request.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use weft_proto::config::{HashKey, LbPolicy};

use super::Endpoint;
use super::hash::Table;
use super::priority::{Place, Priorities};

/// A cluster's endpoints and the policy that chooses among them.
#[derive(Debug)]
pub struct Balancer {
    policy: LbPolicy,
    endpoints: Vec<Arc<Endpoint>>,
    total_weight: u64,
    next: AtomicUsize,
    /// The ring or Maglev table of a consistent-hash policy, built here
    /// once per endpoint set; `None` for every other policy (and with
    /// priorities, whose levels hold their own).
    table: Option<Table>,
    /// Priority levels and locality groups; `None` (the common case): one
    /// flat set of endpoints, at no extra cost per pick.
    pub(super) priorities: Option<Priorities>,
}

// === impl Balancer ===

impl Balancer {
    pub fn new(policy: LbPolicy, endpoints: Vec<Arc<Endpoint>>) -> Self {
        let total_weight = endpoints.iter().map(|e| e.weight as u64).sum();
        let table = match &policy {
            LbPolicy::ConsistentHash(ch) => {
                let eps: Vec<_> = endpoints.iter().map(|e| (e.addr, e.weight)).collect();
                Some(Table::build(ch.table, &eps))
            }
            _ => None,
        };
        Self {
            policy,
            endpoints,
            total_weight,
            next: AtomicUsize::new(fastrand::usize(..usize::MAX / 2)),
            table,
            priorities: None,
        }
    }

    /// A balancer over endpoints the control plane placed in priority
    /// levels and locality groups (`upstream::priority`). Endpoints all
    /// at priority 0 without locality weights are one flat set, exactly
    /// as [`Self::new`] makes it.
    pub fn with_places(policy: LbPolicy, endpoints: Vec<(Arc<Endpoint>, Place)>) -> Self {
        let placed = endpoints
            .iter()
            .any(|(_, p)| p.priority != 0 || p.locality_weight.is_some());
        if !placed {
            return Self::new(policy, endpoints.into_iter().map(|(e, _)| e).collect());
        }
        let hash = match &policy {
            LbPolicy::ConsistentHash(ch) => Some(ch.table),
            _ => None,
        };
        let (endpoints, priorities) = Priorities::build(endpoints, hash);
        Self {
            total_weight: endpoints.iter().map(|e| e.weight as u64).sum(),
            policy,
            endpoints,
            next: AtomicUsize::new(fastrand::usize(..usize::MAX / 2)),
            table: None,
            priorities: Some(priorities),
        }
    }

    /// What of a request a consistent-hash policy hashes; `None` for other
    /// policies (and a consistent-hash one without a key).
    pub fn hash_key(&self) -> Option<&HashKey> {
        match &self.policy {
            LbPolicy::ConsistentHash(ch) => ch.key.as_ref(),
            _ => None,
        }
    }

    pub fn endpoints(&self) -> &[Arc<Endpoint>] {
        &self.endpoints
    }

    /// Chooses an available endpoint, or `None` when every endpoint is set
    /// aside (or there are none). `hash` is the request's consistent-hash
    /// key; other policies ignore it, and a consistent-hash policy without
    /// one picks a random point, as Envoy does when a request lacks the
    /// hashed header or cookie.
    ///
    /// Cost: O(1) expected (O(log n) on a ring); O(n) only when the picks
    /// land on endpoints that are set aside. With priorities, plus
    /// O(levels + groups) to choose the level and locality.
    pub fn pick(&self, hash: Option<u64>) -> Option<&Arc<Endpoint>> {
        let now = Instant::now();
        if let Some(p) = &self.priorities {
            return self.pick_placed(p, hash, now);
        }
        self.pick_in(
            &self.endpoints,
            self.total_weight,
            self.table.as_ref(),
            hash,
            now,
        )
    }

    /// Envoy's priority then locality choice, then the policy within the
    /// chosen locality. A hashing policy lets the hash choose the level
    /// (as Envoy's `choosePriority(hash)`) and looks it up in the level's
    /// table. Nothing available there: the next endpoints in priority
    /// order.
    fn pick_placed(
        &self,
        p: &Priorities,
        hash: Option<u64>,
        now: Instant,
    ) -> Option<&Arc<Endpoint>> {
        let hashing = matches!(self.policy, LbPolicy::ConsistentHash(_));
        let h = match hash {
            Some(h) if hashing => h,
            _ => fastrand::u64(..),
        };
        // u64 % 100 < 100: the cast is lossless.
        let level = p.level(&self.endpoints, (h % 100) as u32, now);
        let found = if hashing {
            let eps = &self.endpoints[level.range.clone()];
            level
                .table
                .as_ref()
                .and_then(|t| t.lookup(h, eps.len(), |i| eps[i].is_available(now)))
                .map(|i| &eps[i])
        } else {
            let g = p.group(level);
            self.pick_in(
                &self.endpoints[g.range.clone()],
                g.total_weight,
                None,
                None,
                now,
            )
        };
        found.or_else(|| first_available_from(&self.endpoints, level.range.start, now))
    }

    /// The policy over `eps` (all endpoints, or one locality group).
    fn pick_in<'a>(
        &self,
        eps: &'a [Arc<Endpoint>],
        total_weight: u64,
        table: Option<&Table>,
        hash: Option<u64>,
        now: Instant,
    ) -> Option<&'a Arc<Endpoint>> {
        match eps.len() {
            0 => None,
            1 => eps.first().filter(|e| e.is_available(now)),
            _ => match self.policy {
                LbPolicy::P2cPeakEwma => p2c(eps, now, |e| e.ewma_cost()),
                LbPolicy::LeastRequest => {
                    p2c(eps, now, |e| (e.in_flight() as f64 + 1.0) / e.weight as f64)
                }
                LbPolicy::RoundRobin => {
                    let start = self.next.fetch_add(1, Ordering::Relaxed);
                    first_available_from(eps, start, now)
                }
                LbPolicy::Random => weighted_random(eps, total_weight, now),
                LbPolicy::ConsistentHash(_) => {
                    by_hash(eps, table, hash.unwrap_or_else(|| fastrand::u64(..)), now)
                }
            },
        }
    }
}

/// The endpoint the table gives `hash`, past set-aside ones; should the
/// bounded walk find none, any available endpoint.
fn by_hash<'a>(
    eps: &'a [Arc<Endpoint>],
    table: Option<&Table>,
    hash: u64,
    now: Instant,
) -> Option<&'a Arc<Endpoint>> {
    let n = eps.len();
    table
        .and_then(|t| t.lookup(hash, n, |i| eps[i].is_available(now)))
        .map(|i| &eps[i])
        .or_else(|| first_available_from(eps, (hash % n as u64) as usize, now))
}

/// Power of two choices: the cheaper of two distinct random endpoints.
fn p2c(
    eps: &[Arc<Endpoint>],
    now: Instant,
    cost: impl Fn(&Endpoint) -> f64,
) -> Option<&Arc<Endpoint>> {
    let n = eps.len();
    let a = fastrand::usize(..n);
    let b = (a + 1 + fastrand::usize(..n - 1)) % n;
    let (ea, eb) = (&eps[a], &eps[b]);
    match (ea.is_available(now), eb.is_available(now)) {
        (true, true) => Some(if cost(eb) < cost(ea) { eb } else { ea }),
        (true, false) => Some(ea),
        (false, true) => Some(eb),
        (false, false) => first_available_from(eps, a, now),
    }
}

fn weighted_random(
    eps: &[Arc<Endpoint>],
    total_weight: u64,
    now: Instant,
) -> Option<&Arc<Endpoint>> {
    let mut r = fastrand::u64(..total_weight.max(1));
    for (i, e) in eps.iter().enumerate() {
        if r < e.weight as u64 {
            return if e.is_available(now) {
                Some(e)
            } else {
                first_available_from(eps, i, now)
            };
        }
        r -= e.weight as u64;
    }
    first_available_from(eps, 0, now)
}

fn first_available_from(
    eps: &[Arc<Endpoint>],
    start: usize,
    now: Instant,
) -> Option<&Arc<Endpoint>> {
    let n = eps.len();
    (0..n)
        .map(|i| &eps[(start + i) % n])
        .find(|e| e.is_available(now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::PeerLabels;
    use std::collections::HashMap;
    use std::time::Duration;
    use weft_proto::config::{ConsistentHash, HashTable};

    fn endpoints(weights: &[u32]) -> Vec<Arc<Endpoint>> {
        weights
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let addr = format!("127.0.0.1:{}", 1000 + i).parse().unwrap();
                Arc::new(Endpoint::new(addr, *w, Arc::new(PeerLabels::unknown())))
            })
            .collect()
    }

    fn counts(b: &Balancer, n: usize) -> HashMap<u16, usize> {
        let mut m = HashMap::new();
        for _ in 0..n {
            *m.entry(b.pick(None).unwrap().addr.port()).or_default() += 1;
        }
        m
    }

    #[test]
    fn round_robin_visits_every_endpoint_evenly() {
        let b = Balancer::new(LbPolicy::RoundRobin, endpoints(&[1, 1, 1]));
        let c = counts(&b, 300);
        assert_eq!(c.values().copied().collect::<Vec<_>>(), vec![100; 3]);
    }

    #[test]
    fn random_honours_weights() {
        let b = Balancer::new(LbPolicy::Random, endpoints(&[1, 3]));
        let c = counts(&b, 20_000);
        let share = c[&1001] as f64 / 20_000.0;
        assert!((0.72..0.78).contains(&share), "{share}");
    }

    #[test]
    fn p2c_ewma_avoids_a_slow_endpoint() {
        let eps = endpoints(&[1, 1, 1]);
        eps[0].observe_latency(Duration::from_millis(500));
        eps[1].observe_latency(Duration::from_millis(1));
        eps[2].observe_latency(Duration::from_millis(1));
        let b = Balancer::new(LbPolicy::P2cPeakEwma, eps);
        let c = counts(&b, 3000);
        // The slow endpoint only wins when picked against itself, which p2c
        // never does: it is chosen zero times.
        assert_eq!(c.get(&1000), None, "{c:?}");
    }

    #[test]
    fn least_request_prefers_idle_endpoints() {
        let eps = endpoints(&[1, 1]);
        let _busy: Vec<_> = (0..10).map(|_| eps[0].start_request()).collect();
        let b = Balancer::new(LbPolicy::LeastRequest, eps);
        let c = counts(&b, 100);
        assert_eq!(c[&1001], 100);
    }

    #[test]
    fn endpoints_set_aside_are_skipped_and_none_left_means_none() {
        for policy in [
            LbPolicy::P2cPeakEwma,
            LbPolicy::RoundRobin,
            LbPolicy::Random,
            LbPolicy::LeastRequest,
            LbPolicy::ConsistentHash(ConsistentHash::default()),
            LbPolicy::ConsistentHash(ConsistentHash {
                key: None,
                table: HashTable::Maglev { table_size: 65537 },
            }),
        ] {
            let eps = endpoints(&[1, 1, 1]);
            eps[0].mark_failed_for_test();
            eps[2].mark_failed_for_test();
            let b = Balancer::new(policy.clone(), eps.clone());
            let c = counts(&b, 200);
            assert_eq!(
                c.keys().copied().collect::<Vec<_>>(),
                vec![1001],
                "{policy:?}"
            );
            eps[1].mark_failed_for_test();
            assert!(b.pick(None).is_none(), "{policy:?}");
        }
        assert!(
            Balancer::new(LbPolicy::RoundRobin, vec![])
                .pick(None)
                .is_none()
        );
    }

    #[test]
    fn consistent_hash_sticks_per_key_and_spreads_without_one() {
        let policy = LbPolicy::ConsistentHash(ConsistentHash {
            key: Some(HashKey::SourceIp),
            table: HashTable::Ring { min_size: 1024 },
        });
        let b = Balancer::new(policy, endpoints(&[1, 1, 1]));
        assert_eq!(b.hash_key(), Some(&HashKey::SourceIp));
        for h in [1u64, 42, u64::MAX] {
            let first = b.pick(Some(h)).unwrap().addr;
            assert!((0..100).all(|_| b.pick(Some(h)).unwrap().addr == first));
        }
        // No key: a random point each time, so all three are chosen.
        assert_eq!(counts(&b, 300).len(), 3);
        assert_eq!(Balancer::new(LbPolicy::Random, vec![]).hash_key(), None);
    }
}
