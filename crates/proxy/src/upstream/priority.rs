//! Priority levels and locality groups, as Envoy balances a cluster whose
//! endpoints the control plane ranked (Istio locality load balancing).
//!
//! Envoy: each priority level's health is `min(100, 1.4 × 100 × available
//! / total)` (the overprovisioning factor 1.4: a level with at least ~71%
//! of its endpoints available keeps all its traffic). Level 0 takes its
//! health in percent of the traffic, level 1 the next share up to its
//! health, and so on; when the healths sum below 100 the shares are
//! scaled up to 100 (see Envoy's "Priority levels" architecture
//! overview). Within a level, locality weights split the traffic over
//! locality groups, each weight scaled by the group's availability in the
//! same way ("Locality weighted load balancing").
//!
//! Health is counted over all endpoints at most every [`REFRESH`] (O(n)),
//! and kept in atomics; a pick reads it in O(levels + groups) without
//! allocating. Envoy panic mode (balancing over unhealthy hosts below 50%
//! health) is not done: a pick that finds nothing available in its level
//! walks on to the next levels.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use weft_proto::config::HashTable;

use super::Endpoint;
use super::endpoint::nanos_since_epoch;
use super::hash::Table;

/// How stale the counted health may get; endpoints set aside in between
/// are skipped by the pick itself.
const REFRESH: Duration = Duration::from_millis(50);

/// Envoy's default overprovisioning factor, in percent.
const OVERPROVISIONING: u64 = 140;

/// Where the control plane put one endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    pub priority: u32,
    pub locality: Option<String>,
    /// The weight of the endpoint's locality group; `None`: unweighted.
    pub locality_weight: Option<u32>,
}

/// A cluster's endpoints by priority level and locality group. The
/// balancer's endpoint list is sorted to match: each level and group is a
/// range of it.
#[derive(Debug)]
pub(super) struct Priorities {
    levels: Vec<Level>,
    groups: Vec<Group>,
    /// Nanoseconds since the endpoint epoch of the last health count;
    /// `u64::MAX` before the first.
    counted_at: AtomicU64,
}

#[derive(Debug)]
pub(super) struct Level {
    pub(super) range: Range<usize>,
    groups: Range<usize>,
    /// Percent of the traffic this level takes, from the last count.
    load: AtomicU32,
    /// The level's consistent-hash table (over `range`), if the policy
    /// hashes.
    pub(super) table: Option<Table>,
}

#[derive(Debug)]
pub(super) struct Group {
    pub(super) range: Range<usize>,
    pub(super) total_weight: u64,
    locality_weight: u64,
    /// `locality_weight` scaled by the group's health, from the last count.
    effective: AtomicU64,
}

// === impl Priorities ===

impl Priorities {
    /// Sorts `endpoints` by priority, then locality, and ranges them;
    /// `hash` builds a table per level for a consistent-hash policy.
    /// Locality groups matter only when some endpoint has a locality
    /// weight; otherwise a level is one group.
    pub(super) fn build(
        mut endpoints: Vec<(Arc<Endpoint>, Place)>,
        hash: Option<HashTable>,
    ) -> (Vec<Arc<Endpoint>>, Self) {
        let weighted = endpoints.iter().any(|(_, p)| p.locality_weight.is_some());
        endpoints.sort_by(|(_, a), (_, b)| {
            (a.priority, weighted.then_some(&a.locality))
                .cmp(&(b.priority, weighted.then_some(&b.locality)))
        });
        let mut levels = Vec::new();
        let mut groups: Vec<Group> = Vec::new();
        let mut i = 0;
        while i < endpoints.len() {
            let prio = endpoints[i].1.priority;
            let level_start = i;
            let first_group = groups.len();
            while i < endpoints.len() && endpoints[i].1.priority == prio {
                let (start, loc) = (i, &endpoints[i].1.locality);
                while i < endpoints.len()
                    && endpoints[i].1.priority == prio
                    && (!weighted || endpoints[i].1.locality == *loc)
                {
                    i += 1;
                }
                let members = &endpoints[start..i];
                groups.push(Group {
                    range: start..i,
                    total_weight: members.iter().map(|(e, _)| u64::from(e.weight)).sum(),
                    locality_weight: u64::from(members[0].1.locality_weight.unwrap_or(1).max(1)),
                    effective: AtomicU64::new(0),
                });
            }
            let table = hash.map(|kind| {
                // Envoy folds locality weights into host weights on a
                // hashing balancer: a host's share of the level's table is
                // its share of its locality times the locality's share.
                let eps: Vec<_> = groups[first_group..]
                    .iter()
                    .flat_map(|g| {
                        let scale = g.locality_weight * 1000 / g.total_weight.max(1);
                        endpoints[g.range.clone()].iter().map(move |(e, _)| {
                            let w = if weighted {
                                (u64::from(e.weight) * scale).clamp(1, u64::from(u32::MAX))
                            } else {
                                u64::from(e.weight)
                            };
                            (e.addr, u32::try_from(w).unwrap_or(u32::MAX))
                        })
                    })
                    .collect();
                Table::build(kind, &eps)
            });
            levels.push(Level {
                range: level_start..i,
                groups: first_group..groups.len(),
                load: AtomicU32::new(0),
                table,
            });
        }
        let endpoints = endpoints.into_iter().map(|(e, _)| e).collect();
        let p = Self {
            levels,
            groups,
            counted_at: AtomicU64::new(u64::MAX),
        };
        (endpoints, p)
    }

