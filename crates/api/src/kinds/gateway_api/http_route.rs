//! kubernetes-sigs/gateway-api `apis/v1/httproute_types.go`: HTTPRoute,
//! how HTTP requests that reach a Gateway listener (or, for a mesh route,
//! a Service) are matched, filtered and forwarded.

mod validate;

#[cfg(test)]
mod tests;

use serde::Deserialize;

use super::common::{
    BackendObjectReference, GatewayDefaultScope, HeaderMatchType, HttpHeaderFilter,
    HttpRequestMirrorFilter, LocalObjectReference, ParentReference, SessionPersistence,
};
use crate::types::Duration;

/// `HTTPRouteSpec`. The `CommonRouteSpec` fields come first.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRoute {
    /// Gateways (or, for mesh routes, Services) the route attaches to.
    #[serde(default)]
    pub parent_refs: Vec<ParentReference>,
    /// Experimental: attach to the default Gateways of this scope too.
    pub use_default_gateways: Option<GatewayDefaultScope>,
    /// Host headers the route answers; empty means every host the parent
    /// listener accepts. `*.example.com` matches any subdomain.
    #[serde(default)]
    pub hostnames: Vec<String>,
    /// Unset means one rule matching every path (`PathPrefix /`), which
    /// forwards nowhere unless it has backends.
    #[serde(default)]
    pub rules: Vec<HttpRouteRule>,
}

/// `HTTPRouteRule`: requests matching any of `matches` go through
/// `filters` to `backendRefs`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRouteRule {
    /// Unique within the route, when set.
    pub name: Option<String>,
    /// Any one matching selects the rule; empty means `PathPrefix /`.
    #[serde(default)]
    pub matches: Vec<HttpRouteMatch>,
    #[serde(default)]
    pub filters: Vec<HttpRouteFilter>,
    #[serde(default)]
    pub backend_refs: Vec<HttpBackendRef>,
    pub timeouts: Option<HttpRouteTimeouts>,
    pub retry: Option<HttpRouteRetry>,
    /// Experimental, deprecated upstream in favour of the Backend resource.
    pub session_persistence: Option<SessionPersistence>,
}

/// `HTTPRouteMatch`: every condition set must hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRouteMatch {
    /// Unset means `PathPrefix /`.
    pub path: Option<HttpPathMatch>,
    #[serde(default)]
    pub headers: Vec<HttpHeaderMatch>,
    #[serde(default)]
    pub query_params: Vec<HttpQueryParamMatch>,
    pub method: Option<HttpMethod>,
}

/// `HTTPPathMatch`: `type` defaults to `PathPrefix`, `value` to `/`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpPathMatch {
    #[serde(rename = "type")]
    pub type_: Option<PathMatchType>,
    pub value: Option<String>,
}

/// `PathMatchType`. `PathPrefix` matches whole path segments: `/abc`
/// matches `/abc` and `/abc/def`, not `/abcd`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum PathMatchType {
    Exact,
    #[default]
    PathPrefix,
    RegularExpression,
}

/// `HTTPHeaderMatch`: the same shape as gRPC's.
pub type HttpHeaderMatch = super::common::HeaderMatch;

/// `HTTPQueryParamMatch`. Names compare exactly.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpQueryParamMatch {
    /// Defaults to `Exact`.
    #[serde(rename = "type")]
    pub type_: Option<HeaderMatchType>,
    pub name: String,
    pub value: String,
}

/// `HTTPMethod`, upper case as upstream spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Connect,
    Options,
    Trace,
    Patch,
}

/// `HTTPRouteFilter`: `type` names the filter, and exactly the matching
/// configuration field is set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRouteFilter {
    #[serde(rename = "type")]
    pub type_: HttpRouteFilterType,
    pub request_header_modifier: Option<HttpHeaderFilter>,
    pub response_header_modifier: Option<HttpHeaderFilter>,
    pub request_mirror: Option<HttpRequestMirrorFilter>,
    pub request_redirect: Option<HttpRequestRedirectFilter>,
    pub url_rewrite: Option<HttpUrlRewriteFilter>,
    pub cors: Option<HttpCorsFilter>,
    /// Experimental.
    pub external_auth: Option<HttpExternalAuthFilter>,
    /// An implementation-specific filter, configured by another object.
    pub extension_ref: Option<LocalObjectReference>,
}

