//! Consistent hashing tables: Envoy's ring hash (Karger et al.) and Maglev
//! (Eisenbud et al., NSDI '16). Built once per endpoint set, when a
//! snapshot is built; a request only looks its hash up.
//!
//! Endpoints are placed by the xxHash64 of their `ip:port`, as Envoy
//! places hosts by their address, so every proxy of a fleet builds the
//! same table for the same endpoints.

use std::fmt::Write;
use std::net::SocketAddr;

use weft_proto::config::HashTable;
use xxhash_rust::xxh64::xxh64;

/// Envoy's default `maximum_ring_size`: a weighted ring never grows past
/// this many points.
const RING_MAX: f64 = 8.0 * 1024.0 * 1024.0;

/// How far a lookup walks past endpoints that are set aside before the
/// caller falls back to any available endpoint: per endpoint, so the walk
/// finds a lone survivor of many with near certainty.
const WALK_PER_ENDPOINT: usize = 16;

/// Hashes to endpoint indexes.
#[derive(Debug)]
pub(super) enum Table {
    /// Points sorted by hash; a hash belongs to the first point at or
    /// after it, wrapping around.
    Ring(Vec<(u64, u32)>),
    /// `hash % len` is the slot.
    Maglev(Vec<u32>),
}

// === impl Table ===

impl Table {
    /// Builds the table for endpoints `(address, weight)`; an endpoint's
    /// share of the ring or the slots follows its weight.
    ///
    /// Cost: ring O(m log m) for m points (at least `min_size`); Maglev
    /// O(M log M) expected for M slots, as the paper shows.
    pub(super) fn build(kind: HashTable, endpoints: &[(SocketAddr, u32)]) -> Self {
        match kind {
            HashTable::Ring { min_size } => Self::Ring(ring(min_size, endpoints)),
            HashTable::Maglev { table_size } => Self::Maglev(maglev(table_size, endpoints)),
        }
    }

    /// The endpoint `hash` maps to, walking on past the ones `usable`
    /// rejects to the next on the ring or in the table, as Envoy's hashing
    /// load balancers do (a set-aside endpoint's keys spread over the
    /// others; everyone else's stay put). `None`: no usable endpoint was
    /// found within a walk of 16 entries per endpoint (or the table is
    /// empty).
    ///
    /// Cost: O(log m) for the ring, O(1) for Maglev, plus the walk; no
    /// allocation.
    pub(super) fn lookup(
        &self,
        hash: u64,
        endpoints: usize,
        usable: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        let (entries, start): (&[u32], usize) = match self {
            Self::Ring(points) => {
                let i = points.partition_point(|(h, _)| *h < hash);
                let i = if i == points.len() { 0 } else { i };
                return walk(points.len(), i, endpoints, |j| points[j].1, usable);
            }
            Self::Maglev(slots) if slots.is_empty() => return None,
            // u64 % len < len, so the cast back to usize is lossless.
            Self::Maglev(slots) => (slots, (hash % slots.len() as u64) as usize),
        };
        walk(entries.len(), start, endpoints, |j| entries[j], usable)
    }
}

fn walk(
    len: usize,
    start: usize,
    endpoints: usize,
    at: impl Fn(usize) -> u32,
    usable: impl Fn(usize) -> bool,
) -> Option<usize> {
    let steps = len.min(endpoints.saturating_mul(WALK_PER_ENDPOINT).max(1));
    (0..steps)
        .map(|i| at((start + i) % len) as usize)
        .find(|&e| usable(e))
}

/// Envoy's ring: each endpoint gets points in proportion to its weight,
/// scaled so the lightest one still gets `min_size × its share`, the ring
/// capped at 8M points. Point `i` of an endpoint hashes `"<ip:port>_<i>"`.
fn ring(min_size: u64, endpoints: &[(SocketAddr, u32)]) -> Vec<(u64, u32)> {
    let total: f64 = endpoints.iter().map(|(_, w)| f64::from(*w)).sum();
    let Some(min_share) = endpoints
        .iter()
        .filter(|(_, w)| *w > 0)
        .map(|(_, w)| f64::from(*w) / total)
        .min_by(f64::total_cmp)
    else {
        return Vec::new();
    };
    let scale = ((min_share * min_size as f64).ceil() / min_share).min(RING_MAX);
    let mut points = Vec::with_capacity(scale as usize + endpoints.len());
    let mut key = String::new();
    // Running totals, as Envoy keeps them, so rounding never adds up to
    // more than one point per endpoint.
    let (mut placed, mut target) = (0.0, 0.0);
    for (idx, (addr, w)) in endpoints.iter().enumerate() {
        target += scale * f64::from(*w) / total;
        let mut i = 0u64;
        while placed < target {
            key.clear();
            // Writing to a String cannot fail.
            let _ = write!(key, "{addr}_{i}");
            points.push((xxh64(key.as_bytes(), 0), idx as u32));
            placed += 1.0;
            i += 1;
        }
    }
    points.sort_unstable();
    points
}

/// Maglev's table: each endpoint walks its own permutation of the slots
/// (`offset + j × skip`, from two hashes of its address) and claims the
/// next free one on its turns; an endpoint of weight w takes w turns for
/// every `max weight` rounds, as Envoy weights it. `size` must be prime
/// (config validation) so every permutation reaches every slot.
fn maglev(size: u64, endpoints: &[(SocketAddr, u32)]) -> Vec<u32> {
    if size == 0 {
        return Vec::new();
    }
    let live: Vec<(usize, u64, u64, u64)> = endpoints
        .iter()
        .enumerate()
        .filter(|(_, (_, w))| *w > 0)
        .map(|(i, (addr, w))| {
            let name = addr.to_string();
            let offset = xxh64(name.as_bytes(), 0) % size;
            let skip = xxh64(name.as_bytes(), 1) % size.saturating_sub(1).max(1) + 1;
            (i, offset, skip, u64::from(*w))
        })
        .collect();
    let Some(max_weight) = live.iter().map(|e| e.3).max() else {
        return Vec::new();
    };
    let len = size as usize;
    let mut slots = vec![u32::MAX; len];
    let mut next = vec![0u64; live.len()];
    let mut credit = vec![0u64; live.len()];
    let mut filled = 0;
    while filled < len {
        for (k, &(idx, offset, skip, weight)) in live.iter().enumerate() {
            credit[k] += weight;
            if credit[k] < max_weight {
                continue;
            }
            credit[k] -= max_weight;
            // A permutation of a prime-sized table visits every slot
            // within `size` steps, so a free one is found; past that (a
            // size that is not prime) the first free slot does.
            loop {
                let slot = if next[k] < size {
                    ((offset + skip * next[k]) % size) as usize
                } else {
                    slots.iter().position(|s| *s == u32::MAX).unwrap_or(0)
                };
                next[k] += 1;
                if slots[slot] == u32::MAX {
                    slots[slot] = idx as u32;
                    filled += 1;
                    break;
                }
            }
            if filled == len {
                break;
            }
        }
    }
    slots
}

#[cfg(test)]
mod tests;
