//! One key's traffic over time: a ring of time slots (one per scrape),
//! each with its request and failure counts and a latency histogram.
//! Only slots with traffic are kept, so an idle key costs nothing but its
//! entry, and one silent for the longest window is dropped.

use std::collections::VecDeque;
use std::sync::Arc;

/// Counts of one time slot.
#[derive(Debug, Clone)]
struct Slot {
    tick: u64,
    requests: u64,
    failures: u64,
    /// TCP bytes the workload read from and wrote to its peers.
    read_bytes: u64,
    written_bytes: u64,
    /// Per-bucket (not cumulative) counts, aligned with the series'
    /// bounds; empty until a histogram sample arrives.
    hist: Vec<u64>,
}

/// Traffic of one key.
#[derive(Debug, Clone)]
pub struct Series {
    slots: VecDeque<Slot>,
    /// Bucket upper bounds (ms), the last `+Inf`.
    bounds: Arc<[f64]>,
}

/// A window's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Figures {
    pub requests: u64,
    pub failures: u64,
    pub read_bytes: u64,
    pub written_bytes: u64,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
}

impl Series {
    pub fn new(bounds: Arc<[f64]>) -> Self {
        Self {
            slots: VecDeque::new(),
            bounds,
        }
    }

    /// Takes `bounds` if it has none yet.
    pub fn adopt_bounds(&mut self, bounds: &Arc<[f64]>) {
        if self.bounds.is_empty() {
            self.bounds = bounds.clone();
        }
    }

    fn slot(&mut self, tick: u64) -> &mut Slot {
        if self.slots.back().is_none_or(|s| s.tick != tick) {
            self.slots.push_back(Slot {
                tick,
                requests: 0,
                failures: 0,
                read_bytes: 0,
                written_bytes: 0,
                hist: Vec::new(),
            });
        }
        let last = self.slots.len() - 1;
        &mut self.slots[last]
    }

    pub fn add_requests(&mut self, tick: u64, requests: u64, failures: u64) {
        let s = self.slot(tick);
        s.requests += requests;
        s.failures += failures;
    }

    pub fn add_bytes(&mut self, tick: u64, read: u64, written: u64) {
        let s = self.slot(tick);
        s.read_bytes += read;
        s.written_bytes += written;
    }

    /// Adds per-bucket counts, `(upper bound, count)`; bounds this series
    /// does not have are ignored.
    pub fn add_latency(&mut self, tick: u64, buckets: &[(f64, u64)]) {
        let n = self.bounds.len();
        let idx: Vec<Option<usize>> = buckets
            .iter()
            .map(|(le, _)| self.bounds.iter().position(|b| b == le))
            .collect();
        let s = self.slot(tick);
        if s.hist.is_empty() {
            s.hist = vec![0; n];
        }
        for ((_, count), i) in buckets.iter().zip(idx) {
            if let Some(i) = i {
                s.hist[i] += count;
            }
        }
    }

    /// Drops slots older than `oldest`; whether any remain.
    pub fn expire(&mut self, oldest: u64) -> bool {
        while self.slots.front().is_some_and(|s| s.tick < oldest) {
            self.slots.pop_front();
        }
        !self.slots.is_empty()
    }

    /// The figures of the slots from tick `since` on.
    pub fn figures(&self, since: u64) -> Figures {
        let mut f = Figures::default();
        let mut hist = vec![0u64; self.bounds.len()];
        for s in self.slots.iter().filter(|s| s.tick >= since) {
            f.requests += s.requests;
            f.failures += s.failures;
            f.read_bytes += s.read_bytes;
            f.written_bytes += s.written_bytes;
            for (h, c) in hist.iter_mut().zip(&s.hist) {
                *h += c;
            }
        }
        f.p50 = quantile(&self.bounds, &hist, 0.50);
        f.p95 = quantile(&self.bounds, &hist, 0.95);
        f.p99 = quantile(&self.bounds, &hist, 0.99);
        f
    }
}

/// The `q` quantile of per-bucket counts, interpolating linearly within
/// the bucket as Prometheus' `histogram_quantile` does; in the `+Inf`
/// bucket, the highest finite bound. `None` without observations.
pub fn quantile(bounds: &[f64], counts: &[u64], q: f64) -> Option<f64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let mut seen = 0u64;
    for (i, (&upper, &c)) in bounds.iter().zip(counts).enumerate() {
        let lower = if i == 0 { 0.0 } else { bounds[i - 1] };
        if c > 0 && (seen + c) as f64 >= rank {
            if upper.is_infinite() {
                return Some(lower);
            }
            let within = (rank - seen as f64) / c as f64;
            return Some(lower + (upper - lower) * within);
        }
        seen += c;
    }
    bounds.iter().rev().find(|b| b.is_finite()).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds() -> Arc<[f64]> {
        Arc::from(vec![1.0, 5.0, 10.0, 100.0, f64::INFINITY])
    }

    #[test]
    fn quantiles_interpolate_within_their_bucket() {
        let b = bounds();
        // 100 observations: 50 in (1,5], 40 in (5,10], 10 in (10,100].
        let counts = [0, 50, 40, 10, 0];
        assert_eq!(quantile(&b, &counts, 0.5), Some(5.0));
        assert_eq!(quantile(&b, &counts, 0.25), Some(3.0));
        assert_eq!(quantile(&b, &counts, 0.95), Some(55.0));
        assert_eq!(quantile(&b, &[0, 0, 0, 0, 3], 0.99), Some(100.0));
        assert_eq!(quantile(&b, &[0; 5], 0.5), None);
    }

    #[test]
    fn windows_sum_their_slots_and_old_slots_expire() {
        let mut s = Series::new(bounds());
        s.add_requests(1, 10, 1);
        s.add_requests(2, 20, 0);
        s.add_latency(2, &[(5.0, 20), (7.0, 3)]);
        s.add_requests(2, 5, 5);
        let all = s.figures(0);
        assert_eq!((all.requests, all.failures), (35, 6));
        assert_eq!(all.p50, Some(3.0));
        assert_eq!(s.figures(2).requests, 25);
        assert!(s.expire(2));
        assert_eq!(s.figures(0).requests, 25);
        assert!(!s.expire(3));
    }
}
