//! istio/api `networking/v1alpha3/sidecar.proto`: narrows what a
//! workload's sidecar accepts (ingress listeners) and reaches (egress
//! listeners, outbound policy).

#[cfg(test)]
mod tests;
mod validate;

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{ConnectionPoolSettings, Destination, ServerTlsSettings};

/// istio/api `Sidecar`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Sidecar {
    /// The workloads it applies to; without it, every workload in the
    /// namespace (one such Sidecar per namespace).
    #[serde(alias = "workload_selector")]
    pub workload_selector: Option<NetworkingWorkloadSelector>,
    #[serde(default)]
    pub ingress: Vec<IstioIngressListener>,
    #[serde(default)]
    pub egress: Vec<IstioEgressListener>,
    /// Limits on connections the sidecar accepts, for every inbound port.
    #[serde(alias = "inbound_connection_pool")]
    pub inbound_connection_pool: Option<ConnectionPoolSettings>,
    #[serde(alias = "outbound_traffic_policy")]
    pub outbound_traffic_policy: Option<OutboundTrafficPolicy>,
}

/// istio/api `networking.v1alpha3.WorkloadSelector` (Sidecar and
/// ServiceEntry): `labels`, unlike `istio.type.v1beta1.WorkloadSelector`'s
/// `matchLabels`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkingWorkloadSelector {
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// istio/api `IstioIngressListener`: a port the sidecar accepts traffic
/// on, and where it forwards it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IstioIngressListener {
    /// Required.
    pub port: Option<SidecarPort>,
    pub bind: Option<String>,
    #[serde(alias = "capture_mode")]
    pub capture_mode: Option<CaptureMode>,
    /// `127.0.0.1:PORT`, `0.0.0.0:PORT`, `[::1]:PORT`, `[::]:PORT` or
    /// `unix:///path`.
    #[serde(alias = "default_endpoint")]
    pub default_endpoint: Option<String>,
    /// TLS the sidecar terminates for callers outside the mesh.
    pub tls: Option<ServerTlsSettings>,
    #[serde(alias = "connection_pool")]
    pub connection_pool: Option<ConnectionPoolSettings>,
}

/// istio/api `IstioEgressListener`: which services a listener exposes to
/// the workload.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IstioEgressListener {
    /// Without a port, the catch-all listener (at most one, last).
    pub port: Option<SidecarPort>,
    pub bind: Option<String>,
    #[serde(alias = "capture_mode")]
    pub capture_mode: Option<CaptureMode>,
    /// `namespace/dnsName`: `prod/*`, `*/foo.example.com`, `./*`, `~/*`.
    #[serde(default)]
    pub hosts: Vec<String>,
}

/// istio/api `SidecarPort`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SidecarPort {
    /// 0 for a Unix domain socket `bind`.
    #[serde(default)]
    pub number: u32,
    pub protocol: Option<String>,
    pub name: Option<String>,
    /// Deprecated; has no effect on sidecars.
    #[serde(alias = "target_port")]
    pub target_port: Option<u32>,
}

/// istio/api `CaptureMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CaptureMode {
    Default,
    Iptables,
    None,
}

/// istio/api `OutboundTrafficPolicy`: what happens to traffic for hosts
/// the mesh does not know.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutboundTrafficPolicy {
    /// Defaults to `REGISTRY_ONLY` in the proto (the mesh config decides).
    pub mode: Option<OutboundTrafficPolicyMode>,
    /// Where `ALLOW_ANY` traffic goes instead of straight out.
    #[serde(alias = "egress_proxy")]
    pub egress_proxy: Option<Destination>,
}

/// istio/api `OutboundTrafficPolicy.Mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OutboundTrafficPolicyMode {
    RegistryOnly,
    AllowAny,
}
