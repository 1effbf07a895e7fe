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
    /// Where the endpoint runs, `region/zone/subzone` (Istio locality).
    /// Endpoints with the same locality and priority form one locality
    /// group for `locality_weight`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    /// Failover rank, 0 best (Envoy `LocalityLbEndpoints.priority`): the
    /// proxy sends to priority 0 while enough of it is available and
    /// spills to the next as it fails. The control plane ranks endpoints
    /// per calling proxy. All 0: no priorities.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub priority: u32,
    /// The weight of this endpoint's locality group (Envoy
    /// `LocalityLbEndpoints.load_balancing_weight`): set, traffic within
    /// a priority is first split over localities by it, then balanced
    /// within one. Set on every endpoint of a cluster or on none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality_weight: Option<u32>,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
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

/// Load balancing policy. The simple policies are plain strings
/// (`lb: round_robin`); consistent hashing is a map
/// (`lb: {consistent_hash: {key: {header: x-user}}}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Istio DestinationRule `consistentHash`: a hash of something in the
    /// request picks the endpoint, so the same key keeps landing on the
    /// same endpoint while the endpoint set holds.
    ConsistentHash(ConsistentHash),
}

/// What to hash and the table that maps hashes to endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistentHash {
    /// Unset: every request is hashed at random, as Envoy does for a
    /// ring hash or Maglev cluster without a hash policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<HashKey>,
    #[serde(default)]
    pub table: HashTable,
}

/// The part of a request hashed (Istio `ConsistentHashLB` hash key; Envoy
/// `RouteAction.HashPolicy`). A request without it is balanced at random.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HashKey {
    /// The value of this request header.
    Header(String),
    /// The value of this cookie (boxed: it is the large one, and
    /// clusters travel in every snapshot).
    Cookie(Box<HashCookie>),
    /// The downstream peer's IP address (for a sidecar's outbound, the
    /// app's address). Also used for opaque TCP.
    SourceIp,
    /// The (raw, undecoded) value of this query parameter.
    QueryParameter(String),
}

/// Istio `ConsistentHashLB.HTTPCookie` / Envoy `HashPolicy.Cookie`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashCookie {
    pub name: String,
    /// The `Path` of a generated cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Set: a request without the cookie gets a generated one (its hash
    /// picks the endpoint) and the response carries `Set-Cookie` with
    /// this `Max-Age`; zero makes a session cookie. Unset: no cookie is
    /// generated.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::duration::serde_opt"
    )]
    pub ttl: Option<Duration>,
    /// Extra attributes of a generated cookie (`SameSite=Strict`,
    /// `Secure`), after `Path`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<CookieAttribute>,
}

/// Istio `HTTPCookie.Attribute` / Envoy `CookieAttribute`: `name=value`,
/// or `name` alone when `value` is unset or empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CookieAttribute {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// How hashes map to endpoints (Envoy `RING_HASH` or `MAGLEV`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum HashTable {
    /// A ring of at least `min_size` points, each endpoint on it in
    /// proportion to its weight; a hash goes to the next point.
    Ring {
        #[serde(default = "defaults::ring_min_size")]
        min_size: u64,
    },
    /// A Maglev lookup table of `table_size` (prime) slots.
    Maglev {
        #[serde(default = "defaults::maglev_table_size")]
        table_size: u64,
    },
}

// === impl HashTable ===

impl Default for HashTable {
    /// Istio's default for `consistentHash`: Envoy's ring hash.
    fn default() -> Self {
        Self::Ring {
            min_size: defaults::ring_min_size(),
        }
    }
}

// === impl Cluster ===

impl Cluster {
    /// The connect timeout used when a cluster does not set one.
    pub fn default_connect_timeout() -> Duration {
        defaults::connect_timeout()
    }
}