/// `HTTPRouteFilterType`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
pub enum HttpRouteFilterType {
    #[default]
    RequestHeaderModifier,
    ResponseHeaderModifier,
    RequestMirror,
    RequestRedirect,
    #[serde(rename = "URLRewrite")]
    UrlRewrite,
    ExtensionRef,
    #[serde(rename = "CORS")]
    Cors,
    /// Experimental.
    ExternalAuth,
}

/// `HTTPRequestRedirectFilter`: answers with a redirect built from the
/// request and these overrides. Not with `backendRefs`, nor with a
/// `URLRewrite` filter, in the same rule.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRequestRedirectFilter {
    pub scheme: Option<RedirectScheme>,
    /// A precise hostname (no wildcard).
    pub hostname: Option<String>,
    pub path: Option<HttpPathModifier>,
    pub port: Option<i32>,
    /// 301, 302 (the default), 303, 307 or 308.
    pub status_code: Option<i32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RedirectScheme {
    Http,
    Https,
}

/// `HTTPURLRewriteFilter`: rewrites the Host header and path on the way
/// to the backend.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpUrlRewriteFilter {
    pub hostname: Option<String>,
    pub path: Option<HttpPathModifier>,
}

/// `HTTPPathModifier`: `type` says which of the two values is set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpPathModifier {
    #[serde(rename = "type")]
    pub type_: HttpPathModifierType,
    pub replace_full_path: Option<String>,
    /// Replaces the part the rule's single `PathPrefix` match matched.
    pub replace_prefix_match: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum HttpPathModifierType {
    #[default]
    ReplaceFullPath,
    ReplacePrefixMatch,
}

/// `HTTPCORSFilter`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpCorsFilter {
    /// `<scheme>://<host>[:<port>]`, the host may hold `*`; or `*` alone.
    #[serde(default)]
    pub allow_origins: Vec<String>,
    pub allow_credentials: Option<bool>,
    /// HTTP methods, or `*` alone.
    #[serde(default)]
    pub allow_methods: Vec<String>,
    #[serde(default)]
    pub allow_headers: Vec<String>,
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// Seconds a preflight response may be cached; defaults to 5.
    pub max_age: Option<i32>,
}

/// `HTTPExternalAuthFilter` (experimental): asks an authorization service
/// before forwarding. `protocol` says which of `grpc` and `http` applies.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpExternalAuthFilter {
    pub protocol: ExternalAuthProtocol,
    pub backend_ref: BackendObjectReference,
    pub grpc: Option<GrpcAuthConfig>,
    pub http: Option<HttpAuthConfig>,
    pub forward_body: Option<ForwardBodyConfig>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum ExternalAuthProtocol {
    #[default]
    #[serde(rename = "HTTP")]
    Http,
    #[serde(rename = "GRPC")]
    Grpc,
}

/// `GRPCAuthConfig`: Envoy's ext_authz gRPC protocol.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrpcAuthConfig {
    /// Client headers sent to the authorization server; empty sends all.
    #[serde(default)]
    pub allowed_headers: Vec<String>,
}

/// `HTTPAuthConfig`: a plain HTTP authorization server (200 allows).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpAuthConfig {
    /// Prefix added to the request path sent to the server.
    pub path: Option<String>,
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    #[serde(default)]
    pub allowed_response_headers: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForwardBodyConfig {
    /// Bytes of the body to send; 0 sends none.
    pub max_size: Option<i32>,
}

/// `HTTPBackendRef`: a `BackendRef` (spelled out) plus filters that apply
/// only to requests sent to this backend.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpBackendRef {
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
    pub filters: Vec<HttpRouteFilter>,
}

/// `HTTPRouteTimeouts`, as GEP-2257 durations; `0s` disables a timeout.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRouteTimeouts {
    /// The whole request, retries included.
    pub request: Option<Duration>,
    /// One attempt to a backend; at most `request`.
    pub backend_request: Option<Duration>,
}

