//! A DestinationRule's `connectionPool` and `outlierDetection` for one
//! port of one (subset) cluster, as Istio merges them
//! (`MergeSubsetTrafficPolicy`): a matching port-level policy replaces the
//! whole policy it sits in (omitted parts are defaults, not inherited); a
//! subset's policy then overrides the rule's part by part.

use std::time::Duration;

use weft_api::kinds::istio::{
    ConnectionPoolSettings, LoadBalancerSettings, OutlierDetection, TrafficPolicy,
};
use weft_proto::config::{self, Cluster};

/// The parts of a traffic policy this module compiles.
#[derive(Debug, Default, Clone, Copy)]
struct Parts<'a> {
    pool: Option<&'a ConnectionPoolSettings>,
    outlier: Option<&'a OutlierDetection>,
    /// For locality load balancing (`compile/locality.rs`).
    lb: Option<&'a LoadBalancerSettings>,
}

/// Sets `cluster`'s connect timeout, circuit breakers and outlier
/// detection from the rule's policy and the subset's, for `port`.
pub(super) fn apply(
    cluster: &mut Cluster,
    rule: Option<&TrafficPolicy>,
    subset: Option<&TrafficPolicy>,
    port: u16,
) {
    let parts = merged(rule, subset, port);
    if let Some(pool) = parts.pool {
        if let Some(t) = pool.tcp.as_ref().and_then(|t| t.connect_timeout) {
            cluster.connect_timeout = t.0;
        }
        cluster.connection_pool = connection_pool(pool).map(Box::new);
    }
    cluster.outlier_detection = parts.outlier.map(|o| Box::new(outlier_detection(o)));
}

/// The merged `loadBalancer` for `port`, and whether outlier detection
/// is on: what Istio's EDS builder (`getOutlierDetectionAndLoadBalancer
/// Settings`) reads for locality load balancing.
pub(super) fn load_balancer<'a>(
    rule: Option<&'a TrafficPolicy>,
    subset: Option<&'a TrafficPolicy>,
    port: u16,
) -> (Option<&'a LoadBalancerSettings>, bool) {
    let parts = merged(rule, subset, port);
    (parts.lb, parts.outlier.is_some())
}

fn merged<'a>(
    rule: Option<&'a TrafficPolicy>,
    subset: Option<&'a TrafficPolicy>,
    port: u16,
) -> Parts<'a> {
    let base = rule.map(|p| for_port(p, port).0).unwrap_or_default();
    let Some(subset) = subset else { return base };
    let (own, port_level) = for_port(subset, port);
    if port_level {
        return own;
    }
    Parts {
        pool: own.pool.or(base.pool),
        outlier: own.outlier.or(base.outlier),
        lb: own.lb.or(base.lb),
    }
}

/// The policy's parts for `port`, and whether a port-level policy gave
/// them.
fn for_port(policy: &TrafficPolicy, port: u16) -> (Parts<'_>, bool) {
    let level = policy
        .port_level_settings
        .iter()
        .find(|p| p.port.is_some_and(|s| s.number == u32::from(port)));
    match level {
        Some(p) => (
            Parts {
                pool: p.connection_pool.as_ref(),
                outlier: p.outlier_detection.as_ref(),
                lb: p.load_balancer.as_ref(),
            },
            true,
        ),
        None => (
            Parts {
                pool: policy.connection_pool.as_ref(),
                outlier: policy.outlier_detection.as_ref(),
                lb: policy.load_balancer.as_ref(),
            },
            false,
        ),
    }
}

/// Istio sets a limit only when it is above 0 (otherwise 2^32-1): 0 and
/// unset are both "no limit".
fn connection_pool(p: &ConnectionPoolSettings) -> Option<config::ConnectionPool> {
    let limit = |v: Option<i32>| v.filter(|v| *v > 0).map(|v| v.unsigned_abs());
    let time = |d: Option<Duration>| d.filter(|d| !d.is_zero());
    let (tcp, http) = (p.tcp.as_ref(), p.http.as_ref());
    let pool = config::ConnectionPool {
        max_connections: limit(tcp.and_then(|t| t.max_connections)),
        max_pending_requests: limit(http.and_then(|h| h.http1_max_pending_requests)),
        max_requests: limit(http.and_then(|h| h.http2_max_requests)),
        max_retries: limit(http.and_then(|h| h.max_retries)),
        max_requests_per_connection: limit(http.and_then(|h| h.max_requests_per_connection)),
        idle_timeout: time(http.and_then(|h| h.idle_timeout.map(|d| d.0))),
        max_connection_duration: time(tcp.and_then(|t| t.max_connection_duration.map(|d| d.0))),
    };
    (pool != config::ConnectionPool::default()).then_some(pool)
}

/// Istio's `applyOutlierDetection`: a set threshold is used as given (0
/// turns that detector off), unset ones keep Envoy's defaults (5
/// consecutive 5xx; gateway errors off); `maxEjectionPercent` only counts
/// above 0.
fn outlier_detection(o: &OutlierDetection) -> config::OutlierDetection {
    let d = config::OutlierDetection::default();
    let split = o.split_external_local_origin_errors == Some(true);
    config::OutlierDetection {
        consecutive_5xx: o.consecutive_5xx_errors.unwrap_or(d.consecutive_5xx),
        consecutive_gateway_errors: o
            .consecutive_gateway_errors
            .unwrap_or(d.consecutive_gateway_errors),
        split_external_local_origin_errors: split,
        consecutive_local_origin_failures: o
            .consecutive_local_origin_failures
            .filter(|n| split && *n > 0)
            .unwrap_or(d.consecutive_local_origin_failures),
        interval: o.interval.map_or(d.interval, |i| i.0),
        base_ejection_time: o.base_ejection_time.map_or(d.base_ejection_time, |t| t.0),
        max_ejection_percent: o
            .max_ejection_percent
            .filter(|p| *p > 0)
            .map_or(d.max_ejection_percent, |p| p.unsigned_abs()),
    }
}

#[cfg(test)]
mod tests;
