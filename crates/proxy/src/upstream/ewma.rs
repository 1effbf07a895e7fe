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

    /// The current estimate in nanoseconds.
    pub fn estimate(&self) -> f64 {
        self.estimate_ns
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
        assert_eq!(e.estimate(), 200e6);
        // A fast sample right away barely moves it...
        e.observe(Duration::from_millis(1), t0 + Duration::from_millis(10));
        assert!(e.estimate() > 190e6, "{}", e.estimate());
        // ...but after a long time, fast samples win.
        e.observe(Duration::from_millis(1), t0 + Duration::from_secs(60));
        assert!(e.estimate() < 2e6, "{}", e.estimate());
    }
}
