//! Semantic checks that serde cannot express: references between sections,
//! duplicates and values that would make the proxy misbehave.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use super::{AppProtocol, ConfigError, Direction, Interception, ProxyConfig};
use circuit::check_circuit;
use lb::{check_lb, check_locality};
use route::check_route;
use tracing::check_tracing;

// === impl ProxyConfig ===

impl ProxyConfig {
    /// Every semantic problem in the config, each with its field path and a
    /// fix. Empty means valid.
    pub fn validate(&self) -> Vec<ConfigError> {
        let mut errs = Vec::new();
        let clusters = self.check_clusters(&mut errs);
        self.check_listeners(&mut errs);
        self.check_gateway_listeners(&mut errs);
        self.check_services(&clusters, &mut errs);
        self.check_gateway_servers(&clusters, &mut errs);
        if self
            .access_log
            .as_ref()
            .is_some_and(|a| a.path.trim().is_empty())
        {
            errs.push(ConfigError::new(
                "access_log.path",
                "must name a file to append to, or /dev/stdout",
            ));
        }
        self.check_inbound(&mut errs);
        self.check_authorization(&mut errs);
        if let Some(t) = &self.tracing {
            check_tracing(t, &mut errs);
        }
        if self.peer_authentication.as_ref().is_some_and(|p| {
            p.mode == super::MtlsMode::Strict
                || p.ports.values().any(|m| *m == super::MtlsMode::Strict)
        }) && self.control_plane.is_none()
        {
            errs.push(ConfigError::new(
                "peer_authentication",
                "STRICT accepts only mesh mTLS, which needs this workload's certificate from the control plane; add a control_plane section, or use permissive",
            ));
        }
        errs
    }

    fn check_authorization(&self, errs: &mut Vec<ConfigError>) {
        let mut names = HashSet::new();
        for (i, p) in self.authorization.iter().enumerate() {
            let path = format!("authorization[{i}]");
            if !names.insert(p.name.as_str()) {
                errs.push(ConfigError::new(
                    format!("{path}.name"),
                    format!(
                        "a policy named {:?} is already defined; give each policy a unique name",
                        p.name
                    ),
                ));
            }
            for (j, r) in p.rules.iter().enumerate() {
                for (k, s) in r.from.iter().enumerate() {
                    let blocks = [
                        ("ip_blocks", &s.ip_blocks),
                        ("not_ip_blocks", &s.not_ip_blocks),
                        ("remote_ip_blocks", &s.remote_ip_blocks),
                        ("not_remote_ip_blocks", &s.not_remote_ip_blocks),
                    ];
                    for (field, list) in blocks {
                        for (n, b) in list.iter().enumerate() {
                            if super::authz::IpBlock::parse(b).is_none() {
                                errs.push(ConfigError::new(
                                    format!("{path}.rules[{j}].from[{k}].{field}[{n}]"),
                                    format!("{b:?} is not an IP address or CIDR block; write it like 10.0.0.1 or 10.0.0.0/16"),
                                ));
                            }
                        }
                    }
                }
            }
        }
    }

    fn check_clusters(&self, errs: &mut Vec<ConfigError>) -> HashSet<&str> {
        let mut names = HashSet::new();
        for (i, c) in self.clusters.iter().enumerate() {
            let path = format!("clusters[{i}]");
            if c.name.is_empty() {
                errs.push(ConfigError::new(
                    format!("{path}.name"),
                    "must not be empty",
                ));
            } else if !names.insert(c.name.as_str()) {
                errs.push(ConfigError::new(
                    format!("{path}.name"),
                    format!(
                        "a cluster named {:?} is already defined; give each cluster a unique name",
                        c.name
                    ),
                ));
            }
            for (j, ep) in c.endpoints.iter().enumerate() {
                let path = format!("{path}.endpoints[{j}]");
                if ep.address.port() == 0 {
                    errs.push(ConfigError::new(
                        format!("{path}.address"),
                        "port 0 cannot be connected to; give the endpoint's real port",
                    ));
                }
                if ep.weight == 0 {
                    errs.push(ConfigError::new(
                        format!("{path}.weight"),
                        "must be at least 1; remove the endpoint to stop sending it traffic",
                    ));
                }
                if let Some(id) = &ep.identity
                    && !id.starts_with("spiffe://")
                {
                    errs.push(ConfigError::new(
                        format!("{path}.identity"),
                        format!("{id:?} is not a SPIFFE ID; write it like spiffe://cluster.local/ns/default/sa/reviews"),
                    ));
                }
            }
            check_lb(&path, &c.lb, errs);
            check_locality(&path, c, errs);
            self.check_cluster_tls(c, &path, errs);
            check_circuit(&path, c, errs);
        }
        names
    }

