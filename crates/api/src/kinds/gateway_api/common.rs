//! Types the Gateway API kinds share: references to parents and backends
//! (kubernetes-sigs/gateway-api `apis/v1/shared_types.go` and
//! `object_reference_types.go`), and the header, mirror and session
//! persistence types HTTPRoute and GRPCRoute both use
//! (`apis/v1/httproute_types.go`).
//!
//! Go's embedded structs (`CommonRouteSpec`, `BackendRef` inside
//! `HTTPBackendRef`) are spelled out field by field in each kind, since
//! `#[serde(flatten)]` would hide unknown fields.

pub(crate) mod validate;

use serde::Deserialize;

use crate::types::Duration;

/// The group Gateway API kinds live in; a `ParentReference` without a
/// `group` means this one.
pub const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";

/// `ParentReference`: what a route attaches to. Usually a Gateway
/// (`kind` defaults to `Gateway`, `group` to `gateway.networking.k8s.io`);
/// for mesh (GAMMA) routes, a Service: `group: ""`, `kind: Service`, with
/// `port` or `sectionName` naming the Service port.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParentReference {
    /// Defaults to `gateway.networking.k8s.io`; `""` is the core group.
    pub group: Option<String>,
    /// Defaults to `Gateway`.
    pub kind: Option<String>,
    /// Defaults to the route's own namespace.
    pub namespace: Option<String>,
    pub name: String,
    /// A Gateway listener name, or a Service port name.
    pub section_name: Option<String>,
    /// A listener port, or a Service port.
    pub port: Option<i32>,
}

/// `BackendObjectReference`: a backend by group, kind and name. A
/// Kubernetes Service (the default: `group: ""`, `kind: Service`) needs
/// `port`, the Service port (not the target port).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackendObjectReference {
    /// Defaults to `""`, the core group.
    pub group: Option<String>,
    /// Defaults to `Service`.
    pub kind: Option<String>,
    pub name: String,
    /// Defaults to the route's namespace; another namespace needs a
    /// ReferenceGrant there.
    pub namespace: Option<String>,
    pub port: Option<i32>,
}

/// `BackendRef`: a backend and its share of the traffic (TCPRoute's
/// backends; HTTPRoute and GRPCRoute add `filters`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackendRef {
    pub group: Option<String>,
    pub kind: Option<String>,
    pub name: String,
    pub namespace: Option<String>,
    pub port: Option<i32>,
    /// Share of the traffic: weight / (sum of the weights in the list),
    /// 0 to 1,000,000. Unset means 1 (the CRD's default); 0 sends nothing
    /// here. Weights need not add up to 100.
    pub weight: Option<i32>,
}

/// `LocalObjectReference`: an object in the referrer's namespace, as an
/// `extensionRef` filter names its configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalObjectReference {
    /// Unset or `""` is the core group.
    pub group: Option<String>,
    pub kind: String,
    pub name: String,
}

/// `SecretObjectReference`: a certificate, `kind` defaulting to `Secret`
/// in the core group.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretObjectReference {
    pub group: Option<String>,
    pub kind: Option<String>,
    pub name: String,
    pub namespace: Option<String>,
}

/// `ObjectReference`: any object by group (required, `""` for core),
/// kind, name and optional namespace; CA certificates are named this way.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectReference {
    pub group: String,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
}

/// `GatewayDefaultScope`: which default Gateways a route asks for
/// (`useDefaultGateways`) or a Gateway serves as (`defaultScope`).
/// Experimental (GEP-3793).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum GatewayDefaultScope {
    All,
    None,
}

/// `HTTPHeaderMatch` and `GRPCHeaderMatch`, which upstream defines alike.
/// Header names compare case-insensitively.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeaderMatch {
    /// Defaults to `Exact`.
    #[serde(rename = "type")]
    pub type_: Option<HeaderMatchType>,
    pub name: String,
    pub value: String,
}

/// How a header or query parameter value is compared. `Exact` is the
/// default; `RegularExpression`'s dialect is the implementation's (RE2 for
/// Envoy-based meshes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum HeaderMatchType {
    #[default]
    Exact,
    RegularExpression,
}

/// `HTTPHeader`: a header name and value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpHeader {
    pub name: String,
    pub value: String,
}

/// `HTTPHeaderFilter`: the `requestHeaderModifier` and
/// `responseHeaderModifier` filters. Each header name may have one action
/// only, across `set`, `add` and `remove`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpHeaderFilter {
    /// Overwrites the header.
    #[serde(default)]
    pub set: Vec<HttpHeader>,
    /// Appends to the header's values.
    #[serde(default)]
    pub add: Vec<HttpHeader>,
    /// Header names to drop.
    #[serde(default)]
    pub remove: Vec<String>,
}

/// `HTTPRequestMirrorFilter`: sends a copy of requests to another backend,
/// ignoring its responses. Set at most one of `percent` and `fraction`;
/// with neither, every request is mirrored.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRequestMirrorFilter {
    pub backend_ref: BackendObjectReference,
    /// 0 to 100.
    pub percent: Option<i32>,
    pub fraction: Option<Fraction>,
}

/// `Fraction`: `numerator / denominator` (denominator defaults to 100).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fraction {
    pub numerator: i32,
    pub denominator: Option<i32>,
}

/// `SessionPersistence` (experimental): keeps a client on one backend by
/// a cookie or a header.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionPersistence {
    /// At most 128 characters.
    pub session_name: Option<String>,
    pub absolute_timeout: Option<Duration>,
    pub idle_timeout: Option<Duration>,
    /// Defaults to `Cookie`.
    #[serde(rename = "type")]
    pub type_: Option<SessionPersistenceType>,
    pub cookie_config: Option<CookieConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum SessionPersistenceType {
    Cookie,
    Header,
}

/// `CookieConfig`: a `Permanent` cookie needs the session's
/// `absoluteTimeout` (its lifetime).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CookieConfig {
    /// Defaults to `Session`.
    pub lifetime_type: Option<CookieLifetimeType>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum CookieLifetimeType {
    Permanent,
    Session,
}

// === impl ParentReference ===

impl ParentReference {
    /// The group, with the CRD's default.
    pub fn group(&self) -> &str {
        self.group.as_deref().unwrap_or(GATEWAY_GROUP)
    }

    /// The kind, with the CRD's default.
    pub fn kind(&self) -> &str {
        self.kind.as_deref().unwrap_or("Gateway")
    }

    /// A Kubernetes Service, as mesh (GAMMA) routes attach to.
    pub fn is_service(&self) -> bool {
        self.group() == "" && self.kind() == "Service"
    }
}

// === impl BackendObjectReference ===

impl BackendObjectReference {
    /// A Kubernetes Service (the default), which needs a `port`.
    pub fn is_service(&self) -> bool {
        is_core_service(self.group.as_deref(), self.kind.as_deref())
    }
}

impl BackendRef {
    pub fn is_service(&self) -> bool {
        is_core_service(self.group.as_deref(), self.kind.as_deref())
    }

    /// The weight, with the CRD's default of 1.
    pub fn weight(&self) -> i32 {
        self.weight.unwrap_or(1)
    }
}

/// Whether a backend reference with these (defaulted) fields names a
/// core Service.
pub(crate) fn is_core_service(group: Option<&str>, kind: Option<&str>) -> bool {
    group.unwrap_or("").is_empty() && kind.unwrap_or("Service") == "Service"
}

// === impl Fraction ===

impl Fraction {
    /// The denominator, with the CRD's default of 100.
    pub fn denominator(&self) -> i32 {
        self.denominator.unwrap_or(100)
    }
}
