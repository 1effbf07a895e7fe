//! The proxy's live state: the current config snapshot (swapped atomically
//! when config changes) and what outlives snapshots (metrics, passthrough
//! endpoints, drain status).

mod build;
mod gateway;
pub mod passthrough;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwap;
use weft_identity::Credentials;
use weft_proto::config::{AppProtocol, OutboundPolicy, PeerAuthentication, ProxyConfig};

pub use build::BuildError;
pub use gateway::{GatewayPort, GatewayTable, VirtualHost};
pub use passthrough::Passthrough;

use crate::http::{RetryBudget, Route};
use crate::telemetry::{Metrics, PeerLabels, ServiceLabels};
use crate::upstream::Cluster;

/// State shared by every connection of one proxy.
#[derive(Debug)]
pub struct ProxyState {
    snapshot: ArcSwap<Snapshot>,
    pub metrics: Metrics,
    pub passthrough: Passthrough,
    draining: AtomicBool,
    /// Set while a proxy with a control plane has not yet applied its
    /// first config: it is not ready to take traffic.
    awaiting_config: AtomicBool,
    /// Addresses this proxy listens on, to refuse forwarding to itself.
    own_addrs: parking_lot::RwLock<Vec<SocketAddr>>,
    /// This workload's certificate and trust bundle, with a control plane.
    pub creds: Option<Arc<Credentials>>,
    /// Terminates mesh mTLS on inbound listeners (with `creds`).
    pub mesh_server: Option<Arc<rustls::ServerConfig>>,
    /// Taps the control plane opened (`weft tap`).
    pub taps: crate::tap::Taps,
}

/// One immutable, compiled view of the config. Requests load it once and
/// use it throughout, so a config change never splits a request.
#[derive(Debug)]
pub struct Snapshot {
    pub config: Arc<ProxyConfig>,
    /// This workload's labels.
    pub node: Arc<PeerLabels>,
    /// `node` as the peer metadata header says it (`http::peer`).
    pub peer_header: Option<http::HeaderValue>,
    pub unknown_peer: Arc<PeerLabels>,
    pub unknown_service: Arc<ServiceLabels>,
    pub services: ServiceTable,
    pub inbound: HashMap<u16, Arc<InboundTarget>>,
    pub clusters: HashMap<Arc<str>, Arc<Cluster>>,
    pub outbound_policy: OutboundPolicy,
    /// Inbound authorization (empty: everything is allowed).
    pub authz: Arc<crate::authz::Authorizer>,
    /// What the inbound side accepts: mesh mTLS, plaintext or both.
    pub peer_authentication: PeerAuthentication,
    /// What gateway listeners serve.
    pub gateways: GatewayTable,
    /// Every local rate limit's token bucket, kept across pushes.
    pub rate_limiters: crate::http::RateLimiters,
    /// Distributed tracing, when the config turns it on.
    pub tracer: Option<Arc<crate::telemetry::trace::Tracer>>,
    /// Writes access log lines, when they are on.
    pub access_log: Option<Arc<crate::telemetry::access_log::AccessLogger>>,
}

/// Outbound services, findable by name and by virtual IP.
#[derive(Debug, Default)]
pub struct ServiceTable {
    by_host: HashMap<Arc<str>, Vec<Arc<ServicePort>>>,
    by_addr: HashMap<SocketAddr, Arc<ServicePort>>,
}

/// One port of an outbound service, compiled.
#[derive(Debug)]
pub struct ServicePort {
    pub labels: Arc<ServiceLabels>,
    pub port: u16,
    pub protocol: AppProtocol,
    /// HTTP routes, first match wins. A port with only a cluster gets one
    /// catch-all route to it.
    pub routes: Vec<Route>,
    /// Where opaque TCP goes.
    pub tcp_cluster: Option<Arc<Cluster>>,
    /// Routes for opaque connections by SNI and weight; when any, they
    /// decide instead of `tcp_cluster`.
    pub tcp_routes: crate::tcp::TcpRoutes,
    /// Bounds the retries of all `routes` together.
    pub retry_budget: Arc<RetryBudget>,
}

/// Where inbound traffic for one workload port goes.
#[derive(Debug)]
pub struct InboundTarget {
    pub port: u16,
    pub protocol: AppProtocol,
    pub labels: Arc<ServiceLabels>,
    pub cluster: Arc<Cluster>,
    /// The port's local rate limit (Envoy's `local_ratelimit` filter on
    /// the inbound listener), when it has one.
    pub rate_limit: Option<Arc<crate::http::LocalRateLimiter>>,
}

// === impl ProxyState ===

impl ProxyState {
    pub fn new(config: ProxyConfig) -> Result<Self, BuildError> {
        Self::with_credentials(config, None)
    }

