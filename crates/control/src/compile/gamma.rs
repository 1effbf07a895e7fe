//! Gateway API routes attached to a Service: mesh routing (GAMMA,
//! gateway-api GEP-1426 "xRoutes mesh binding" and GEP-1294 "mesh
//! namespace boundaries"), as sidecars carry it out for outbound traffic.
//!
//! * An `HTTPRoute`, `GRPCRoute` or `TCPRoute` whose `parentRefs` name a
//!   Service (`group: ""` or `core`, `kind: Service`) routes the traffic
//!   clients send to that Service (its frontend: name and address); a
//!   `port` (or `sectionName`, a port name) limits it to one port.
//! * Producer routes (in the Service's namespace) apply to every client;
//!   a consumer route (in another namespace) applies only to clients in
//!   its own namespace, and there takes the place of the producer routes.
//! * Once routes attach, only they apply (GEP-1426 "route presence"): a
//!   request no rule matches gets 404 `NR`.
//! * HTTPRoute rules are compiled as a gateway's are (`gateway/`):
//!   matches, filters, weighted backends, timeouts, sorted by Gateway
//!   API precedence across the routes; GRPCRoute rules (`gamma/grpc.rs`)
//!   likewise. HTTPRoutes and GRPCRoutes on one port are not merged (one
//!   kind is accepted). A TCPRoute's backends share connections by
//!   weight.
//! * A backend Service without a `port` gets the port being routed.

mod grpc;

use std::collections::HashMap;
use std::sync::Arc;

use weft_api::kinds::Spec;
use weft_api::kinds::gateway_api::ParentReference;
use weft_api::kinds::gateway_api::common::BackendRef;
use weft_api::{Resource, host};
use weft_proto::config::{Backend, DirectResponse, HttpRoute, RouteMetrics};

use super::gateway::http_route;
use super::gateway::{port_number, use_cluster};
use super::routes::{Caller, ClusterRef};
use crate::model::{PortModel, ServiceModel};

/// The mesh routes that apply to one service for one caller.
#[derive(Debug, Clone)]
pub struct Attached<'a> {
    routes: Vec<&'a Resource>,
}

/// Route resources by the FQDN of each Service they attach to, in load
/// order.
pub fn index(resources: &[Arc<Resource>]) -> HashMap<String, Vec<usize>> {
    let mut out: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, r) in resources.iter().enumerate() {
        for p in parent_refs(r).iter().filter(|p| is_service(p)) {
            let ns = p.namespace.as_deref().unwrap_or(r.namespace());
            let list = out.entry(host::service_fqdn(&p.name, ns)).or_default();
            if !list.contains(&i) {
                list.push(i);
            }
        }
    }
    out
}

/// The routes of `found` (indexes into `resources`) that apply to `svc`
/// for `caller`: the consumer routes in the caller's namespace when there
/// are any, else the producer routes; `None` when neither.
pub fn for_caller<'a>(
    resources: &'a [Arc<Resource>],
    found: &[usize],
    svc: &ServiceModel,
    caller: &Caller,
) -> Option<Attached<'a>> {
    let in_ns = |ns: &str| -> Vec<&'a Resource> {
        found
            .iter()
            .filter_map(|i| resources.get(*i))
            .filter(|r| r.namespace() == ns)
            .map(|r| &**r)
            .collect()
    };
    let mut routes = Vec::new();
    if caller.namespace != svc.namespace {
        routes = in_ns(&caller.namespace);
    }
    if routes.is_empty() {
        routes = in_ns(&svc.namespace);
    }
    (!routes.is_empty()).then_some(Attached { routes })
}

// === impl Attached ===

