//! Outlier detection, after Envoy's consecutive-error detectors: every
//! upstream outcome is counted on its endpoint, and an endpoint that fails
//! `consecutive_5xx` (or gateway, or local-origin) times in a row is
//! ejected from load balancing for `base_ejection_time` times the number
//! of times it was ejected in a row, unless too much of the cluster is out
//! already (`max_ejection_percent`, but one endpoint always may be).
//!
//! Envoy reconsiders ejections on an `interval` timer; here nothing runs
//! in the background: an ejection ends at the first interval tick after
//! its time is up (computed when it starts), and the multiplier shrinks by
//! one per tick the endpoint spent back in service (computed at its next
//! ejection). The per-response cost is a few relaxed atomics; the lock is
//! taken only when an endpoint crosses a threshold.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use weft_proto::config::OutlierDetection;

use crate::errors::ProxyError;

/// Envoy's default `max_ejection_time`, which Istio leaves in place: no
/// ejection lasts longer (unless the base time itself is longer).
const MAX_EJECTION_TIME: Duration = Duration::from_secs(300);

/// One cluster's detector. Carried over to the next config while its
/// settings stay the same, with the ejections in force.
#[derive(Debug)]
pub struct OutlierDetector {
    pub cluster: Arc<str>,
    pub config: OutlierDetection,
    /// Where interval ticks are counted from.
    origin: Instant,
    /// Endpoints in the cluster, for `max_ejection_percent`.
    hosts: AtomicUsize,
    /// Ejections in force: which endpoint, until when.
    active: Mutex<Vec<(SocketAddr, Instant)>>,
    ejections_total: AtomicU64,
}

/// An endpoint's counters. Lives in every endpoint; only touched when its
/// cluster has a detector.
#[derive(Debug, Default)]
pub struct OutlierState {
    consecutive_5xx: AtomicU32,
    consecutive_gateway: AtomicU32,
    consecutive_local: AtomicU32,
    /// Nanoseconds since the process's epoch until which it is ejected.
    pub(super) ejected_until: AtomicU64,
    history: Mutex<History>,
}

#[derive(Debug, Default)]
struct History {
    /// Ejections in a row (Envoy's ejection time multiplier).
    multiplier: u32,
    /// When the last ejection ended.
    back_since: Option<Instant>,
}

/// What became of one request to an endpoint, as outlier detection sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The endpoint answered with this status.
    Response(u16),
    /// The proxy could not reach or finish with it (connect failure, reset,
    /// timeout): a locally originated error, worth this status when not
    /// split from responses (Envoy maps timeouts to 504, the rest to 503).
    Local(u16),
}

// === impl OutlierDetector ===

impl OutlierDetector {
    pub fn new(cluster: Arc<str>, config: OutlierDetection) -> Self {
        Self {
            cluster,
            config,
            origin: Instant::now(),
            hosts: AtomicUsize::new(0),
            active: Mutex::new(Vec::new()),
            ejections_total: AtomicU64::new(0),
        }
    }

    /// Keeps counting ejections from where `prev` (the detector this one
    /// replaces) got to.
    pub fn continuing(self, prev: Option<&OutlierDetector>) -> Self {
        if let Some(p) = prev {
            self.ejections_total
                .store(p.ejections_total(), Ordering::Relaxed);
        }
        self
    }

    /// Sets how many endpoints the cluster has (on every config build).
    pub fn set_hosts(&self, n: usize) {
        self.hosts.store(n, Ordering::Relaxed);
    }

    /// Ejections in force now (Envoy `outlier_detection.ejections_active`).
    pub fn ejections_active(&self) -> usize {
        let now = Instant::now();
        self.active.lock().iter().filter(|(_, u)| *u > now).count()
    }

    /// Ejections so far (Envoy `outlier_detection.ejections_enforced_total`).
    pub fn ejections_total(&self) -> u64 {
        self.ejections_total.load(Ordering::Relaxed)
    }

    /// Counts `outcome` for the endpoint at `addr`, ejecting it when it
    /// crosses a threshold.
    pub fn observe(&self, state: &OutlierState, addr: SocketAddr, outcome: Outcome) {
        let c = &self.config;
        let tripped = match (outcome, c.split_external_local_origin_errors) {
            (Outcome::Local(_), true) => bump(
                &state.consecutive_local,
                true,
                c.consecutive_local_origin_failures,
            ),
            (Outcome::Response(status), true) => {
                // A response proves the connection worked.
                state.consecutive_local.store(0, Ordering::Relaxed);
                self.count_status(state, status)
            }
            (Outcome::Response(status) | Outcome::Local(status), false) => {
                self.count_status(state, status)
            }
        };
        if tripped {
            self.try_eject(state, addr, Instant::now());
        }
    }

