//! Peak-EWMA latency estimate, as Linkerd (and tower's `PeakEwma`) balance
//! on: the estimate jumps up to any slower observation at once and decays
//! toward faster ones, so a slowing endpoint is avoided immediately.

use std::time::{Duration, Instant};

/// Time constant of the decay: after `DECAY` of idleness an old estimate
/// keeps 1/e of its weight.
const DECAY: Duration = Duration::from_secs(10);

/// Estimate for an endpoint never measured: optimistic enough that new
/// endpoints are tried, like Linkerd's 30 ms default.
pub const DEFAULT_RTT: Duration = Duration::from_millis(30);

#[derive(Debug)]
pub struct PeakEwma {
    estimate_ns: f64,
    stamp: Instant,
}

// === impl PeakEwma ===

impl PeakEwma {
    pub fn new(now: Instant) -> Self {
        Self {
            estimate_ns: DEFAULT_RTT.as_nanos() as f64,
            stamp: now,
        }
    }

    /// Folds in one observed response latency.
    pub fn observe(&mut self, rtt: Duration, now: Instant) {
        let rtt = rtt.as_nanos() as f64;
        if rtt > self.estimate_ns {
            self.estimate_ns = rtt;
        } else {
            let w = self.weight_since(now);
            self.estimate_ns = self.estimate_ns * w + rtt * (1.0 - w);
        }
        self.stamp = now;
    }

    /// The estimate at `now`, in nanoseconds. It decays toward zero while
    /// the endpoint sees no traffic, so an endpoint that was slow once (or
    /// was never tried) is probed again rather than starved forever.
    pub fn estimate(&self, now: Instant) -> f64 {
        self.estimate_ns * self.weight_since(now)
    }

    fn weight_since(&self, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.stamp).as_nanos() as f64;
        (-elapsed / DECAY.as_nanos() as f64).exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_to_peaks_and_decays_toward_fast_samples() {
        let t0 = Instant::now();
        let mut e = PeakEwma::new(t0);
        e.observe(Duration::from_millis(200), t0);
        assert_eq!(e.estimate(t0), 200e6);
        // A fast sample right away barely moves it...
        let t1 = t0 + Duration::from_millis(10);
        e.observe(Duration::from_millis(1), t1);
        assert!(e.estimate(t1) > 190e6, "{}", e.estimate(t1));
        // ...but after a long time, fast samples win.
        let t2 = t0 + Duration::from_secs(60);
        e.observe(Duration::from_millis(1), t2);
        assert!(e.estimate(t2) < 2e6, "{}", e.estimate(t2));
    }

    #[test]
    fn idle_estimates_decay_so_the_endpoint_is_probed_again() {
        let t0 = Instant::now();
        let mut e = PeakEwma::new(t0);
        e.observe(Duration::from_millis(500), t0);
        let later = e.estimate(t0 + DECAY * 3);
        assert!(later < 500e6 * 0.06, "{later}");
    }
}
