//! Per-route metrics: the requests of a route counted under its name, each
//! classified a success or a failure by its status (Linkerd ServiceProfile
//! routes and `responseClasses`; linkerd.io "Per-Route Metrics").

use serde::{Deserialize, Serialize};

/// Count this route's requests under `name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteMetrics {
    /// The `route` label (Linkerd's `rt_route`), such as `GET /books`.
    pub name: String,
    /// Statuses that are failures, as inclusive ranges. Unset: 5xx, as
    /// Linkerd classifies a response no response class matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<Vec<StatusRange>>,
}

/// HTTP statuses from `min` to `max`, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusRange {
    pub min: u16,
    pub max: u16,
}

// === impl RouteMetrics ===

impl RouteMetrics {
    /// Whether a response with `status` is a failure.
    pub fn is_failure(&self, status: u16) -> bool {
        match &self.failures {
            None => (500..=599).contains(&status),
            Some(ranges) => ranges.iter().any(|r| (r.min..=r.max).contains(&status)),
        }
    }
}
