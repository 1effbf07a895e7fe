//! Local rate limiting, as Envoy's `envoy.filters.http.local_ratelimit`
//! filter runs it: a token bucket per inbound port, gateway port or route,
//! shared by every connection of the proxy; a request that finds it empty
//! is answered 429 `local_rate_limited` with flag `RL` (when enforced).
//!
//! Envoy's order per request: sample `filter_enabled` (not enabled: pass,
//! nothing counted), take a token (got one: `ok`), else count
//! `rate_limited`, then sample `filter_enforced` (not enforced: pass) and
//! count `enforced` and refuse.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::header::HeaderValue;
use http::{HeaderMap, HeaderName, Response, StatusCode};
use tokio::time::Instant;
use weft_proto::config;

use super::body::ResponseBody;
use super::exchange::Exchange;
use super::respond::{self, LocalReply};
use crate::errors::ResponseFlag;

/// Envoy's local reply body for a rate-limited request.
const BODY: &str = "local_rate_limited";

/// A compiled `LocalRateLimit`: its bucket, sampling and counters.
#[derive(Debug)]
pub struct LocalRateLimiter {
    /// As pushed, so a push that keeps it keeps the bucket too.
    config: config::LocalRateLimit,
    bucket: TokenBucket,
    /// Headers on refused responses: (name, value, append).
    headers: Vec<(HeaderName, HeaderValue, bool)>,
    stats: Stats,
}

/// Envoy's `<stat_prefix>.http_local_rate_limit.*` counters.
#[derive(Debug, Default)]
pub struct Stats {
    /// Requests checked against the bucket.
    pub enabled: AtomicU64,
    /// Checked requests that got a token.
    pub ok: AtomicU64,
    /// Checked requests that found the bucket empty.
    pub rate_limited: AtomicU64,
    /// Rate-limited requests that were refused.
    pub enforced: AtomicU64,
}

/// A token bucket that starts full and gains `per_fill` tokens at every
/// whole `interval` since it was made, up to `max`, as Envoy's timer fills
/// it. Lock-free: one atomic for the tokens, one for the fills counted.
#[derive(Debug)]
pub struct TokenBucket {
    max: u32,
    per_fill: u32,
    interval: Duration,
    start: Instant,
    /// Whole intervals since `start` already turned into tokens.
    fills: AtomicU64,
    tokens: AtomicU32,
}

/// A snapshot's token buckets by where they apply (`inbound|9080`,
/// `gateway|80|<vhost>|<route>`...), so the next snapshot keeps those whose
/// config is unchanged: a push never hands out a fresh burst.
#[derive(Debug, Default)]
pub struct RateLimiters(HashMap<String, Arc<LocalRateLimiter>>);

// === impl RateLimiters ===

impl RateLimiters {
    /// The bucket for `key`: `prev`'s when its config is `cfg`, else new.
    pub fn keep(
        &mut self,
        prev: Option<&RateLimiters>,
        key: String,
        cfg: &config::LocalRateLimit,
    ) -> Result<Arc<LocalRateLimiter>, String> {
        let rl = LocalRateLimiter::keep_or_compile(prev.and_then(|p| p.0.get(&key)), cfg)?;
        self.0.insert(key, rl.clone());
        Ok(rl)
    }
}

// === impl LocalRateLimiter ===

impl LocalRateLimiter {
    pub fn compile(cfg: &config::LocalRateLimit) -> Result<Self, String> {
        let pair = |n: &str, v: &str| {
            let name = HeaderName::from_bytes(n.as_bytes())
                .map_err(|_| format!("bad header name {n:?}"))?;
            let value = HeaderValue::from_str(v)
                .map_err(|_| format!("bad value {v:?} for header {n:?}"))?;
            Ok::<_, String>((name, value))
        };
        let edits = &cfg.response_headers;
        let mut headers = Vec::with_capacity(edits.set.len() + edits.add.len());
        for (append, list) in [(false, &edits.set), (true, &edits.add)] {
            for (n, v) in list {
                let (name, value) = pair(n, v)?;
                headers.push((name, value, append));
            }
        }
        Ok(Self {
            config: cfg.clone(),
            bucket: TokenBucket::new(cfg.max_tokens, cfg.tokens_per_fill, cfg.fill_interval),
            headers,
            stats: Stats::default(),
        })
    }

    /// `prev` when it was compiled from the same config (its bucket and
    /// counters carry over a push), else a new one.
    pub fn keep_or_compile(
        prev: Option<&Arc<Self>>,
        cfg: &config::LocalRateLimit,
    ) -> Result<Arc<Self>, String> {
        match prev {
            Some(p) if p.config == *cfg => Ok(p.clone()),
            _ => Self::compile(cfg).map(Arc::new),
        }
    }

