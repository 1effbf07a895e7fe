//! The typed configuration of one proxy: where it listens, which services it
//! can reach, how it routes to them and the endpoints behind them.
//!
//! Field names are `snake_case`, as in Envoy's bootstrap. Durations are
//! written as `100ms` / `0.5s` (see [`crate::duration`]).

mod access_log;
mod authz;
mod circuit;
mod cluster;
mod gateway;
mod listener;
mod load;
mod locate;
mod rate_limit;
mod retry;
mod route_actions;
mod route_metrics;
mod service;
mod tcp_route;
mod tls;
mod tracing;
mod validate;

pub use validate::parse_authority;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use access_log::AccessLog;
pub use authz::{Action, AuthorizationPolicy, Condition, IpBlock, Operation, Rule, Source};
pub use circuit::{ConnectionPool, OutlierDetection};
pub use cluster::{
    Cluster, ConsistentHash, CookieAttribute, Endpoint, HashCookie, HashKey, HashTable, LbPolicy,
    UpstreamProtocol,
};
pub use gateway::{GatewayServer, ServerTls, VirtualHost};
pub use listener::{Direction, Interception, Listener, ListenerProtocol};
pub use load::{ConfigError, LoadError};
pub use locate::LineIndex;
pub use rate_limit::LocalRateLimit;
pub use retry::{RetryBudget, RetryOn, RetryPolicy};
pub use route_actions::{
    AbortStatus, Cors, DirectResponse, Fault, FaultAbort, FaultDelay, HeaderEdits, HeaderOps,
    Mirror, Redirect, RedirectPort, RegexRewrite, ResponseBody, Rewrite,
};
pub use route_metrics::{RouteMetrics, StatusRange};
pub use service::{
    AppProtocol, Backend, HeaderMatch, HttpRoute, InboundPort, PathMatch, QueryMatch, RouteMatch,
    Service, ServicePort, StringMatch,
};
pub use tcp_route::TcpRoute;
pub use tls::{MtlsMode, PeerAuthentication, TrustRoots, UpstreamTls, UpstreamTlsMode};
pub use tracing::{OtlpExporter, OtlpProtocol, Tracing};

/// Everything one proxy needs to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// Who this proxy speaks for; fills the `source_*` / `destination_*`
    /// metric labels.
    #[serde(default)]
    pub node: WorkloadMeta,

    /// Admin endpoints (`/ready`, `/config_dump`, ...). Keep it on loopback.
    #[serde(default = "defaults::admin_address")]
    pub admin_address: SocketAddr,

    /// Prometheus `/stats/prometheus` (and `/metrics`). `null` turns it off.
    #[serde(default = "defaults::metrics_address")]
    pub metrics_address: Option<SocketAddr>,

    /// Kubelet-style readiness probe `/healthz/ready`. `null` turns it off.
    #[serde(default = "defaults::health_address")]
    pub health_address: Option<SocketAddr>,

    /// How long a SIGTERM drain waits for in-flight work before exiting.
    #[serde(default = "defaults::drain_timeout", with = "crate::duration::serde")]
    pub drain_timeout: Duration,

    /// What happens to outbound traffic for a destination no service claims.
    #[serde(default)]
    pub outbound_policy: OutboundPolicy,

    /// The sockets this proxy accepts connections on.
    pub listeners: Vec<Listener>,

    /// Services reachable from this workload (outbound).
    #[serde(default)]
    pub services: Vec<Service>,

    /// Ports of this workload that accept traffic from the mesh (inbound).
    #[serde(default)]
    pub inbound: Vec<InboundPort>,

    /// Named sets of endpoints that routes send traffic to.
    #[serde(default)]
    pub clusters: Vec<Cluster>,

    /// Authorization policies on inbound traffic (Istio's
    /// AuthorizationPolicy). None: everything is allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization: Vec<AuthorizationPolicy>,

    /// What a gateway serves on each gateway port (gateway listeners);
    /// pushed by a control plane for proxies its Gateways select.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateway_servers: Vec<GatewayServer>,

    /// Whether the inbound side requires, accepts or ignores mesh mTLS
    /// (Istio's PeerAuthentication). Unset: PERMISSIVE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_authentication: Option<PeerAuthentication>,

    /// Distributed tracing: spans exported over OTLP. Unset: no tracing
    /// work at all (trace headers still pass through untouched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<Tracing>,

    /// One JSON line per request. Unset: no access log work at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_log: Option<AccessLog>,

    /// Where to get services, clusters and inbound ports from at run time
    /// (`weft control`). They are added to the ones in this file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane: Option<ControlPlane>,
}

