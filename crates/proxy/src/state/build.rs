//! Compiling a `ProxyConfig` into a [`Snapshot`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use weft_proto::config::{self, AppProtocol, ConfigError, LbPolicy, ProxyConfig, UpstreamProtocol};

use super::{InboundTarget, ServicePort, ServiceTable, Snapshot};
use crate::http::{RateLimiters, RetryBudget, Route};
use crate::telemetry::{PeerLabels, ServiceLabels};
use crate::upstream::{
    Balancer, Cluster, Endpoint, Limits, OutlierDetector, Place, Transport, TransportBuilder,
};

/// The config cannot be applied; the running config stays in force.
#[derive(Debug, thiserror::Error)]
#[error("invalid proxy config:\n{}", .0.iter().map(|e| format!("  {}: {}", e.path, e.message)).collect::<Vec<_>>().join("\n"))]
pub struct BuildError(pub Vec<ConfigError>);

// === impl Snapshot ===

impl Snapshot {
    /// Compiles `config`. Endpoints whose cluster, address and transport
    /// are unchanged from `prev` are reused with their health, load and
    /// pools. `creds` are this workload's certificate, for mesh mTLS.
    pub fn build(
        config: Arc<ProxyConfig>,
        prev: Option<&Snapshot>,
        creds: Option<&Arc<weft_identity::Credentials>>,
    ) -> Result<Self, BuildError> {
        let errors = config.validate();
        if !errors.is_empty() {
            return Err(BuildError(errors));
        }
        let unknown_peer = Arc::new(PeerLabels::unknown());
        let node = Arc::new(PeerLabels::from_meta(&config.node));

        let in_use = prev.into_iter().flat_map(|p| {
            p.clusters
                .values()
                .flat_map(|c| c.balancer.endpoints().iter().map(|e| e.transport.clone()))
        });
        let mut transports = TransportBuilder::new(creds, in_use);
        let mut clusters = HashMap::new();
        let mut errors = Vec::new();
        for (i, c) in config.clusters.iter().enumerate() {
            match build_cluster(c, prev, &unknown_peer, &mut transports) {
                Ok(cluster) => {
                    clusters.insert(cluster.name.clone(), Arc::new(cluster));
                }
                Err((j, message)) => errors.push(ConfigError {
                    path: format!("clusters[{i}].endpoints[{j}]"),
                    message,
                    line: None,
                }),
            }
        }
        if !errors.is_empty() {
            return Err(BuildError(errors));
        }
        let lookup = |name: &str| clusters.get(name).cloned();

        let mut errors = Vec::new();
        let mut services = ServiceTable::default();
        let mut limiters = RateLimiters::default();
        let prev_limiters = prev.map(|p| &p.rate_limiters);
        for (i, svc) in config.services.iter().enumerate() {
            let labels = Arc::new(ServiceLabels::new(&svc.name, svc.namespace.as_deref()));
            for (j, port) in svc.ports.iter().enumerate() {
                let retry_budget = keep_budget(prev, svc, port);
                let mut routes = Vec::new();
                for (k, r) in port.routes.iter().enumerate() {
                    let kept = |route: Route| {
                        let key = format!("service|{}|{}|{k}", svc.name, port.port);
                        keep_route_limit(route, r, &mut limiters, prev_limiters, key)
                    };
                    match Route::compile(r, lookup).and_then(kept) {
                        Ok(mut r) => {
                            r.share_retry_budget(&retry_budget);
                            routes.push(r);
                        }
                        Err(msg) => errors.push(ConfigError {
                            path: format!("services[{i}].ports[{j}].routes[{k}]"),
                            message: msg,
                            line: None,
                        }),
                    }
                }
                let tcp_cluster = port.cluster.as_deref().and_then(lookup);
                let tcp_routes = match crate::tcp::TcpRoutes::compile(&port.tcp_routes, lookup) {
                    Ok(r) => r,
                    Err(message) => {
                        errors.push(ConfigError {
                            path: format!("services[{i}].ports[{j}].tcp_routes"),
                            message,
                            line: None,
                        });
                        Default::default()
                    }
                };
                if routes.is_empty()
                    && let Some(c) = &tcp_cluster
                {
                    routes.push(Route::to_cluster(c.clone()));
                }
                let sp = Arc::new(ServicePort {
                    labels: labels.clone(),
                    port: port.port,
                    protocol: port.protocol,
                    routes,
                    tcp_cluster,
                    tcp_routes,
                    retry_budget,
                });
                for host in svc.all_hosts() {
                    services
                        .by_host
                        .entry(Arc::from(host.to_ascii_lowercase()))
                        .or_default()
                        .push(sp.clone());
                }
                for ip in &svc.addresses {
                    services
                        .by_addr
                        .insert(SocketAddr::new(*ip, port.port), sp.clone());
                }
            }
        }
        if !errors.is_empty() {
            return Err(BuildError(errors));
        }

        let mut errors = Vec::new();
        let inbound = config
            .inbound
            .iter()
            .map(|p| {
                // An explicit listener may say where the app behind its
                // port really listens (`weft up` remaps app ports).
                let app = config
                    .listeners
                    .iter()
                    .find_map(|l| l.app_address.filter(|_| l.target_port == Some(p.port)));
                let mut target = build_inbound(p, app, &node, prev);
                if let Some(rl) = &p.rate_limit {
                    let key = format!("inbound|{}", p.port);
                    match limiters.keep(prev_limiters, key, rl) {
                        Ok(rl) => target.rate_limit = Some(rl),
                        Err(message) => errors.push(ConfigError {
                            path: format!("inbound[{}].rate_limit", p.port),
                            message,
                            line: None,
                        }),
                    }
                }
                (p.port, Arc::new(target))
            })
            .collect();
        if !errors.is_empty() {
            return Err(BuildError(errors));
        }

        let gateways = super::GatewayTable::build(&config, &clusters, &mut limiters, prev_limiters)
            .map_err(BuildError)?;

        let authz = Arc::new(crate::authz::Authorizer::new(&config.authorization));
        Ok(Self {
            peer_authentication: config.peer_authentication.clone().unwrap_or_default(),
            outbound_policy: config.outbound_policy,
            config,
            peer_header: crate::http::peer::header_for(&node),
            node,
            unknown_peer,
            unknown_service: Arc::new(ServiceLabels::unknown()),
            services,
            inbound,
            clusters,
            authz,
            gateways,
            rate_limiters: limiters,
            tracer: None,
            access_log: None,
        })
    }
}

