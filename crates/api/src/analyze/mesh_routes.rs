//! Services that more than one kind of routing claims: a mesh-bound
//! VirtualService, an SMI TrafficSplit, Gateway API routes attached to the
//! Service (GAMMA). Each alone is clear; together upstream meshes differ
//! (Istio turns mesh HTTPRoutes into VirtualServices and then picks one
//! per host by creation time, IST0109; Linkerd follows a ServiceProfile,
//! which its TrafficSplits become, over HTTPRoutes). weft follows the
//! VirtualService, then a ServiceProfile (with the TrafficSplit as its
//! backends), then the TrafficSplit, then the routes (docs/traffic.md):
//! analysis says which one is ignored.

use std::collections::HashMap;

use super::{Index, finding};
use crate::finding::{Finding, Severity};
use crate::host;
use crate::kinds::Spec;
use crate::kinds::gateway_api::ParentReference;
use crate::resource::Resource;

/// What claims one service.
#[derive(Default)]
struct Claims<'a> {
    virtual_service: Option<&'a Resource>,
    split: Option<&'a Resource>,
    profile: Option<&'a Resource>,
}

pub(super) fn check(index: &Index<'_>, out: &mut Vec<Finding>) {
    let mut claims: HashMap<String, Claims<'_>> = HashMap::new();
    for r in index.resources {
        let ns = r.namespace();
        match &r.spec {
            Spec::VirtualService(vs)
                if vs.gateways.is_empty() || vs.gateways.iter().any(|g| g == "mesh") =>
            {
                for h in &vs.hosts {
                    let c = claims.entry(host::fqdn(h, ns)).or_default();
                    c.virtual_service.get_or_insert(r);
                }
            }
            Spec::TrafficSplit(ts) if ts.matches.is_empty() && !ts.service.is_empty() => {
                let fq = host::service_fqdn(&ts.service, ns);
                let c = claims.entry(fq.clone()).or_default();
                if let Some(vs) = c.virtual_service {
                    out.push(ignored(r, "spec.service", &fq, vs, "VirtualService"));
                } else if let Some(first) = c.split {
                    out.push(ignored(r, "spec.service", &fq, first, "first TrafficSplit"));
                } else {
                    c.split = Some(r);
                }
            }
            _ => {}
        }
    }
    // ServiceProfiles (named by their service's FQDN) after every
    // VirtualService is known; a split they take along.
    for r in index.resources {
        if let Spec::ServiceProfile(_) = &r.spec {
            let c = claims.entry(r.name().to_string()).or_default();
            if let Some(vs) = c.virtual_service {
                out.push(ignored(r, "metadata.name", r.name(), vs, "VirtualService"));
            } else {
                c.profile.get_or_insert(r);
            }
        }
    }
    // Routes after every VirtualService, profile and split is known: they
    // lose to all whatever the load order.
    for r in index.resources {
        let parents: &[ParentReference] = match &r.spec {
            Spec::HttpRoute(h) => &h.parent_refs,
            Spec::GrpcRoute(g) => &g.parent_refs,
            Spec::TcpRoute(t) => &t.parent_refs,
            _ => continue,
        };
        for (i, p) in parents.iter().enumerate() {
            if !(matches!(p.group.as_deref(), Some("" | "core"))
                && p.kind.as_deref() == Some("Service"))
            {
                continue;
            }
            let ns = p.namespace.as_deref().unwrap_or(r.namespace());
            let fq = host::service_fqdn(&p.name, ns);
            let Some(c) = claims.get(&fq) else { continue };
            let path = format!("spec.parentRefs[{i}]");
            if let Some(vs) = c.virtual_service {
                out.push(ignored(r, &path, &fq, vs, "VirtualService"));
            } else if let Some(sp) = c.profile {
                out.push(ignored(r, &path, &fq, sp, "ServiceProfile"));
            } else if let Some(split) = c.split {
                out.push(ignored(r, &path, &fq, split, "TrafficSplit"));
            }
        }
    }
}

fn ignored(r: &Resource, path: &str, fq: &str, winner: &Resource, what: &str) -> Finding {
    finding(
        r,
        Severity::Warning,
        "overlapping-routing",
        path,
        format!(
            "{} ({}:{}) also routes `{fq}`; weft follows the {what} and ignores this {} for it (Istio and Linkerd would not agree on which applies): keep one",
            winner.key(),
            winner.source.file,
            winner.line_of("spec"),
            r.kind.display(),
        ),
    )
}
