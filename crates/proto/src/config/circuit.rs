//! A cluster's circuit breakers and outlier detection: what Istio's
//! DestinationRule `connectionPool` and `outlierDetection` become (Envoy's
//! cluster `circuit_breakers`, HTTP protocol options and
//! `outlier_detection`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Limits on what one proxy sends a cluster. Unset fields are unlimited
/// (Istio writes 2^32-1 for them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionPool {
    /// Connections open to all the cluster's endpoints together (Envoy
    /// `max_connections`). A request that would need one more waits as a
    /// pending request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    /// Requests waiting for a connection (Envoy `max_pending_requests`,
    /// Istio `http1MaxPendingRequests`). One more is refused with 503 `UO`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pending_requests: Option<u32>,
    /// Requests in flight to the cluster over any protocol (Envoy
    /// `max_requests`, Istio `http2MaxRequests`). One more is refused with
    /// 503 `UO`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_requests: Option<u32>,
    /// Retries in flight to the cluster (Envoy `max_retries`). Carried for
    /// the retry policy; not yet acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
    /// Requests sent on one connection before it is closed; 1 turns
    /// keep-alive off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_requests_per_connection: Option<u32>,
    /// An upstream HTTP/1.1 connection idle this long is closed instead of
    /// reused (default 60 s).
    #[serde(
        default,
        with = "crate::duration::serde_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub idle_timeout: Option<Duration>,
    /// A connection this old takes no new requests and closes once idle.
    #[serde(
        default,
        with = "crate::duration::serde_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_connection_duration: Option<Duration>,
}

/// Passive health checking: endpoints that keep failing are ejected from
/// load balancing for a while (Envoy outlier detection). Defaults are
/// Envoy's, which Istio keeps for unset fields.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutlierDetection {
    /// Consecutive 5xx responses (and, unless split, local failures:
    /// connect errors, resets, timeouts) that eject an endpoint; 0: off.
    #[serde(default = "defaults::consecutive_5xx")]
    pub consecutive_5xx: u32,
    /// Consecutive 502/503/504 responses (and, unless split, local
    /// failures) that eject an endpoint; 0: off.
    #[serde(default)]
    pub consecutive_gateway_errors: u32,
    /// Count local failures apart from responses: they then only count
    /// toward `consecutive_local_origin_failures`.
    #[serde(default)]
    pub split_external_local_origin_errors: bool,
    /// With the split: consecutive local failures that eject; 0: off.
    #[serde(default = "defaults::consecutive_5xx")]
    pub consecutive_local_origin_failures: u32,
    /// How often ejections are reconsidered: an ejection ends at the first
    /// tick after its time is up, and each tick a healthy endpoint's
    /// ejection multiplier shrinks by one.
    #[serde(default = "defaults::interval", with = "crate::duration::serde")]
    pub interval: Duration,
    /// Ejected for this times the number of ejections in a row (capped at
    /// the larger of this and 300 s, Envoy's `max_ejection_time`).
    #[serde(
        default = "defaults::base_ejection_time",
        with = "crate::duration::serde"
    )]
    pub base_ejection_time: Duration,
    /// At most this percentage of the cluster's endpoints is ejected at
    /// once, but one endpoint always may be (Envoy).
    #[serde(default = "defaults::max_ejection_percent")]
    pub max_ejection_percent: u32,
}

mod defaults {
    use std::time::Duration;

    pub fn consecutive_5xx() -> u32 {
        5
    }
    pub fn interval() -> Duration {
        Duration::from_secs(10)
    }
    pub fn base_ejection_time() -> Duration {
        Duration::from_secs(30)
    }
    pub fn max_ejection_percent() -> u32 {
        10
    }
}

// === impl OutlierDetection ===

impl Default for OutlierDetection {
    fn default() -> Self {
        Self {
            consecutive_5xx: defaults::consecutive_5xx(),
            consecutive_gateway_errors: 0,
            split_external_local_origin_errors: false,
            consecutive_local_origin_failures: defaults::consecutive_5xx(),
            interval: defaults::interval(),
            base_ejection_time: defaults::base_ejection_time(),
            max_ejection_percent: defaults::max_ejection_percent(),
        }
    }
}
