//! Percentiles over a run's samples: nearest rank on a sorted list (the
//! sample counts here are in the thousands, so no histogram is needed).

use std::time::Duration;

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub count: usize,
    pub min_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Spread {
    pub min: u64,
    pub median: u64,
    pub mean: f64,
    pub max: u64,
    pub total: u64,
}

/// The value at percentile `p` (0..=100) of `sorted`, by nearest rank.
fn rank<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )] // n is a sample count; the rank is clamped into 1..=n
    let r = ((p / 100.0 * n as f64).ceil() as usize).clamp(1, n);
    Some(sorted[r - 1])
}

pub fn latency(mut samples: Vec<Duration>) -> Option<Latency> {
    samples.sort_unstable();
    let ms = |p| rank(&samples, p).map(|d: Duration| d.as_secs_f64() * 1000.0);
    Some(Latency {
        count: samples.len(),
        min_ms: ms(0.0)?,
        p50_ms: ms(50.0)?,
        p90_ms: ms(90.0)?,
        p99_ms: ms(99.0)?,
        max_ms: ms(100.0)?,
    })
}

pub fn spread(mut values: Vec<u64>) -> Option<Spread> {
    values.sort_unstable();
    let total: u64 = values.iter().sum();
    #[allow(clippy::cast_precision_loss)] // byte counts stay far below 2^52
    let mean = total as f64 / values.len().max(1) as f64;
    Some(Spread {
        min: *values.first()?,
        median: rank(&values, 50.0)?,
        mean,
        max: *values.last()?,
        total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let l = latency(v).unwrap();
        assert_eq!(
            (l.p50_ms, l.p99_ms, l.max_ms, l.min_ms),
            (50.0, 99.0, 100.0, 1.0)
        );
        let l = latency(vec![Duration::from_millis(7)]).unwrap();
        assert_eq!((l.p50_ms, l.p99_ms), (7.0, 7.0));
        assert!(latency(Vec::new()).is_none());
        let s = spread(vec![3, 1, 2]).unwrap();
        assert_eq!((s.min, s.median, s.max, s.total), (1, 2, 3, 6));
    }
}