/// `HTTPRouteRetry`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRouteRetry {
    /// Response codes to retry, 400 to 599.
    #[serde(default)]
    pub codes: Vec<i32>,
    /// Retries after the first attempt; 0 disables retries.
    pub attempts: Option<i32>,
    /// Base interval between retries.
    pub backoff: Option<Duration>,
}

// === impl HttpRouteFilter ===

impl HttpRouteFilter {
    /// The configuration fields that are set, by their YAML names.
    pub fn configs(&self) -> Vec<(&'static str, HttpRouteFilterType)> {
        let set = [
            (
                self.request_header_modifier.is_some(),
                "requestHeaderModifier",
                HttpRouteFilterType::RequestHeaderModifier,
            ),
            (
                self.response_header_modifier.is_some(),
                "responseHeaderModifier",
                HttpRouteFilterType::ResponseHeaderModifier,
            ),
            (
                self.request_mirror.is_some(),
                "requestMirror",
                HttpRouteFilterType::RequestMirror,
            ),
            (
                self.request_redirect.is_some(),
                "requestRedirect",
                HttpRouteFilterType::RequestRedirect,
            ),
            (
                self.url_rewrite.is_some(),
                "urlRewrite",
                HttpRouteFilterType::UrlRewrite,
            ),
            (self.cors.is_some(), "cors", HttpRouteFilterType::Cors),
            (
                self.external_auth.is_some(),
                "externalAuth",
                HttpRouteFilterType::ExternalAuth,
            ),
            (
                self.extension_ref.is_some(),
                "extensionRef",
                HttpRouteFilterType::ExtensionRef,
            ),
        ];
        set.into_iter()
            .filter(|(on, ..)| *on)
            .map(|(_, f, t)| (f, t))
            .collect()
    }
}

// === impl HttpRouteFilterType ===

impl HttpRouteFilterType {
    /// As written in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RequestHeaderModifier => "RequestHeaderModifier",
            Self::ResponseHeaderModifier => "ResponseHeaderModifier",
            Self::RequestMirror => "RequestMirror",
            Self::RequestRedirect => "RequestRedirect",
            Self::UrlRewrite => "URLRewrite",
            Self::ExtensionRef => "ExtensionRef",
            Self::Cors => "CORS",
            Self::ExternalAuth => "ExternalAuth",
        }
    }

    /// The field holding this type's configuration.
    pub fn field(self) -> &'static str {
        match self {
            Self::RequestHeaderModifier => "requestHeaderModifier",
            Self::ResponseHeaderModifier => "responseHeaderModifier",
            Self::RequestMirror => "requestMirror",
            Self::RequestRedirect => "requestRedirect",
            Self::UrlRewrite => "urlRewrite",
            Self::ExtensionRef => "extensionRef",
            Self::Cors => "cors",
            Self::ExternalAuth => "externalAuth",
        }
    }

    /// Whether a rule (or backendRef) may hold several filters of this
    /// type; the CRD's CEL rules forbid repeating the others.
    pub fn repeatable(self) -> bool {
        matches!(
            self,
            Self::RequestMirror | Self::ExtensionRef | Self::ExternalAuth
        )
    }
}

// === impl HttpPathMatch ===

impl HttpPathMatch {
    /// The type, with the CRD's default.
    pub fn type_(&self) -> PathMatchType {
        self.type_.unwrap_or_default()
    }

    /// The value, with the CRD's default.
    pub fn value(&self) -> &str {
        self.value.as_deref().unwrap_or("/")
    }
}

// === impl HttpBackendRef ===

impl HttpBackendRef {
    /// The weight, with the CRD's default of 1.
    pub fn weight(&self) -> i32 {
        self.weight.unwrap_or(1)
    }
}

impl crate::kinds::gateway_api::common::validate::FilterType for HttpRouteFilterType {
    fn as_str(self) -> &'static str {
        HttpRouteFilterType::as_str(self)
    }
    fn field(self) -> &'static str {
        HttpRouteFilterType::field(self)
    }
}
