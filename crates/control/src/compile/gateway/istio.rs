//! Istio `Gateway` servers and the VirtualServices bound to them
//! (istio/api `networking/v1alpha3/gateway.proto`, `virtual_service.proto`).
//!
//! * A Gateway applies to the gateway proxies whose labels its `selector`
//!   holds, in any namespace (Istio's default: `PILOT_SCOPE_GATEWAY_TO_
//!   NAMESPACE` is off); an empty selector applies to every gateway.
//! * A VirtualService binds to it by naming it in `gateways`: `name` (in
//!   the VirtualService's namespace) or `namespace/name`. `mesh` is the
//!   sidecars, never a gateway.
//! * A server's `hosts` (`[namespace/]host`; `*/` when no namespace, `./`
//!   the Gateway's) say which VirtualServices may bind and for which
//!   hosts: the virtual hosts are the VirtualService's hosts narrowed to
//!   the server's.
//! * A match's `gateways` narrows a rule to some of the VirtualService's
//!   gateways; `port` is the gateway port; `sourceLabels` are the gateway
//!   workload's labels.

use std::collections::BTreeMap;

use weft_api::host;
use weft_api::kinds::Spec;
use weft_api::kinds::istio::{
    Destination, HttpRoute as VsRule, Server, ServerTlsMode, VirtualService,
};
use weft_proto::config::{Backend, HttpRoute, RouteMatch, ServerTls};

use super::{PortPlan, intersect, istio_l4, port_number, use_cluster};
use crate::compile::route_actions;
use crate::compile::routes::{self, Caller, ClusterRef, request_match};
use crate::model::Mesh;

/// One Gateway as a VirtualService names it, and the proxy it serves.
pub(super) struct Bound<'a> {
    /// `namespace/name`.
    pub key: String,
    pub namespace: &'a str,
    pub port: u16,
    pub caller: &'a Caller,
}

/// Adds the servers of every Gateway selecting `caller` to `ports`.
pub(super) fn contribute(
    mesh: &Mesh,
    caller: &Caller,
    ports: &mut BTreeMap<u16, PortPlan>,
    clusters: &mut Vec<ClusterRef>,
) {
    let delegated = crate::compile::delegation::expand(&mesh.resources);
    for r in mesh.resources.iter() {
        let Spec::Gateway(gw) = &r.spec else {
            continue;
        };
        if !gw
            .selector
            .iter()
            .all(|(k, v)| caller.labels.get(k) == Some(v))
        {
            continue;
        }
        for server in &gw.servers {
            let Some(port) = port_number(server.port.number) else {
                continue;
            };
            // Other protocols (and TLS modes) are not served yet
            // (loading warns).
            let Some(serves) = Serves::of(server) else {
                continue;
            };
            let plan = ports.entry(port).or_default();
            if serves == Serves::Http {
                plan.offer_tls(server_tls(server));
            }
            let gateway = Bound {
                key: format!("{}/{}", r.namespace(), r.name()),
                namespace: r.namespace(),
                port,
                caller,
            };
            for (i, vs_r) in mesh.resources.iter().enumerate() {
                let Spec::VirtualService(vs) = &vs_r.spec else {
                    continue;
                };
                let vs = delegated.get(&i).unwrap_or(vs);
                let vs_ns = vs_r.namespace();
                if !vs.gateways.iter().any(|g| names(g, vs_ns, &gateway.key)) {
                    continue;
                }
                let hosts = admitted_hosts(&gateway, server, vs_ns, vs);
                if hosts.is_empty() {
                    continue;
                }
                match serves {
                    Serves::Http => {
                        let routes = http_routes(&gateway, vs, vs_ns, mesh, clusters);
                        for h in hosts {
                            plan.add(h, routes.clone());
                        }
                    }
                    Serves::Passthrough => {
                        let routes =
                            istio_l4::tls_routes(&gateway, server, vs_r, vs, mesh, clusters);
                        plan.add_tcp(routes);
                    }
                    Serves::Tcp => {
                        let routes = istio_l4::tcp_route(&gateway, vs_r, vs, mesh, clusters);
                        plan.add_tcp(routes.into_iter().collect());
                    }
                }
            }
        }
    }
}

/// The hosts of `vs` (in `vs_ns`) that `server` admits, narrowed to the
/// server's: empty when the VirtualService cannot bind to it.
fn admitted_hosts(
    gateway: &Bound<'_>,
    server: &Server,
    vs_ns: &str,
    vs: &VirtualService,
) -> Vec<String> {
    let mut hosts: Vec<String> = Vec::new();
    for h in &vs.hosts {
        let fq = host::fqdn(h, vs_ns);
        for admitted in &server.hosts {
            let (ns, pattern) = admitted.split_once('/').unwrap_or(("*", admitted));
            let ns_ok = match ns {
                "*" => true,
                "." => vs_ns == gateway.namespace,
                other => vs_ns == other,
            };
            if let Some(host) = ns_ok.then(|| intersect(pattern, &fq)).flatten()
                && !hosts.contains(&host)
            {
                hosts.push(host);
            }
        }
    }
    hosts
}

