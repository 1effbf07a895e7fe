//! What an ingress gateway serves: per gateway port, the TLS it
//! terminates and its virtual hosts with their routes, from the Istio
//! `Gateway`s that select the gateway proxy (with the VirtualServices
//! bound to them, `istio.rs`) and the Gateway API `Gateway` it runs (with
//! its attached `HTTPRoute`s, `kube.rs`, `http_route.rs`).
//!
//! Only proxies with a gateway listener are compiled for
//! (`Caller::gateway`): a sidecar that happens to carry a gateway's labels
//! gets nothing here.

pub(super) mod http_filters;
pub(super) mod http_route;
mod istio;
mod istio_l4;
mod kube;

pub use kube::CLASSES as GATEWAY_CLASSES;

use std::collections::BTreeMap;

use weft_api::host;
use weft_proto::config::{GatewayServer, HttpRoute, ServerTls, TcpRoute, VirtualHost};

use super::routes::{Caller, ClusterRef};
use crate::model::Mesh;

/// The label Istio puts on the pods of a Gateway API gateway's deployment:
/// a proxy carrying it (in the Gateway's namespace) runs that Gateway.
pub const GATEWAY_NAME_LABEL: &str = "gateway.networking.k8s.io/gateway-name";

/// One gateway port as the sources contribute to it.
#[derive(Debug, Default)]
struct PortPlan {
    /// The first certificate any source gives the port.
    tls: Option<ServerTls>,
    /// Host → routes, in the order sources gave them. Sorted by host, so
    /// the output is stable.
    hosts: BTreeMap<String, Vec<HttpRoute>>,
    /// Connections passed through (TLS by SNI, TCP), in the order
    /// sources gave them.
    tcp_routes: Vec<TcpRoute>,
}

/// Every gateway port `caller` serves, and the clusters their routes use
/// (added to `clusters`).
pub fn servers(mesh: &Mesh, caller: &Caller, clusters: &mut Vec<ClusterRef>) -> Vec<GatewayServer> {
    if !caller.gateway {
        return Vec::new();
    }
    let mut ports: BTreeMap<u16, PortPlan> = BTreeMap::new();
    istio::contribute(mesh, caller, &mut ports, clusters);
    kube::contribute(mesh, caller, &mut ports, clusters);
    ports
        .into_iter()
        .map(|(port, plan)| GatewayServer {
            port,
            tls: plan.tls,
            virtual_hosts: plan
                .hosts
                .into_iter()
                .filter(|(_, routes)| !routes.is_empty())
                .map(|(h, routes)| VirtualHost {
                    name: h.clone(),
                    hosts: vec![h],
                    routes,
                })
                .collect(),
            tcp_routes: plan.tcp_routes,
            rate_limit: None,
        })
        .collect()
}

// === impl PortPlan ===

impl PortPlan {
    /// TLS: the first source to give this port a certificate wins (one
    /// certificate per port; Istio would pick one by SNI).
    fn offer_tls(&mut self, tls: Option<ServerTls>) {
        if self.tls.is_none() {
            self.tls = tls;
        }
    }

    fn add(&mut self, host: String, routes: Vec<HttpRoute>) {
        self.hosts.entry(host).or_default().extend(routes);
    }

    /// Adds routes for opaque connections. As Envoy's filter chains,
    /// a repeat of the same server names (or a second route for every
    /// connection) is unreachable: the first keeps them.
    fn add_tcp(&mut self, routes: Vec<TcpRoute>) {
        for r in routes {
            if !self.tcp_routes.iter().any(|t| t.sni == r.sni) {
                self.tcp_routes.push(r);
            }
        }
    }
}

/// The hosts both patterns cover, as one pattern: the more specific of
/// the two when one covers the other (`*` and `a.com` give `a.com`;
/// `*.com` and `*.a.com` give `*.a.com`), else none. This is how Istio
/// narrows a VirtualService's hosts to a server's, and Gateway API an
/// HTTPRoute's hostnames to a listener's.
fn intersect(a: &str, b: &str) -> Option<String> {
    if host::matches(a, b) || a.eq_ignore_ascii_case(b) {
        Some(b.to_ascii_lowercase())
    } else if host::matches(b, a) {
        Some(a.to_ascii_lowercase())
    } else {
        None
    }
}

/// A port number from a resource, when it is one.
pub(super) fn port_number(n: impl TryInto<u16>) -> Option<u16> {
    n.try_into().ok().filter(|p| *p != 0)
}

/// Adds `cref` to `clusters` once; returns its name.
pub(super) fn use_cluster(cref: ClusterRef, clusters: &mut Vec<ClusterRef>) -> String {
    let name = cref.name();
    if !clusters.contains(&cref) {
        clusters.push(cref);
    }
    name
}

#[cfg(test)]
mod tests {
    use super::intersect;

    #[test]
    fn intersections_keep_the_more_specific_pattern() {
        let cases = [
            ("*", "shop.example.com", Some("shop.example.com")),
            ("shop.example.com", "*", Some("shop.example.com")),
            (
                "*.example.com",
                "shop.example.com",
                Some("shop.example.com"),
            ),
            ("*.com", "*.example.com", Some("*.example.com")),
            ("*", "*", Some("*")),
            (
                "Shop.Example.com",
                "shop.example.com",
                Some("shop.example.com"),
            ),
            ("*.example.com", "example.com", None),
            ("a.com", "b.com", None),
        ];
        for (a, b, want) in cases {
            assert_eq!(intersect(a, b).as_deref(), want, "{a} ∩ {b}");
        }
    }
}
