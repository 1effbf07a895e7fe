//! Ingress gateways `weft up` runs for the Gateways in its files, as
//! Istio's installation provides them on a cluster:
//!
//! * an Istio `Gateway` selects gateway pods by labels; when no planned
//!   workload carries them, `weft up` runs a gateway proxy that does.
//!   `istio: <x>` (the samples' `istio: ingressgateway`) gives Istio's
//!   deployment: `istio-<x>` in `istio-system`, with service account
//!   `istio-<x>-service-account`. Gateways with the same selector share it.
//! * a Gateway API `Gateway` of class `istio` or `weft` gets a proxy of its
//!   own, as Istio's deployment controller makes one: `<name>-<class>` in
//!   the Gateway's namespace, labelled
//!   `gateway.networking.k8s.io/gateway-name: <name>`.
//!
//! Each runs on the host (not in a pod) and listens on the ingress
//! address for every gateway port its Gateways declare; what it serves is
//! pushed by the control plane like any gateway's config.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use weft_api::Resource;
use weft_api::kinds::Spec;
use weft_api::kinds::istio::ServerTlsMode;
use weft_control::compile::{GATEWAY_CLASSES, GATEWAY_NAME_LABEL};
use weft_proto::config::{
    ControlPlane, Direction, Interception, Listener, ListenerProtocol, OutboundPolicy, ProxyConfig,
    WorkloadMeta,
};

use crate::plan::{Origin, Workload};

/// The namespace Istio installs its default ingress gateway in.
const ISTIO_GATEWAY_NAMESPACE: &str = "istio-system";

/// A gateway proxy to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayPlan {
    pub name: String,
    pub namespace: String,
    pub service_account: String,
    pub labels: BTreeMap<String, String>,
    /// Gateway ports (as the Gateways number them), in order.
    pub ports: Vec<u16>,
    /// The Gateways it serves, for messages (`namespace/name`).
    pub serves: Vec<String>,
}

/// What `plan` found.
#[derive(Debug, Default)]
pub struct GatewayPlans {
    pub gateways: Vec<GatewayPlan>,
    /// What will not work as written, each with its fix.
    pub notes: Vec<String>,
}

/// The gateway proxies the Gateways in `resources` need, leaving out
/// those a planned workload already is.
pub fn plan(resources: &[Arc<Resource>], workloads: &[Workload]) -> GatewayPlans {
    let mut out = GatewayPlans::default();
    for r in resources {
        let origin = Origin::of(r);
        match &r.spec {
            Spec::Gateway(gw) => {
                if gw.selector.is_empty() {
                    out.notes.push(format!(
                        "{} ({}:{}): an empty selector means every gateway pod; name the one to run with a selector such as `istio: ingressgateway`",
                        origin.what, origin.file, origin.line
                    ));
                    continue;
                }
                let served_by_workload = workloads
                    .iter()
                    .any(|w| gw.selector.iter().all(|(k, v)| w.labels.get(k) == Some(v)));
                if served_by_workload {
                    continue;
                }
                let mut ports = Vec::new();
                for s in &gw.servers {
                    let Some(port) = port_number(s.port.number) else {
                        continue;
                    };
                    if let Some(tls) = &s.tls
                        && tls.mode() == ServerTlsMode::Simple
                        && tls.server_certificate.is_none()
                    {
                        out.notes.push(format!(
                            "{} ({}:{}): server port {port} takes its certificate from credentialName, a Secret, which weft up cannot read; give tls.serverCertificate and tls.privateKey files instead",
                            origin.what, origin.file, origin.line
                        ));
                    }
                    ports.push(port);
                }
                let gateway = istio_gateway(&gw.selector, r.namespace());
                out.add(gateway, ports, format!("{}/{}", r.namespace(), r.name()));
            }
            Spec::KubeGateway(gw) => {
                let class = gw.gateway_class_name.as_str();
                if !GATEWAY_CLASSES.contains(&class) {
                    continue;
                }
                let mut ports = Vec::new();
                for l in &gw.listeners {
                    let Some(port) = port_number(l.port) else {
                        continue;
                    };
                    if l.protocol == "HTTPS" {
                        out.notes.push(format!(
                            "{} ({}:{}): listener {} (HTTPS) takes its certificate from certificateRefs, Secrets, which weft up cannot read; the port is served without a certificate (TLS refused)",
                            origin.what, origin.file, origin.line, l.name
                        ));
                    }
                    ports.push(port);
                }
                let name = format!("{}-{class}", r.name());
                let gateway = GatewayPlan {
                    service_account: name.clone(),
                    labels: BTreeMap::from([
                        (GATEWAY_NAME_LABEL.to_string(), r.name().to_string()),
                        ("app".to_string(), name.clone()),
                    ]),
                    name,
                    namespace: r.namespace().to_string(),
                    ports: Vec::new(),
                    serves: Vec::new(),
                };
                out.add(gateway, ports, format!("{}/{}", r.namespace(), r.name()));
            }
            _ => {}
        }
    }
    out
}

