//! SMI TrafficSplit (`split.smi-spec.io` v1alpha1..v1alpha4,
//! servicemeshinterface/smi-spec `apis/traffic-split/`), as sidecars carry
//! it out for outbound traffic.
//!
//! Clients call the root `spec.service`; each backend Service (in the
//! split's namespace) gets a share of that traffic in proportion to the
//! weight written on it (weights, not percentages). A backend is called
//! on the port the client called, as Linkerd and OSM do (the backends
//! expose the root service's ports); a backend without that port and
//! with a single one is called on that one (as Istio resolves a
//! destination without a port). On HTTP ports each request is split; on
//! TCP ports each connection.
//!
//! `matches` (v1alpha3+: HTTPRouteGroups deciding which requests are
//! split) needs HTTPRouteGroups, which weft does not read: a split with
//! matches is not carried out (its traffic goes to the root service as
//! without it; loading warns), since splitting everything would send
//! traffic the author meant to keep on the root.

use std::collections::HashMap;
use std::sync::Arc;

use weft_api::kinds::Spec;
use weft_api::kinds::smi::TrafficSplit;
use weft_api::{Resource, host};
use weft_proto::config::{Backend, HttpRoute};

use super::gateway::use_cluster;
use super::routes::ClusterRef;
use crate::model::{Mesh, PortModel};

/// A TrafficSplit and the namespace it lives in.
#[derive(Debug, Clone, Copy)]
pub struct Split<'a> {
    pub split: &'a TrafficSplit,
    pub namespace: &'a str,
    pub name: &'a str,
}

/// TrafficSplits weft carries out, by the FQDN of their root service:
/// the first loaded wins (analysis reports the others).
pub fn index(resources: &[Arc<Resource>]) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for (i, r) in resources.iter().enumerate() {
        if let Spec::TrafficSplit(ts) = &r.spec
            && ts.matches.is_empty()
            && !ts.service.is_empty()
        {
            out.entry(host::service_fqdn(&ts.service, r.namespace()))
                .or_insert(i);
        }
    }
    out
}

/// The split at `i` of `resources`.
pub fn at(resources: &[Arc<Resource>], i: usize) -> Option<Split<'_>> {
    let r = resources.get(i)?;
    match &r.spec {
        Spec::TrafficSplit(split) => Some(Split {
            split,
            namespace: r.namespace(),
            name: r.name(),
        }),
        _ => None,
    }
}

// === impl Split ===

impl Split<'_> {
    /// The catch-all route sharing `port`'s traffic between the backends.
    pub fn route(
        &self,
        port: &PortModel,
        mesh: &Mesh,
        clusters: &mut Vec<ClusterRef>,
    ) -> HttpRoute {
        let backends = self
            .split
            .backends
            .iter()
            // Weights are kept in thousandths (v1alpha1 writes `500m`);
            // only their ratios count.
            .filter(|b| b.weight.milli > 0)
            .map(|b| {
                let fqdn = host::service_fqdn(&b.service, self.namespace);
                let port = match mesh.services.get(&fqdn) {
                    Some(s) if s.ports.len() == 1 && s.ports[0].port != port.port => {
                        s.ports[0].port
                    }
                    _ => port.port,
                };
                let cref = ClusterRef {
                    fqdn,
                    port,
                    subset: None,
                };
                Backend {
                    cluster: use_cluster(cref, clusters),
                    weight: u32::try_from(b.weight.milli).unwrap_or(u32::MAX),
                    ..Backend::default()
                }
            })
            .collect();
        HttpRoute {
            name: Some(format!("{}/{}", self.namespace, self.name)),
            backends,
            ..HttpRoute::default()
        }
    }
}
