//! An ingress gateway's ports, compiled: per gateway port the TLS it
//! terminates and its virtual hosts indexed by Host, plus the TLS of
//! gateway listeners that bring their own certificate.
//!
//! Certificate files are read here, when a config is applied, so a file
//! that is missing or does not match its key rejects the config (a NACK,
//! or a failed start) and never fails a handshake later.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::ServerConfig;
use weft_proto::config::{ConfigError, Direction, ProxyConfig, ServerTls};

use super::build::keep_route_limit;
use crate::http::{LocalRateLimiter, RateLimiters, Route};
use crate::telemetry::ServiceLabels;
use crate::upstream::Cluster;

/// Everything gateway listeners serve.
#[derive(Debug, Default)]
pub struct GatewayTable {
    /// By gateway port.
    servers: HashMap<u16, GatewayPort>,
    /// A gateway listener's own `tls`, by listener name: it wins over the
    /// port's pushed TLS.
    listener_tls: HashMap<Arc<str>, Arc<ServerConfig>>,
    /// `destination_service` of each cluster gateway routes send to.
    services: HashMap<Arc<str>, Arc<ServiceLabels>>,
}

/// One gateway port.
#[derive(Debug)]
pub struct GatewayPort {
    pub tls: Option<Arc<ServerConfig>>,
    /// Exact host names (lower case).
    exact: HashMap<Box<str>, Arc<VirtualHost>>,
    /// `*.example.com` as `.example.com`, longest first.
    wildcards: Vec<(Box<str>, Arc<VirtualHost>)>,
    /// `*`.
    any: Option<Arc<VirtualHost>>,
    /// The port's local rate limit (Envoy's filter on the gateway's
    /// listener); a route's own replaces it.
    pub rate_limit: Option<Arc<LocalRateLimiter>>,
    /// Connections passed through by SNI (TLS `PASSTHROUGH`) or as TCP.
    pub tcp_routes: crate::tcp::TcpRoutes,
}

/// Routes for a set of host names.
#[derive(Debug)]
pub struct VirtualHost {
    pub name: Arc<str>,
    /// First match wins.
    pub routes: Vec<Route>,
}

// === impl GatewayTable ===