/// The gateway deployment Istio's installation provides for `selector`.
fn istio_gateway(selector: &BTreeMap<String, String>, gateway_ns: &str) -> GatewayPlan {
    let (name, namespace) = match (selector.get("istio"), selector.get("app")) {
        (Some(x), _) => (format!("istio-{x}"), ISTIO_GATEWAY_NAMESPACE.to_string()),
        (None, Some(app)) => (app.clone(), gateway_ns.to_string()),
        (None, None) => (
            selector
                .values()
                .next()
                .cloned()
                .unwrap_or_else(|| "gateway".into()),
            gateway_ns.to_string(),
        ),
    };
    let mut labels = selector.clone();
    labels
        .entry("app".to_string())
        .or_insert_with(|| name.clone());
    GatewayPlan {
        service_account: format!("{name}-service-account"),
        name,
        namespace,
        labels,
        ports: Vec::new(),
        serves: Vec::new(),
    }
}

impl GatewayPlans {
    /// Adds `gateway` serving `ports` for `by`, merging with the same
    /// gateway already planned.
    fn add(&mut self, gateway: GatewayPlan, ports: Vec<u16>, by: String) {
        let slot = match self
            .gateways
            .iter()
            .position(|g| g.name == gateway.name && g.namespace == gateway.namespace)
        {
            Some(i) => &mut self.gateways[i],
            None => {
                self.gateways.push(gateway);
                let last = self.gateways.len() - 1;
                &mut self.gateways[last]
            }
        };
        for p in ports {
            if !slot.ports.contains(&p) {
                slot.ports.push(p);
            }
        }
        slot.serves.push(by);
    }
}

fn port_number(n: impl TryInto<u16>) -> Option<u16> {
    n.try_into().ok().filter(|p| *p != 0)
}

/// Where the gateway listens for gateway port `port` on `ip`: the port
/// itself, except privileged ports without root, which move up by 8000
/// (80 → 8080, 443 → 8443) as Istio's ingress Service maps them.
pub fn host_port(port: u16, root: bool) -> u16 {
    if port < 1024 && !root {
        port + 8000
    } else {
        port
    }
}

/// A gateway proxy's config: one gateway listener per port at `listen`,
/// the rest pushed by the control plane.
pub struct GatewayProxy<'a> {
    pub plan: &'a GatewayPlan,
    /// Gateway port → where it listens.
    pub listen: Vec<(u16, SocketAddr)>,
    pub ip: IpAddr,
    pub control: SocketAddr,
    pub ca_bundle: std::path::PathBuf,
    pub token_file: std::path::PathBuf,
}

impl GatewayProxy<'_> {
    pub fn node_id(&self) -> String {
        format!("{}.{}", self.plan.name, self.plan.namespace)
    }

    pub fn config(&self) -> ProxyConfig {
        let g = self.plan;
        let local = |port| SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), port);
        let listeners = self
            .listen
            .iter()
            .map(|(port, addr)| Listener {
                name: format!("gateway-{port}"),
                address: *addr,
                direction: Direction::Gateway,
                interception: Interception::Explicit,
                protocol: ListenerProtocol::Detect,
                detect_timeout: Duration::from_millis(100),
                opaque_ports: Vec::new(),
                destination: None,
                target_port: Some(*port),
                app_address: None,
                tls: None,
            })
            .collect();
        ProxyConfig {
            node: WorkloadMeta {
                workload: Some(g.name.clone()),
                namespace: Some(g.namespace.clone()),
                app: g.labels.get("app").cloned(),
                version: None,
                service_account: Some(g.service_account.clone()),
                cluster: None,
                trust_domain: None,
            },
            admin_address: local(0),
            metrics_address: Some(local(0)),
            health_address: None,
            drain_timeout: Duration::from_secs(3),
            outbound_policy: OutboundPolicy::RegistryOnly,
            listeners,
            services: Vec::new(),
            inbound: Vec::new(),
            clusters: Vec::new(),
            authorization: Vec::new(),
            peer_authentication: None,
            tracing: None,
            access_log: None,
            gateway_servers: Vec::new(),
            control_plane: Some(ControlPlane {
                address: self.control.to_string(),
                node_id: Some(self.node_id()),
                labels: g.labels.clone(),
                addresses: vec![self.ip],
                ca_bundle: self.ca_bundle.clone(),
                token_file: Some(self.token_file.clone()),
                certificate_ttl: None,
            }),
        }
    }
}

#[cfg(test)]
mod tests;
