//! HTTPRoute rules as a gateway's routes (kubernetes-sigs/gateway-api
//! `apis/v1/httproute_types.go`).
//!
//! Gateway API does not take rules in the order written: across every
//! route attached to a hostname, a request goes to the most specific
//! match (exact path, then the longest prefix, then regular expressions;
//! then a method; then more headers; then more query parameters), ties
//! kept in route and rule order.
//! Each match therefore becomes its own route, and a host's routes are
//! sorted by that precedence (as Istio's `sortHTTPRoutes` does), so the
//! proxy's "first match wins" gives the same answer.

use std::cmp::Reverse;

use weft_api::host;
use weft_api::kinds::gateway_api::common::{BackendObjectReference, GATEWAY_GROUP};
use weft_api::kinds::gateway_api::http_route::{HttpMethod, HttpRouteFilter};
use weft_api::kinds::gateway_api::{
    HeaderMatchType, HttpBackendRef, HttpRoute as KubeRoute, HttpRouteMatch, PathMatchType,
};
use weft_proto::config::{
    Backend, HeaderMatch, HttpRoute, Mirror, PathMatch, QueryMatch, RouteMatch, StringMatch,
};

use super::{http_filters, port_number, use_cluster};
use crate::compile::routes::ClusterRef;

/// One match of one rule, ready to be sorted among a host's.
#[derive(Debug, Clone)]
pub(in crate::compile) struct Entry {
    precedence: Precedence,
    /// `namespace/name`, rule, match: ties keep this order.
    order: (String, usize, usize),
    pub route: HttpRoute,
}

/// Smaller sorts first: more specific.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Precedence {
    /// Exact, prefix, regular expression.
    path_kind: u8,
    path_len: Reverse<usize>,
    method: Reverse<bool>,
    headers: Reverse<usize>,
    query: Reverse<usize>,
}

/// Every match of every rule of `route` (in `namespace`, named `name`)
/// that weft can carry out, with the clusters they send to. A Service
/// backend without a `port` goes to `default_port` (a mesh route's
/// Service port); with none, it gets no traffic.
pub(in crate::compile) fn entries(
    namespace: &str,
    name: &str,
    route: &KubeRoute,
    default_port: Option<u16>,
    clusters: &mut Vec<ClusterRef>,
) -> Vec<Entry> {
    let mut out = Vec::new();
    for (i, rule) in route.rules.iter().enumerate() {
        let backends = backends(namespace, &rule.backend_refs, default_port, clusters);
        let mirrors = mirrors(namespace, &rule.filters, default_port, clusters);
        let cors = rule
            .filters
            .iter()
            .find_map(|f| f.cors.as_ref())
            .map(http_filters::cors);
        // A redirect answers itself; a rule that forwards nowhere else
        // (only weight 0) is left out: its requests find no route (404)
        // instead of 500.
        let redirects = rule.filters.iter().any(|f| f.request_redirect.is_some());
        if backends.is_empty() && !redirects {
            continue;
        }
        // Istio turns a rule without `retry` into a VirtualService route
        // without `retries`: its default policy applies.
        let mut retries = match &rule.retry {
            Some(r) => http_filters::retries(r),
            None => Some(crate::compile::route_actions::default_retries()),
        };
        // GEP-2257: `request` bounds the whole request, `backendRequest`
        // each try (with retries off, the one try); 0s turns either off.
        let on = |d: Option<&weft_api::types::Duration>| d.map(|d| d.0).filter(|d| !d.is_zero());
        let request = rule.timeouts.as_ref().and_then(|t| on(t.request.as_ref()));
        let per_try = rule
            .timeouts
            .as_ref()
            .and_then(|t| on(t.backend_request.as_ref()));
        let timeout = match (&mut retries, request, per_try) {
            (Some(r), request, per_try) => {
                r.per_try_timeout = per_try;
                request
            }
            (None, Some(a), Some(b)) => Some(a.min(b)),
            (None, a, b) => a.or(b),
        };
        let default = [HttpRouteMatch::default()];
        let matches = if rule.matches.is_empty() {
            &default[..]
        } else {
            &rule.matches[..]
        };
        for (j, m) in matches.iter().enumerate() {
            let Some(actions) = http_filters::actions(&rule.filters, m) else {
                continue;
            };
            let (precedence, matches) = convert(m);
            out.push(Entry {
                precedence,
                order: (format!("{namespace}/{name}"), i, j),
                route: HttpRoute {
                    name: Some(match &rule.name {
                        Some(r) => format!("{namespace}/{name}/{r}"),
                        None => format!("{namespace}/{name}/{i}"),
                    }),
                    matches,
                    backends: match redirects {
                        true => Vec::new(),
                        false => backends.clone(),
                    },
                    timeout,
                    retries: retries.clone(),
                    mirrors: mirrors.clone(),
                    cors: cors.clone(),
                    redirect: actions.redirect,
                    rewrite: actions.rewrite,
                    headers: actions.headers,
                    ..HttpRoute::default()
                },
            });
        }
    }
    out
}