impl GatewayTable {
    /// Compiles `config`'s gateway servers and gateway listeners' TLS;
    /// `clusters` resolves route backends.
    pub fn build(
        config: &ProxyConfig,
        clusters: &HashMap<Arc<str>, Arc<Cluster>>,
        limiters: &mut RateLimiters,
        prev: Option<&RateLimiters>,
    ) -> Result<Self, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let mut table = GatewayTable::default();
        for (i, l) in config.listeners.iter().enumerate() {
            if l.direction != Direction::Gateway {
                continue;
            }
            if let Some(tls) = &l.tls {
                match load_tls(&format!("listeners[{i}].tls"), tls) {
                    Ok(c) => {
                        table.listener_tls.insert(Arc::from(l.name.as_str()), c);
                    }
                    Err(e) => errors.push(e),
                }
            }
        }
        let lookup = |name: &str| clusters.get(name).cloned();
        for (i, server) in config.gateway_servers.iter().enumerate() {
            let path = format!("gateway_servers[{i}]");
            let tls = match &server.tls {
                Some(t) => match load_tls(&format!("{path}.tls"), t) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        errors.push(e);
                        None
                    }
                },
                None => None,
            };
            let rate_limit = match &server.rate_limit {
                Some(rl) => match limiters.keep(prev, format!("gateway|{}", server.port), rl) {
                    Ok(rl) => Some(rl),
                    Err(message) => {
                        errors.push(ConfigError {
                            path: format!("{path}.rate_limit"),
                            message,
                            line: None,
                        });
                        None
                    }
                },
                None => None,
            };
            let tcp_routes = match crate::tcp::TcpRoutes::compile(&server.tcp_routes, lookup) {
                Ok(r) => r,
                Err(message) => {
                    errors.push(ConfigError {
                        path: format!("{path}.tcp_routes"),
                        message,
                        line: None,
                    });
                    Default::default()
                }
            };
            let mut port = GatewayPort {
                tls,
                exact: HashMap::new(),
                wildcards: Vec::new(),
                any: None,
                rate_limit,
                tcp_routes,
            };
            for (j, vh) in server.virtual_hosts.iter().enumerate() {
                let mut routes = Vec::with_capacity(vh.routes.len());
                for (k, r) in vh.routes.iter().enumerate() {
                    let key = format!("gateway|{}|{}|{k}", server.port, vh.name);
                    let kept = |route| keep_route_limit(route, r, limiters, prev, key);
                    match Route::compile(r, lookup).and_then(kept) {
                        Ok(r) => routes.push(r),
                        Err(message) => errors.push(ConfigError {
                            path: format!("{path}.virtual_hosts[{j}].routes[{k}]"),
                            message,
                            line: None,
                        }),
                    }
                }
                let compiled = Arc::new(VirtualHost {
                    name: Arc::from(vh.name.as_str()),
                    routes,
                });
                for host in &vh.hosts {
                    port.insert(host, compiled.clone());
                }
            }
            port.wildcards
                .sort_by_key(|(suffix, _)| std::cmp::Reverse(suffix.len()));
            table.servers.insert(server.port, port);
            let http_backends = server
                .virtual_hosts
                .iter()
                .flat_map(|vh| &vh.routes)
                .flat_map(|r| &r.backends);
            let tcp_backends = server.tcp_routes.iter().flat_map(|r| &r.backends);
            for backend in http_backends.chain(tcp_backends) {
                table.add_service(config, &backend.cluster);
            }
        }
        if errors.is_empty() {
            Ok(table)
        } else {
            Err(errors)
        }
    }

    fn add_service(&mut self, config: &ProxyConfig, cluster: &str) {
        if self.services.contains_key(cluster) {
            return;
        }
        let service = config
            .clusters
            .iter()
            .find(|c| c.name == cluster)
            .and_then(|c| c.service.as_deref());
        if let Some(s) = service {
            self.services
                .insert(Arc::from(cluster), Arc::new(ServiceLabels::new(s, None)));
        }
    }

    /// The TLS a connection on gateway listener `listener` (serving
    /// gateway port `port`) terminates, if any.
    pub fn tls_for(&self, listener: &str, port: Option<u16>) -> Option<Arc<ServerConfig>> {
        self.listener_tls.get(listener).cloned().or_else(|| {
            port.and_then(|p| self.servers.get(&p))
                .and_then(|s| s.tls.clone())
        })
    }

    pub fn server(&self, port: u16) -> Option<&GatewayPort> {
        self.servers.get(&port)
    }

    /// The service a cluster belongs to, for `destination_service`.
    pub fn service_of(&self, cluster: &str) -> Option<&Arc<ServiceLabels>> {
        self.services.get(cluster)
    }

    pub fn is_empty(&self) -> bool {
        self.servers.is_empty() && self.listener_tls.is_empty()
    }
}

// === impl GatewayPort ===

impl GatewayPort {
    /// Whether the port has virtual hosts, so HTTP is served on it.
    pub fn serves_http(&self) -> bool {
        !self.exact.is_empty() || !self.wildcards.is_empty() || self.any.is_some()
    }

    fn insert(&mut self, host: &str, vh: Arc<VirtualHost>) {
        let host = host.to_ascii_lowercase();
        if host == "*" {
            self.any = Some(vh);
        } else if let Some(suffix) = host.strip_prefix('*') {
            self.wildcards.push((Box::from(suffix), vh));
        } else {
            self.exact.insert(Box::from(host), vh);
        }
    }

    /// The virtual host for a request's `host` (no port): an exact name,
    /// else the longest wildcard suffix covering it, else `*`.
    ///
    /// Cost: one hash lookup, then a suffix compare per wildcard; no
    /// allocation unless the host has upper-case letters.
    pub fn virtual_host(&self, host: &str) -> Option<&Arc<VirtualHost>> {
        let exact = match self.exact.get(host) {
            Some(vh) => Some(vh),
            None if host.bytes().any(|b| b.is_ascii_uppercase()) => {
                self.exact.get(host.to_ascii_lowercase().as_str())
            }
            None => None,
        };
        exact
            .or_else(|| {
                let host = host.as_bytes();
                self.wildcards
                    .iter()
                    .find(|(suffix, _)| {
                        host.len() > suffix.len()
                            && host[host.len() - suffix.len()..]
                                .eq_ignore_ascii_case(suffix.as_bytes())
                    })
                    .map(|(_, vh)| vh)
            })
            .or(self.any.as_ref())
    }
}

fn load_tls(path: &str, tls: &ServerTls) -> Result<Arc<ServerConfig>, ConfigError> {
    weft_identity::termination_config(
        &tls.certificate,
        &tls.private_key,
        &weft_identity::HTTPS_ALPNS,
    )
    .map_err(|e| ConfigError {
        path: path.to_string(),
        message: format!("{e}; point certificate and private_key at a PEM chain and its key"),
        line: None,
    })
}

#[cfg(test)]
mod tests;
