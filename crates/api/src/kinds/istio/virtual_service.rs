//! istio/api `networking/v1alpha3/virtual_service.proto`: how requests to a
//! host are routed.

mod validate;

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{PortSelector, StringMatch};
use crate::types::{Duration, Percent};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VirtualService {
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default)]
    pub gateways: Vec<String>,
    #[serde(default)]
    pub http: Vec<HttpRoute>,
    #[serde(default)]
    pub tls: Vec<TlsRoute>,
    #[serde(default)]
    pub tcp: Vec<TcpRoute>,
    #[serde(default, alias = "export_to")]
    pub export_to: Vec<String>,
}

/// One HTTP rule. Istio: rules are tried in order; the first whose `match`
/// matches wins.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRoute {
    pub name: Option<String>,
    #[serde(default, rename = "match")]
    pub matches: Vec<HttpMatchRequest>,
    #[serde(default)]
    pub route: Vec<HttpRouteDestination>,
    pub redirect: Option<HttpRedirect>,
    #[serde(alias = "direct_response")]
    pub direct_response: Option<HttpDirectResponse>,
    pub delegate: Option<Delegate>,
    pub rewrite: Option<HttpRewrite>,
    pub timeout: Option<Duration>,
    pub retries: Option<HttpRetry>,
    pub fault: Option<HttpFaultInjection>,
    pub mirror: Option<Destination>,
    #[serde(default)]
    pub mirrors: Vec<HttpMirrorPolicy>,
    /// Deprecated integer percentage; `mirrorPercentage` replaces it.
    #[serde(alias = "mirror_percent")]
    pub mirror_percent: Option<u32>,
    #[serde(alias = "mirror_percentage")]
    pub mirror_percentage: Option<Percent>,
    #[serde(alias = "cors_policy")]
    pub cors_policy: Option<CorsPolicy>,
    pub headers: Option<Headers>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpMatchRequest {
    pub name: Option<String>,
    pub uri: Option<StringMatch>,
    pub scheme: Option<StringMatch>,
    pub method: Option<StringMatch>,
    pub authority: Option<StringMatch>,
    #[serde(default)]
    pub headers: BTreeMap<String, StringMatch>,
    pub port: Option<u32>,
    #[serde(default, alias = "source_labels")]
    pub source_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub gateways: Vec<String>,
    #[serde(default, alias = "query_params")]
    pub query_params: BTreeMap<String, StringMatch>,
    #[serde(default, alias = "ignore_uri_case")]
    pub ignore_uri_case: bool,
    #[serde(default, alias = "without_headers")]
    pub without_headers: BTreeMap<String, StringMatch>,
    #[serde(alias = "source_namespace")]
    pub source_namespace: Option<String>,
    #[serde(alias = "stat_prefix")]
    pub stat_prefix: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRouteDestination {
    pub destination: Destination,
    #[serde(default)]
    pub weight: i32,
    pub headers: Option<Headers>,
}

/// Where traffic goes: a service host, optionally a subset a
/// DestinationRule defines and a port.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Destination {
    pub host: String,
    pub subset: Option<String>,
    pub port: Option<PortSelector>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Headers {
    pub request: Option<HeaderOperations>,
    pub response: Option<HeaderOperations>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderOperations {
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    #[serde(default)]
    pub add: BTreeMap<String, String>,
    #[serde(default)]
    pub remove: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRedirect {
    pub uri: Option<String>,
    pub authority: Option<String>,
    pub port: Option<u32>,
    #[serde(alias = "derive_port")]
    pub derive_port: Option<RedirectPortSelection>,
    pub scheme: Option<String>,
    #[serde(alias = "redirect_code")]
    pub redirect_code: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RedirectPortSelection {
    FromProtocolDefault,
    FromRequestPort,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpDirectResponse {
    #[serde(default)]
    pub status: u32,
    pub body: Option<HttpBody>,
}

/// The body of a direct response: text, or base64 `bytes`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpBody {
    pub string: Option<String>,
    pub bytes: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delegate {
    pub name: String,
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRewrite {
    pub uri: Option<String>,
    pub authority: Option<String>,
    #[serde(alias = "uri_regex_rewrite")]
    pub uri_regex_rewrite: Option<RegexRewrite>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegexRewrite {
    #[serde(rename = "match")]
    pub pattern: String,
    pub rewrite: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRetry {
    #[serde(default)]
    pub attempts: i32,
    #[serde(alias = "per_try_timeout")]
    pub per_try_timeout: Option<Duration>,
    #[serde(alias = "retry_on")]
    pub retry_on: Option<String>,
    #[serde(alias = "retry_remote_localities")]
    pub retry_remote_localities: Option<bool>,
    #[serde(alias = "retry_ignore_previous_hosts")]
    pub retry_ignore_previous_hosts: Option<bool>,
    /// Minimum wait between retries (default 25ms).
    pub backoff: Option<Duration>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpFaultInjection {
    pub delay: Option<Delay>,
    pub abort: Option<Abort>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Delay {
    #[serde(alias = "fixed_delay")]
    pub fixed_delay: Option<Duration>,
    #[serde(alias = "exponential_delay")]
    pub exponential_delay: Option<Duration>,
    pub percentage: Option<Percent>,
    /// Deprecated integer percentage; `percentage` replaces it.
    pub percent: Option<i32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Abort {
    #[serde(alias = "http_status")]
    pub http_status: Option<i32>,
    #[serde(alias = "grpc_status")]
    pub grpc_status: Option<String>,
    #[serde(alias = "http2_error")]
    pub http2_error: Option<String>,
    pub percentage: Option<Percent>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpMirrorPolicy {
    pub destination: Destination,
    pub percentage: Option<Percent>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CorsPolicy {
    #[serde(default, alias = "allow_origins")]
    pub allow_origins: Vec<StringMatch>,
    /// Deprecated exact origins; `allowOrigins` replaces it.
    #[serde(default, alias = "allow_origin")]
    pub allow_origin: Vec<String>,
    #[serde(default, alias = "allow_methods")]
    pub allow_methods: Vec<String>,
    #[serde(default, alias = "allow_headers")]
    pub allow_headers: Vec<String>,
    #[serde(default, alias = "expose_headers")]
    pub expose_headers: Vec<String>,
    #[serde(alias = "max_age")]
    pub max_age: Option<Duration>,
    #[serde(alias = "allow_credentials")]
    pub allow_credentials: Option<bool>,
    #[serde(alias = "unmatched_preflights")]
    pub unmatched_preflights: Option<UnmatchedPreflights>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UnmatchedPreflights {
    Unspecified,
    Forward,
    Ignore,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsRoute {
    #[serde(default, rename = "match")]
    pub matches: Vec<TlsMatchAttributes>,
    #[serde(default)]
    pub route: Vec<RouteDestination>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsMatchAttributes {
    #[serde(default, alias = "sni_hosts")]
    pub sni_hosts: Vec<String>,
    #[serde(default, alias = "destination_subnets")]
    pub destination_subnets: Vec<String>,
    pub port: Option<u32>,
    #[serde(default, alias = "source_labels")]
    pub source_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub gateways: Vec<String>,
    #[serde(alias = "source_namespace")]
    pub source_namespace: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpRoute {
    #[serde(default, rename = "match")]
    pub matches: Vec<L4MatchAttributes>,
    #[serde(default)]
    pub route: Vec<RouteDestination>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct L4MatchAttributes {
    #[serde(default, alias = "destination_subnets")]
    pub destination_subnets: Vec<String>,
    pub port: Option<u32>,
    #[serde(alias = "source_subnet")]
    pub source_subnet: Option<String>,
    #[serde(default, alias = "source_labels")]
    pub source_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub gateways: Vec<String>,
    #[serde(alias = "source_namespace")]
    pub source_namespace: Option<String>,
}

/// An L4 (TLS or TCP) route destination.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteDestination {
    pub destination: Destination,
    #[serde(default)]
    pub weight: i32,
}
