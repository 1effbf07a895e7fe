//! One service as one caller sees it: the names it answers to, its ports,
//! and each port's routes (from what routes it: a VirtualService, an SMI
//! TrafficSplit or Gateway API mesh routes).

use weft_api::protocol::Protocol;
use weft_proto::config::{
    AppProtocol, Backend, HttpRoute, RetryBudget, Service, ServicePort, TcpRoute,
};

use super::gamma::Attached;
use super::l4_routes::{self, L4};
use super::profile::Profile;
use super::route_actions::default_retries;
use super::routes::{self, Caller, ClusterRef, Scoped};
use super::split::Split;
use crate::model::{Mesh, PortModel, ServiceModel};

/// What routes a service's traffic, by precedence: a mesh-bound
/// VirtualService, then a Linkerd ServiceProfile (with the service's
/// TrafficSplit, if any, as its backends), then a TrafficSplit, then
/// Gateway API routes attached to the Service (docs/traffic.md, "Which
/// routing applies").
#[derive(Debug, Clone)]
pub enum Routing<'a> {
    Virtual(Scoped<'a>),
    Profile(Profile<'a>, Option<Split<'a>>),
    Split(Split<'a>),
    Gamma(Attached<'a>),
}

/// A port's routes, and where its opaque connections go.
#[derive(Debug, Default)]
struct PortRouting {
    routes: Vec<HttpRoute>,
    /// Opaque connections (and HTTP when `routes` is empty).
    cluster: Option<ClusterRef>,
    /// Opaque connections by SNI and weight, instead of `cluster`.
    tcp_routes: Vec<TcpRoute>,
}

impl PortRouting {
    fn http(routes: Vec<HttpRoute>, cluster: Option<ClusterRef>) -> Self {
        Self {
            routes,
            cluster,
            tcp_routes: Vec::new(),
        }
    }
}

/// The service for `caller`, and every cluster its routes name.
pub fn build(
    svc: &ServiceModel,
    routing: Option<&Routing<'_>>,
    caller: &Caller,
    mesh: &Mesh,
) -> (Service, Vec<ClusterRef>) {
    let mut clusters = Vec::new();
    let ports = svc
        .ports
        .iter()
        .map(|port| {
            let protocol = app_protocol(port.protocol);
            let PortRouting {
                routes,
                cluster,
                tcp_routes,
            } = match routing {
                None => unrouted_port(svc, port),
                Some(Routing::Virtual(vs)) => {
                    virtual_port(*vs, svc, port, caller, mesh, &mut clusters)
                }
                Some(Routing::Split(split)) => {
                    // Every request (HTTP) or connection (TCP, and opaque
                    // bytes on a detecting port) is split.
                    PortRouting::http(vec![split.route(port, mesh, &mut clusters)], None)
                }
                Some(Routing::Gamma(att)) => gamma_port(att, svc, port, &mut clusters),
                // Linkerd profiles describe HTTP routes; TCP goes on as
                // without one.
                Some(Routing::Profile(..)) if port.protocol.is_opaque() => unrouted_port(svc, port),
                Some(Routing::Profile(p, split)) => {
                    let routes = p.http_routes(svc, port, split.as_ref(), mesh, &mut clusters);
                    let tcp = (port.protocol == Protocol::Unknown)
                        .then(|| ClusterRef::default_for(svc, port.port));
                    PortRouting::http(routes, tcp)
                }
            };
            if let Some(c) = &cluster
                && !clusters.contains(c)
            {
                clusters.push(c.clone());
            }
            ServicePort {
                port: port.port,
                name: port.name.clone(),
                protocol,
                routes,
                cluster: cluster.map(|c| c.name()),
                tcp_routes,
                retry_budget: match routing {
                    Some(Routing::Profile(p, _)) => p.retry_budget(),
                    _ => RetryBudget::default(),
                },
            }
        })
        .collect();
    let service = Service {
        name: svc.fqdn.clone(),
        namespace: Some(svc.namespace.clone()),
        hosts: aliases(svc, &caller.namespace),
        addresses: svc.vips.clone(),
        ports,
    };
    (service, clusters)
}

fn virtual_port(
    vs: Scoped<'_>,
    svc: &ServiceModel,
    port: &PortModel,
    caller: &Caller,
    mesh: &Mesh,
    clusters: &mut Vec<ClusterRef>,
) -> PortRouting {
    let default = ClusterRef::default_for(svc, port.port);
    let l4 = |clusters: &mut Vec<ClusterRef>| {
        let l4 = match port.protocol {
            Protocol::Tls => l4_routes::tls_routes(vs, svc, port, caller, mesh, clusters),
            _ => l4_routes::tcp_routes(vs, svc, port, caller, mesh, clusters),
        };
        match l4 {
            L4::Default => PortRouting::http(Vec::new(), Some(default.clone())),
            L4::Cluster(c) => PortRouting::http(Vec::new(), Some(c)),
            L4::Routes(tcp_routes) => PortRouting {
                tcp_routes,
                ..PortRouting::default()
            },
        }
    };
    match port.protocol {
        Protocol::Tcp | Protocol::Tls => l4(clusters),
        p => {
            // HTTP is governed by the http rules (404 when none matches);
            // a detecting port may also carry TCP, governed by the tcp
            // rules.
            let routes = routes::http_routes(vs, svc, port, caller, mesh, clusters);
            match p {
                Protocol::Unknown => PortRouting {
                    routes,
                    ..l4(clusters)
                },
                _ => PortRouting::http(routes, None),
            }
        }
    }
}

/// A port under mesh routes: HTTP follows the HTTPRoutes and GRPCRoutes
/// attached to it, TCP its TCPRoute; what no route attaches to goes to
/// the service as without routes.
fn gamma_port(
    att: &Attached<'_>,
    svc: &ServiceModel,
    port: &PortModel,
    clusters: &mut Vec<ClusterRef>,
) -> PortRouting {
    let default = ClusterRef::default_for(svc, port.port);
    let http = match port.protocol {
        Protocol::Tcp | Protocol::Tls => None,
        _ => att.http_routes(svc, port, clusters),
    };
    let tcp = match port.protocol {
        Protocol::Http | Protocol::Http2 | Protocol::Grpc => None,
        Protocol::Tcp | Protocol::Tls | Protocol::Unknown => att.tcp_route(svc, port, clusters),
    };
    match (http, tcp) {
        (Some(routes), None) => {
            // Opaque bytes on a detecting port still reach the service.
            let cluster = (port.protocol == Protocol::Unknown).then_some(default);
            PortRouting::http(routes, cluster)
        }
        // Both on a detecting port: opaque bytes follow the TCPRoute.
        (Some(routes), Some(tcp)) => PortRouting {
            routes,
            cluster: None,
            tcp_routes: vec![TcpRoute {
                name: tcp.name,
                sni: Vec::new(),
                backends: tcp.backends,
            }],
        },
        (None, Some(tcp)) => PortRouting::http(vec![tcp], None),
        (None, None) => unrouted_port(svc, port),
    }
}

/// A port nothing routes: TCP to the service; HTTP by one route to it
/// with Istio's default retries (and the cluster for the TCP a detecting
/// port may also carry).
fn unrouted_port(svc: &ServiceModel, port: &PortModel) -> PortRouting {
    let default = ClusterRef::default_for(svc, port.port);
    if port.protocol.is_opaque() {
        return PortRouting::http(Vec::new(), Some(default));
    }
    let route = HttpRoute {
        backends: vec![Backend {
            cluster: default.name(),
            weight: 1,
            headers: Default::default(),
        }],
        retries: Some(default_retries()),
        ..HttpRoute::default()
    };
    PortRouting::http(vec![route], Some(default))
}

/// The names a caller may use besides the FQDN, as Kubernetes DNS
/// resolves them: the bare name only from the service's own namespace.
fn aliases(svc: &ServiceModel, caller_ns: &str) -> Vec<String> {
    let Some(name) = &svc.short_name else {
        return Vec::new();
    };
    let ns = &svc.namespace;
    let mut out = Vec::with_capacity(3);
    if ns == caller_ns {
        out.push(name.clone());
    }
    out.push(format!("{name}.{ns}"));
    out.push(format!("{name}.{ns}.svc"));
    out
}

pub fn app_protocol(p: Protocol) -> AppProtocol {
    match p {
        Protocol::Http => AppProtocol::Http,
        Protocol::Http2 => AppProtocol::Http2,
        Protocol::Grpc => AppProtocol::Grpc,
        Protocol::Tcp | Protocol::Tls => AppProtocol::Tcp,
        Protocol::Unknown => AppProtocol::Detect,
    }
}
