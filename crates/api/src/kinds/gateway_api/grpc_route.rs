//! kubernetes-sigs/gateway-api `apis/v1/grpcroute_types.go`: GRPCRoute,
//! how gRPC calls are matched by service, method and headers, filtered and
//! forwarded.

mod validate;

#[cfg(test)]
mod tests;

use serde::Deserialize;

use super::common::{
    GatewayDefaultScope, HttpHeaderFilter, HttpRequestMirrorFilter, LocalObjectReference,
    ParentReference, SessionPersistence,
};

/// `GRPCRouteSpec`. The `CommonRouteSpec` fields come first.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrpcRoute {
    #[serde(default)]
    pub parent_refs: Vec<ParentReference>,
    /// Experimental: attach to the default Gateways of this scope too.
    pub use_default_gateways: Option<GatewayDefaultScope>,
    #[serde(default)]
    pub hostnames: Vec<String>,
    #[serde(default)]
    pub rules: Vec<GrpcRouteRule>,
}

/// `GRPCRouteRule`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrpcRouteRule {
    /// Experimental; unique within the route, when set.
    pub name: Option<String>,
    /// Any one matching selects the rule; empty matches every call.
    #[serde(default)]
    pub matches: Vec<GrpcRouteMatch>,
    #[serde(default)]
    pub filters: Vec<GrpcRouteFilter>,
    #[serde(default)]
    pub backend_refs: Vec<GrpcBackendRef>,
    /// Experimental.
    pub session_persistence: Option<SessionPersistence>,
}

/// `GRPCRouteMatch`: every condition set must hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrpcRouteMatch {
    /// Unset matches every service and method.
    pub method: Option<GrpcMethodMatch>,
    #[serde(default)]
    pub headers: Vec<GrpcHeaderMatch>,
}

/// `GRPCMethodMatch`: at least one of `service` (`com.example.User`) and
/// `method` (`Login`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrpcMethodMatch {
    /// Defaults to `Exact`.
    #[serde(rename = "type")]
    pub type_: Option<GrpcMethodMatchType>,
    pub service: Option<String>,
    pub method: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum GrpcMethodMatchType {
    #[default]
    Exact,
    RegularExpression,
}

/// `GRPCHeaderMatch`: the same shape as HTTP's.
pub type GrpcHeaderMatch = super::common::HeaderMatch;

/// `GRPCRouteFilter`: `type` names the filter, and exactly the matching
/// configuration field is set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrpcRouteFilter {
    #[serde(rename = "type")]
    pub type_: GrpcRouteFilterType,
    pub request_header_modifier: Option<HttpHeaderFilter>,
    pub response_header_modifier: Option<HttpHeaderFilter>,
    pub request_mirror: Option<HttpRequestMirrorFilter>,
    pub extension_ref: Option<LocalObjectReference>,
}

/// `GRPCRouteFilterType`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
pub enum GrpcRouteFilterType {
    #[default]
    RequestHeaderModifier,
    ResponseHeaderModifier,
    RequestMirror,
    ExtensionRef,
}

/// `GRPCBackendRef`: a `BackendRef` (spelled out) plus filters that apply
/// only to calls sent to this backend.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrpcBackendRef {
    /// Defaults to `""`, the core group.
    pub group: Option<String>,
    /// Defaults to `Service`.
    pub kind: Option<String>,
    pub name: String,
    pub namespace: Option<String>,
    /// Required for a Service: the Service port.
    pub port: Option<i32>,
    /// Share of the traffic: weight / (sum of the rule's weights), 0 to
    /// 1,000,000. Unset means 1 (the CRD's default); 0 sends nothing here.
    pub weight: Option<i32>,
    #[serde(default)]
    pub filters: Vec<GrpcRouteFilter>,
}

// === impl GrpcRouteFilterType ===

impl GrpcRouteFilterType {
    /// As written in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RequestHeaderModifier => "RequestHeaderModifier",
            Self::ResponseHeaderModifier => "ResponseHeaderModifier",
            Self::RequestMirror => "RequestMirror",
            Self::ExtensionRef => "ExtensionRef",
        }
    }

    /// The field holding this type's configuration.
    pub fn field(self) -> &'static str {
        match self {
            Self::RequestHeaderModifier => "requestHeaderModifier",
            Self::ResponseHeaderModifier => "responseHeaderModifier",
            Self::RequestMirror => "requestMirror",
            Self::ExtensionRef => "extensionRef",
        }
    }
}

// === impl GrpcRouteFilter ===

impl GrpcRouteFilter {
    /// The configuration fields that are set, by their YAML names.
    pub fn configs(&self) -> Vec<(&'static str, GrpcRouteFilterType)> {
        let set = [
            (
                self.request_header_modifier.is_some(),
                GrpcRouteFilterType::RequestHeaderModifier,
            ),
            (
                self.response_header_modifier.is_some(),
                GrpcRouteFilterType::ResponseHeaderModifier,
            ),
            (
                self.request_mirror.is_some(),
                GrpcRouteFilterType::RequestMirror,
            ),
            (
                self.extension_ref.is_some(),
                GrpcRouteFilterType::ExtensionRef,
            ),
        ];
        set.into_iter()
            .filter(|(on, _)| *on)
            .map(|(_, t)| (t.field(), t))
            .collect()
    }
}

// === impl GrpcBackendRef ===

impl GrpcBackendRef {
    /// The weight, with the CRD's default of 1.
    pub fn weight(&self) -> i32 {
        self.weight.unwrap_or(1)
    }
}

impl crate::kinds::gateway_api::common::validate::FilterType for GrpcRouteFilterType {
    fn as_str(self) -> &'static str {
        GrpcRouteFilterType::as_str(self)
    }
    fn field(self) -> &'static str {
        GrpcRouteFilterType::field(self)
    }
}