    /// Mesh mTLS needs this workload's certificate, which only a control
    /// plane issues; origination with a client certificate needs both
    /// halves of it.
    fn check_cluster_tls(&self, c: &super::Cluster, path: &str, errs: &mut Vec<ConfigError>) {
        use super::UpstreamTlsMode as Mode;
        let mode = c.tls.as_ref().map(|t| t.mode);
        let mesh = match mode {
            Some(Mode::IstioMutual) => true,
            None => c.endpoints.iter().any(|e| e.identity.is_some()),
            Some(_) => false,
        };
        if mesh && self.control_plane.is_none() {
            errs.push(ConfigError::new(
                format!("{path}.tls"),
                "mesh mTLS needs this workload's certificate, which comes from the control plane; add a control_plane section, or set tls.mode: disable",
            ));
        }
        if let Some(t) = &c.tls
            && t.mode == Mode::Mutual
            && (t.client_certificate.is_none() || t.private_key.is_none())
        {
            errs.push(ConfigError::new(
                format!("{path}.tls"),
                "mode mutual presents a client certificate: set both client_certificate and private_key (or use istio_mutual for the mesh's own)",
            ));
        }
    }

    fn check_listeners(&self, errs: &mut Vec<ConfigError>) {
        let mut names = HashSet::new();
        let mut addrs: HashMap<SocketAddr, usize> = HashMap::new();
        for (i, l) in self.listeners.iter().enumerate() {
            let path = format!("listeners[{i}]");
            if !names.insert(l.name.as_str()) {
                errs.push(ConfigError::new(
                    format!("{path}.name"),
                    format!(
                        "a listener named {:?} is already defined; listener names must be unique",
                        l.name
                    ),
                ));
            }
            if l.address.port() != 0
                && let Some(first) = addrs.insert(l.address, i)
            {
                errs.push(ConfigError::new(
                    format!("{path}.address"),
                    format!(
                        "{} is already used by listeners[{first}]; pick another port",
                        l.address
                    ),
                ));
            }
            match l.direction {
                Direction::Inbound if l.destination.is_some() => errs.push(ConfigError::new(
                    format!("{path}.destination"),
                    "only outbound listeners have a destination; use target_port on inbound listeners",
                )),
                Direction::Outbound if l.target_port.is_some() => errs.push(ConfigError::new(
                    format!("{path}.target_port"),
                    "only inbound and gateway listeners have a target_port; use destination: host:port on outbound listeners",
                )),
                _ => {}
            }
            if let Some(dest) = &l.destination {
                if parse_authority(dest).is_none() {
                    errs.push(ConfigError::new(
                        format!("{path}.destination"),
                        format!("{dest:?} is not host:port; write it like reviews:9080"),
                    ));
                }
                if l.interception == Interception::Transparent {
                    errs.push(ConfigError::new(
                        format!("{path}.destination"),
                        "a transparent listener takes each connection's original destination; remove destination or use interception: explicit",
                    ));
                }
            }
            if l.direction == Direction::Inbound
                && l.interception == Interception::Explicit
                && l.target_port.is_none()
            {
                errs.push(ConfigError::new(
                    format!("{path}.target_port"),
                    "an explicit inbound listener needs to know which workload port it serves; set target_port (or interception: transparent)",
                ));
            }
            if l.app_address.is_some() && l.target_port.is_none() {
                errs.push(ConfigError::new(
                    format!("{path}.app_address"),
                    "app_address says where the app behind target_port listens; set target_port on this inbound listener too, or remove app_address",
                ));
            }
        }
        if self.admin_address.port() != 0 && addrs.contains_key(&self.admin_address) {
            errs.push(ConfigError::new(
                "admin_address",
                format!(
                    "{} is also a listener address; pick another port",
                    self.admin_address
                ),
            ));
        }
    }

