//! Golden metrics with no other software installed: the control plane
//! scrapes every connected proxy's `/metrics` (the Istio-standard
//! families it already serves, so proxies do no extra work per request),
//! turns the counters into per-scrape increments, and keeps them in time
//! slots per workload, service, route and edge. Success rate, requests
//! per second and latency percentiles over 10 s, 1 m and 10 m windows come
//! from those slots (`query.rs`).
//!
//! Memory is bounded: slots older than the longest window are dropped,
//! keys silent that long go with them, and the number of keys is capped
//! (`MAX_KEYS`); labels that could grow without bound (paths, response
//! codes) never become keys.

mod ingest;
mod query;
mod scrape;
mod series;
pub mod text;

pub use query::{StatKind, StatQuery, StatRow, Window};
pub use scrape::{metrics_addr, run};

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use series::Series;

/// The longest window kept.
pub const HISTORY: Duration = Duration::from_secs(600);

/// The most keys (workloads, services, routes, edges) kept at once; past
/// it, new keys are not tracked until old ones go quiet.
pub const MAX_KEYS: usize = 10_000;

/// What one series of figures is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// Requests a workload received (its proxies' `reporter=destination`).
    Workload { namespace: String, name: String },
    /// Requests sent to a service (callers' `reporter=source`).
    Service { name: String },
    /// Requests of one named route of a service (per-route metrics).
    Route { service: String, name: String },
    /// Requests from one workload to another, as the destination saw them.
    Edge {
        src_namespace: String,
        src: String,
        /// The caller's SPIFFE principal when it came over mTLS.
        src_identity: String,
        dst_namespace: String,
        dst: String,
        mtls: bool,
    },
}

/// The rolling figures of the whole mesh.
#[derive(Debug)]
pub struct Telemetry {
    interval: Duration,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Scrape rounds so far; a slot per round.
    tick: u64,
    series: HashMap<Key, Series>,
    /// Per proxy (node id): the last value of each counter series.
    last: HashMap<String, HashMap<String, f64>>,
    /// Histogram bucket bounds, per metric family, as first seen.
    bounds: HashMap<&'static str, Arc<[f64]>>,
    /// Connected proxies per `(namespace, workload)` at the last round.
    meshed: BTreeMap<(String, String), u32>,
    /// `(namespace, service account)` → the workload running as it, when
    /// exactly one does: a destination knows its caller by the identity
    /// mTLS proved, and names the workload behind it from this.
    accounts: HashMap<(String, String), Option<String>>,
    /// Keys not tracked because of `MAX_KEYS`.
    dropped_keys: u64,
    /// Open inbound TCP connections per `(namespace, workload)` at the
    /// last round (opened minus closed, as its proxies count them).
    tcp_open: HashMap<(String, String), u64>,
}

// === impl Telemetry ===

impl Telemetry {
    /// Figures kept in slots of `interval` (one scrape each).
    pub fn new(interval: Duration) -> Self {
        Self {
            interval: interval.max(Duration::from_millis(100)),
            inner: Mutex::new(Inner::default()),
        }
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Slots a window spans (at least one).
    fn slots(&self, window: Duration) -> u64 {
        let n = window.as_millis() / self.interval.as_millis().max(1);
        u64::try_from(n).unwrap_or(u64::MAX).max(1)
    }

    /// Records one scrape round: each proxy's `(node id, namespace,
    /// workload, metrics text)`; proxies missing from it are forgotten.
    pub fn record_round(&self, scraped: &[Scraped]) {
        let mut inner = self.inner.lock();
        inner.tick += 1;
        let first_round = inner.tick == 1;
        let tick = inner.tick;
        inner.meshed.clear();
        inner.accounts.clear();
        inner.tcp_open.clear();
        for s in scraped {
            *inner
                .meshed
                .entry((s.namespace.clone(), s.workload.clone()))
                .or_default() += 1;
            inner
                .accounts
                .entry((s.namespace.clone(), s.service_account.clone()))
                .and_modify(|w| {
                    if w.as_deref() != Some(s.workload.as_str()) {
                        *w = None;
                    }
                })
                .or_insert_with(|| Some(s.workload.clone()));
        }
        let live: std::collections::HashSet<&str> = scraped.iter().map(|s| s.id.as_str()).collect();
        inner.last.retain(|id, _| live.contains(id.as_str()));
        for s in scraped.iter().filter(|s| s.text.is_some()) {
            ingest::proxy(&mut inner, s, tick, first_round);
        }
        let oldest = tick.saturating_sub(self.slots(HISTORY));
        inner.series.retain(|_, s| s.expire(oldest));
    }

    /// Keys not tracked because too many were.
    pub fn dropped_keys(&self) -> u64 {
        self.inner.lock().dropped_keys
    }
}

/// One proxy's scrape.
#[derive(Debug, Clone)]
pub struct Scraped {
    pub id: String,
    pub namespace: String,
    pub workload: String,
    pub service_account: String,
    /// `None` when the scrape failed: the proxy still counts as meshed.
    pub text: Option<String>,
}

// === impl Inner ===

impl Inner {
    fn series(&mut self, key: Key, family: &'static str) -> Option<&mut Series> {
        if !self.series.contains_key(&key) {
            if self.series.len() >= MAX_KEYS {
                self.dropped_keys += 1;
                return None;
            }
            let bounds = self
                .bounds
                .get(family)
                .cloned()
                .unwrap_or_else(|| Arc::from(Vec::new()));
            self.series.insert(key.clone(), Series::new(bounds));
        }
        let series = self.series.get_mut(&key)?;
        // Created before its family's buckets were seen.
        if let Some(b) = self.bounds.get(family) {
            series.adopt_bounds(b);
        }
        Some(series)
    }
}

#[cfg(test)]
mod tests;