    /// Whether a request may pass. Allocation-free: a couple of atomics,
    /// and a random draw only for partial percentages.
    pub fn admit(&self) -> bool {
        if !sampled(self.config.enabled_percent) {
            return true;
        }
        self.stats.enabled.fetch_add(1, Ordering::Relaxed);
        if self.bucket.try_take(Instant::now()) {
            self.stats.ok.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
        if !sampled(self.config.enforced_percent) {
            return true;
        }
        self.stats.enforced.fetch_add(1, Ordering::Relaxed);
        false
    }

    /// Envoy's local reply for a refused request: 429 (gRPC: UNAVAILABLE),
    /// `local_rate_limited`, `x-envoy-ratelimited: true` and the
    /// configured response headers.
    pub fn refuse(&self, ex: Exchange, grpc: bool) -> Response<ResponseBody> {
        let reply = LocalReply {
            status: StatusCode::TOO_MANY_REQUESTS,
            body: Bytes::from_static(BODY.as_bytes()),
            grpc_status: None,
            flag: ResponseFlag::RL,
        };
        let mut rsp = respond::local(ex, grpc, reply);
        self.edit(rsp.headers_mut());
        rsp
    }

    fn edit(&self, headers: &mut HeaderMap) {
        headers.insert("x-envoy-ratelimited", HeaderValue::from_static("true"));
        for (name, value, append) in &self.headers {
            if *append {
                headers.append(name.clone(), value.clone());
            } else {
                headers.insert(name.clone(), value.clone());
            }
        }
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }
}

/// Envoy's runtime fractional percent, drawn per request; 0 and 100 skip
/// the draw.
fn sampled(percent: f64) -> bool {
    percent >= 100.0 || (percent > 0.0 && fastrand::f64() * 100.0 < percent)
}

// === impl TokenBucket ===

impl TokenBucket {
    pub fn new(max: u32, per_fill: u32, interval: Duration) -> Self {
        Self {
            max,
            per_fill,
            // Validation refuses less than 1ms; never divide by zero.
            interval: interval.max(Duration::from_millis(1)),
            start: Instant::now(),
            fills: AtomicU64::new(0),
            tokens: AtomicU32::new(max),
        }
    }

    /// Takes one token if there is one, after adding the fills due by
    /// `now`. Cost: a division and up to three atomic updates.
    pub fn try_take(&self, now: Instant) -> bool {
        let due = now.saturating_duration_since(self.start).as_nanos() / self.interval.as_nanos();
        let due = u64::try_from(due).unwrap_or(u64::MAX);
        let seen = self.fills.load(Ordering::Acquire);
        // One caller wins each fill; the others just spend.
        if due > seen
            && self
                .fills
                .compare_exchange(seen, due, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            let add = (due - seen)
                .saturating_mul(u64::from(self.per_fill))
                .min(u64::from(self.max)) as u32;
            let _ = self
                .tokens
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                    Some(t.saturating_add(add).min(self.max))
                });
        }
        self.tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| t.checked_sub(1))
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(max: u32, per_fill: u32, interval_ms: u64) -> config::LocalRateLimit {
        config::LocalRateLimit {
            max_tokens: max,
            tokens_per_fill: per_fill,
            fill_interval: Duration::from_millis(interval_ms),
            enabled_percent: 100.0,
            enforced_percent: 100.0,
            response_headers: Default::default(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_bucket_allows_a_burst_then_refills_per_interval() {
        let b = TokenBucket::new(5, 2, Duration::from_secs(1));
        let t0 = Instant::now();
        let taken = (0..20).filter(|_| b.try_take(t0)).count();
        assert_eq!(taken, 5, "the burst is the bucket's size");
        // Just before the interval: still empty.
        assert!(!b.try_take(t0 + Duration::from_millis(999)));
        // One fill adds tokens_per_fill.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!((0..10).filter(|_| b.try_take(t1)).count(), 2);
        // Many intervals later the bucket is full again, never fuller.
        let t2 = t0 + Duration::from_secs(100);
        assert_eq!((0..20).filter(|_| b.try_take(t2)).count(), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn fills_follow_the_clock_not_the_requests() {
        let b = TokenBucket::new(1, 1, Duration::from_secs(1));
        assert!(b.try_take(Instant::now()));
        assert!(!b.try_take(Instant::now()));
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert!(b.try_take(Instant::now()));
        // The next fill is due at 2s since the start, not 1s after the last.
        tokio::time::advance(Duration::from_millis(600)).await;
        assert!(b.try_take(Instant::now()));
    }

    #[tokio::test(start_paused = true)]
    async fn unenforced_limits_count_but_admit() {
        let mut cfg = limit(2, 1, 1000);
        cfg.enforced_percent = 0.0;
        let rl = LocalRateLimiter::compile(&cfg).unwrap();
        assert!((0..10).all(|_| rl.admit()));
        let s = rl.stats();
        assert_eq!(s.enabled.load(Ordering::Relaxed), 10);
        assert_eq!(s.ok.load(Ordering::Relaxed), 2);
        assert_eq!(s.rate_limited.load(Ordering::Relaxed), 8);
        assert_eq!(s.enforced.load(Ordering::Relaxed), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn disabled_limits_skip_the_bucket() {
        let mut cfg = limit(1, 1, 1000);
        cfg.enabled_percent = 0.0;
        let rl = LocalRateLimiter::compile(&cfg).unwrap();
        assert!((0..10).all(|_| rl.admit()));
        assert_eq!(rl.stats().enabled.load(Ordering::Relaxed), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn enforced_limits_refuse_once_empty() {
        let rl = LocalRateLimiter::compile(&limit(3, 1, 1000)).unwrap();
        let admitted = (0..10).filter(|_| rl.admit()).count();
        assert_eq!(admitted, 3);
        assert_eq!(rl.stats().enforced.load(Ordering::Relaxed), 7);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unchanged_config_keeps_its_bucket() {
        let cfg = limit(1, 1, 1000);
        let first = std::sync::Arc::new(LocalRateLimiter::compile(&cfg).unwrap());
        assert!(first.admit());
        let kept = LocalRateLimiter::keep_or_compile(Some(&first), &cfg).unwrap();
        assert!(std::sync::Arc::ptr_eq(&first, &kept));
        assert!(!kept.admit(), "the spent token stays spent");
        let changed = LocalRateLimiter::keep_or_compile(Some(&first), &limit(2, 1, 1000)).unwrap();
        assert!(!std::sync::Arc::ptr_eq(&first, &changed));
    }
}
