//! Gateway API `Gateway`s and the `HTTPRoute`s attached to them
//! (kubernetes-sigs/gateway-api `apis/v1/gateway_types.go`,
//! `httproute_types.go`, `shared_types.go`).
//!
//! * The proxy runs the Gateway named by its
//!   `gateway.networking.k8s.io/gateway-name` label, in its own namespace
//!   (Istio's convention for the deployment it creates per Gateway), when
//!   the Gateway's class is `istio` or `weft`.
//! * Listeners of protocol HTTP and HTTPS are served; a route attaches to
//!   those its parentRef picks (`sectionName`, `port`) and whose
//!   `allowedRoutes` admit it (namespaces `Same`, the default, or `All`).
//! * Hostnames: a route's hostnames narrowed to the listener's (none
//!   means all the listener accepts); a route with hostnames and none in
//!   common does not attach there.
//! * A host's routes are every attached route covering it, sorted by
//!   Gateway API's match precedence (`http_route.rs`).
//! * `certificateRefs` name Secrets, which weft cannot read: an HTTPS
//!   listener's certificate comes from the gateway proxy's listener `tls`
//!   (loading says so).

use std::collections::BTreeMap;

use weft_api::Resource;
use weft_api::kinds::Spec;
use weft_api::kinds::gateway_api::common::GATEWAY_GROUP;
use weft_api::kinds::gateway_api::gateway::FromNamespaces;
use weft_api::kinds::gateway_api::{HttpRoute as KubeRoute, Listener};

use super::http_route::{self, Entry};
use super::{GATEWAY_NAME_LABEL, PortPlan, intersect, port_number};
use crate::compile::routes::{Caller, ClusterRef};
use crate::model::Mesh;

/// GatewayClasses whose Gateways weft runs.
pub const CLASSES: [&str; 2] = ["istio", "weft"];

/// Adds the listeners of the Gateway `caller` runs to `ports`.
pub(super) fn contribute(
    mesh: &Mesh,
    caller: &Caller,
    ports: &mut BTreeMap<u16, PortPlan>,
    clusters: &mut Vec<ClusterRef>,
) {
    let Some(name) = caller.labels.get(GATEWAY_NAME_LABEL) else {
        return;
    };
    let found = mesh.resources.iter().find_map(|r| match &r.spec {
        Spec::KubeGateway(g)
            if r.namespace() == caller.namespace
                && r.name() == name
                && CLASSES.contains(&g.gateway_class_name.as_str()) =>
        {
            Some((r, g))
        }
        _ => None,
    });
    let Some((gw_r, gw)) = found else {
        return;
    };
    // Per gateway port: (host pattern, entry) of every attached rule.
    let mut attached: BTreeMap<u16, Vec<(String, Entry)>> = BTreeMap::new();
    for l in &gw.listeners {
        let Some(port) = port_number(l.port) else {
            continue;
        };
        if !serves_http(l) {
            continue;
        }
        // The port exists (and answers 404) even with no route attached.
        ports.entry(port).or_default();
        for r in mesh.resources.iter() {
            let Spec::HttpRoute(route) = &r.spec else {
                continue;
            };
            if !attaches(gw_r, l, r, route) {
                continue;
            }
            let hosts = hostnames(l, route);
            if hosts.is_empty() {
                continue;
            }
            let entries = http_route::entries(r.namespace(), r.name(), route, None, clusters);
            let list = attached.entry(port).or_default();
            for h in hosts {
                list.extend(entries.iter().map(|e| (h.clone(), e.clone())));
            }
        }
    }
    for (port, list) in attached {
        let plan = ports.entry(port).or_default();
        let mut hosts: Vec<&String> = list.iter().map(|(h, _)| h).collect();
        hosts.sort();
        hosts.dedup();
        for host in hosts {
            // Every route whose hostname covers this host serves it.
            let mut entries: Vec<Entry> = list
                .iter()
                .filter(|(pattern, _)| pattern == host || weft_api::host::matches(pattern, host))
                .map(|(_, e)| e.clone())
                .collect();
            http_route::sort(&mut entries);
            plan.add(host.clone(), entries.into_iter().map(|e| e.route).collect());
        }
    }
}

fn serves_http(l: &Listener) -> bool {
    l.protocol == "HTTP" || l.protocol == "HTTPS"
}

/// Whether `route` (resource `r`) attaches to listener `l` of Gateway
/// `gw_r`: one of its parentRefs names the Gateway and picks the
/// listener, and the listener admits the route.
fn attaches(gw_r: &Resource, l: &Listener, r: &Resource, route: &KubeRoute) -> bool {
    let names_listener = route.parent_refs.iter().any(|p| {
        http_route::is_gateway(p.group.as_deref(), p.kind.as_deref())
            && p.namespace.as_deref().unwrap_or(r.namespace()) == gw_r.namespace()
            && p.name == gw_r.name()
            && p.section_name.as_deref().is_none_or(|s| s == l.name)
            && p.port.is_none_or(|port| port == l.port)
    });
    names_listener && admits(l, gw_r.namespace(), r.namespace())
}

/// `allowedRoutes`: which namespaces and kinds may attach. `Selector`
/// needs Namespace labels, which weft does not read: nothing attaches
/// through it (loading warns).
fn admits(l: &Listener, gw_ns: &str, route_ns: &str) -> bool {
    let Some(allowed) = &l.allowed_routes else {
        return gw_ns == route_ns;
    };
    let from = allowed
        .namespaces
        .as_ref()
        .and_then(|n| n.from)
        .unwrap_or(FromNamespaces::Same);
    let ns_ok = match from {
        FromNamespaces::All => true,
        FromNamespaces::Same => gw_ns == route_ns,
        FromNamespaces::Selector | FromNamespaces::None => false,
    };
    let kind_ok = allowed.kinds.is_empty()
        || allowed.kinds.iter().any(|k| {
            k.kind == "HTTPRoute" && k.group.as_deref().unwrap_or(GATEWAY_GROUP) == GATEWAY_GROUP
        });
    ns_ok && kind_ok
}

/// The host patterns a route serves on a listener: its hostnames narrowed
/// to the listener's hostname; all the listener's when it has none.
fn hostnames(l: &Listener, route: &KubeRoute) -> Vec<String> {
    let listener = l.hostname.as_deref().unwrap_or("*");
    if route.hostnames.is_empty() {
        return vec![listener.to_ascii_lowercase()];
    }
    let mut out: Vec<String> = Vec::new();
    for h in &route.hostnames {
        if let Some(i) = intersect(listener, h)
            && !out.contains(&i)
        {
            out.push(i);
        }
    }
    out
}
