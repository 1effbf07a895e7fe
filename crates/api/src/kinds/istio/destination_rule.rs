//! istio/api `networking/v1alpha3/destination_rule.proto`: what happens to
//! traffic for a host after routing: subsets (versions), load balancing,
//! connection pools, outlier detection and TLS to the upstream.

mod connection_pool;
mod load_balancer;
#[cfg(test)]
mod tests;
mod validate;

use std::collections::BTreeMap;

use serde::Deserialize;

pub use self::connection_pool::*;
pub use self::load_balancer::*;
use super::{PortSelector, WorkloadSelector};
use crate::types::Duration;

/// istio/api `DestinationRule`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DestinationRule {
    /// The service the rule is for (a short name is read in the rule's
    /// namespace); required.
    #[serde(default)]
    pub host: String,
    #[serde(alias = "traffic_policy")]
    pub traffic_policy: Option<TrafficPolicy>,
    /// Named versions of the service that routes can pick.
    #[serde(default)]
    pub subsets: Vec<Subset>,
    #[serde(default, alias = "export_to")]
    pub export_to: Vec<String>,
    /// Applies the rule only to these workloads' proxies.
    #[serde(alias = "workload_selector")]
    pub workload_selector: Option<WorkloadSelector>,
}

/// istio/api `Subset`: the endpoints carrying `labels`, with an optional
/// policy overriding the rule's.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Subset {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(alias = "traffic_policy")]
    pub traffic_policy: Option<TrafficPolicy>,
}

/// istio/api `TrafficPolicy`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrafficPolicy {
    #[serde(alias = "load_balancer")]
    pub load_balancer: Option<LoadBalancerSettings>,
    #[serde(alias = "connection_pool")]
    pub connection_pool: Option<ConnectionPoolSettings>,
    #[serde(alias = "outlier_detection")]
    pub outlier_detection: Option<OutlierDetection>,
    pub tls: Option<ClientTlsSettings>,
    /// Per-port policies; they replace (not merge with) the ones above.
    #[serde(default, alias = "port_level_settings")]
    pub port_level_settings: Vec<PortTrafficPolicy>,
    pub tunnel: Option<TunnelSettings>,
    #[serde(alias = "proxy_protocol")]
    pub proxy_protocol: Option<ProxyProtocol>,
    #[serde(alias = "retry_budget")]
    pub retry_budget: Option<RetryBudget>,
}

/// istio/api `TrafficPolicy.PortTrafficPolicy`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortTrafficPolicy {
    pub port: Option<PortSelector>,
    #[serde(alias = "load_balancer")]
    pub load_balancer: Option<LoadBalancerSettings>,
    #[serde(alias = "connection_pool")]
    pub connection_pool: Option<ConnectionPoolSettings>,
    #[serde(alias = "outlier_detection")]
    pub outlier_detection: Option<OutlierDetection>,
    pub tls: Option<ClientTlsSettings>,
}

/// istio/api `TrafficPolicy.TunnelSettings`: tunnel TCP to the host over
/// HTTP `CONNECT` or `POST`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TunnelSettings {
    /// `CONNECT` (the default) or `POST`.
    pub protocol: Option<String>,
    #[serde(default, alias = "target_host")]
    pub target_host: String,
    #[serde(default, alias = "target_port")]
    pub target_port: u32,
}

/// istio/api `TrafficPolicy.ProxyProtocol`: send a PROXY protocol header
/// upstream.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyProtocol {
    /// Defaults to `V1`.
    pub version: Option<ProxyProtocolVersion>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ProxyProtocolVersion {
    V1,
    V2,
}

/// istio/api `TrafficPolicy.RetryBudget`: a limit on concurrent retries
/// relative to active requests.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryBudget {
    /// Percent of active plus pending requests that may be retries
    /// (default 20).
    pub percent: Option<f64>,
    /// Retries always allowed (default 3).
    #[serde(alias = "min_retry_concurrency")]
    pub min_retry_concurrency: Option<u32>,
    /// Window of recent requests the budget counts (istio/api#3716).
    #[serde(alias = "budget_interval")]
    pub budget_interval: Option<Duration>,
}

/// istio/api `ClientTLSSettings`: TLS from the proxy to the upstream.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientTlsSettings {
    /// Defaults to `DISABLE`.
    pub mode: Option<ClientTlsMode>,
    #[serde(alias = "client_certificate")]
    pub client_certificate: Option<String>,
    #[serde(alias = "private_key")]
    pub private_key: Option<String>,
    #[serde(alias = "ca_certificates")]
    pub ca_certificates: Option<String>,
    /// A secret holding the certificates, instead of the file paths.
    #[serde(alias = "credential_name")]
    pub credential_name: Option<String>,
    #[serde(default, alias = "subject_alt_names")]
    pub subject_alt_names: Vec<String>,
    pub sni: Option<String>,
    #[serde(alias = "insecure_skip_verify")]
    pub insecure_skip_verify: Option<bool>,
    #[serde(alias = "ca_crl")]
    pub ca_crl: Option<String>,
}

/// istio/api `ClientTLSSettings.TLSmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClientTlsMode {
    Disable,
    Simple,
    Mutual,
    /// Mutual TLS with Istio's own workload certificates.
    IstioMutual,
}

// === impl ClientTlsSettings ===

impl ClientTlsSettings {
    /// Whether any certificate file or secret is named.
    pub(crate) fn names_certificates(&self) -> bool {
        [
            &self.client_certificate,
            &self.private_key,
            &self.ca_certificates,
            &self.credential_name,
            &self.ca_crl,
        ]
        .iter()
        .any(|v| v.as_deref().is_some_and(|v| !v.is_empty()))
    }
}