/// How a proxy finds and introduces itself to the control plane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlPlane {
    /// `host:port` of the control plane's config stream (15012).
    pub address: String,
    /// Unique name of this proxy; `<workload>.<namespace>-<pid>` if unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    /// The workload's labels (as a pod's), which policies select on.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Addresses peers reach this workload at (its pod IP). Unset: the
    /// inbound listener's address, or 127.0.0.1 when it listens on all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<std::net::IpAddr>,
    /// PEM roots the control plane's certificate chains to (its
    /// `root-cert.pem`, printed by `weft control` at start). The proxy
    /// verifies the control plane against them before sending anything.
    pub ca_bundle: std::path::PathBuf,
    /// A single-use bootstrap token (`weft token`) proving this workload's
    /// identity to the CA for its first certificate. Renewals are proven
    /// with the certificate itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<std::path::PathBuf>,
    /// How long the proxy asks its certificates to live (the CA may cap
    /// it); renewed at 80% of their life.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::duration::serde_opt"
    )]
    pub certificate_ttl: Option<Duration>,
}

/// Identity and labels of a workload, as Istio's standard metrics name them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadMeta {
    /// Workload name (a Deployment name, or a weft `Workload`).
    #[serde(default)]
    pub workload: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    /// The `app` label (canonical service).
    #[serde(default)]
    pub app: Option<String>,
    /// The `version` label (canonical revision).
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub service_account: Option<String>,
    /// Mesh cluster name, for `source_cluster` / `destination_cluster`.
    #[serde(default)]
    pub cluster: Option<String>,
    /// SPIFFE trust domain; `cluster.local` unless set.
    #[serde(default)]
    pub trust_domain: Option<String>,
}

/// Istio's `outboundTrafficPolicy.mode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboundPolicy {
    /// Unknown destinations are forwarded as they are (PassthroughCluster).
    #[default]
    AllowAny,
    /// Unknown destinations are refused (404 NR for HTTP, closed for TCP).
    RegistryOnly,
}

// === impl WorkloadMeta ===

impl WorkloadMeta {
    /// The workload's SPIFFE principal, when it has a service account.
    pub fn principal(&self) -> Option<String> {
        let sa = self.service_account.as_deref()?;
        let ns = self.namespace.as_deref().unwrap_or("default");
        let td = self.trust_domain.as_deref().unwrap_or("cluster.local");
        Some(format!("spiffe://{td}/ns/{ns}/sa/{sa}"))
    }
}

pub(crate) mod defaults {
    use std::net::{Ipv4Addr, SocketAddr};
    use std::time::Duration;

    pub fn admin_address() -> SocketAddr {
        (Ipv4Addr::LOCALHOST, 15000).into()
    }
    pub fn metrics_address() -> Option<SocketAddr> {
        Some((Ipv4Addr::UNSPECIFIED, 15090).into())
    }
    pub fn health_address() -> Option<SocketAddr> {
        Some((Ipv4Addr::UNSPECIFIED, 15021).into())
    }
    pub fn drain_timeout() -> Duration {
        Duration::from_secs(5)
    }
    /// Well under a second: server-speaks-first protocols (MySQL, SMTP) wait
    /// this long on connect, and Linkerd's 10 s stall is a top complaint.
    pub fn detect_timeout() -> Duration {
        Duration::from_millis(100)
    }
    pub fn connect_timeout() -> Duration {
        Duration::from_secs(1)
    }
    pub fn weight() -> u32 {
        1
    }
    /// Envoy's `RingHashLbConfig.minimum_ring_size` default.
    pub fn ring_min_size() -> u64 {
        1024
    }
    /// Envoy's `MaglevLbConfig.table_size` default (a prime).
    pub fn maglev_table_size() -> u64 {
        65537
    }
}
