use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ConnectionPool, OutlierDetection, UpstreamTls, WorkloadMeta, defaults};

/// A named set of endpoints and how to balance across them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    pub name: String,
    /// The service this cluster belongs to (the `destination_service` label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default)]
    pub protocol: UpstreamProtocol,
    #[serde(default)]
    pub lb: LbPolicy,
    #[serde(default = "defaults::connect_timeout", with = "crate::duration::serde")]
    pub connect_timeout: Duration,
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
    /// TLS to the endpoints; unset: mesh mTLS to endpoints with an
    /// `identity`, plaintext to the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<UpstreamTls>,
    /// Circuit breakers and connection reuse; unset: no limits. (Boxed:
    /// most clusters have none.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_pool: Option<Box<ConnectionPool>>,
    /// Ejects endpoints that keep failing; unset: off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outlier_detection: Option<Box<OutlierDetection>>,
}

/// One address traffic can be sent to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub address: SocketAddr,
    #[serde(default = "defaults::weight")]
    pub weight: u32,
    /// The workload behind this endpoint, for `destination_*` labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadMeta>,
    /// The SPIFFE ID (`spiffe://<td>/ns/<ns>/sa/<sa>`) of the proxy in
    /// front of this endpoint. Set: traffic to it is mesh mTLS and the
    /// server must prove this identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
}

/// How HTTP is spoken to a cluster's endpoints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamProtocol {
    /// The protocol the client spoke.
    #[default]
    Auto,
    Http1,
    /// HTTP/2 with prior knowledge (h2c): many requests multiplexed on one
    /// connection.
    Http2,
}

/// Load balancing policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LbPolicy {
    /// Power of two choices over peak-EWMA latency, as Linkerd does.
    #[default]
    P2cPeakEwma,
    RoundRobin,
    /// Weighted random.
    Random,
    /// Power of two choices over in-flight requests, as Envoy's LEAST_REQUEST.
    LeastRequest,
}

// === impl Cluster ===

impl Cluster {
    /// The connect timeout used when a cluster does not set one.
    pub fn default_connect_timeout() -> Duration {
        defaults::connect_timeout()
    }
}
