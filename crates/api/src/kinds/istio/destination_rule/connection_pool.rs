//! istio/api `ConnectionPoolSettings` (also a Sidecar's inbound pool) and
//! `OutlierDetection`.

use serde::Deserialize;

use crate::types::Duration;

/// istio/api `ConnectionPoolSettings`: circuit-breaker limits per upstream
/// host.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionPoolSettings {
    pub tcp: Option<TcpSettings>,
    pub http: Option<HttpSettings>,
}

/// istio/api `ConnectionPoolSettings.TCPSettings`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpSettings {
    #[serde(alias = "max_connections")]
    pub max_connections: Option<i32>,
    #[serde(alias = "connect_timeout")]
    pub connect_timeout: Option<Duration>,
    #[serde(alias = "tcp_keepalive")]
    pub tcp_keepalive: Option<TcpKeepalive>,
    #[serde(alias = "max_connection_duration")]
    pub max_connection_duration: Option<Duration>,
    /// `0s` disables it.
    #[serde(alias = "idle_timeout")]
    pub idle_timeout: Option<Duration>,
}

/// istio/api `ConnectionPoolSettings.TCPSettings.TcpKeepalive`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpKeepalive {
    pub probes: Option<u32>,
    pub time: Option<Duration>,
    pub interval: Option<Duration>,
}

/// istio/api `ConnectionPoolSettings.HTTPSettings`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpSettings {
    #[serde(alias = "http1_max_pending_requests")]
    pub http1_max_pending_requests: Option<i32>,
    #[serde(alias = "http2_max_requests")]
    pub http2_max_requests: Option<i32>,
    #[serde(alias = "max_requests_per_connection")]
    pub max_requests_per_connection: Option<i32>,
    #[serde(alias = "max_retries")]
    pub max_retries: Option<i32>,
    #[serde(alias = "idle_timeout")]
    pub idle_timeout: Option<Duration>,
    #[serde(alias = "h2_upgrade_policy")]
    pub h2_upgrade_policy: Option<H2UpgradePolicy>,
    /// Keep the caller's HTTP version upstream.
    #[serde(alias = "use_client_protocol")]
    pub use_client_protocol: Option<bool>,
    #[serde(alias = "max_concurrent_streams")]
    pub max_concurrent_streams: Option<i32>,
}

/// istio/api `HTTPSettings.H2UpgradePolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum H2UpgradePolicy {
    Default,
    DoNotUpgrade,
    Upgrade,
}

/// istio/api `OutlierDetection`: eject hosts that keep failing.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutlierDetection {
    /// Deprecated: `consecutiveGatewayErrors` and `consecutive5xxErrors`
    /// replace it.
    #[serde(alias = "consecutive_errors")]
    pub consecutive_errors: Option<i32>,
    #[serde(alias = "split_external_local_origin_errors")]
    pub split_external_local_origin_errors: Option<bool>,
    #[serde(alias = "consecutive_local_origin_failures")]
    pub consecutive_local_origin_failures: Option<u32>,
    #[serde(alias = "consecutive_gateway_errors")]
    pub consecutive_gateway_errors: Option<u32>,
    #[serde(rename = "consecutive5xxErrors", alias = "consecutive_5xx_errors")]
    pub consecutive_5xx_errors: Option<u32>,
    pub interval: Option<Duration>,
    #[serde(alias = "base_ejection_time")]
    pub base_ejection_time: Option<Duration>,
    #[serde(alias = "max_ejection_percent")]
    pub max_ejection_percent: Option<i32>,
    #[serde(alias = "min_health_percent")]
    pub min_health_percent: Option<i32>,
}
