//! One service as one caller sees it: the names it answers to, its ports,
//! and each port's routes (from the VirtualService claiming it).

use weft_api::protocol::Protocol;
use weft_proto::config::{AppProtocol, Backend, HttpRoute, RetryBudget, Service, ServicePort};

use super::route_actions::default_retries;

use super::routes::{self, Caller, ClusterRef, Scoped};
use crate::model::{Mesh, ServiceModel};

/// The service for `caller`, and every cluster its routes name.
pub fn build(
    svc: &ServiceModel,
    vs: Option<Scoped<'_>>,
    caller: &Caller,
    mesh: &Mesh,
) -> (Service, Vec<ClusterRef>) {
    let mut clusters = Vec::new();
    let ports = svc
        .ports
        .iter()
        .map(|port| {
            let protocol = app_protocol(port.protocol);
            let default = ClusterRef::default_for(svc, port.port);
            let (routes, cluster) = match (vs, port.protocol) {
                (None, Protocol::Tcp) => (Vec::new(), Some(default)),
                // HTTP without a VirtualService: one route to the service
                // with Istio's default retries (and the cluster for TCP a
                // detecting port may also carry).
                (None, _) => (
                    vec![HttpRoute {
                        backends: vec![Backend {
                            cluster: default.name(),
                            weight: 1,
                            headers: Default::default(),
                        }],
                        retries: Some(default_retries()),
                        ..HttpRoute::default()
                    }],
                    Some(default),
                ),
                (Some(vs), Protocol::Tcp) => (
                    Vec::new(),
                    Some(routes::tcp_cluster(vs, svc, port, caller, mesh).unwrap_or(default)),
                ),
                (Some(vs), p) => {
                    let routes = routes::http_routes(vs, svc, port, caller, mesh, &mut clusters);
                    // HTTP is governed by the http rules (404 when none
                    // matches); what is left to a `cluster` is TCP that a
                    // detecting port may also carry.
                    let tcp = match p {
                        Protocol::Unknown => Some(
                            routes::tcp_cluster(vs, svc, port, caller, mesh).unwrap_or(default),
                        ),
                        _ => None,
                    };
                    (routes, tcp)
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
                retry_budget: RetryBudget::default(),
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
        Protocol::Tcp => AppProtocol::Tcp,
        Protocol::Unknown => AppProtocol::Detect,
    }
}