impl Attached<'_> {
    /// HTTP routes for `port`: HTTPRoute rules in Gateway API precedence,
    /// or GRPCRoute rules in theirs; `None` when no HTTPRoute or GRPCRoute
    /// attaches to the port.
    pub fn http_routes(
        &self,
        svc: &ServiceModel,
        port: &PortModel,
        clusters: &mut Vec<ClusterRef>,
    ) -> Option<Vec<HttpRoute>> {
        let attached: Vec<&Resource> = self.attached_to(svc, port).collect();
        // Gateway API does not merge HTTPRoutes and GRPCRoutes on one
        // parent: one kind is accepted, the older route's, then the first
        // by `namespace/name`. weft has no creation times: the first by
        // name decides.
        let first = attached
            .iter()
            .filter(|r| matches!(r.spec, Spec::HttpRoute(_) | Spec::GrpcRoute(_)))
            .min_by_key(|r| (r.namespace(), r.name()))?;
        let want_http = matches!(first.spec, Spec::HttpRoute(_));
        let mut entries = Vec::new();
        let mut grpc = Vec::new();
        for r in attached {
            match &r.spec {
                Spec::HttpRoute(route) if want_http => {
                    entries.extend(http_route::entries(
                        r.namespace(),
                        r.name(),
                        route,
                        Some(port.port),
                        clusters,
                    ));
                }
                Spec::GrpcRoute(route) if !want_http => {
                    grpc.extend(grpc::entries(r, route, port.port, clusters));
                }
                _ => {}
            }
        }
        http_route::sort(&mut entries);
        grpc::sort(&mut grpc);
        // Each HTTPRoute and GRPCRoute rule is counted under its name
        // (`namespace/route/rule`) for `weft routes`, as Linkerd counts
        // route rules; 5xx and gRPC errors (in headers or trailers) are
        // its failures.
        let mut routes: Vec<HttpRoute> = entries
            .into_iter()
            .map(|e| e.route)
            .chain(grpc.into_iter().map(|e| e.route))
            .map(|mut route| {
                route.metrics = route.name.clone().map(|name| RouteMetrics {
                    name,
                    failures: None,
                });
                route
            })
            .collect();
        if routes.is_empty() {
            // Routes attach but none of their rules can be carried out:
            // still only they apply, so every request finds none.
            routes.push(no_route());
        }
        Some(routes)
    }

    /// TCP for `port`: the first attached TCPRoute's first rule, as a
    /// catch-all route whose backends share connections by weight;
    /// `None` when no TCPRoute attaches to the port.
    pub fn tcp_route(
        &self,
        svc: &ServiceModel,
        port: &PortModel,
        clusters: &mut Vec<ClusterRef>,
    ) -> Option<HttpRoute> {
        self.attached_to(svc, port).find_map(|r| match &r.spec {
            // Gateway API: a TCPRoute has a single rule per parent (more
            // need `sectionName` matching, which mesh parents lack).
            Spec::TcpRoute(route) => {
                let backends = route
                    .rules
                    .first()
                    .map(|rule| backends(r.namespace(), &rule.backend_refs, port.port, clusters))
                    .unwrap_or_default();
                // No backend to send to: connections are refused rather
                // than sent to the Service the route replaces.
                Some(match backends.is_empty() {
                    true => no_route(),
                    false => HttpRoute {
                        name: Some(format!("{}/{}", r.namespace(), r.name())),
                        backends,
                        ..HttpRoute::default()
                    },
                })
            }
            _ => None,
        })
    }

    /// The routes with a parentRef naming `svc` and picking `port`.
    fn attached_to<'s>(
        &'s self,
        svc: &'s ServiceModel,
        port: &'s PortModel,
    ) -> impl Iterator<Item = &'s Resource> + 's {
        self.routes.iter().copied().filter(move |r| {
            parent_refs(r).iter().any(|p| {
                is_service(p)
                    && p.namespace.as_deref().unwrap_or(r.namespace()) == svc.namespace
                    && svc.short_name.as_deref() == Some(p.name.as_str())
                    && p.port.is_none_or(|n| port_number(n) == Some(port.port))
                    && p.section_name
                        .as_deref()
                        .is_none_or(|s| port.name.as_deref() == Some(s))
            })
        })
    }
}

/// A route answering 404 to everything, for a port whose attached routes
/// have no rule weft can carry out.
fn no_route() -> HttpRoute {
    HttpRoute {
        name: Some("gamma-no-rule".into()),
        direct_response: Some(DirectResponse {
            status: 404,
            body: None,
        }),
        ..HttpRoute::default()
    }
}

/// `parentRefs` of a Gateway API route; none for other kinds.
fn parent_refs(r: &Resource) -> &[ParentReference] {
    match &r.spec {
        Spec::HttpRoute(h) => &h.parent_refs,
        Spec::GrpcRoute(g) => &g.parent_refs,
        Spec::TcpRoute(t) => &t.parent_refs,
        _ => &[],
    }
}

/// A parentRef to a Service: the core group, written `""` or `core`
/// (GEP-1426).
pub fn is_service(p: &ParentReference) -> bool {
    matches!(p.group.as_deref(), Some("" | "core")) && p.kind.as_deref() == Some("Service")
}

/// Weighted Service backends in `namespace` (another namespace needs a
/// ReferenceGrant, which weft does not read: no traffic), by their port
/// or the one being routed. Weight 0 gets no traffic.
fn backends(
    namespace: &str,
    refs: &[BackendRef],
    port: u16,
    clusters: &mut Vec<ClusterRef>,
) -> Vec<Backend> {
    refs.iter()
        .filter(|b| b.weight.unwrap_or(1) > 0)
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
                weight: u32::try_from(b.weight.unwrap_or(1)).unwrap_or(1),
                ..Backend::default()
            }
        })
        .collect()
}
