//! Which services a change touches, so a generation recompiles those and
//! reuses the rest: one endpoint moving recompiles one service's clusters,
//! not ten thousand.
//!
//! A resource that did not change is the same `Arc` in the next set (the
//! store's parse cache), so changed resources are found by identity.
//! What a changed resource touches:
//!
//! | resource | services touched |
//! |---|---|
//! | Service, ServiceEntry | itself (each host); and the services whose VirtualService or TrafficSplit routes to it (a destination's port can depend on its service's ports) |
//! | VirtualService | the services it claims (a delegate: everything) |
//! | TrafficSplit | its root service |
//! | ServiceProfile | the service it is named after (its FQDN) |
//! | HTTPRoute, GRPCRoute, TCPRoute with a Service parent | those Services (the routes' backends are clusters, compiled as any) |
//! | DestinationRule | the service of its host |
//! | WorkloadEntry, a proxy registering or leaving | the services selecting it |
//! | Sidecar | none: it scopes views, which are reassembled every generation |
//! | Gateway, Gateway API Gateway, routes' Gateway parents | none: gateway servers are compiled with each view; the services their routes name recompile as usual |
//! | PeerAuthentication | everything: it decides which endpoints get mTLS |
//!
//! A wildcard host marks everything.

use std::collections::HashSet;
use std::sync::Arc;

use weft_api::kinds::Spec;
use weft_api::{Resource, host};
use weft_proto::discovery::Node;

use crate::model::Mesh;

/// The services to recompile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dirty {
    All,
    Services(HashSet<String>),
}

// === impl Dirty ===

impl Dirty {
    pub fn contains(&self, fqdn: &str) -> bool {
        match self {
            Dirty::All => true,
            Dirty::Services(s) => s.contains(fqdn),
        }
    }

    /// What changed between `before` and `now`, given the nodes that
    /// registered, changed or left (in both their old and new form).
    pub fn between(before: &Mesh, now: &Mesh, nodes: &[Node]) -> Self {
        let was: HashSet<*const Resource> = before.resources.iter().map(Arc::as_ptr).collect();
        let is: HashSet<*const Resource> = now.resources.iter().map(Arc::as_ptr).collect();
        let changed = now
            .resources
            .iter()
            .filter(|r| !was.contains(&Arc::as_ptr(r)))
            .chain(
                before
                    .resources
                    .iter()
                    .filter(|r| !is.contains(&Arc::as_ptr(r))),
            );
        let mut out = HashSet::new();
        let mut services_changed = HashSet::new();
        for r in changed {
            let ns = r.namespace();
            let mut add = |fqdn: String| -> bool {
                if fqdn.starts_with('*') {
                    return false;
                }
                out.insert(fqdn);
                true
            };
            let ok = match &r.spec {
                Spec::Service(_) => {
                    let fq = host::service_fqdn(r.name(), ns);
                    services_changed.insert(fq.clone());
                    add(fq)
                }
                Spec::ServiceEntry(se) => se.hosts.iter().all(|h| {
                    let fq = host::fqdn(h, ns);
                    services_changed.insert(fq.clone());
                    add(fq)
                }),
                // A delegate (no hosts) serves roots anywhere: all.
                Spec::VirtualService(vs) if vs.hosts.is_empty() => false,
                Spec::VirtualService(vs) => vs.hosts.iter().all(|h| add(host::fqdn(h, ns))),
                Spec::DestinationRule(dr) => add(host::fqdn(&dr.host, ns)),
                Spec::TrafficSplit(ts) => add(host::service_fqdn(&ts.service, ns)),
                Spec::ServiceProfile(_) => add(r.name().to_string()),
                Spec::HttpRoute(_) | Spec::GrpcRoute(_) | Spec::TcpRoute(_) => {
                    for fq in super::gamma::index(std::slice::from_ref(r)).into_keys() {
                        add(fq);
                    }
                    true
                }
                Spec::PeerAuthentication(_) | Spec::Telemetry(_) => false,
                Spec::WorkloadEntry(we) => {
                    selecting(before, ns, &we.labels, &mut out);
                    selecting(now, ns, &we.labels, &mut out);
                    true
                }
                _ => true,
            };
            if !ok {
                return Dirty::All;
            }
        }
        for n in nodes {
            let labels = n
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let ns = if n.namespace.is_empty() {
                "default"
            } else {
                n.namespace.as_str()
            };
            selecting(before, ns, &labels, &mut out);
            selecting(now, ns, &labels, &mut out);
        }
        if !services_changed.is_empty() {
            routes_to(now, &services_changed, &mut out);
        }
        Dirty::Services(out)
    }
}

/// Adds the services of `mesh` in `ns` whose selector matches `labels`.
fn selecting(
    mesh: &Mesh,
    ns: &str,
    labels: &std::collections::BTreeMap<String, String>,
    out: &mut HashSet<String>,
) {
    out.extend(
        mesh.selecting(ns, labels)
            .into_iter()
            .map(|s| s.fqdn.clone()),
    );
}

/// Adds the services claimed by VirtualServices, and the roots of
/// TrafficSplits, that route to one of `changed` (a split's backend port
/// can depend on its service's ports too).
fn routes_to(mesh: &Mesh, changed: &HashSet<String>, out: &mut HashSet<String>) {
    for r in mesh.resources.iter() {
        let ns = r.namespace();
        if let Spec::TrafficSplit(ts) = &r.spec
            && ts
                .backends
                .iter()
                .any(|b| changed.contains(&host::service_fqdn(&b.service, ns)))
        {
            out.insert(host::service_fqdn(&ts.service, ns));
        }
        let Spec::VirtualService(vs) = &r.spec else {
            continue;
        };
        let dests = vs
            .http
            .iter()
            .flat_map(|h| h.route.iter().map(|d| &d.destination))
            .chain(
                vs.tcp
                    .iter()
                    .flat_map(|t| t.route.iter().map(|d| &d.destination)),
            );
        if dests
            .into_iter()
            .any(|d| changed.contains(&host::fqdn(&d.host, ns)))
        {
            out.extend(vs.hosts.iter().map(|h| host::fqdn(h, ns)));
        }
    }
}
