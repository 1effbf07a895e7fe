//! kubernetes-sigs/gateway-api `apis/v1/gateway_types.go`: Gateway, the
//! listeners (port, protocol, hostname, TLS) a gateway serves and which
//! routes may attach to each.
//!
//! Fields that were experimental in some releases and moved in others are
//! all accepted: `spec.backendTLS` (v1.2-v1.3) and `spec.tls.backend`
//! (later), a listener's `tls.frontendValidation` (v1.1-v1.3) and
//! `spec.tls.frontend` (later).

mod validate;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::Deserialize;

use super::common::{GatewayDefaultScope, ObjectReference, SecretObjectReference};
use crate::kinds::k8s::LabelSelector;

/// `GatewaySpec`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Gateway {
    /// The GatewayClass (the implementation) that runs this Gateway; for
    /// Istio, `istio`.
    pub gateway_class_name: String,
    /// 1 to 64 listeners, each distinct by port, protocol and hostname.
    #[serde(default)]
    pub listeners: Vec<Listener>,
    /// Addresses requested for the Gateway; unset lets it pick.
    #[serde(default)]
    pub addresses: Vec<GatewaySpecAddress>,
    pub infrastructure: Option<GatewayInfrastructure>,
    /// Experimental: which ListenerSets may add listeners.
    pub allowed_listeners: Option<AllowedListeners>,
    /// Experimental: client certificate validation and the gateway's own
    /// client certificate towards backends.
    pub tls: Option<GatewayTlsConfig>,
    /// Experimental in v1.2-v1.3, replaced by `tls.backend`.
    #[serde(rename = "backendTLS")]
    pub backend_tls: Option<GatewayBackendTls>,
    /// Experimental: serve routes that ask for a default Gateway.
    pub default_scope: Option<GatewayDefaultScope>,
}

/// `Listener`: where the Gateway accepts connections.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Listener {
    /// Unique within the Gateway; routes pick it with `sectionName`.
    pub name: String,
    /// For HTTP, HTTPS and TLS: the Host header or SNI to match; unset
    /// matches every host. Not for TCP or UDP.
    pub hostname: Option<String>,
    pub port: i32,
    /// `HTTP`, `HTTPS`, `TLS`, `TCP`, `UDP`, or a domain-prefixed
    /// implementation protocol.
    pub protocol: String,
    /// Required for HTTPS and TLS; not allowed for HTTP, TCP and UDP.
    pub tls: Option<ListenerTlsConfig>,
    /// Unset allows routes of the listener protocol's kinds from the
    /// Gateway's own namespace.
    pub allowed_routes: Option<AllowedRoutes>,
}

/// `ListenerTLSConfig`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListenerTlsConfig {
    /// Defaults to `Terminate`, which needs `certificateRefs`.
    pub mode: Option<TlsModeType>,
    /// Secrets of type `kubernetes.io/tls`.
    #[serde(default)]
    pub certificate_refs: Vec<SecretObjectReference>,
    /// Implementation-specific settings, keys domain-prefixed.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Experimental in v1.1-v1.3, replaced by the Gateway's
    /// `tls.frontend`.
    pub frontend_validation: Option<FrontendTlsValidation>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum TlsModeType {
    #[default]
    Terminate,
    Passthrough,
}

/// `AllowedRoutes`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AllowedRoutes {
    /// Defaults to `from: Same`.
    pub namespaces: Option<RouteNamespaces>,
    /// Unset allows the kinds the listener's protocol serves.
    #[serde(default)]
    pub kinds: Vec<RouteGroupKind>,
}

/// `RouteNamespaces` (and ListenerSets' `ListenerNamespaces`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteNamespaces {
    /// Defaults to `Same` for routes, `None` for ListenerSets.
    pub from: Option<FromNamespaces>,
    /// Which namespaces, with `from: Selector`.
    pub selector: Option<LabelSelector>,
}

/// `FromNamespaces`. `None` applies to ListenerSets only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum FromNamespaces {
    All,
    Selector,
    Same,
    None,
}

/// `RouteGroupKind`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteGroupKind {
    /// Defaults to `gateway.networking.k8s.io`.
    pub group: Option<String>,
    pub kind: String,
}

/// `GatewaySpecAddress`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewaySpecAddress {
    /// `IPAddress` (the default), `Hostname`, or a domain-prefixed type.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// Unset asks the implementation to assign one of this type.
    pub value: Option<String>,
}

/// `GatewayInfrastructure`: metadata for what the implementation creates
/// for this Gateway.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayInfrastructure {
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub parameters_ref: Option<LocalParametersReference>,
}

/// `LocalParametersReference`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalParametersReference {
    pub group: String,
    pub kind: String,
    pub name: String,
}

/// `AllowedListeners` (experimental).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AllowedListeners {
    /// Defaults to `from: None`.
    pub namespaces: Option<RouteNamespaces>,
}

/// `GatewayTLSConfig` (experimental).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayTlsConfig {
    pub backend: Option<GatewayBackendTls>,
    pub frontend: Option<FrontendTlsConfig>,
}

/// `GatewayBackendTLS`: the client certificate the Gateway presents to
/// backends.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayBackendTls {
    pub client_certificate_ref: Option<SecretObjectReference>,
}

/// `FrontendTLSConfig`: client certificate validation for HTTPS
/// listeners, by default and per port.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FrontendTlsConfig {
    pub default: TlsConfig,
    #[serde(default)]
    pub per_port: Vec<TlsPortConfig>,
}

/// `TLSConfig`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsConfig {
    pub validation: Option<FrontendTlsValidation>,
}

/// `TLSPortConfig`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsPortConfig {
    pub port: i32,
    pub tls: TlsConfig,
}

/// `FrontendTLSValidation`: the CAs client certificates must chain to.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FrontendTlsValidation {
    /// 1 to 8; a ConfigMap with `ca.crt` is the core case.
    #[serde(default)]
    pub ca_certificate_refs: Vec<ObjectReference>,
    /// Defaults to `AllowValidOnly`.
    pub mode: Option<FrontendValidationModeType>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum FrontendValidationModeType {
    AllowValidOnly,
    AllowInsecureFallback,
}

// === impl Listener ===

impl Listener {
    /// The TLS mode, when TLS is configured, with the CRD's default.
    pub fn tls_mode(&self) -> Option<TlsModeType> {
        self.tls.as_ref().map(|t| t.mode.unwrap_or_default())
    }
}
