//! Services from Kubernetes Services and Istio ServiceEntries.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use weft_api::kinds::Spec;
use weft_api::kinds::istio::ServiceEntry;
use weft_api::kinds::k8s::ServiceSpec;
use weft_api::types::IntOrString;
use weft_api::{Resource, host, protocol};

use super::instances::Instance;
use super::{PortModel, ServiceModel, Target};

pub(super) fn collect(resources: &[Arc<Resource>]) -> BTreeMap<String, Arc<ServiceModel>> {
    let mut out = BTreeMap::new();
    for r in resources {
        match &r.spec {
            Spec::Service(s) => {
                let svc = kube_service(r, s);
                out.entry(svc.fqdn.clone()).or_insert_with(|| Arc::new(svc));
            }
            Spec::ServiceEntry(se) => {
                for svc in service_entry(r, se) {
                    out.entry(svc.fqdn.clone()).or_insert_with(|| Arc::new(svc));
                }
            }
            _ => {}
        }
    }
    out
}

fn kube_service(r: &Resource, s: &ServiceSpec) -> ServiceModel {
    let ns = r.namespace();
    let vips = s
        .cluster_ip
        .iter()
        .chain(&s.cluster_ips)
        .filter_map(|ip| ip.parse().ok())
        .collect::<Vec<IpAddr>>();
    let ports = s
        .ports
        .iter()
        .filter_map(|p| {
            let port = u16::try_from(p.port).ok()?;
            let target = match &p.target_port {
                None => Target::Port(port),
                Some(IntOrString::Int(n)) => Target::Port(u16::try_from(*n).ok()?),
                Some(IntOrString::Str(name)) => Target::Named(name.clone()),
            };
            Some(PortModel {
                port,
                name: p.name.clone(),
                protocol: protocol::of_service_port(p.app_protocol.as_deref(), p.name.as_deref()),
                target,
            })
        })
        .collect();
    ServiceModel {
        fqdn: host::service_fqdn(r.name(), ns),
        short_name: Some(r.name().to_string()),
        namespace: ns.to_string(),
        vips,
        ports,
        // Kubernetes: a Service without a selector has no selected pods.
        selector: (!s.selector.is_empty()).then(|| s.selector.clone()),
        endpoints: Vec::new(),
    }
}

/// Istio: each host of a ServiceEntry is its own service.
fn service_entry(r: &Resource, se: &ServiceEntry) -> Vec<ServiceModel> {
    let ns = r.namespace();
    let vips: Vec<IpAddr> = se.addresses.iter().filter_map(|a| a.parse().ok()).collect();
    let ports: Vec<PortModel> = se
        .ports
        .iter()
        .filter_map(|p| {
            let port = u16::try_from(p.number).ok()?;
            let target = p
                .target_port
                .and_then(|t| u16::try_from(t).ok())
                .unwrap_or(port);
            Some(PortModel {
                port,
                name: Some(p.name.clone()),
                protocol: p
                    .protocol
                    .as_deref()
                    .map_or(protocol::Protocol::Unknown, protocol::parse),
                target: Target::Port(target),
            })
        })
        .collect();
    let endpoints: Vec<Instance> = se
        .endpoints
        .iter()
        .filter_map(|we| Instance::from_workload_entry(ns, we))
        .collect();
    se.hosts
        .iter()
        .filter(|h| !h.starts_with('*'))
        .map(|h| ServiceModel {
            fqdn: host::fqdn(h, ns),
            short_name: None,
            namespace: ns.to_string(),
            vips: vips.clone(),
            ports: ports.clone(),
            selector: se.workload_selector.as_ref().map(|s| s.labels.clone()),
            endpoints: endpoints.clone(),
        })
        .collect()
}