    /// Envoy `putHttpResponseCode`: a 5xx counts toward the 5xx detector,
    /// a 502/503/504 also toward the gateway one; anything else resets.
    fn count_status(&self, state: &OutlierState, status: u16) -> bool {
        let c = &self.config;
        let is_5xx = (500..600).contains(&status);
        let gateway = matches!(status, 502..=504);
        let a = bump(&state.consecutive_5xx, is_5xx, c.consecutive_5xx);
        let b = bump(
            &state.consecutive_gateway,
            gateway,
            c.consecutive_gateway_errors,
        );
        a || b
    }

    fn try_eject(&self, state: &OutlierState, addr: SocketAddr, now: Instant) {
        // The next ejection needs a fresh run of failures, whether or not
        // this one is allowed.
        for c in [
            &state.consecutive_5xx,
            &state.consecutive_gateway,
            &state.consecutive_local,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        let mut active = self.active.lock();
        active.retain(|(_, until)| *until > now);
        if active.iter().any(|(a, _)| *a == addr) {
            return;
        }
        // Envoy: eject only while the ejected share stays within the
        // maximum, but always allow one.
        let hosts = self.hosts.load(Ordering::Relaxed).max(1);
        let within = (active.len() + 1) * 100 <= self.config.max_ejection_percent as usize * hosts;
        if !active.is_empty() && !within {
            tracing::debug!(cluster = %self.cluster, endpoint = %addr, "not ejected: max_ejection_percent reached");
            return;
        }
        let until = {
            let mut h = state.history.lock();
            let interval = self.config.interval.max(Duration::from_millis(1));
            if let Some(back) = h.back_since {
                let ticks = now.saturating_duration_since(back).as_nanos() / interval.as_nanos();
                h.multiplier = h
                    .multiplier
                    .saturating_sub(ticks.min(u32::MAX as u128) as u32);
            }
            h.multiplier = h.multiplier.saturating_add(1);
            let base = self.config.base_ejection_time;
            let time = base
                .saturating_mul(h.multiplier)
                .min(MAX_EJECTION_TIME.max(base));
            let until = self.next_tick(now + time);
            h.back_since = Some(until);
            until
        };
        state
            .ejected_until
            .store(super::endpoint::nanos_since_epoch(until), Ordering::Relaxed);
        active.push((addr, until));
        self.ejections_total.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            cluster = %self.cluster,
            endpoint = %addr,
            ejected_for = ?until.saturating_duration_since(now),
            "outlier detection ejected endpoint"
        );
    }

    /// The first interval tick at or after `t`.
    fn next_tick(&self, t: Instant) -> Instant {
        let interval = self.config.interval.as_nanos().max(1);
        let since = t.saturating_duration_since(self.origin).as_nanos();
        let ticks = since.div_ceil(interval);
        let nanos = (ticks * interval).min(u64::MAX as u128) as u64;
        self.origin + Duration::from_nanos(nanos)
    }
}

/// Adds one to `counter` when `failed` (else resets it); true when that
/// reached `threshold` (0: this detector is off).
fn bump(counter: &AtomicU32, failed: bool, threshold: u32) -> bool {
    if !failed {
        counter.store(0, Ordering::Relaxed);
        return false;
    }
    let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
    threshold != 0 && n >= threshold
}

// === impl Outcome ===

impl Outcome {
    /// How an upstream result counts: a response by its status, a failure
    /// to reach the endpoint as a local error. Refusals by the proxy's own
    /// limits (`UO`) say nothing about the endpoint.
    pub fn of<B>(result: &Result<http::Response<B>, ProxyError>) -> Option<Self> {
        match result {
            Ok(rsp) => Some(Outcome::Response(rsp.status().as_u16())),
            Err(
                ProxyError::ConnectFailed { .. }
                | ProxyError::ConnectTimeout { .. }
                | ProxyError::Tls { .. }
                | ProxyError::UpstreamReset(_),
            ) => Some(Outcome::Local(503)),
            Err(ProxyError::ResponseTimeout(_)) => Some(Outcome::Local(504)),
            Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests;