/// Gives a compiled route `prev`'s token bucket under `key` when its
/// config is unchanged.
pub(super) fn keep_route_limit(
    mut route: Route,
    cfg: &config::HttpRoute,
    limiters: &mut RateLimiters,
    prev: Option<&RateLimiters>,
    key: String,
) -> Result<Route, String> {
    if let Some(rl) = &cfg.rate_limit {
        route.rate_limit = Some(limiters.keep(prev, key, rl)?);
    }
    Ok(route)
}

/// A cluster, or the index of the endpoint that cannot be reached and why.
fn build_cluster(
    c: &config::Cluster,
    prev: Option<&Snapshot>,
    unknown: &Arc<PeerLabels>,
    transports: &mut TransportBuilder<'_>,
) -> Result<Cluster, (usize, String)> {
    let old = prev.and_then(|p| p.clusters.get(c.name.as_str()));
    let name: Arc<str> = Arc::from(c.name.as_str());
    // Unchanged settings keep their counters, and so their endpoints.
    let limits = c.connection_pool.as_ref().map(|cfg| {
        old.and_then(|o| o.limits.clone())
            .filter(|l| l.config == **cfg)
            .unwrap_or_else(|| Arc::new(Limits::new(name.clone(), (**cfg).clone())))
    });
    let outlier = c.outlier_detection.as_ref().map(|cfg| {
        let prev = old.and_then(|o| o.outlier.clone());
        match prev {
            Some(d) if d.config == **cfg => d,
            prev => Arc::new(
                OutlierDetector::new(name.clone(), (**cfg).clone()).continuing(prev.as_deref()),
            ),
        }
    });
    if let Some(d) = &outlier {
        d.set_hosts(c.endpoints.len());
    }
    let mut endpoints = Vec::with_capacity(c.endpoints.len());
    for (j, e) in c.endpoints.iter().enumerate() {
        let labels = match &e.workload {
            Some(meta) => Arc::new(PeerLabels::from_meta(meta)),
            None => unknown.clone(),
        };
        let transport = transports.for_endpoint(c, e).map_err(|m| (j, m))?;
        let ep = reuse_endpoint(
            old.map(|c| c.balancer.endpoints()),
            e.address,
            e.weight,
            &labels,
            &transport,
        )
        .filter(|ep| same(ep.limits(), limits.as_ref()))
        .filter(|ep| same(ep.outlier_detector(), outlier.as_ref()))
        .unwrap_or_else(|| {
            Arc::new(
                Endpoint::with_transport(e.address, e.weight, labels, transport)
                    .with_policy(limits.clone(), outlier.clone()),
            )
        });
        let place = Place {
            priority: e.priority,
            locality: e.locality.clone(),
            locality_weight: e.locality_weight,
        };
        endpoints.push((ep, place));
    }
    Ok(Cluster {
        name,
        protocol: c.protocol,
        connect_timeout: c.connect_timeout,
        balancer: Balancer::with_places(c.lb.clone(), endpoints),
        limits,
        outlier,
    })
}