    /// The level for `r` (0..100) by the current loads, counting health
    /// first if the last count is stale.
    pub(super) fn level(&self, endpoints: &[Arc<Endpoint>], r: u32, now: Instant) -> &Level {
        self.count_if_stale(endpoints, now);
        let mut acc = 0;
        for level in &self.levels {
            acc += level.load.load(Ordering::Relaxed);
            if r < acc {
                return level;
            }
        }
        // Nothing available anywhere (every load 0): the first level, and
        // the pick's walk decides.
        &self.levels[0]
    }

    /// A locality group of `level`, at random by effective weight.
    pub(super) fn group(&self, level: &Level) -> &Group {
        let groups = &self.groups[level.groups.clone()];
        if groups.len() == 1 {
            return &groups[0];
        }
        let total: u64 = groups
            .iter()
            .map(|g| g.effective.load(Ordering::Relaxed))
            .sum();
        if total == 0 {
            return &groups[fastrand::usize(..groups.len())];
        }
        let mut r = fastrand::u64(..total);
        for g in groups {
            let w = g.effective.load(Ordering::Relaxed);
            if r < w {
                return g;
            }
            r -= w;
        }
        &groups[0]
    }

    fn count_if_stale(&self, endpoints: &[Arc<Endpoint>], now: Instant) {
        let t = nanos_since_epoch(now);
        let last = self.counted_at.load(Ordering::Relaxed);
        let stale = last == u64::MAX || t.saturating_sub(last) >= REFRESH.as_nanos() as u64;
        // One request counts; the others go on with the last loads.
        if stale
            && self
                .counted_at
                .compare_exchange(last, t, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.count(endpoints, now);
        }
    }

    /// Envoy's `calculatePerPriorityLoad`, over endpoint counts. Each
    /// level's health is parked in its `load` until the total is known.
    fn count(&self, endpoints: &[Arc<Endpoint>], now: Instant) {
        let mut total = 0u64;
        for level in &self.levels {
            let mut up = 0;
            for g in &self.groups[level.groups.clone()] {
                let members = &endpoints[g.range.clone()];
                let ok = members.iter().filter(|e| e.is_available(now)).count();
                g.effective.store(
                    g.locality_weight * scaled(ok, members.len()),
                    Ordering::Relaxed,
                );
                up += ok;
            }
            let health = scaled(up, level.range.len());
            total += health;
            level.load.store(health as u32, Ordering::Relaxed);
        }
        let total = total.min(100);
        let mut left = 100u64;
        let mut first_healthy = None;
        for level in &self.levels {
            let health = u64::from(level.load.load(Ordering::Relaxed));
            if health > 0 && first_healthy.is_none() {
                first_healthy = Some(level);
            }
            let load = match total {
                0 => 0,
                t => (health * 100 / t).min(left),
            };
            left -= load;
            level.load.store(load as u32, Ordering::Relaxed);
        }
        // Rounding leftovers go to the first level with any health, as
        // Envoy does.
        if let Some(level) = first_healthy
            && left > 0
        {
            level.load.fetch_add(left as u32, Ordering::Relaxed);
        }
    }

    #[cfg(test)]
    pub(super) fn loads(&self) -> Vec<u32> {
        self.levels
            .iter()
            .map(|l| l.load.load(Ordering::Relaxed))
            .collect()
    }
}

/// Health in percent with overprovisioning: `min(100, 1.4 × 100 × up / n)`.
fn scaled(up: usize, n: usize) -> u64 {
    if n == 0 {
        return 0;
    }
    (OVERPROVISIONING * up as u64 / n as u64).min(100)
}

#[cfg(test)]
#[path = "priority/tests.rs"]
mod tests;