    /// A proxy with a workload identity: mesh mTLS to peers that have one,
    /// and terminated on inbound listeners.
    pub fn with_credentials(
        config: ProxyConfig,
        creds: Option<Arc<Credentials>>,
    ) -> Result<Self, BuildError> {
        let metrics = Metrics::new();
        let mut snapshot = Snapshot::build(Arc::new(config), None, creds.as_ref())?;
        snapshot.tracer = tracer(&snapshot, None, &metrics);
        snapshot.access_log = access_log(&snapshot, None);
        let mesh_server = creds
            .as_ref()
            .map(|c| c.server_config(true, &weft_identity::MESH_ALPNS));
        Ok(Self {
            creds,
            mesh_server,
            snapshot: ArcSwap::from_pointee(snapshot),
            metrics,
            passthrough: Passthrough::default(),
            draining: AtomicBool::new(false),
            awaiting_config: AtomicBool::new(false),
            own_addrs: Default::default(),
            taps: Default::default(),
        })
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Validates and compiles `config`, then swaps it in atomically. On
    /// error nothing changes. Endpoint health and pools carry over.
    pub fn update(&self, config: ProxyConfig) -> Result<(), BuildError> {
        let prev = self.snapshot.load_full();
        let mut next = Snapshot::build(Arc::new(config), Some(&prev), self.creds.as_ref())?;
        next.tracer = tracer(&next, prev.tracer.as_ref(), &self.metrics);
        next.access_log = access_log(&next, prev.access_log.as_ref());
        self.snapshot.store(Arc::new(next));
        Ok(())
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    pub fn set_own_addresses(&self, addrs: Vec<SocketAddr>) {
        *self.own_addrs.write() = addrs;
    }

    /// Whether connecting to `addr` would reach one of our own listeners.
    pub fn is_own_address(&self, addr: SocketAddr) -> bool {
        self.own_addrs.read().iter().any(|own| {
            own.port() == addr.port()
                && (own.ip() == addr.ip()
                    || (own.ip().is_unspecified()
                        && (addr.ip().is_loopback() || addr.ip().is_unspecified())))
        })
    }

    /// Marks the proxy as not ready until [`Self::set_config_received`].
    pub fn await_config(&self) {
        self.awaiting_config.store(true, Ordering::Relaxed);
    }

    pub fn set_config_received(&self) {
        self.awaiting_config.store(false, Ordering::Relaxed);
    }

    pub fn is_awaiting_config(&self) -> bool {
        self.awaiting_config.load(Ordering::Relaxed)
    }

    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// Sends the spans and writes the access log lines still queued
    /// (their writers wait up to 5 s and 1 s to batch them), for at most
    /// `within`: a proxy shutting down loses neither. Whether all went.
    pub async fn flush_telemetry(&self, within: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        let snap = self.snapshot();
        let spans = match &snap.tracer {
            Some(t) => t.flush(deadline).await,
            None => true,
        };
        let lines = match &snap.access_log {
            Some(l) => l.flush(deadline).await,
            None => true,
        };
        spans && lines
    }
}

/// The snapshot's tracer: the previous one while its config holds (its
/// exporter carries on), a new one when it changed, none when it is off.
fn tracer(
    snap: &Snapshot,
    prev: Option<&Arc<crate::telemetry::trace::Tracer>>,
    metrics: &Metrics,
) -> Option<Arc<crate::telemetry::trace::Tracer>> {
    let config = snap.config.tracing.as_ref()?;
    crate::telemetry::trace::Tracer::build(config, &snap.config.node, prev, &metrics.spans)
}

/// The snapshot's access logger: the previous one while its config holds.
fn access_log(
    snap: &Snapshot,
    prev: Option<&Arc<crate::telemetry::access_log::AccessLogger>>,
) -> Option<Arc<crate::telemetry::access_log::AccessLogger>> {
    let config = snap.config.access_log.as_ref()?;
    crate::telemetry::access_log::AccessLogger::build(config, prev)
}

// === impl ServiceTable ===

impl ServiceTable {
    /// Finds a service port by host name (case-insensitive) and port.
    pub fn by_host(&self, host: &str, port: u16) -> Option<&ServicePort> {
        let ports = match self.by_host.get(host) {
            Some(p) => p,
            None if host.bytes().any(|b| b.is_ascii_uppercase()) => {
                self.by_host.get(host.to_ascii_lowercase().as_str())?
            }
            None => return None,
        };
        ports.iter().find(|p| p.port == port).map(|p| &**p)
    }

    /// Finds a service port by virtual IP and port.
    pub fn by_addr(&self, addr: SocketAddr) -> Option<&ServicePort> {
        self.by_addr.get(&addr).map(|p| &**p)
    }
}
