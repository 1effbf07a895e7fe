use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::ewma::PeakEwma;
use super::limits::{Limits, Slot};
use super::outlier::{Outcome, OutlierDetector, OutlierState};
use super::pool::Pool;
use super::transport::{Carries, Conn, Transport};
use crate::errors::ProxyError;
use crate::telemetry::PeerLabels;

/// First and longest time a failing endpoint is set aside.
const EJECT_BASE: Duration = Duration::from_millis(500);
const EJECT_MAX: Duration = Duration::from_secs(30);

/// One upstream address with its health, load and connection pool. Shared
/// across config snapshots while its address and cluster stay the same.
#[derive(Debug)]
pub struct Endpoint {
    pub addr: SocketAddr,
    pub weight: u32,
    /// `destination_*` labels of the workload behind it.
    pub labels: Arc<PeerLabels>,
    /// Plaintext, mesh mTLS or TLS origination.
    pub transport: Transport,
    in_flight: AtomicUsize,
    ewma: Mutex<PeakEwma>,
    consecutive_failures: AtomicU32,
    /// Nanoseconds since [`EPOCH`] until which the endpoint is set aside.
    ejected_until: AtomicU64,
    pub(super) pool: Pool,
    /// The cluster's circuit breakers, when it has any.
    pub(super) limits: Option<Arc<Limits>>,
    /// The cluster's outlier detection, when it has any, and this
    /// endpoint's counters for it.
    outlier: Option<Arc<OutlierDetector>>,
    outlier_state: OutlierState,
}

/// Counts a request as in flight on an endpoint (and against its cluster's
/// `max_requests`) until dropped.
#[derive(Debug)]
pub struct InFlight {
    endpoint: Arc<Endpoint>,
    _admitted: Option<Slot>,
}

static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

pub(super) fn nanos_since_epoch(t: Instant) -> u64 {
    t.saturating_duration_since(*EPOCH).as_nanos() as u64
}

// === impl Endpoint ===

impl Endpoint {
    pub fn new(addr: SocketAddr, weight: u32, labels: Arc<PeerLabels>) -> Self {
        Self::with_transport(addr, weight, labels, Transport::Plain)
    }

    pub fn with_transport(
        addr: SocketAddr,
        weight: u32,
        labels: Arc<PeerLabels>,
        transport: Transport,
    ) -> Self {
        Self {
            addr,
            weight: weight.max(1),
            labels,
            transport,
            in_flight: AtomicUsize::new(0),
            ewma: Mutex::new(PeakEwma::new(Instant::now())),
            consecutive_failures: AtomicU32::new(0),
            ejected_until: AtomicU64::new(0),
            pool: Pool::default(),
            limits: None,
            outlier: None,
            outlier_state: OutlierState::default(),
        }
    }

    /// Puts the endpoint under its cluster's circuit breakers and outlier
    /// detection.
    pub fn with_policy(
        mut self,
        limits: Option<Arc<Limits>>,
        outlier: Option<Arc<OutlierDetector>>,
    ) -> Self {
        self.limits = limits;
        self.outlier = outlier;
        self
    }

    /// Reached over mesh mTLS: a sidecar (or gateway) of the mesh.
    pub fn is_meshed(&self) -> bool {
        matches!(&self.transport, super::Transport::Tls(t) if matches!(t.key, super::TlsKey::Mesh(_)))
    }

    pub fn limits(&self) -> Option<&Arc<Limits>> {
        self.limits.as_ref()
    }

    pub fn outlier_detector(&self) -> Option<&Arc<OutlierDetector>> {
        self.outlier.as_ref()
    }

    /// Whether the endpoint may be picked: it is neither set aside after a
    /// connect failure nor ejected by outlier detection (whichever ends
    /// later decides).
    pub fn is_available(&self, now: Instant) -> bool {
        let now = nanos_since_epoch(now);
        self.ejected_until.load(Ordering::Relaxed) <= now
            && self.outlier_state.ejected_until.load(Ordering::Relaxed) <= now
    }

