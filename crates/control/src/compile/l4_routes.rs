//! VirtualService `tls` and `tcp` rules for one service port as one caller
//! sees it (Istio's `buildSidecarOutboundTLSFilterChainOpts` and
//! `...TCPFilterChainOpts`):
//!
//! * `tls` rules apply to TLS ports (`tls`, `https`), `tcp` rules to the
//!   others.
//! * What can be decided when compiling for one caller (`port`,
//!   `sourceLabels`, `sourceNamespace`, `gateways`) is decided here; the
//!   proxy decides the rest (the ClientHello's SNI).
//! * TLS: every applicable match gives a route for its `sniHosts` (a
//!   repeat of the same names is unreachable and dropped); with none, the
//!   port goes to the service.
//! * TCP: the first rule with an applicable match (or no match) takes
//!   every connection; with none, the port goes to the service.

use weft_api::kinds::istio::{Destination, RouteDestination};
use weft_proto::config::{Backend, TcpRoute};

use super::gateway::use_cluster;
use super::routes::{self, Caller, ClusterRef, Scoped};
use crate::model::{Mesh, PortModel, ServiceModel};

/// Where a port's opaque connections go under a VirtualService.
#[derive(Debug, PartialEq)]
pub enum L4 {
    /// No rule applies: to the service, as without a VirtualService.
    Default,
    /// Every connection to one cluster.
    Cluster(ClusterRef),
    /// By SNI and weight.
    Routes(Vec<TcpRoute>),
}

/// The `tls` rules of `vs` for a TLS port.
pub fn tls_routes(
    vs: Scoped<'_>,
    svc: &ServiceModel,
    port: &PortModel,
    caller: &Caller,
    mesh: &Mesh,
    clusters: &mut Vec<ClusterRef>,
) -> L4 {
    let mut out: Vec<TcpRoute> = Vec::new();
    for rule in &vs.vs.tls {
        for m in &rule.matches {
            let applies = applies(
                port.port,
                m.port,
                &m.source_labels,
                m.source_namespace.as_deref(),
                &m.gateways,
                caller,
            );
            // `destinationSubnets` are not carried out (loading warns);
            // the names decide.
            if !applies || out.iter().any(|r| r.sni == m.sni_hosts) {
                continue;
            }
            let backends = backends(vs, &rule.route, svc, port, mesh, clusters);
            if !backends.is_empty() {
                out.push(TcpRoute {
                    name: None,
                    sni: m.sni_hosts.clone(),
                    backends,
                });
            }
        }
    }
    if out.is_empty() {
        L4::Default
    } else {
        L4::Routes(out)
    }
}

/// The first `tcp` rule of `vs` that applies to a non-TLS port.
pub fn tcp_routes(
    vs: Scoped<'_>,
    svc: &ServiceModel,
    port: &PortModel,
    caller: &Caller,
    mesh: &Mesh,
    clusters: &mut Vec<ClusterRef>,
) -> L4 {
    let rule = vs.vs.tcp.iter().find(|r| {
        r.matches.is_empty()
            || r.matches.iter().any(|m| {
                applies(
                    port.port,
                    m.port,
                    &m.source_labels,
                    m.source_namespace.as_deref(),
                    &m.gateways,
                    caller,
                )
            })
    });
    let Some(rule) = rule else {
        return L4::Default;
    };
    let mut backends = backends(vs, &rule.route, svc, port, mesh, clusters);
    match backends.len() {
        0 => L4::Default,
        1 => {
            let b = backends.remove(0);
            clusters
                .iter()
                .find(|c| c.name() == b.cluster)
                .cloned()
                .map_or(L4::Default, L4::Cluster)
        }
        _ => L4::Routes(vec![TcpRoute {
            name: None,
            sni: Vec::new(),
            backends,
        }]),
    }
}

/// A rule's destinations as weighted backends: a lone destination takes
/// everything whatever its weight; of several, those of weight 0 none.
fn backends(
    vs: Scoped<'_>,
    route: &[RouteDestination],
    svc: &ServiceModel,
    port: &PortModel,
    mesh: &Mesh,
    clusters: &mut Vec<ClusterRef>,
) -> Vec<Backend> {
    weighted(route, |d| {
        use_cluster(routes::cluster_ref(vs, d, svc, port, mesh), clusters)
    })
}

/// `route`'s destinations as backends, each named by `cluster`: a lone
/// destination takes everything whatever its weight (Istio's default of
/// 100); of several, those of weight 0 none.
pub(super) fn weighted(
    route: &[RouteDestination],
    mut cluster: impl FnMut(&Destination) -> String,
) -> Vec<Backend> {
    let lone = route.len() == 1;
    route
        .iter()
        .filter(|d| lone || d.weight > 0)
        .map(|d| Backend {
            cluster: cluster(&d.destination),
            weight: if lone {
                1
            } else {
                u32::try_from(d.weight).unwrap_or(0)
            },
            headers: Default::default(),
        })
        .collect()
}

/// Whether an L4 match applies to this caller on `port` (what Istio
/// decides when compiling: `port`, `sourceLabels`, `sourceNamespace`,
/// `gateways`).
fn applies(
    port: u16,
    match_port: Option<u32>,
    labels: &std::collections::BTreeMap<String, String>,
    namespace: Option<&str>,
    gateways: &[String],
    caller: &Caller,
) -> bool {
    match_port.is_none_or(|p| p == u32::from(port))
        && routes::source_matches(labels, namespace, caller)
        && routes::gateways_include_mesh(gateways)
}
