//! GRPCRoute rules as HTTP routes (gateway-api `apis/v1/grpcroute_types.go`).
//!
//! A gRPC call is an HTTP/2 POST to `/<package.Service>/<Method>`, so a
//! method match is a path match: service and method exact give the exact
//! path; only a service, the prefix `/<service>/`; otherwise a regular
//! expression with `[^/]+` for what is left out. `RegularExpression`
//! matches put the user's expressions in those places.
//!
//! Precedence across the rules (GRPCRoute's `matches` doc): the longest
//! service, then the longest method, then the most header matches; ties
//! keep route, rule and match order. Filters: the header modifiers
//! (on a rule or a backendRef); `RequestMirror` is not carried out
//! (loading warns).

use std::cmp::Reverse;

use weft_api::Resource;
use weft_api::host;
use weft_api::kinds::gateway_api::common::HeaderMatchType;
use weft_api::kinds::gateway_api::grpc_route::{GrpcMethodMatchType, GrpcRouteFilter};
use weft_api::kinds::gateway_api::{GrpcBackendRef, GrpcRoute, GrpcRouteMatch};
use weft_proto::config::{
    Backend, HeaderMatch, HeaderOps, HttpRoute, PathMatch, RouteMatch, StringMatch,
};

use crate::compile::gateway::http_filters::merge;
use crate::compile::gateway::{port_number, use_cluster};
use crate::compile::routes::ClusterRef;

/// Longer service, longer method, more headers: smaller sorts first.
type Precedence = (Reverse<usize>, Reverse<usize>, Reverse<usize>);

/// One match of one GRPCRoute rule, ready to be sorted.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    precedence: Precedence,
    order: (String, usize, usize),
    pub route: HttpRoute,
}

/// Every match of every rule of `route` (resource `r`) that sends
/// somewhere, for a Service port `port` (the port of backends without
/// one).
pub(super) fn entries(
    r: &Resource,
    route: &GrpcRoute,
    port: u16,
    clusters: &mut Vec<ClusterRef>,
) -> Vec<Entry> {
    let (namespace, name) = (r.namespace(), r.name());
    let mut out = Vec::new();
    for (i, rule) in route.rules.iter().enumerate() {
        let backends = backends(namespace, &rule.backend_refs, port, clusters);
        if backends.is_empty() {
            continue;
        }
        let default = [GrpcRouteMatch::default()];
        let matches = if rule.matches.is_empty() {
            &default[..]
        } else {
            &rule.matches[..]
        };
        for (j, m) in matches.iter().enumerate() {
            let (precedence, matched) = convert(m);
            out.push(Entry {
                precedence,
                order: (format!("{namespace}/{name}"), i, j),
                route: HttpRoute {
                    name: Some(match &rule.name {
                        Some(n) => format!("{namespace}/{name}/{n}"),
                        None => format!("{namespace}/{name}/{i}"),
                    }),
                    matches: vec![matched],
                    backends: backends.clone(),
                    headers: header_ops(&rule.filters),
                    ..HttpRoute::default()
                },
            });
        }
    }
    out
}

/// Sorts by GRPCRoute precedence; ties keep route, rule and match order.
pub(super) fn sort(entries: &mut [Entry]) {
    entries.sort_by(|a, b| (a.precedence, &a.order).cmp(&(b.precedence, &b.order)));
}

fn convert(m: &GrpcRouteMatch) -> (Precedence, RouteMatch) {
    let (service, method, regex) = match &m.method {
        Some(mm) => (
            mm.service.as_deref(),
            mm.method.as_deref(),
            mm.type_.unwrap_or_default() == GrpcMethodMatchType::RegularExpression,
        ),
        None => (None, None, false),
    };
    let path = match (service, method, regex) {
        (None, None, _) => None,
        (Some(s), Some(m), false) => Some(PathMatch::Exact(format!("/{s}/{m}"))),
        (Some(s), None, false) => Some(PathMatch::Prefix(format!("/{s}/"))),
        (None, Some(m), false) => Some(PathMatch::Regex(format!("/[^/]+/{}", escape(m)))),
        (s, m, true) => Some(PathMatch::Regex(format!(
            "/{}/{}",
            s.map_or("[^/]+".to_string(), |s| format!("(?:{s})")),
            m.map_or("[^/]+".to_string(), |m| format!("(?:{m})")),
        ))),
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
    let precedence = (
        Reverse(service.map_or(0, str::len)),
        Reverse(method.map_or(0, str::len)),
        Reverse(headers.len()),
    );
    let matched = RouteMatch {
        path,
        headers,
        ..RouteMatch::default()
    };
    (precedence, matched)
}

fn header_ops(filters: &[GrpcRouteFilter]) -> HeaderOps {
    let mut ops = HeaderOps::default();
    for f in filters {
        if let Some(h) = &f.request_header_modifier {
            merge(&mut ops.request, h);
        }
        if let Some(h) = &f.response_header_modifier {
            merge(&mut ops.response, h);
        }
    }
    ops
}

/// Service backends in the route's namespace (another needs a
/// ReferenceGrant, which weft does not read), weight above 0.
fn backends(
    namespace: &str,
    refs: &[GrpcBackendRef],
    port: u16,
    clusters: &mut Vec<ClusterRef>,
) -> Vec<Backend> {
    refs.iter()
        .filter(|b| b.weight() > 0)
        .filter(|b| b.namespace.as_deref().is_none_or(|ns| ns == namespace))
        .filter(|b| {
            b.group.as_deref().unwrap_or("").is_empty()
                && b.kind.as_deref().unwrap_or("Service") == "Service"
        })
        .map(|b| {
            let cref = ClusterRef {
                fqdn: host::service_fqdn(&b.name, namespace),
                port: b.port.and_then(port_number).unwrap_or(port),
                subset: None,
            };
            Backend {
                cluster: use_cluster(cref, clusters),
                weight: u32::try_from(b.weight()).unwrap_or(1),
                headers: header_ops(&b.filters),
            }
        })
        .collect()
}

/// `s` as a regular expression matching itself.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
