//! Linkerd's `linkerd.io/v1alpha2` ServiceProfile, as linkerd2 defines it
//! (`controller/gen/apis/serviceprofile/v1alpha2/types.go`): the routes of
//! one service (named by its FQDN, `web.ns.svc.cluster.local`), how to
//! tell their failures, and their timeouts and retries.

mod validate;

#[cfg(test)]
mod tests;

use serde::Deserialize;

use crate::types::{Duration, Quantity};

/// linkerd2 `ServiceProfileSpec`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceProfile {
    /// Requests are matched against routes in order; the first match
    /// names the route in metrics and applies its policy.
    #[serde(default)]
    pub routes: Vec<RouteSpec>,
    /// Caps retries across all routes of the service.
    pub retry_budget: Option<RetryBudget>,
    /// Traffic for the service sent elsewhere instead, in proportion to
    /// the weights (how Linkerd applies a TrafficSplit).
    #[serde(default)]
    pub dst_overrides: Vec<WeightedDst>,
    /// Ports whose traffic is proxied as opaque TCP. Linkerd's CRD schema
    /// makes it a list of strings; its controller sets it itself from the
    /// `config.linkerd.io/opaque-ports` annotation.
    #[serde(default)]
    pub opaque_ports: Vec<String>,
}

/// linkerd2 `RouteSpec`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteSpec {
    /// How metrics and `linkerd viz routes` name the route, such as
    /// `GET /books/{id}`.
    #[serde(default)]
    pub name: String,
    /// Required by Linkerd; a missing one is reported by validation.
    pub condition: Option<RequestMatch>,
    /// Which responses count as failures; by default, 5xx.
    #[serde(default)]
    pub response_classes: Vec<ResponseClass>,
    /// Failed requests may be retried (within the retry budget).
    #[serde(default)]
    pub is_retryable: bool,
    /// Linkerd's default is 10s.
    pub timeout: Option<Duration>,
}

/// linkerd2 `RequestMatch`: a request condition. Set fields are ANDed;
/// `all`, `any` and `not` combine conditions.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestMatch {
    #[serde(default)]
    pub all: Vec<RequestMatch>,
    #[serde(default)]
    pub any: Vec<RequestMatch>,
    pub not: Option<Box<RequestMatch>>,
    /// A regex matched against the whole path (`/books/[^/]*`).
    pub path_regex: Option<String>,
    /// An HTTP method, such as `GET`.
    pub method: Option<String>,
}

/// linkerd2 `ResponseClass`: responses matching `condition` are
/// failures (`isFailure: true`) or successes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResponseClass {
    /// Required by Linkerd; a missing one is reported by validation.
    pub condition: Option<ResponseMatch>,
    #[serde(default)]
    pub is_failure: bool,
}

/// linkerd2 `ResponseMatch`: a response condition, combined like
/// [`RequestMatch`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResponseMatch {
    #[serde(default)]
    pub all: Vec<ResponseMatch>,
    #[serde(default)]
    pub any: Vec<ResponseMatch>,
    pub not: Option<Box<ResponseMatch>>,
    pub status: Option<Range>,
}

/// linkerd2 `Range`: HTTP statuses from `min` to `max`, inclusive; 0 (or
/// absent) leaves that end open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    #[serde(default)]
    pub min: u32,
    #[serde(default)]
    pub max: u32,
}

/// linkerd2 `RetryBudget`: retries may add `retryRatio` of the request
/// rate, plus `minRetriesPerSecond`, measured over `ttl`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryBudget {
    #[serde(default)]
    pub retry_ratio: f64,
    #[serde(default)]
    pub min_retries_per_second: u32,
    /// Required by Linkerd; a missing one is reported by validation.
    pub ttl: Option<Duration>,
}

/// linkerd2 `WeightedDst`: an authority (`web-v2.ns.svc.cluster.local:80`)
/// and its share.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WeightedDst {
    #[serde(default)]
    pub authority: String,
    /// A Kubernetes quantity (`500m`, `1`); kept in thousandths.
    pub weight: Quantity,
}
