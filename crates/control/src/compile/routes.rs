//! VirtualService rules to the proxy's routes, for one service port as one
//! caller sees it.
//!
//! Istio semantics (virtual_service.proto): rules are tried in order and
//! the first whose `match` matches wins; a match condition that can be
//! decided when compiling for one caller (`port`, `sourceLabels`,
//! `sourceNamespace`, `gateways`) is decided here, so the proxy only
//! evaluates what depends on the request. Once a VirtualService claims a
//! host, a request no rule matches gets 404 (NR): there is no fallback.

use std::collections::BTreeMap;

use weft_api::host;
use weft_api::kinds::istio::{
    Destination, HttpMatchRequest, HttpRoute as VsRule, StringMatch as VsString, VirtualService,
};
use weft_proto::config::{
    Backend, HeaderMatch, HttpRoute, PathMatch, QueryMatch, RouteMatch, StringMatch,
};

use crate::model::{Mesh, PortModel, ServiceModel};

/// Who is calling: the proxy being compiled for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Caller {
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    /// It has gateway listeners: it also gets the servers of the
    /// Gateways that select it.
    pub gateway: bool,
}

/// A cluster a route sends to: one port of one service, optionally one
/// subset of its instances.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClusterRef {
    pub fqdn: String,
    pub port: u16,
    pub subset: Option<String>,
}

/// A VirtualService and the namespace it lives in (short hosts resolve
/// there).
#[derive(Debug, Clone, Copy)]
pub struct Scoped<'a> {
    pub vs: &'a VirtualService,
    pub namespace: &'a str,
}

// === impl ClusterRef ===

impl ClusterRef {
    /// Istio's cluster naming: `outbound|9080|v1|reviews.default.svc.cluster.local`.
    pub fn name(&self) -> String {
        format!(
            "outbound|{}|{}|{}",
            self.port,
            self.subset.as_deref().unwrap_or_default(),
            self.fqdn
        )
    }

    pub fn default_for(svc: &ServiceModel, port: u16) -> Self {
        Self {
            fqdn: svc.fqdn.clone(),
            port,
            subset: None,
        }
    }
}

/// HTTP routes for `port` of `svc` under `vs`, and the clusters they use.
pub fn http_routes(
    vs: Scoped<'_>,
    svc: &ServiceModel,
    port: &PortModel,
    caller: &Caller,
    mesh: &Mesh,
    clusters: &mut Vec<ClusterRef>,
) -> Vec<HttpRoute> {
    let mut routes = Vec::new();
    for rule in &vs.vs.http {
        if !carried_out(rule) {
            continue;
        }
        let Some(matches) = matches_for(rule, port.port, caller) else {
            continue;
        };
        let backends = backends(vs, rule, svc, port, mesh, clusters);
        if backends.is_empty() && !answers_itself(rule) {
            continue;
        }
        let mut route = HttpRoute {
            name: rule.name.clone(),
            matches,
            backends,
            timeout: rule.timeout.map(|t| t.0),
            ..HttpRoute::default()
        };
        super::route_actions::apply(rule, &mut route);
        route.mirrors = super::route_actions::mirrors(rule, |d| {
            let cref = cluster_ref(vs, d, svc, port, mesh);
            let name = cref.name();
            if !clusters.contains(&cref) {
                clusters.push(cref);
            }
            name
        });
        routes.push(route);
    }
    routes
}

/// Whether the proxy can carry `rule` out: it routes, redirects or
/// answers. (A `delegate` rule was replaced by its delegate's rules
/// before this: `delegation.rs`; one whose delegate is missing is not.)
pub(super) fn carried_out(rule: &VsRule) -> bool {
    !rule.route.is_empty() || answers_itself(rule)
}

/// A redirect or a direct response: the rule has no destinations.
pub(super) fn answers_itself(rule: &VsRule) -> bool {
    rule.redirect.is_some() || rule.direct_response.is_some()
}

/// The rule's match list for this port and caller: `None` when no match
/// can apply (the rule is dropped), an empty list when every request
/// matches.
fn matches_for(rule: &VsRule, port: u16, caller: &Caller) -> Option<Vec<RouteMatch>> {
    if rule.matches.is_empty() {
        return Some(Vec::new());
    }
    let out: Vec<RouteMatch> = rule
        .matches
        .iter()
        .filter(|m| m.port.is_none_or(|p| p == u32::from(port)))
        .filter(|m| source_matches(&m.source_labels, m.source_namespace.as_deref(), caller))
        .filter(|m| gateways_include_mesh(&m.gateways))
        .map(request_match)
        .collect();
    (!out.is_empty()).then_some(out)
}

