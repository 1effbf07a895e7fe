//! A proxy's inbound side: the ports of its workload that services send
//! traffic to.

use weft_proto::config::InboundPort;

use super::routes::Caller;
use super::service::app_protocol;
use crate::model::{Mesh, Target};

/// Every port of every service that selects `caller`'s workload, by the
/// app port it lands on (the first service wins a port two share).
pub fn ports(mesh: &Mesh, caller: &Caller) -> Vec<InboundPort> {
    let mut out: Vec<InboundPort> = Vec::new();
    for svc in mesh.services.values() {
        let Some(selector) = &svc.selector else {
            continue;
        };
        if svc.namespace != caller.namespace
            || !selector
                .iter()
                .all(|(k, v)| caller.labels.get(k) == Some(v))
        {
            continue;
        }
        for p in &svc.ports {
            // A named target port needs the container's port names, which
            // a proxy does not report yet.
            let Target::Port(target) = p.target else {
                continue;
            };
            if out.iter().any(|o| o.port == target) {
                continue;
            }
            out.push(InboundPort {
                port: target,
                protocol: app_protocol(p.protocol),
                target: None,
                service: Some(svc.fqdn.clone()),
                rate_limit: None,
            });
        }
    }
    out.sort_by_key(|p| p.port);
    out
}
