//! istio/api `LoadBalancerSettings` and `LocalityLoadBalancerSetting`.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::types::Duration;

/// istio/api `LoadBalancerSettings`: oneof `simple` | `consistentHash`,
/// plus locality and warmup settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoadBalancerSettings {
    pub simple: Option<SimpleLb>,
    #[serde(alias = "consistent_hash")]
    pub consistent_hash: Option<ConsistentHashLb>,
    #[serde(alias = "locality_lb_setting")]
    pub locality_lb_setting: Option<LocalityLoadBalancerSetting>,
    /// Deprecated: `warmup` replaces it.
    #[serde(alias = "warmup_duration_secs")]
    pub warmup_duration_secs: Option<Duration>,
    pub warmup: Option<WarmupConfiguration>,
}

/// istio/api `LoadBalancerSettings.SimpleLB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SimpleLb {
    /// Istio picks.
    Unspecified,
    /// Deprecated: `LEAST_REQUEST` replaces it.
    LeastConn,
    Random,
    /// Forward to the address the caller asked for.
    Passthrough,
    RoundRobin,
    LeastRequest,
}

/// istio/api `LoadBalancerSettings.ConsistentHashLB`: oneof hash key
/// (`httpHeaderName` | `httpCookie` | `useSourceIp` |
/// `httpQueryParameterName`) and oneof algorithm (`ringHash` | `maglev`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsistentHashLb {
    #[serde(alias = "http_header_name")]
    pub http_header_name: Option<String>,
    #[serde(alias = "http_cookie")]
    pub http_cookie: Option<HttpCookie>,
    #[serde(alias = "use_source_ip")]
    pub use_source_ip: Option<bool>,
    #[serde(alias = "http_query_parameter_name")]
    pub http_query_parameter_name: Option<String>,
    #[serde(alias = "ring_hash")]
    pub ring_hash: Option<RingHash>,
    pub maglev: Option<MagLev>,
    /// Deprecated: `ringHash.minimumRingSize` replaces it.
    #[serde(alias = "minimum_ring_size")]
    pub minimum_ring_size: Option<u64>,
}

/// istio/api `ConsistentHashLB.HTTPCookie`: hash on a cookie, generated
/// with `ttl` when absent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCookie {
    #[serde(default)]
    pub name: String,
    pub path: Option<String>,
    /// `0s` makes a session cookie.
    pub ttl: Option<Duration>,
    #[serde(default)]
    pub attributes: Vec<CookieAttribute>,
}

/// istio/api `ConsistentHashLB.HTTPCookie.Attribute`: an extra attribute
/// of the generated cookie (`SameSite=Strict`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CookieAttribute {
    #[serde(default)]
    pub name: String,
    pub value: Option<String>,
}

/// istio/api `ConsistentHashLB.RingHash`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RingHash {
    #[serde(alias = "minimum_ring_size")]
    pub minimum_ring_size: Option<u64>,
}

/// istio/api `ConsistentHashLB.MagLev`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MagLev {
    /// A prime below 5000011 (default 65537).
    #[serde(alias = "table_size")]
    pub table_size: Option<u64>,
}

/// istio/api `WarmupConfiguration`: ramp traffic to new endpoints.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WarmupConfiguration {
    /// Required.
    pub duration: Option<Duration>,
    #[serde(alias = "minimum_percent")]
    pub minimum_percent: Option<f64>,
    pub aggression: Option<f64>,
}

/// istio/api `LocalityLoadBalancerSetting`: at most one of `distribute`,
/// `failover` and `failoverPriority`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalityLoadBalancerSetting {
    #[serde(default)]
    pub distribute: Vec<LocalityDistribute>,
    #[serde(default)]
    pub failover: Vec<LocalityFailover>,
    /// Labels (`key` or `key=value`) ranking endpoints for failover.
    #[serde(default, alias = "failover_priority")]
    pub failover_priority: Vec<String>,
    pub enabled: Option<bool>,
}

/// istio/api `LocalityLoadBalancerSetting.Distribute`: traffic from
/// `from` split over `to` localities by weight (summing to 100).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalityDistribute {
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: BTreeMap<String, u32>,
}

/// istio/api `LocalityLoadBalancerSetting.Failover`: region `from` fails
/// over to region `to`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalityFailover {
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
}
