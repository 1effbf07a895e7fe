//! VirtualService `tls` and `tcp` rules bound to an Istio Gateway's
//! `PASSTHROUGH` and TCP servers (Istio's `buildGatewayNetworkFilters
//! FromTLSRoutes` / `...FromTCPRoutes`):
//!
//! * A match applies on this gateway port when its `port` (if any) is
//!   the server's, its `gateways` (if any) name this Gateway, and its
//!   `sourceLabels` / `sourceNamespace` hold for the gateway proxy.
//! * TLS: a match's `sniHosts`, narrowed to the server's `hosts`, become
//!   one route's server names; names the server does not admit are
//!   dropped, and a match left with none is too.
//! * TCP: the first rule with an applicable match (or none) takes every
//!   connection on the port.

use weft_api::Resource;
use weft_api::kinds::istio::{RouteDestination, Server, VirtualService};
use weft_proto::config::{Backend, TcpRoute};

use super::istio::{Bound, cluster_ref, names};
use super::{intersect, use_cluster};
use crate::compile::l4_routes::weighted;
use crate::compile::routes::ClusterRef;
use crate::model::Mesh;

/// Routes for connections passed through by SNI on `server`'s port.
pub(super) fn tls_routes(
    gateway: &Bound<'_>,
    server: &Server,
    r: &Resource,
    vs: &VirtualService,
    mesh: &Mesh,
    clusters: &mut Vec<ClusterRef>,
) -> Vec<TcpRoute> {
    let vs_ns = r.namespace();
    let mut out = Vec::new();
    for rule in &vs.tls {
        for m in &rule.matches {
            let applies = m.port.is_none_or(|p| p == u32::from(gateway.port))
                && applies_to(
                    gateway,
                    &m.gateways,
                    &m.source_labels,
                    m.source_namespace.as_deref(),
                    vs_ns,
                );
            if !applies {
                continue;
            }
            let sni = narrowed(&m.sni_hosts, server);
            if sni.is_empty() {
                continue;
            }
            let backends = backends(&rule.route, vs_ns, mesh, clusters);
            if backends.is_empty() {
                continue;
            }
            out.push(TcpRoute {
                name: Some(format!("{vs_ns}/{}", r.name())),
                sni,
                backends,
            });
        }
    }
    out
}

/// The route for every connection on a TCP server's port, if a rule of
/// `vs` applies there.
pub(super) fn tcp_route(
    gateway: &Bound<'_>,
    r: &Resource,
    vs: &VirtualService,
    mesh: &Mesh,
    clusters: &mut Vec<ClusterRef>,
) -> Option<TcpRoute> {
    let vs_ns = r.namespace();
    let rule = vs.tcp.iter().find(|rule| {
        rule.matches.is_empty()
            || rule.matches.iter().any(|m| {
                m.port.is_none_or(|p| p == u32::from(gateway.port))
                    && applies_to(
                        gateway,
                        &m.gateways,
                        &m.source_labels,
                        m.source_namespace.as_deref(),
                        vs_ns,
                    )
            })
    })?;
    let backends = backends(&rule.route, vs_ns, mesh, clusters);
    (!backends.is_empty()).then(|| TcpRoute {
        name: Some(format!("{vs_ns}/{}", r.name())),
        sni: Vec::new(),
        backends,
    })
}

fn applies_to(
    gateway: &Bound<'_>,
    gateways: &[String],
    source_labels: &std::collections::BTreeMap<String, String>,
    source_namespace: Option<&str>,
    vs_ns: &str,
) -> bool {
    let caller = gateway.caller;
    (gateways.is_empty() || gateways.iter().any(|g| names(g, vs_ns, &gateway.key)))
        && source_labels
            .iter()
            .all(|(k, v)| caller.labels.get(k) == Some(v))
        && source_namespace.is_none_or(|ns| ns == caller.namespace)
}

/// `sni` narrowed to the hosts `server` admits (`*` when the server
/// admits any and the match asks for any).
fn narrowed(sni: &[String], server: &Server) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in sni {
        for admitted in &server.hosts {
            let pattern = admitted
                .split_once('/')
                .map_or(admitted.as_str(), |(_, h)| h);
            if let Some(n) = intersect(pattern, name)
                && !out.contains(&n)
            {
                out.push(n);
            }
        }
    }
    out
}

/// A rule's destinations, resolved in the VirtualService's namespace.
fn backends(
    route: &[RouteDestination],
    vs_ns: &str,
    mesh: &Mesh,
    clusters: &mut Vec<ClusterRef>,
) -> Vec<Backend> {
    weighted(route, |d| {
        use_cluster(cluster_ref(d, vs_ns, mesh), clusters)
    })
}