/// Whether a VirtualService in `vs_ns` naming `g` in its `gateways`
/// means the Gateway `key` (`namespace/name`).
pub(super) fn names(g: &str, vs_ns: &str, key: &str) -> bool {
    match g.split_once('/') {
        Some(_) => g == key,
        None => g != "mesh" && key.split_once('/') == Some((vs_ns, g)),
    }
}

/// What a server's port serves, when weft serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Serves {
    /// HTTP, HTTP/2, gRPC; HTTPS terminated (`SIMPLE`).
    Http,
    /// TLS passed through by SNI (`PASSTHROUGH`, on `TLS` or `HTTPS`).
    Passthrough,
    /// Opaque TCP (`TCP`, `MONGO`, `MYSQL`, `REDIS`).
    Tcp,
}

impl Serves {
    fn of(server: &Server) -> Option<Self> {
        let p = server.port.protocol.to_ascii_uppercase();
        let mode = server.tls.as_ref().map(|t| t.mode());
        match p.as_str() {
            "HTTPS" | "TLS" if mode == Some(ServerTlsMode::Passthrough) => {
                Some(Serves::Passthrough)
            }
            "HTTP" | "HTTPS" | "HTTP2" | "GRPC" => Some(Serves::Http),
            "TCP" | "MONGO" | "MYSQL" | "REDIS" => Some(Serves::Tcp),
            _ => None,
        }
    }
}

/// `SIMPLE` with certificate files: what the proxy can terminate.
/// `credentialName` (a Secret) and the mutual modes are not implemented
/// (loading warns); such a port gets no certificate, and a client's TLS
/// on it is refused rather than served without the verification asked.
fn server_tls(server: &Server) -> Option<ServerTls> {
    let tls = server.tls.as_ref()?;
    if tls.mode() != ServerTlsMode::Simple {
        return None;
    }
    Some(ServerTls {
        certificate: tls.server_certificate.as_deref()?.into(),
        private_key: tls.private_key.as_deref()?.into(),
    })
}

/// The VirtualService's HTTP rules as this gateway port applies them:
/// first match wins, as for sidecars.
fn http_routes(
    gateway: &Bound<'_>,
    vs: &VirtualService,
    vs_ns: &str,
    mesh: &Mesh,
    clusters: &mut Vec<ClusterRef>,
) -> Vec<HttpRoute> {
    let mut routes = Vec::new();
    for rule in &vs.http {
        if !routes::carried_out(rule) {
            continue;
        }
        let Some(matches) = matches_for(gateway, rule, vs_ns) else {
            continue;
        };
        let lone = rule.route.len() == 1;
        let backends: Vec<Backend> = rule
            .route
            .iter()
            .filter(|rd| lone || rd.weight > 0)
            .map(|rd| Backend {
                cluster: use_cluster(cluster_ref(&rd.destination, vs_ns, mesh), clusters),
                weight: if lone {
                    1
                } else {
                    u32::try_from(rd.weight).unwrap_or(0)
                },
                headers: route_actions::header_ops(rd.headers.as_ref()),
            })
            .collect();
        if backends.is_empty() && !routes::answers_itself(rule) {
            continue;
        }
        let mut route = HttpRoute {
            name: rule.name.clone(),
            matches,
            backends,
            timeout: rule.timeout.map(|t| t.0),
            ..HttpRoute::default()
        };
        route_actions::apply(rule, &mut route);
        route.mirrors =
            route_actions::mirrors(rule, |d| use_cluster(cluster_ref(d, vs_ns, mesh), clusters));
        routes.push(route);
    }
    routes
}

/// The rule's matches that can apply on this gateway port: `None` when
/// none can (the rule is dropped), empty when every request matches.
fn matches_for(gateway: &Bound<'_>, rule: &VsRule, vs_ns: &str) -> Option<Vec<RouteMatch>> {
    if rule.matches.is_empty() {
        return Some(Vec::new());
    }
    let caller = gateway.caller;
    let out: Vec<RouteMatch> = rule
        .matches
        .iter()
        .filter(|m| m.port.is_none_or(|p| p == u32::from(gateway.port)))
        .filter(|m| {
            m.source_labels
                .iter()
                .all(|(k, v)| caller.labels.get(k) == Some(v))
                && m.source_namespace
                    .as_deref()
                    .is_none_or(|ns| ns == caller.namespace)
        })
        .filter(|m| {
            m.gateways.is_empty() || m.gateways.iter().any(|g| names(g, vs_ns, &gateway.key))
        })
        .map(request_match)
        .collect();
    (!out.is_empty()).then_some(out)
}

/// Istio: a destination names its port unless its service has only one;
/// without either, the cluster is port 0's, which has no endpoints (as
/// Istio's `outbound|0||host`): its requests fail with 503 saying so.
pub(super) fn cluster_ref(dest: &Destination, vs_ns: &str, mesh: &Mesh) -> ClusterRef {
    let fqdn = host::fqdn(&dest.host, vs_ns);
    let port = dest
        .port
        .as_ref()
        .and_then(|p| port_number(p.number))
        .or_else(|| match mesh.services.get(&fqdn) {
            Some(svc) if svc.ports.len() == 1 => Some(svc.ports[0].port),
            _ => None,
        })
        .unwrap_or(0);
    ClusterRef {
        fqdn,
        port,
        subset: dest.subset.clone(),
    }
}