    fn check_services(&self, clusters: &HashSet<&str>, errs: &mut Vec<ConfigError>) {
        let mut claimed: HashMap<(String, u16), String> = HashMap::new();
        let cluster_ref = |path: String, name: &str, errs: &mut Vec<ConfigError>| {
            if !clusters.contains(name) {
                errs.push(ConfigError::new(
                    path,
                    format!("no cluster named {name:?}; define it under clusters or fix the name"),
                ));
            }
        };
        for (i, svc) in self.services.iter().enumerate() {
            let path = format!("services[{i}]");
            if svc.name.is_empty() {
                errs.push(ConfigError::new(
                    format!("{path}.name"),
                    "must not be empty",
                ));
            }
            if svc.ports.is_empty() {
                errs.push(ConfigError::new(
                    format!("{path}.ports"),
                    "a service needs at least one port",
                ));
            }
            for (j, port) in svc.ports.iter().enumerate() {
                let path = format!("{path}.ports[{j}]");
                if port.port == 0 {
                    errs.push(ConfigError::new(format!("{path}.port"), "must be 1-65535"));
                }
                for host in svc.all_hosts() {
                    let key = (host.to_ascii_lowercase(), port.port);
                    if let Some(other) = claimed.insert(key, svc.name.clone())
                        && other != svc.name
                    {
                        errs.push(ConfigError::new(
                                format!("{path}.port"),
                                format!("{host}:{} is already claimed by service {other:?}; a host and port can belong to one service only", port.port),
                            ));
                    }
                }
                // An HTTP port with no route answers 404 (NR) to every
                // request: Istio's meaning when a VirtualService claims a
                // host and none of its rules applies to this caller. A port
                // that can carry TCP needs somewhere to send it.
                let http_only = matches!(
                    port.protocol,
                    AppProtocol::Http | AppProtocol::Http2 | AppProtocol::Grpc
                );
                if port.routes.is_empty()
                    && port.cluster.is_none()
                    && port.tcp_routes.is_empty()
                    && !http_only
                {
                    errs.push(ConfigError::new(
                        path.clone(),
                        "has neither routes nor a cluster, so its traffic has nowhere to go; add cluster: <name>",
                    ));
                }
                retry::check_budget(&format!("{path}.retry_budget"), &port.retry_budget, errs);
                if let Some(c) = &port.cluster {
                    cluster_ref(format!("{path}.cluster"), c, errs);
                }
                tcp_route::check_tcp_routes(
                    &format!("{path}.tcp_routes"),
                    &port.tcp_routes,
                    clusters,
                    errs,
                );
                for (k, route) in port.routes.iter().enumerate() {
                    let path = format!("{path}.routes[{k}]");
                    check_route(&path, route, errs);
                    for (b, backend) in route.backends.iter().enumerate() {
                        cluster_ref(
                            format!("{path}.backends[{b}].cluster"),
                            &backend.cluster,
                            errs,
                        );
                    }
                    for (m, mirror) in route.mirrors.iter().enumerate() {
                        cluster_ref(
                            format!("{path}.mirrors[{m}].cluster"),
                            &mirror.cluster,
                            errs,
                        );
                    }
                }
            }
        }
    }

    fn check_inbound(&self, errs: &mut Vec<ConfigError>) {
        let mut ports = HashSet::new();
        for (i, p) in self.inbound.iter().enumerate() {
            if !ports.insert(p.port) {
                errs.push(ConfigError::new(
                    format!("inbound[{i}].port"),
                    format!("port {} is listed twice; merge the entries", p.port),
                ));
            }
            if p.port == 0 {
                errs.push(ConfigError::new(
                    format!("inbound[{i}].port"),
                    "must be 1-65535",
                ));
            }
            if let Some(rl) = &p.rate_limit {
                rate_limit::check_rate_limit(&format!("inbound[{i}].rate_limit"), rl, errs);
            }
        }
    }
}

/// Splits `host:port`. IPv6 literals are bracketed: `[::1]:80`.
pub fn parse_authority(s: &str) -> Option<(&str, u16)> {
    let (host, port) = s.rsplit_once(':')?;
    let port: u16 = port.parse().ok().filter(|p| *p != 0)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (!host.is_empty()).then_some((host, port))
}

mod circuit;
mod gateway;
mod lb;
mod rate_limit;
mod retry;
mod route;
mod tcp_route;
mod tracing;

#[cfg(test)]
mod tests;