pub(super) fn source_matches(
    labels: &BTreeMap<String, String>,
    namespace: Option<&str>,
    caller: &Caller,
) -> bool {
    labels.iter().all(|(k, v)| caller.labels.get(k) == Some(v))
        && namespace.is_none_or(|ns| ns == caller.namespace)
}

/// A match's `gateways` restricts it; without it, it applies to the
/// VirtualService's own gateways, and sidecars compile only mesh-bound
/// VirtualServices.
pub(super) fn gateways_include_mesh(gateways: &[String]) -> bool {
    gateways.is_empty() || gateways.iter().any(|g| g == "mesh")
}

pub(super) fn request_match(m: &HttpMatchRequest) -> RouteMatch {
    let mut headers: Vec<HeaderMatch> = m
        .headers
        .iter()
        .map(|(name, v)| HeaderMatch {
            name: name.to_ascii_lowercase(),
            value: string_match(v).unwrap_or(StringMatch::Present(true)),
        })
        .collect();
    // Istio: an empty `withoutHeaders` entry means the header is absent.
    headers.extend(
        m.without_headers
            .iter()
            .filter(|(_, v)| string_match(v).is_none())
            .map(|(name, _)| HeaderMatch {
                name: name.to_ascii_lowercase(),
                value: StringMatch::Present(false),
            }),
    );
    RouteMatch {
        path: m.uri.as_ref().and_then(|u| match string_match(u)? {
            StringMatch::Exact(s) => Some(PathMatch::Exact(s)),
            StringMatch::Prefix(s) => Some(PathMatch::Prefix(s)),
            StringMatch::Regex(s) => Some(PathMatch::Regex(s)),
            StringMatch::Present(_) => None,
        }),
        method: m.method.as_ref().and_then(string_match),
        scheme: m.scheme.as_ref().and_then(string_match),
        headers,
        authority: m.authority.as_ref().and_then(string_match),
        // Istio: an empty match (`{}`) asks only that the parameter appear.
        query: m
            .query_params
            .iter()
            .map(|(name, v)| QueryMatch {
                name: name.clone(),
                value: string_match(v).unwrap_or(StringMatch::Present(true)),
            })
            .collect(),
        path_ignore_case: m.ignore_uri_case,
    }
}

pub(super) fn string_match(v: &VsString) -> Option<StringMatch> {
    if let Some(s) = &v.exact {
        Some(StringMatch::Exact(s.clone()))
    } else if let Some(s) = &v.prefix {
        Some(StringMatch::Prefix(s.clone()))
    } else {
        v.regex.as_ref().map(|s| StringMatch::Regex(s.clone()))
    }
}

fn backends(
    vs: Scoped<'_>,
    rule: &VsRule,
    svc: &ServiceModel,
    port: &PortModel,
    mesh: &Mesh,
    clusters: &mut Vec<ClusterRef>,
) -> Vec<Backend> {
    // Istio: a lone destination takes all traffic whatever its weight; with
    // several, a destination of weight 0 takes none.
    let lone = rule.route.len() == 1;
    rule.route
        .iter()
        .filter(|rd| lone || rd.weight > 0)
        .map(|rd| {
            let cref = cluster_ref(vs, &rd.destination, svc, port, mesh);
            let cluster = cref.name();
            if !clusters.contains(&cref) {
                clusters.push(cref);
            }
            Backend {
                cluster,
                weight: if lone {
                    1
                } else {
                    u32::try_from(rd.weight).unwrap_or(0)
                },
                headers: super::route_actions::header_ops(rd.headers.as_ref()),
            }
        })
        .collect()
}

/// Istio: a destination names its port unless its service has only one;
/// a destination that is the service itself keeps the port being routed.
pub(super) fn cluster_ref(
    vs: Scoped<'_>,
    dest: &Destination,
    svc: &ServiceModel,
    port: &PortModel,
    mesh: &Mesh,
) -> ClusterRef {
    let fqdn = host::fqdn(&dest.host, vs.namespace);
    let target = mesh.services.get(&fqdn);
    let number = dest
        .port
        .and_then(|p| u16::try_from(p.number).ok())
        .or_else(|| match target {
            Some(t) if t.fqdn == svc.fqdn => Some(port.port),
            Some(t) if t.ports.len() == 1 => Some(t.ports[0].port),
            _ => None,
        })
        .unwrap_or(port.port);
    ClusterRef {
        fqdn,
        port: number,
        subset: dest.subset.clone(),
    }
}

#[cfg(test)]
mod tests;
