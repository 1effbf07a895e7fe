//! A retry budget shared by a service port's routes, as Linkerd's
//! `TpsBudget` (after Finagle's `RetryBudget`): each request deposits, each
//! retry withdraws, both decay over `ttl`, and a reserve of
//! `min_per_second × ttl` retries is always there for quiet services.

use std::time::{Duration, Instant};

use parking_lot::Mutex;
use weft_proto::config::RetryBudget;

/// Slices of the `ttl` window; deposits older than the window fall out a
/// slice at a time (Finagle's `WindowedAdder` uses 10 too).
const SLICES: usize = 10;

/// Scale of one deposit, so ratios like 0.2 become whole withdrawals.
const DEPOSIT: i64 = 1000;

/// The budget of one service port. Cost: O(1) per request (a short,
/// rarely contended lock over ten counters).
#[derive(Debug)]
pub struct Budget {
    config: RetryBudget,
    deposit: i64,
    withdrawal: i64,
    reserve: i64,
    slice: Duration,
    window: Mutex<Window>,
}

/// Deposits minus withdrawals per slice, newest at `head`.
#[derive(Debug)]
struct Window {
    slices: [i64; SLICES],
    head: usize,
    head_started: Instant,
}

// === impl Budget ===

impl Budget {
    /// `config` is valid: `ttl > 0`, `ratio` finite and `>= 0`.
    pub fn new(config: &RetryBudget) -> Self {
        Self::new_at(config, Instant::now())
    }

    fn new_at(config: &RetryBudget, now: Instant) -> Self {
        // With ratio 0 requests earn nothing and only the reserve pays.
        let (deposit, withdrawal) = if config.ratio > 1e-3 {
            (
                DEPOSIT,
                (DEPOSIT as f64 / config.ratio).round().max(1.0) as i64,
            )
        } else {
            (0, DEPOSIT)
        };
        let ttl = config.ttl.max(Duration::from_millis(SLICES as u64));
        let reserve_retries = config.min_per_second as f64 * ttl.as_secs_f64();
        Self {
            config: config.clone(),
            deposit,
            withdrawal,
            reserve: (reserve_retries * withdrawal as f64).min(i64::MAX as f64 / 4.0) as i64,
            slice: ttl / SLICES as u32,
            window: Mutex::new(Window {
                slices: [0; SLICES],
                head: 0,
                head_started: now,
            }),
        }
    }

    /// The settings this budget was built from, to keep it across config
    /// updates that leave them alone.
    pub fn config(&self) -> &RetryBudget {
        &self.config
    }

    /// An original request (not a retry) was sent.
    pub fn deposit(&self) {
        self.deposit_at(Instant::now());
    }

    /// Takes one retry out of the budget; `false`: none is left.
    pub fn try_withdraw(&self) -> bool {
        self.try_withdraw_at(Instant::now())
    }

    fn deposit_at(&self, now: Instant) {
        let mut w = self.window.lock();
        w.advance(now, self.slice);
        let head = w.head;
        w.slices[head] += self.deposit;
    }

    fn try_withdraw_at(&self, now: Instant) -> bool {
        let mut w = self.window.lock();
        w.advance(now, self.slice);
        let balance = w.slices.iter().sum::<i64>() + self.reserve;
        if balance < self.withdrawal {
            return false;
        }
        let head = w.head;
        w.slices[head] -= self.withdrawal;
        true
    }
}

// === impl Window ===

impl Window {
    /// Moves `head` to the slice `now` falls in, clearing the slices it
    /// passes (they are older than the window).
    fn advance(&mut self, now: Instant, slice: Duration) {
        let elapsed = now.saturating_duration_since(self.head_started);
        let steps = (elapsed.as_nanos() / slice.as_nanos().max(1)) as usize;
        if steps == 0 {
            return;
        }
        for _ in 0..steps.min(SLICES) {
            self.head = (self.head + 1) % SLICES;
            self.slices[self.head] = 0;
        }
        self.head_started += slice * steps.min(u32::MAX as usize) as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(ratio: f64, min_per_second: u32, ttl_secs: u64) -> (Budget, Instant) {
        let now = Instant::now();
        let cfg = RetryBudget {
            ratio,
            min_per_second,
            ttl: Duration::from_secs(ttl_secs),
        };
        (Budget::new_at(&cfg, now), now)
    }

    fn withdrawals(b: &Budget, at: Instant) -> usize {
        std::iter::from_fn(|| b.try_withdraw_at(at).then_some(()))
            .take(100_000)
            .count()
    }

    #[test]
    fn the_reserve_alone_allows_min_per_second_times_ttl() {
        let (b, t0) = budget(0.2, 10, 10);
        assert_eq!(withdrawals(&b, t0), 100);
        let (b, t0) = budget(0.0, 0, 10);
        assert_eq!(withdrawals(&b, t0), 0);
    }

    #[test]
    fn requests_earn_their_ratio_of_retries() {
        let (b, t0) = budget(0.2, 0, 10);
        for _ in 0..1000 {
            b.deposit_at(t0);
        }
        assert_eq!(withdrawals(&b, t0), 200);
        let (b, t0) = budget(0.5, 1, 10);
        for _ in 0..100 {
            b.deposit_at(t0);
        }
        assert_eq!(withdrawals(&b, t0), 50 + 10);
    }

    #[test]
    fn deposits_and_withdrawals_decay_after_the_ttl() {
        let (b, t0) = budget(0.2, 0, 10);
        for _ in 0..100 {
            b.deposit_at(t0);
        }
        // Half a window later the deposits still count.
        assert_eq!(withdrawals(&b, t0 + Duration::from_secs(5)), 20);
        // A full window after the deposits they are gone; so are the
        // withdrawals (made 5 s later), 5 s after that.
        for _ in 0..50 {
            b.deposit_at(t0 + Duration::from_secs(11));
        }
        assert_eq!(withdrawals(&b, t0 + Duration::from_secs(11)), 0);
        assert_eq!(withdrawals(&b, t0 + Duration::from_secs(16)), 10);
        // Long idle: everything is forgotten.
        assert_eq!(withdrawals(&b, t0 + Duration::from_secs(1000)), 0);
        b.deposit_at(t0 + Duration::from_secs(1000));
        for _ in 0..4 {
            b.deposit_at(t0 + Duration::from_secs(1000));
        }
        assert_eq!(withdrawals(&b, t0 + Duration::from_secs(1000)), 1);
    }
}
