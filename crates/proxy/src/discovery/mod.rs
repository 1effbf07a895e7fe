//! Config from the control plane: a client that keeps the config stream
//! open (`client`), and the composition of the proxy's file with what was
//! pushed (`sources`).
//!
//! The proxy applies each push whole or not at all: a push that does not
//! compose or compile is NACKed with the reason and the last good config
//! keeps serving. Losing the control plane changes nothing but the
//! connection state; the client reconnects with jittered backoff and gets
//! its full state again.

mod client;
mod sources;
mod tap;

pub use client::{Status, StatusReport, run};
pub use sources::{ApplyError, Pushed, Sources};

use std::net::{IpAddr, Ipv4Addr};

use weft_proto::config::{ControlPlane, Direction, Interception, Listener, WorkloadMeta};
use weft_proto::discovery::{ListenerInfo, Node};

use crate::app::BoundAddrs;

/// How this proxy introduces itself: identity, labels, and where peers
/// reach its workload (its address, and which proxy ports front which app
/// ports), so the control plane can register it as an endpoint.
pub fn node(
    cp: &ControlPlane,
    meta: &WorkloadMeta,
    listeners: &[Listener],
    bound: &BoundAddrs,
) -> Node {
    let workload = meta.workload.clone().unwrap_or_default();
    let namespace = meta
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_string());
    let inbound_listeners = || {
        listeners
            .iter()
            .filter(|l| l.direction == Direction::Inbound)
    };
    let inbound = inbound_listeners().find_map(|l| bound.listeners.get(&l.name));
    let transparent_inbound =
        inbound_listeners().any(|l| l.interception == Interception::Transparent);
    // An explicit inbound listener fronts one app port (`target_port`).
    let inbound_ports = inbound_listeners()
        .filter(|l| l.interception == Interception::Explicit)
        .filter_map(|l| {
            Some((
                u32::from(l.target_port?),
                u32::from(bound.listeners.get(&l.name)?.port()),
            ))
        })
        .collect();
    let addresses: Vec<IpAddr> = if !cp.addresses.is_empty() {
        cp.addresses.clone()
    } else {
        match inbound.map(|a| a.ip()) {
            Some(ip) if !ip.is_unspecified() => vec![ip],
            _ => vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
        }
    };
    let mut labels = cp.labels.clone();
    // Istio's canonical labels, when the node names them.
    if let Some(app) = &meta.app {
        labels.entry("app".into()).or_insert_with(|| app.clone());
    }
    if let Some(version) = &meta.version {
        labels
            .entry("version".into())
            .or_insert_with(|| version.clone());
    }
    Node {
        id: cp
            .node_id
            .clone()
            .unwrap_or_else(|| format!("{workload}.{namespace}-{}", std::process::id())),
        workload,
        namespace,
        labels: labels.into_iter().collect(),
        service_account: meta
            .service_account
            .clone()
            .unwrap_or_else(|| "default".into()),
        addresses: addresses.iter().map(ToString::to_string).collect(),
        transparent_inbound,
        inbound_ports,
        listeners: listeners
            .iter()
            .map(|l| ListenerInfo {
                name: l.name.clone(),
                address: bound
                    .listeners
                    .get(&l.name)
                    .map_or_else(|| l.address.to_string(), ToString::to_string),
                direction: name_of(&l.direction),
                interception: name_of(&l.interception),
                protocol: name_of(&l.protocol),
            })
            .collect(),
        proxy_version: env!("CARGO_PKG_VERSION").to_string(),
        metrics_address: bound.metrics.map(|a| a.to_string()).unwrap_or_default(),
    }
}

/// The config file's spelling of an enum (`outbound`, `transparent`).
fn name_of<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