    /// Feeds one upstream result (response head or failure) to the
    /// cluster's outlier detection; nothing without one. Call it once per
    /// attempt, right after the result is known.
    pub fn observe_outcome<B>(&self, result: &Result<http::Response<B>, ProxyError>) {
        let Some(detector) = &self.outlier else {
            return;
        };
        if let Some(outcome) = Outcome::of(result) {
            detector.observe(&self.outlier_state, self.addr, outcome);
        }
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Peak-EWMA cost as Linkerd computes it: latency estimate times
    /// outstanding requests, divided by weight.
    pub fn ewma_cost(&self) -> f64 {
        let rtt = self.ewma.lock().estimate(Instant::now());
        rtt * (self.in_flight() as f64 + 1.0) / self.weight as f64
    }

    pub fn observe_latency(&self, rtt: Duration) {
        self.ewma.lock().observe(rtt, Instant::now());
    }

    pub fn start_request(self: &Arc<Self>) -> InFlight {
        self.start_admitted(None)
    }

    /// [`Self::start_request`] under the cluster's `max_requests`: over it,
    /// the request is refused (503 `UO`) before it reaches the endpoint.
    /// The place is held until the guard drops, when the response ends.
    pub fn admit(self: &Arc<Self>) -> Result<InFlight, ProxyError> {
        let admitted = match &self.limits {
            Some(limits) => limits.try_request()?,
            None => None,
        };
        Ok(self.start_admitted(admitted))
    }

    fn start_admitted(self: &Arc<Self>, admitted: Option<Slot>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight {
            endpoint: self.clone(),
            _admitted: admitted,
        }
    }

    /// Connects (and for TLS, handshakes) within `timeout`, recording the
    /// outcome in the endpoint's health. `carries` picks the ALPN.
    pub async fn connect(&self, timeout: Duration, carries: Carries) -> Result<Conn, ProxyError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let result = match super::connect(self.addr, timeout).await {
            Ok(tcp) => {
                let handshake = self.transport.secure(tcp, self.addr, carries);
                match tokio::time::timeout_at(deadline, handshake).await {
                    Ok(Ok(conn)) => Ok(conn),
                    Ok(Err(source)) => Err(ProxyError::Tls {
                        addr: self.addr,
                        source,
                    }),
                    Err(_) => Err(ProxyError::ConnectTimeout {
                        addr: self.addr,
                        timeout,
                    }),
                }
            }
            Err(e) => Err(e),
        };
        match &result {
            Ok(_) => self.mark_healthy(),
            Err(_) => self.mark_failed(),
        }
        result
    }

    fn mark_healthy(&self) {
        if self.consecutive_failures.swap(0, Ordering::Relaxed) != 0 {
            self.ejected_until.store(0, Ordering::Relaxed);
            tracing::info!(endpoint = %self.addr, "endpoint recovered");
        }
    }

    /// Sets the endpoint aside for an exponentially growing, jittered time.
    fn mark_failed(&self) {
        let n = self.consecutive_failures.fetch_add(1, Ordering::Relaxed);
        let backoff = EJECT_BASE
            .saturating_mul(1u32 << n.min(16))
            .min(EJECT_MAX)
            .mul_f64(0.8 + fastrand::f64() * 0.4);
        let until = nanos_since_epoch(Instant::now() + backoff);
        self.ejected_until.store(until, Ordering::Relaxed);
        tracing::debug!(endpoint = %self.addr, ?backoff, failures = n + 1, "endpoint set aside");
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.endpoint.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
impl Endpoint {
    pub(crate) fn mark_failed_for_test(&self) {
        self.mark_failed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep() -> Arc<Endpoint> {
        Arc::new(Endpoint::new(
            "127.0.0.1:1".parse().unwrap(),
            1,
            Arc::new(PeerLabels::unknown()),
        ))
    }

    #[test]
    fn failures_set_the_endpoint_aside_and_success_restores_it() {
        let e = ep();
        assert!(e.is_available(Instant::now()));
        e.mark_failed();
        assert!(!e.is_available(Instant::now()));
        assert!(e.is_available(Instant::now() + EJECT_MAX * 2));
        e.mark_healthy();
        assert!(e.is_available(Instant::now()));
    }

    #[test]
    fn backoff_grows_with_consecutive_failures() {
        let e = ep();
        e.mark_failed();
        let first = e.ejected_until.load(Ordering::Relaxed);
        for _ in 0..4 {
            e.mark_failed();
        }
        let later = e.ejected_until.load(Ordering::Relaxed);
        // 5th failure: ~8 s (+-20%) versus ~0.5 s.
        assert!(later - first > Duration::from_secs(5).as_nanos() as u64);
    }

    #[test]
    fn in_flight_guard_counts() {
        let e = ep();
        let a = e.start_request();
        let b = e.start_request();
        assert_eq!(e.in_flight(), 2);
        drop(a);
        drop(b);
        assert_eq!(e.in_flight(), 0);
    }
}
