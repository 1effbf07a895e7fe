//! The mesh as the compiler sees it: services with their ports, and the
//! instances behind them, indexed for selection.
//!
//! Built from the accepted resources and the connected proxies. Cost:
//! linear in both; selecting a service's instances is a lookup on its
//! first selector label, then a filter over that (usually small) set.

mod instances;
mod peer_auth;
mod services;
mod vips;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use weft_api::Resource;
use weft_api::protocol::Protocol;
use weft_proto::discovery::Node;

pub use instances::{Instance, Reach, TOPOLOGY_LABELS, locality_of};
pub use peer_auth::PeerAuthIndex;
pub use vips::VipPool;

/// One service: a Kubernetes Service or one host of a ServiceEntry.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceModel {
    /// `reviews.default.svc.cluster.local`, or a ServiceEntry host.
    pub fqdn: String,
    /// The Kubernetes name (`reviews`) for cluster services.
    pub short_name: Option<String>,
    pub namespace: String,
    pub vips: Vec<IpAddr>,
    pub ports: Vec<PortModel>,
    /// Which instances back it (Kubernetes selector or ServiceEntry
    /// `workloadSelector`), within its namespace.
    pub selector: Option<BTreeMap<String, String>>,
    /// Instances written into a ServiceEntry.
    pub endpoints: Vec<Instance>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PortModel {
    pub port: u16,
    pub name: Option<String>,
    pub protocol: Protocol,
    pub target: Target,
}

/// Where a service port's traffic lands on an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Port(u16),
    /// A named container port (`targetPort: http`).
    Named(String),
}

/// Everything the compiler reads.
#[derive(Debug, Default)]
pub struct Mesh {
    /// By FQDN.
    pub services: BTreeMap<String, Arc<ServiceModel>>,
    pub instances: Vec<Instance>,
    /// (namespace, label key, label value) → indexes into `instances`.
    by_label: HashMap<(String, String, String), Vec<usize>>,
    /// Namespace → indexes into `instances` (for empty selectors).
    by_namespace: HashMap<String, Vec<usize>>,
    /// (namespace, label key, value) → services whose selector has it.
    selectors: HashMap<(String, String, String), Vec<Arc<ServiceModel>>>,
    pub resources: Arc<Vec<Arc<Resource>>>,
    /// PeerAuthentications, by where they apply.
    pub peer_auth: PeerAuthIndex,
    /// The trust domain of every workload identity (the CA's).
    pub trust_domain: String,
    /// The roots proxies trust (PEM; the CA's bundle), pushed to each.
    pub trust_roots: Option<Arc<str>>,
    /// Mesh-wide tracing, pushed to each proxy.
    pub tracing: Option<weft_proto::config::Tracing>,
}

// === impl Mesh ===

impl Mesh {
    pub fn build(resources: Arc<Vec<Arc<Resource>>>, proxies: &[Node]) -> Self {
        Self::build_with_vips(resources, proxies, None)
    }

    /// As [`build`](Self::build), giving services without an address one
    /// from `vips` (`weft up`'s transparent pods call services by name).
    pub fn build_with_vips(
        resources: Arc<Vec<Arc<Resource>>>,
        proxies: &[Node],
        vips: Option<&mut VipPool>,
    ) -> Self {
        let mut services = services::collect(&resources);
        if let Some(pool) = vips {
            pool.assign(&mut services);
        }
        let mut mesh = Mesh {
            services,
            instances: instances::collect(&resources, proxies),
            peer_auth: PeerAuthIndex::build(&resources),
            resources,
            trust_domain: weft_identity::DEFAULT_TRUST_DOMAIN.to_string(),
            ..Mesh::default()
        };
        for svc in mesh.services.values() {
            for (k, v) in svc.selector.iter().flatten() {
                mesh.selectors
                    .entry((svc.namespace.clone(), k.clone(), v.clone()))
                    .or_default()
                    .push(svc.clone());
            }
        }
        for (i, inst) in mesh.instances.iter().enumerate() {
            mesh.by_namespace
                .entry(inst.namespace.clone())
                .or_default()
                .push(i);
            for (k, v) in &inst.labels {
                mesh.by_label
                    .entry((inst.namespace.clone(), k.clone(), v.clone()))
                    .or_default()
                    .push(i);
            }
        }
        mesh
    }

    /// Instances in `namespace` carrying every label of `selector`.
    pub fn select<'a>(
        &'a self,
        namespace: &str,
        selector: &'a BTreeMap<String, String>,
    ) -> impl Iterator<Item = &'a Instance> + 'a {
        let candidates: &[usize] = match selector.iter().next() {
            Some((k, v)) => self
                .by_label
                .get(&(namespace.to_string(), k.clone(), v.clone()))
                .map_or(&[], Vec::as_slice),
            None => self.by_namespace.get(namespace).map_or(&[], Vec::as_slice),
        };
        candidates
            .iter()
            .map(|&i| &self.instances[i])
            .filter(move |inst| selector.iter().all(|(k, v)| inst.labels.get(k) == Some(v)))
    }

    /// The services in `namespace` whose selector `labels` satisfy.
    pub fn selecting<'a>(
        &'a self,
        namespace: &str,
        labels: &BTreeMap<String, String>,
    ) -> Vec<&'a Arc<ServiceModel>> {
        let mut out: Vec<&Arc<ServiceModel>> = Vec::new();
        for (k, v) in labels {
            let key = (namespace.to_string(), k.clone(), v.clone());
            for svc in self.selectors.get(&key).into_iter().flatten() {
                let all = svc
                    .selector
                    .iter()
                    .flatten()
                    .all(|(k, v)| labels.get(k) == Some(v));
                if all && !out.iter().any(|o| o.fqdn == svc.fqdn) {
                    out.push(svc);
                }
            }
        }
        out
    }

    /// The SPIFFE ID of the proxy in front of `inst`, when traffic for its
    /// `app_port` should be mesh mTLS: it has a sidecar there and its
    /// PeerAuthentication does not DISABLE that port (Istio's auto mTLS).
    pub fn identity(&self, inst: &Instance, app_port: u16) -> Option<String> {
        if !inst.is_meshed(app_port) {
            return None;
        }
        let pa = self.peer_auth.for_workload(&inst.namespace, &inst.labels);
        if pa.mode_for(Some(app_port)) == weft_proto::config::MtlsMode::Disable {
            return None;
        }
        let sa = inst.service_account.as_deref().unwrap_or("default");
        Some(format!(
            "spiffe://{}/ns/{}/sa/{sa}",
            self.trust_domain, inst.namespace
        ))
    }

    /// Every instance backing `svc`: selected ones and written ones.
    pub fn instances_of<'a>(&'a self, svc: &'a ServiceModel) -> Vec<&'a Instance> {
        let mut out: Vec<&Instance> = svc.endpoints.iter().collect();
        if let Some(sel) = &svc.selector {
            out.extend(self.select(&svc.namespace, sel));
        }
        out
    }
}

#[cfg(test)]
mod tests;
