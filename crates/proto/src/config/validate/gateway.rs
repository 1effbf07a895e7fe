//! Checks on gateway listeners and gateway servers.

use std::collections::{HashMap, HashSet};

use super::check_route;
use crate::config::{
    ConfigError, Direction, GatewayServer, Interception, ListenerProtocol, ProxyConfig, ServerTls,
};

// === impl ProxyConfig ===

impl ProxyConfig {
    /// Gateway listeners need a gateway port and take connections
    /// addressed to them; `tls` belongs to gateway listeners only.
    pub(super) fn check_gateway_listeners(&self, errs: &mut Vec<ConfigError>) {
        for (i, l) in self.listeners.iter().enumerate() {
            let path = format!("listeners[{i}]");
            if let Some(tls) = &l.tls {
                if l.direction != Direction::Gateway {
                    errs.push(ConfigError::new(
                        format!("{path}.tls"),
                        "only gateway listeners terminate TLS for clients; set direction: gateway, or remove tls (mesh mTLS needs no config)",
                    ));
                }
                check_tls(&format!("{path}.tls"), tls, errs);
            }
            if l.direction != Direction::Gateway {
                continue;
            }
            if l.target_port.is_none() && l.address.port() == 0 {
                errs.push(ConfigError::new(
                    format!("{path}.target_port"),
                    "a gateway listener on port 0 needs the gateway port its requests count as; set target_port (e.g. 80), or bind a fixed port",
                ));
            }
            if l.target_port == Some(0) {
                errs.push(ConfigError::new(
                    format!("{path}.target_port"),
                    "must be 1-65535",
                ));
            }
            if l.destination.is_some() {
                errs.push(ConfigError::new(
                    format!("{path}.destination"),
                    "a gateway routes each request by its Host among the gateway port's virtual hosts; remove destination",
                ));
            }
            if l.interception == Interception::Transparent {
                errs.push(ConfigError::new(
                    format!("{path}.interception"),
                    "a gateway takes connections addressed to it; use interception: explicit",
                ));
            }
            if l.protocol == ListenerProtocol::Tcp {
                errs.push(ConfigError::new(
                    format!("{path}.protocol"),
                    "gateway listeners serve HTTP (TCP gateway servers are not implemented yet); use detect, http1 or http2",
                ));
            }
            if !l.opaque_ports.is_empty() {
                errs.push(ConfigError::new(
                    format!("{path}.opaque_ports"),
                    "gateway listeners serve HTTP only; remove opaque_ports",
                ));
            }
            if l.app_address.is_some() {
                errs.push(ConfigError::new(
                    format!("{path}.app_address"),
                    "only inbound listeners front an app; remove app_address",
                ));
            }
        }
    }

    /// One server per port; each host in one virtual host of its port;
    /// routes as anywhere else.
    pub(super) fn check_gateway_servers(
        &self,
        clusters: &HashSet<&str>,
        errs: &mut Vec<ConfigError>,
    ) {
        let mut ports = HashMap::new();
        for (i, server) in self.gateway_servers.iter().enumerate() {
            let path = format!("gateway_servers[{i}]");
            if server.port == 0 {
                errs.push(ConfigError::new(format!("{path}.port"), "must be 1-65535"));
            } else if let Some(first) = ports.insert(server.port, i) {
                errs.push(ConfigError::new(
                    format!("{path}.port"),
                    format!(
                        "port {} is already served by gateway_servers[{first}]; merge their virtual hosts",
                        server.port
                    ),
                ));
            }
            if let Some(tls) = &server.tls {
                check_tls(&format!("{path}.tls"), tls, errs);
            }
            if let Some(rl) = &server.rate_limit {
                super::rate_limit::check_rate_limit(&format!("{path}.rate_limit"), rl, errs);
            }
            check_virtual_hosts(&path, server, clusters, errs);
            super::tcp_route::check_tcp_routes(
                &format!("{path}.tcp_routes"),
                &server.tcp_routes,
                clusters,
                errs,
            );
        }
    }
}

fn check_virtual_hosts(
    path: &str,
    server: &GatewayServer,
    clusters: &HashSet<&str>,
    errs: &mut Vec<ConfigError>,
) {
    let mut claimed: HashMap<String, usize> = HashMap::new();
    for (j, vh) in server.virtual_hosts.iter().enumerate() {
        let path = format!("{path}.virtual_hosts[{j}]");
        if vh.hosts.is_empty() {
            errs.push(ConfigError::new(
                format!("{path}.hosts"),
                "a virtual host needs at least one host; write \"*\" for every host",
            ));
        }
        for (k, host) in vh.hosts.iter().enumerate() {
            if let Err(why) = host_pattern(host) {
                errs.push(ConfigError::new(format!("{path}.hosts[{k}]"), why));
                continue;
            }
            if let Some(other) = claimed.insert(host.to_ascii_lowercase(), j)
                && other != j
            {
                errs.push(ConfigError::new(
                    format!("{path}.hosts[{k}]"),
                    format!(
                        "{host:?} already belongs to virtual_hosts[{other}] ({:?}) on port {}; a host takes one virtual host per port",
                        server.virtual_hosts[other].name, server.port
                    ),
                ));
            }
        }
        for (k, route) in vh.routes.iter().enumerate() {
            let path = format!("{path}.routes[{k}]");
            check_route(&path, route, errs);
            let named = route
                .backends
                .iter()
                .enumerate()
                .map(|(b, x)| (format!("{path}.backends[{b}].cluster"), &x.cluster))
                .chain(
                    route
                        .mirrors
                        .iter()
                        .enumerate()
                        .map(|(m, x)| (format!("{path}.mirrors[{m}].cluster"), &x.cluster)),
                );
            for (field, cluster) in named {
                if !clusters.contains(cluster.as_str()) {
                    errs.push(ConfigError::new(
                        field,
                        format!(
                            "no cluster named {cluster:?}; define it under clusters or fix the name"
                        ),
                    ));
                }
            }
        }
    }
}

/// `*`, `*.example.com`, or a name without `*`.
pub(super) fn host_pattern(host: &str) -> Result<(), String> {
    let name = host.strip_prefix("*.").unwrap_or(host);
    if host == "*" {
        return Ok(());
    }
    let valid = !name.is_empty()
        && !name.contains('*')
        && !name.contains(':')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{host:?} is not a host name; write bookinfo.example.com, *.example.com or * (no port: the gateway port is the server's)"
        ))
    }
}

fn check_tls(path: &str, tls: &ServerTls, errs: &mut Vec<ConfigError>) {
    for (field, file) in [
        ("certificate", &tls.certificate),
        ("private_key", &tls.private_key),
    ] {
        if file.as_os_str().is_empty() {
            errs.push(ConfigError::new(
                format!("{path}.{field}"),
                "must name a PEM file",
            ));
        }
    }
}

#[cfg(test)]
mod tests;