/// Sorts `entries` by Gateway API's precedence; ties keep route, rule and
/// match order.
pub(in crate::compile) fn sort(entries: &mut [Entry]) {
    entries.sort_by(|a, b| (a.precedence, &a.order).cmp(&(b.precedence, &b.order)));
}

/// One HTTPRoute match as the proxy's matches (a segment prefix takes
/// two), and how specific it is.
fn convert(m: &HttpRouteMatch) -> (Precedence, Vec<RouteMatch>) {
    let (kind, value) = match &m.path {
        Some(p) => (p.type_(), p.value()),
        None => (PathMatchType::PathPrefix, "/"),
    };
    let headers: Vec<HeaderMatch> = m
        .headers
        .iter()
        .map(|h| HeaderMatch {
            name: h.name.to_ascii_lowercase(),
            value: match h.type_.unwrap_or_default() {
                HeaderMatchType::Exact => StringMatch::Exact(h.value.clone()),
                HeaderMatchType::RegularExpression => StringMatch::Regex(h.value.clone()),
            },
        })
        .collect();
    let method = m.method.map(|x| method_name(x).to_string());
    let query: Vec<QueryMatch> = m
        .query_params
        .iter()
        .map(|q| QueryMatch {
            name: q.name.clone(),
            value: match q.type_.unwrap_or_default() {
                HeaderMatchType::Exact => StringMatch::Exact(q.value.clone()),
                HeaderMatchType::RegularExpression => StringMatch::Regex(q.value.clone()),
            },
        })
        .collect();
    let with = |path: PathMatch| RouteMatch {
        path: Some(path),
        method: method.clone().map(StringMatch::Exact),
        headers: headers.clone(),
        query: query.clone(),
        ..RouteMatch::default()
    };
    let (path_kind, matches) = match kind {
        PathMatchType::Exact => (0, vec![with(PathMatch::Exact(value.to_string()))]),
        PathMatchType::RegularExpression => (2, vec![with(PathMatch::Regex(value.to_string()))]),
        PathMatchType::PathPrefix => {
            // Whole segments: `/abc` (or `/abc/`) matches `/abc` and
            // `/abc/...`, not `/abcd`.
            let trimmed = value.trim_end_matches('/');
            if trimmed.is_empty() {
                (1, vec![with(PathMatch::Prefix("/".into()))])
            } else {
                (
                    1,
                    vec![
                        with(PathMatch::Exact(trimmed.to_string())),
                        with(PathMatch::Prefix(format!("{trimmed}/"))),
                    ],
                )
            }
        }
    };
    let precedence = Precedence {
        path_kind,
        path_len: Reverse(value.len()),
        method: Reverse(method.is_some()),
        headers: Reverse(headers.len()),
        query: Reverse(query.len()),
    };
    (precedence, matches)
}