/// Whether an endpoint is under the very limits (or detector) a cluster
/// now has.
fn same<T>(a: Option<&Arc<T>>, b: Option<&Arc<T>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        _ => false,
    }
}

fn build_inbound(
    p: &config::InboundPort,
    app: Option<SocketAddr>,
    node: &Arc<PeerLabels>,
    prev: Option<&Snapshot>,
) -> InboundTarget {
    let service = p
        .service
        .as_deref()
        .map(|s| ServiceLabels::new(s, None))
        .unwrap_or_else(|| ServiceLabels::new(&node.canonical_service, Some(&node.namespace)));
    let addr = p.target.or(app).unwrap_or_else(|| p.target_addr());
    let old = prev
        .and_then(|s| s.inbound.get(&p.port))
        .map(|t| t.cluster.balancer.endpoints());
    let ep = reuse_endpoint(old, addr, 1, node, &Transport::Plain)
        .unwrap_or_else(|| Arc::new(Endpoint::new(addr, 1, node.clone())));
    InboundTarget {
        port: p.port,
        protocol: p.protocol,
        labels: Arc::new(service),
        cluster: Arc::new(Cluster {
            name: Arc::from(format!("inbound|{}", p.port)),
            // Speak to the app in the protocol its port declares.
            protocol: match p.protocol {
                AppProtocol::Http => UpstreamProtocol::Http1,
                AppProtocol::Http2 | AppProtocol::Grpc => UpstreamProtocol::Http2,
                AppProtocol::Detect | AppProtocol::Tcp => UpstreamProtocol::Auto,
            },
            connect_timeout: config::Cluster::default_connect_timeout(),
            balancer: Balancer::new(LbPolicy::RoundRobin, vec![ep]),
            limits: None,
            outlier: None,
        }),
        rate_limit: None,
    }
}

fn reuse_endpoint(
    old: Option<&[Arc<Endpoint>]>,
    addr: SocketAddr,
    weight: u32,
    labels: &Arc<PeerLabels>,
    transport: &Transport,
) -> Option<Arc<Endpoint>> {
    // A new identity is a new endpoint: pooled connections were verified
    // against the old one.
    old?.iter()
        .find(|e| {
            e.addr == addr
                && e.weight == weight.max(1)
                && e.labels == *labels
                && e.transport.key() == transport.key()
        })
        .cloned()
}

/// The port's retry budget from `prev`, with its recent deposits and
/// withdrawals, when its settings are unchanged; a new one otherwise (a
/// changed budget starts empty, with only its reserve).
fn keep_budget(
    prev: Option<&Snapshot>,
    svc: &config::Service,
    port: &config::ServicePort,
) -> Arc<RetryBudget> {
    prev.and_then(|p| {
        let host = svc.all_hosts().next()?;
        p.services.by_host(host, port.port)
    })
    .map(|sp| sp.retry_budget.clone())
    .filter(|b| *b.config() == port.retry_budget)
    .unwrap_or_else(|| Arc::new(RetryBudget::new(&port.retry_budget)))
}
