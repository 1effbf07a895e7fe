//! Each pod's `weft-proxy` config: its node, its listeners for the mode,
//! and where its control plane is. Everything else (services, clusters,
//! inbound ports, policies) comes from the control plane.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use weft_proto::config::{
    ControlPlane, Direction, Interception, Listener, ListenerProtocol, OutboundPolicy, ProxyConfig,
    WorkloadMeta,
};

use crate::plan::Workload;

/// Istio's sidecar ports (DESIGN §2).
pub const OUTBOUND_PORT: u16 = 15001;
pub const INBOUND_PORT: u16 = 15006;
pub const ADMIN_PORT: u16 = 15000;
pub const METRICS_PORT: u16 = 15090;
pub const HEALTH_PORT: u16 = 15021;

/// How a pod's traffic reaches its sidecar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wiring {
    /// In its own network namespace, all TCP captured by iptables.
    Transparent,
    /// On loopback: apps call through the sidecar's HTTP proxy, and each
    /// declared port (9080) is fronted by a sidecar listener that forwards
    /// to where the app really listens (a free local port).
    Explicit { app_ports: Vec<(u16, u16)> },
}

/// What one pod's sidecar needs to know.
pub struct Sidecar<'a> {
    pub pod: &'a str,
    pub workload: &'a Workload,
    pub ip: IpAddr,
    pub wiring: Wiring,
    pub control: SocketAddr,
    pub ca_bundle: PathBuf,
    pub token_file: PathBuf,
}

impl Sidecar<'_> {
    pub fn node_id(&self) -> String {
        format!("{}.{}", self.pod, self.workload.namespace)
    }

    pub fn config(&self) -> ProxyConfig {
        let w = self.workload;
        let any = |port| SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port);
        let local = |port| SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port);
        let (listeners, admin, metrics, health) = match &self.wiring {
            Wiring::Transparent => (
                vec![
                    listener(
                        "outbound",
                        local(OUTBOUND_PORT),
                        Direction::Outbound,
                        Interception::Transparent,
                    ),
                    listener(
                        "inbound",
                        any(INBOUND_PORT),
                        Direction::Inbound,
                        Interception::Transparent,
                    ),
                ],
                local(ADMIN_PORT),
                Some(any(METRICS_PORT)),
                Some(any(HEALTH_PORT)),
            ),
            Wiring::Explicit { app_ports } => {
                let mut ls = vec![listener(
                    "outbound",
                    local(0),
                    Direction::Outbound,
                    Interception::Explicit,
                )];
                for (declared, app) in app_ports {
                    let mut l = listener(
                        &format!("inbound-{declared}"),
                        local(0),
                        Direction::Inbound,
                        Interception::Explicit,
                    );
                    l.target_port = Some(*declared);
                    l.app_address = Some(local(*app));
                    ls.push(l);
                }
                (ls, local(0), Some(local(0)), None)
            }
        };
        ProxyConfig {
            node: WorkloadMeta {
                workload: Some(w.name.clone()),
                namespace: Some(w.namespace.clone()),
                app: w.labels.get("app").cloned(),
                version: w.labels.get("version").cloned(),
                service_account: Some(w.service_account.clone()),
                cluster: None,
                trust_domain: None,
            },
            admin_address: admin,
            metrics_address: metrics,
            health_address: health,
            drain_timeout: Duration::from_secs(3),
            outbound_policy: OutboundPolicy::AllowAny,
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
                labels: w.labels.clone(),
                addresses: vec![self.ip],
                ca_bundle: self.ca_bundle.clone(),
                token_file: Some(self.token_file.clone()),
                certificate_ttl: None,
            }),
        }
    }
}

fn listener(
    name: &str,
    address: SocketAddr,
    direction: Direction,
    interception: Interception,
) -> Listener {
    Listener {
        name: name.to_string(),
        address,
        direction,
        interception,
        protocol: ListenerProtocol::Detect,
        detect_timeout: Duration::from_millis(100),
        opaque_ports: Vec::new(),
        destination: None,
        target_port: None,
        app_address: None,
        tls: None,
    }
}

/// The variables every process of a pod gets (and its command may refer
/// to as `$(NAME)`), as the downward API and the runtime provide them.
pub fn pod_env(
    pod: &str,
    w: &Workload,
    ip: IpAddr,
    bind: IpAddr,
    ports: &[(u16, u16)],
    proxy: Option<SocketAddr>,
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert("POD_NAME".into(), pod.to_string());
    env.insert("POD_NAMESPACE".into(), w.namespace.clone());
    env.insert("POD_IP".into(), ip.to_string());
    env.insert("SERVICE_ACCOUNT".into(), w.service_account.clone());
    if let Some((_, first)) = ports.first() {
        env.insert("PORT".into(), first.to_string());
        env.insert(
            "WEFT_LISTEN".into(),
            SocketAddr::new(bind, *first).to_string(),
        );
    }
    for (declared, local) in ports {
        env.insert(format!("WEFT_PORT_{declared}"), local.to_string());
    }
    if let Some(p) = proxy {
        // curl reads only the lower-case name for http (httpoxy); most
        // other clients read either.
        env.insert("http_proxy".into(), format!("http://{p}"));
        env.insert("HTTP_PROXY".into(), format!("http://{p}"));
    }
    env
}