fn method_name(m: HttpMethod) -> &'static str {
    match m {
        HttpMethod::Get => "GET",
        HttpMethod::Head => "HEAD",
        HttpMethod::Post => "POST",
        HttpMethod::Put => "PUT",
        HttpMethod::Delete => "DELETE",
        HttpMethod::Connect => "CONNECT",
        HttpMethod::Options => "OPTIONS",
        HttpMethod::Trace => "TRACE",
        HttpMethod::Patch => "PATCH",
    }
}

/// The rule's backends: Services (the default kind) by their port, and
/// Istio's `networking.istio.io/Hostname` (a ServiceEntry host). A
/// backend in another namespace needs a ReferenceGrant there, which weft
/// does not read yet: it gets no traffic (loading warns). Weight 0 gets
/// none either.
fn backends(
    namespace: &str,
    refs: &[HttpBackendRef],
    default_port: Option<u16>,
    clusters: &mut Vec<ClusterRef>,
) -> Vec<Backend> {
    refs.iter()
        .filter(|b| b.weight() > 0)
        .filter_map(|b| {
            let reference = BackendObjectReference {
                group: b.group.clone(),
                kind: b.kind.clone(),
                name: b.name.clone(),
                namespace: b.namespace.clone(),
                port: b.port,
            };
            Some(Backend {
                cluster: backend_cluster(namespace, &reference, default_port, clusters)?,
                weight: u32::try_from(b.weight()).unwrap_or(1),
                headers: http_filters::header_ops(&b.filters),
            })
        })
        .collect()
}

/// The cluster a backend reference names: a Service in the route's
/// namespace (others need a ReferenceGrant, which weft does not read),
/// or an Istio `Hostname`; with the reference's port or `default_port`.
fn backend_cluster(
    namespace: &str,
    b: &BackendObjectReference,
    default_port: Option<u16>,
    clusters: &mut Vec<ClusterRef>,
) -> Option<String> {
    if b.namespace.as_deref().is_some_and(|ns| ns != namespace) {
        return None;
    }
    let fqdn = match (
        b.group.as_deref().unwrap_or(""),
        b.kind.as_deref().unwrap_or("Service"),
    ) {
        ("", "Service") => host::service_fqdn(&b.name, namespace),
        ("networking.istio.io", "Hostname") => b.name.clone(),
        _ => return None,
    };
    let cref = ClusterRef {
        fqdn,
        port: b.port.and_then(port_number).or(default_port)?,
        subset: None,
    };
    Some(use_cluster(cref, clusters))
}

/// A rule's `RequestMirror` filters: each a copy of the requests to its
/// backend, `percent` of them or `fraction` (numerator / denominator,
/// 100 by default), all when neither is set.
fn mirrors(
    namespace: &str,
    filters: &[HttpRouteFilter],
    default_port: Option<u16>,
    clusters: &mut Vec<ClusterRef>,
) -> Vec<Mirror> {
    filters
        .iter()
        .filter_map(|f| f.request_mirror.as_ref())
        .filter_map(|m| {
            let percent = match (m.percent, &m.fraction) {
                (Some(p), _) => f64::from(p),
                (None, Some(f)) => {
                    let d = f.denominator.unwrap_or(100).max(1);
                    f64::from(f.numerator) * 100.0 / f64::from(d)
                }
                (None, None) => 100.0,
            };
            Some(Mirror {
                cluster: backend_cluster(namespace, &m.backend_ref, default_port, clusters)?,
                percent: percent.clamp(0.0, 100.0),
            })
        })
        .collect()
}

/// Whether `group`/`kind` (with Gateway API's defaults) names a Gateway.
pub(super) fn is_gateway(group: Option<&str>, kind: Option<&str>) -> bool {
    group.unwrap_or(GATEWAY_GROUP) == GATEWAY_GROUP && kind.unwrap_or("Gateway") == "Gateway"
}
