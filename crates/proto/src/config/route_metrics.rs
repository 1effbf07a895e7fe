//! Per-route metrics: the requests of a route counted under its name, each
//! classified a success or a failure by its status (Linkerd ServiceProfile
//! routes and `responseClasses`, HTTPRoute and GRPCRoute rules; linkerd.io
//! "Per-Route Metrics").

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
    /// Whether a response with `status` (and, for gRPC, `grpc_status`
    /// from its headers or trailers) is a failure. Without response
    /// classes, Linkerd's default: 5xx, or a gRPC status other than OK
    /// (a gRPC error rides an HTTP 200). Response classes name HTTP
    /// statuses only, so with them the HTTP status alone decides.
    pub fn is_failure(&self, status: u16, grpc_status: Option<u32>) -> bool {
        match &self.failures {
            None => (500..=599).contains(&status) || grpc_status.is_some_and(|g| g != 0),
            Some(ranges) => ranges.iter().any(|r| (r.min..=r.max).contains(&status)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_default_5xx_and_grpc_errors_fail_and_classes_read_http_only() {
        let default = RouteMetrics {
            name: "r".into(),
            failures: None,
        };
        assert!(!default.is_failure(200, None));
        assert!(!default.is_failure(200, Some(0)));
        assert!(default.is_failure(200, Some(14)));
        assert!(default.is_failure(503, None));
        assert!(!default.is_failure(404, None));
        let classes = RouteMetrics {
            failures: Some(vec![StatusRange { min: 429, max: 429 }]),
            ..default
        };
        assert!(classes.is_failure(429, None));
        assert!(!classes.is_failure(503, None));
        assert!(!classes.is_failure(200, Some(14)));
    }
}
