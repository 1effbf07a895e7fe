//! istio/api `networking/v1alpha3/envoy_filter.proto`: patches to the Envoy
//! configuration Istio generates. weft has no Envoy configuration to patch;
//! it carries out one shape users bring: the local rate limit filter
//! (`envoy.filters.http.local_ratelimit`) that Istio's "Enabling Rate
//! Limits using Envoy" task inserts, with its per-route settings. Every
//! other patch is checked and ignored, with a warning.

mod local_rate_limit;
#[cfg(test)]
mod tests;
mod validate;
mod value;

use std::collections::BTreeMap;

use super::{NetworkingWorkloadSelector, PolicyTargetReference};
use serde::Deserialize;

pub use local_rate_limit::{
    FILTER_NAME as LOCAL_RATE_LIMIT_FILTER, LocalRateLimit, RateLimitPatch, RateLimitScope,
    recognize as recognize_rate_limit,
};
pub use value::FreeForm;

/// istio/api `EnvoyFilter`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvoyFilter {
    /// The workloads it applies to; without it (and without `targetRefs`)
    /// every workload in the namespace, or the mesh from the root
    /// namespace.
    #[serde(alias = "workload_selector")]
    pub workload_selector: Option<NetworkingWorkloadSelector>,
    /// Gateways (and waypoints) it applies to; not with `workloadSelector`.
    #[serde(default, alias = "target_refs")]
    pub target_refs: Vec<PolicyTargetReference>,
    /// Applied in order.
    #[serde(default, alias = "config_patches")]
    pub config_patches: Vec<EnvoyConfigObjectPatch>,
    /// Lower first; 0 by default, negative before Istio's own.
    #[serde(default)]
    pub priority: i32,
}

/// istio/api `EnvoyConfigObjectPatch`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvoyConfigObjectPatch {
    #[serde(alias = "apply_to")]
    pub apply_to: Option<ApplyTo>,
    #[serde(rename = "match")]
    pub matches: Option<EnvoyConfigObjectMatch>,
    pub patch: Option<Patch>,
}

/// istio/api `EnvoyFilter.ApplyTo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ApplyTo {
    Invalid,
    Listener,
    FilterChain,
    NetworkFilter,
    HttpFilter,
    RouteConfiguration,
    VirtualHost,
    HttpRoute,
    Cluster,
    ExtensionConfig,
    Bootstrap,
    ListenerFilter,
}

/// istio/api `EnvoyFilter.PatchContext`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PatchContext {
    #[default]
    Any,
    SidecarInbound,
    SidecarOutbound,
    Gateway,
}

/// istio/api `EnvoyConfigObjectMatch`: one of `listener`,
/// `routeConfiguration` or `cluster`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvoyConfigObjectMatch {
    #[serde(default)]
    pub context: PatchContext,
    pub proxy: Option<ProxyMatch>,
    pub listener: Option<ListenerMatch>,
    #[serde(alias = "route_configuration")]
    pub route_configuration: Option<RouteConfigurationMatch>,
    pub cluster: Option<ClusterMatch>,
}

/// istio/api `ProxyMatch`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProxyMatch {
    /// A regex on the proxy's version.
    #[serde(alias = "proxy_version")]
    pub proxy_version: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// istio/api `ListenerMatch`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListenerMatch {
    /// For inbound: the workload's port; outbound: the service port.
    #[serde(default, alias = "port_number")]
    pub port_number: u32,
    /// Deprecated; unused by Istio.
    #[serde(alias = "port_name")]
    pub port_name: Option<String>,
    #[serde(alias = "filter_chain")]
    pub filter_chain: Option<FilterChainMatch>,
    #[serde(alias = "listener_filter")]
    pub listener_filter: Option<String>,
    pub name: Option<String>,
}

/// istio/api `ListenerMatch.FilterChainMatch`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FilterChainMatch {
    pub name: Option<String>,
    pub sni: Option<String>,
    #[serde(alias = "transport_protocol")]
    pub transport_protocol: Option<String>,
    #[serde(alias = "application_protocols")]
    pub application_protocols: Option<String>,
    pub filter: Option<FilterMatch>,
    #[serde(default, alias = "destination_port")]
    pub destination_port: u32,
}

/// istio/api `ListenerMatch.FilterMatch`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FilterMatch {
    #[serde(default)]
    pub name: String,
    #[serde(alias = "sub_filter")]
    pub sub_filter: Option<SubFilterMatch>,
}

/// istio/api `ListenerMatch.SubFilterMatch`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubFilterMatch {
    #[serde(default)]
    pub name: String,
}

/// istio/api `RouteConfigurationMatch`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteConfigurationMatch {
    #[serde(default, alias = "port_number")]
    pub port_number: u32,
    #[serde(alias = "port_name")]
    pub port_name: Option<String>,
    /// `namespace/name` of an Istio Gateway.
    pub gateway: Option<String>,
    pub vhost: Option<VirtualHostMatch>,
    pub name: Option<String>,
}

/// istio/api `RouteConfigurationMatch.VirtualHostMatch`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VirtualHostMatch {
    /// Inbound: `inbound|http|<port>`.
    pub name: Option<String>,
    #[serde(alias = "domain_name")]
    pub domain_name: Option<String>,
    pub route: Option<RouteMatch>,
}

/// istio/api `RouteConfigurationMatch.RouteMatch`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteMatch {
    pub name: Option<String>,
    #[serde(default)]
    pub action: RouteAction,
}

/// istio/api `RouteConfigurationMatch.RouteMatch.Action`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RouteAction {
    #[default]
    Any,
    Route,
    Redirect,
    DirectResponse,
}

/// istio/api `ClusterMatch`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterMatch {
    #[serde(default, alias = "port_number")]
    pub port_number: u32,
    pub service: Option<String>,
    pub subset: Option<String>,
    pub name: Option<String>,
}

/// istio/api `EnvoyFilter.Patch`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Patch {
    pub operation: Option<PatchOperation>,
    /// A `google.protobuf.Struct`: any YAML, read as the Envoy object the
    /// patch applies to.
    pub value: Option<FreeForm>,
    #[serde(alias = "filter_class")]
    pub filter_class: Option<FilterClass>,
}

/// istio/api `EnvoyFilter.Patch.Operation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PatchOperation {
    Invalid,
    Merge,
    Add,
    Remove,
    InsertBefore,
    InsertAfter,
    InsertFirst,
    Replace,
}

/// istio/api `EnvoyFilter.Patch.FilterClass`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FilterClass {
    Unspecified,
    Authn,
    Authz,
    Stats,
}

/// The HTTP connection manager, the network filter HTTP filters live in.
pub const HTTP_CONNECTION_MANAGER: &str = "envoy.filters.network.http_connection_manager";
