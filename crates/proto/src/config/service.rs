use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::defaults;
use super::rate_limit::LocalRateLimit;
use super::retry::{RetryBudget, RetryPolicy};
use super::route_actions::{Cors, DirectResponse, Fault, HeaderOps, Mirror, Redirect, Rewrite};

/// A service this workload can call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Fully qualified name, e.g. `reviews.default.svc.cluster.local`. Clients
    /// may use it as a host.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// More names clients use for it (`reviews`, `reviews.default`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// Virtual IPs; transparent interception matches the original
    /// destination against these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<IpAddr>,
    pub ports: Vec<ServicePort>,
}

/// One port of a service and how its traffic is routed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicePort {
    pub port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub protocol: AppProtocol,
    /// HTTP routes, tried in order; the first match wins (as in Istio).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<HttpRoute>,
    /// Where TCP traffic goes, and HTTP traffic when `routes` is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Where opaque connections (TCP, TLS passed through) go, by SNI and
    /// weight. When set, they replace `cluster` for those connections: a
    /// connection no route takes is closed (`NR`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tcp_routes: Vec<super::TcpRoute>,
    /// Bounds the retries of every route of this port, together.
    #[serde(default, skip_serializing_if = "RetryBudget::is_default")]
    pub retry_budget: RetryBudget,
}

/// The application protocol on a port, as Istio's port naming declares it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppProtocol {
    /// Decide per connection by sniffing.
    #[default]
    Detect,
    Http,
    Http2,
    Grpc,
    /// Opaque TCP: never sniffed (server-speaks-first protocols).
    Tcp,
}

/// An HTTP route: when a request matches, where it goes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRoute {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Any one of these must match; none means every request matches.
    #[serde(default, rename = "match", skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<RouteMatch>,
    /// Weighted destinations. Empty when the route answers itself with a
    /// `redirect` or `direct_response`.
    #[serde(default)]
    pub backends: Vec<Backend>,
    /// Time allowed for the upstream's response headers.
    #[serde(
        default,
        with = "crate::duration::serde_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout: Option<Duration>,
    /// Injected before routing: a matching request may be delayed or
    /// answered without ever reaching a backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<Fault>,
    /// Answer with a redirect instead of forwarding (`backends` empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<Redirect>,
    /// Answer with this response instead of forwarding (`backends` empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_response: Option<DirectResponse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrite: Option<Rewrite>,
    /// Edits for every request of this route, applied after the chosen
    /// backend's own (so the route's win).
    #[serde(default, skip_serializing_if = "HeaderOps::is_empty")]
    pub headers: HeaderOps,
    /// Unset: no retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<RetryPolicy>,
    /// Copies of the route's requests, sent fire and forget.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mirrors: Vec<Mirror>,
    /// Unset: the proxy does nothing about CORS (the app may).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<Cors>,
    /// Count the route's requests under a name of their own (Linkerd
    /// ServiceProfile routes). Unset: no per-route metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<super::RouteMetrics>,
    /// A token bucket of this route's own; it replaces its port's (Envoy's
    /// `typed_per_filter_config` for `envoy.filters.http.local_ratelimit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<LocalRateLimit>,
}

/// Conditions on a request; all present conditions must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathMatch>,
    /// `GET` (exact), or a match: `{ prefix: P }`, `{ regex: "GET|HEAD" }`.
    #[serde(
        default,
        with = "method_match",
        skip_serializing_if = "Option::is_none"
    )]
    pub method: Option<StringMatch>,
    /// `http` or `https`: the request's `:scheme`, else whether the
    /// client's connection to this proxy was TLS it terminated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<StringMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HeaderMatch>,
    /// The Host / `:authority`, port included as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<StringMatch>,
    /// Query parameters (`Present(true)`: the name appears, any value).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query: Vec<QueryMatch>,
    /// `path` ignores ASCII case (exact and prefix).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub path_ignore_case: bool,
}

/// A condition on one query parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryMatch {
    pub name: String,
    pub value: StringMatch,
}

/// How a request path is matched (the query string is not part of the path).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathMatch {
    Exact(String),
    Prefix(String),
    /// RE2-style syntax, matched against the whole path.
    Regex(String),
}

/// A condition on one request header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderMatch {
    pub name: String,
    pub value: StringMatch,
}

/// How a string value is matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StringMatch {
    Exact(String),
    Prefix(String),
    Regex(String),
    /// `true`: the header must be present; `false`: it must be absent.
    Present(bool),
}

/// A weighted destination of a route.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backend {
    pub cluster: String,
    #[serde(default = "defaults::weight")]
    pub weight: u32,
    /// Edits for requests sent here (and their responses).
    #[serde(default, skip_serializing_if = "HeaderOps::is_empty")]
    pub headers: HeaderOps,
}

/// A port of this workload that accepts traffic from the mesh.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundPort {
    pub port: u16,
    #[serde(default)]
    pub protocol: AppProtocol,
    /// Where the app listens; `127.0.0.1:<port>` unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<SocketAddr>,
    /// The service this port serves (`destination_service` label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// One token bucket for every HTTP request to this port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<LocalRateLimit>,
}

// === impl InboundPort ===

impl InboundPort {
    pub fn target_addr(&self) -> SocketAddr {
        self.target
            .unwrap_or_else(|| (std::net::Ipv4Addr::LOCALHOST, self.port).into())
    }
}

// === impl Service ===

impl Service {
    /// Every name clients may use for this service.
    pub fn all_hosts(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.name.as_str()).chain(self.hosts.iter().map(String::as_str))
    }
}

/// A method condition written as a plain name means an exact match
/// (`method: POST`), the common case, and is written back that way.
mod method_match {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::StringMatch;

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Name(String),
        Match(StringMatch),
    }

    pub fn serialize<S: Serializer>(v: &Option<StringMatch>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(StringMatch::Exact(name)) => name.serialize(s),
            other => other.serialize(s),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<StringMatch>, D::Error> {
        Ok(Option::<Written>::deserialize(d)?.map(|w| match w {
            Written::Name(name) => StringMatch::Exact(name),
            Written::Match(m) => m,
        }))
    }
}
