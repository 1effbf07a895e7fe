//! HTTP routing: from a request and a config snapshot to a destination.
//! Plain functions over plain data, so every rule is a table test.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderName, Method, Request};
use regex::Regex;
use weft_proto::config::{self, Direction, HttpRoute, OutboundPolicy, PathMatch, StringMatch};

use super::headers::{authority, split_authority};
use crate::errors::ProxyError;
use crate::listen::ConnCtx;
use crate::state::{ServicePort, Snapshot, passthrough};
use crate::telemetry::ServiceLabels;
use crate::upstream::{Cluster, Endpoint};
use weft_proto::config::UpstreamProtocol;

/// A compiled HTTP route.
#[derive(Debug)]
pub struct Route {
    pub name: Arc<str>,
    pub(crate) matches: Vec<Match>,
    backends: Vec<(Arc<Cluster>, u32)>,
    total_weight: u64,
    pub timeout: Option<Duration>,
}

#[derive(Debug)]
pub(crate) struct Match {
    path: Option<PathMatcher>,
    method: Option<Method>,
    headers: Vec<(HeaderName, ValueMatcher)>,
}

#[derive(Debug)]
enum PathMatcher {
    Exact(String),
    Prefix(String),
    Regex(Regex),
}

#[derive(Debug)]
enum ValueMatcher {
    Exact(String),
    Prefix(String),
    Regex(Regex),
    Present(bool),
}

/// Where a request goes.
#[derive(Debug)]
pub enum Target {
    Cluster(Arc<Cluster>),
    /// Straight to this address (transparent passthrough, unknown inbound
    /// port).
    Addr(SocketAddr),
    /// Resolve this name and go there (explicit-proxy passthrough).
    Resolve(String, u16),
}

/// The outcome of routing one request.
#[derive(Debug)]
pub struct Decision {
    pub service: Arc<ServiceLabels>,
    pub target: Target,
    pub timeout: Option<Duration>,
}

// === impl Route ===

impl Route {
    /// Compiles a route. `cluster` resolves backend names; config validation
    /// has already reported unknown ones, so those are an error here too.
    pub fn compile(
        cfg: &HttpRoute,
        cluster: impl Fn(&str) -> Option<Arc<Cluster>>,
    ) -> Result<Self, String> {
        let mut backends = Vec::with_capacity(cfg.backends.len());
        for b in &cfg.backends {
            let c =
                cluster(&b.cluster).ok_or_else(|| format!("no cluster named {:?}", b.cluster))?;
            backends.push((c, b.weight));
        }
        let matches = cfg
            .matches
            .iter()
            .map(Match::compile)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            name: Arc::from(cfg.name.as_deref().unwrap_or("default")),
            matches,
            total_weight: backends.iter().map(|(_, w)| *w as u64).sum(),
            backends,
            timeout: cfg.timeout,
        })
    }

    /// A route with no conditions sending everything to one cluster.
    pub fn to_cluster(cluster: Arc<Cluster>) -> Self {
        Self {
            name: Arc::from("default"),
            matches: Vec::new(),
            backends: vec![(cluster, 1)],
            total_weight: 1,
            timeout: None,
        }
    }

    /// Istio: a route matches when any of its match blocks does; no match
    /// blocks means it matches everything.
    pub fn matches<B>(&self, req: &Request<B>) -> bool {
        self.matches.is_empty() || self.matches.iter().any(|m| m.matches(req))
    }

    /// Picks a backend cluster by weight.
    pub fn pick_backend(&self) -> Option<&Arc<Cluster>> {
        if self.backends.len() == 1 {
            return self.backends.first().map(|(c, _)| c);
        }
        let mut r = fastrand::u64(..self.total_weight.max(1));
        for (c, w) in &self.backends {
            if r < *w as u64 {
                return Some(c);
            }
            r -= *w as u64;
        }
        self.backends.first().map(|(c, _)| c)
    }
}

/// The first route that matches, as Istio evaluates VirtualService rules.
pub fn select<'a, B>(routes: &'a [Route], req: &Request<B>) -> Option<&'a Route> {
    routes.iter().find(|r| r.matches(req))
}

// === impl Match ===

impl Match {
    fn compile(cfg: &config::RouteMatch) -> Result<Self, String> {
        let path = match &cfg.path {
            None => None,
            Some(PathMatch::Exact(p)) => Some(PathMatcher::Exact(p.clone())),
            Some(PathMatch::Prefix(p)) => Some(PathMatcher::Prefix(p.clone())),
            Some(PathMatch::Regex(re)) => Some(PathMatcher::Regex(full_match(re)?)),
        };
        let method = cfg
            .method
            .as_deref()
            .map(|m| Method::from_bytes(m.as_bytes()).map_err(|_| format!("bad method {m:?}")))
            .transpose()?;
        let mut headers = Vec::with_capacity(cfg.headers.len());
        for h in &cfg.headers {
            let name = HeaderName::from_bytes(h.name.to_ascii_lowercase().as_bytes())
                .map_err(|_| format!("bad header name {:?}", h.name))?;
            let value = match &h.value {
                StringMatch::Exact(v) => ValueMatcher::Exact(v.clone()),
                StringMatch::Prefix(v) => ValueMatcher::Prefix(v.clone()),
                StringMatch::Regex(re) => ValueMatcher::Regex(full_match(re)?),
                StringMatch::Present(p) => ValueMatcher::Present(*p),
            };
            headers.push((name, value));
        }
        Ok(Self {
            path,
            method,
            headers,
        })
    }

    fn matches<B>(&self, req: &Request<B>) -> bool {
        let path = req.uri().path();
        let path_ok = match &self.path {
            None => true,
            Some(PathMatcher::Exact(p)) => path == p,
            Some(PathMatcher::Prefix(p)) => path.starts_with(p.as_str()),
            Some(PathMatcher::Regex(re)) => re.is_match(path),
        };
        path_ok
            && self.method.as_ref().is_none_or(|m| req.method() == m)
            && self
                .headers
                .iter()
                .all(|(name, m)| m.matches(req.headers(), name))
    }
}

impl ValueMatcher {
    fn matches(&self, headers: &HeaderMap, name: &HeaderName) -> bool {
        let value = headers.get(name).and_then(|v| v.to_str().ok());
        match (self, value) {
            (Self::Present(want), _) => headers.contains_key(name) == *want,
            (_, None) => false,
            (Self::Exact(e), Some(v)) => v == e,
            (Self::Prefix(p), Some(v)) => v.starts_with(p.as_str()),
            (Self::Regex(re), Some(v)) => re.is_match(v),
        }
    }
}

/// Istio and Envoy regexes match the whole string.
fn full_match(re: &str) -> Result<Regex, String> {
    Regex::new(&format!("^(?:{re})$")).map_err(|e| format!("regex {re:?}: {e}"))
}

// === routing decisions ===

/// Routes one HTTP request arriving on `ctx`'s connection.
pub fn decide<B>(snap: &Snapshot, ctx: &ConnCtx, req: &Request<B>) -> Result<Decision, ProxyError> {
    match ctx.listener.direction {
        Direction::Outbound => outbound(snap, ctx, req),
        Direction::Inbound => Ok(inbound(snap, ctx)),
        Direction::Gateway => gateway::decide(snap, ctx, req),
    }
}

fn outbound<B>(snap: &Snapshot, ctx: &ConnCtx, req: &Request<B>) -> Result<Decision, ProxyError> {
    let requested = authority(req).map(split_authority);
    // The port a client meant: the one it named, else the one it connected
    // to (transparent), else HTTP's default.
    let default_port = ctx
        .orig_dst
        .map(|a| a.port())
        .or(ctx.listener.destination.as_ref().map(|(_, p)| *p))
        .unwrap_or(80);

    let service = match &ctx.listener.destination {
        // A per-upstream local port serves one service, whatever the Host.
        Some((host, port)) => snap.services.by_host(host, *port),
        None => requested
            .and_then(|(h, p)| snap.services.by_host(h, p.unwrap_or(default_port)))
            .or_else(|| ctx.orig_dst.and_then(|a| snap.services.by_addr(a))),
    };
    if let Some(svc) = service {
        return route_service_port(svc, req);
    }

    let no_route = || ProxyError::NoRoute {
        authority: authority(req)
            .map(str::to_string)
            .or_else(|| ctx.orig_dst.map(|a| a.to_string()))
            .unwrap_or_else(|| "(no host)".to_string()),
    };
    if snap.outbound_policy == OutboundPolicy::RegistryOnly {
        return Err(no_route());
    }
    // Istio's PassthroughCluster: forward unknown destinations as they are.
    if let Some(addr) = ctx.orig_dst {
        return Ok(Decision {
            service: Arc::new(ServiceLabels::new(&addr.ip().to_string(), None)),
            target: Target::Addr(addr),
            timeout: None,
        });
    }
    match requested {
        Some((host, port)) => Ok(Decision {
            service: Arc::new(ServiceLabels::new(host, None)),
            target: Target::Resolve(host.to_string(), port.unwrap_or(default_port)),
            timeout: None,
        }),
        None => Err(no_route()),
    }
}

fn route_service_port<B>(svc: &ServicePort, req: &Request<B>) -> Result<Decision, ProxyError> {
    let route = select(&svc.routes, req).ok_or_else(|| ProxyError::NoRoute {
        authority: format!("{}:{} {}", svc.labels.service, svc.port, req.uri().path()),
    })?;
    let cluster = route
        .pick_backend()
        .ok_or_else(|| ProxyError::NoRoute {
            authority: format!("{}:{}", svc.labels.service, svc.port),
        })?
        .clone();
    Ok(Decision {
        service: svc.labels.clone(),
        target: Target::Cluster(cluster),
        timeout: route.timeout,
    })
}

fn inbound(snap: &Snapshot, ctx: &ConnCtx) -> Decision {
    let port = ctx.target_port();
    match port.and_then(|p| snap.inbound.get(&p)) {
        Some(t) => Decision {
            service: t.labels.clone(),
            target: Target::Cluster(t.cluster.clone()),
            timeout: None,
        },
        // A port no one declared: hand it to the app on the same port, as
        // Istio's inbound passthrough does.
        None => Decision {
            service: snap.unknown_service.clone(),
            target: Target::Addr(
                ctx.listener
                    .app_address
                    .filter(|_| port == ctx.listener.target_port)
                    .unwrap_or_else(|| {
                        (std::net::Ipv4Addr::LOCALHOST, port.unwrap_or_default()).into()
                    }),
            ),
            timeout: None,
        },
    }
}

/// Routes an opaque TCP stream: from the listener's fixed destination, a
/// CONNECT request's `requested` authority, or the original destination.
pub fn decide_tcp(
    snap: &Snapshot,
    ctx: &ConnCtx,
    requested: Option<(&str, u16)>,
) -> Result<Decision, ProxyError> {
    if ctx.listener.direction == Direction::Inbound {
        return Ok(inbound(snap, ctx));
    }
    let svc = match (&ctx.listener.destination, requested) {
        (Some((h, p)), _) => snap.services.by_host(h, *p),
        (None, Some((h, p))) => snap.services.by_host(h, p).or_else(|| {
            h.parse()
                .ok()
                .and_then(|ip| snap.services.by_addr(SocketAddr::new(ip, p)))
        }),
        (None, None) => ctx.orig_dst.and_then(|a| snap.services.by_addr(a)),
    };
    let no_route = |what: String| ProxyError::NoRoute { authority: what };
    if let Some(svc) = svc {
        // Opaque bytes on an HTTP port follow its catch-all route, if any.
        let cluster = svc.tcp_cluster.clone().or_else(|| {
            svc.routes
                .iter()
                .rev()
                .find(|r| r.matches.is_empty())
                .and_then(|r| r.pick_backend().cloned())
        });
        return match cluster {
            Some(c) => Ok(Decision {
                service: svc.labels.clone(),
                target: Target::Cluster(c),
                timeout: None,
            }),
            None => Err(no_route(format!(
                "{}:{} (tcp)",
                svc.labels.service, svc.port
            ))),
        };
    }
    let wanted = requested
        .map(|(h, p)| format!("{h}:{p}"))
        .or_else(|| ctx.orig_dst.map(|a| a.to_string()))
        .unwrap_or_else(|| "(no destination)".to_string());
    if snap.outbound_policy == OutboundPolicy::RegistryOnly {
        return Err(no_route(wanted));
    }
    match (ctx.orig_dst, requested) {
        (_, Some((h, p))) => Ok(Decision {
            service: Arc::new(ServiceLabels::new(h, None)),
            target: match h.parse() {
                Ok(ip) => Target::Addr(SocketAddr::new(ip, p)),
                Err(_) => Target::Resolve(h.to_string(), p),
            },
            timeout: None,
        }),
        (Some(addr), None) => Ok(Decision {
            service: Arc::new(ServiceLabels::new(&addr.ip().to_string(), None)),
            target: Target::Addr(addr),
            timeout: None,
        }),
        (None, None) => Err(no_route(wanted)),
    }
}

/// An endpoint chosen for a target, and how to talk to it.
#[derive(Debug)]
pub struct Upstream {
    pub endpoint: Arc<Endpoint>,
    pub connect_timeout: Duration,
    pub protocol: UpstreamProtocol,
}

/// Picks the endpoint for a routing target: load balancing for clusters,
/// DNS for explicit-proxy passthrough.
pub async fn resolve(
    ctx: &ConnCtx,
    snap: &Snapshot,
    target: Target,
) -> Result<Upstream, ProxyError> {
    match target {
        Target::Cluster(c) => {
            let endpoint =
                c.balancer
                    .pick()
                    .cloned()
                    .ok_or_else(|| ProxyError::NoHealthyUpstream {
                        cluster: c.name.clone(),
                    })?;
            Ok(Upstream {
                endpoint,
                connect_timeout: c.connect_timeout,
                protocol: c.protocol,
            })
        }
        Target::Addr(addr) => passthrough_to(ctx, snap, addr),
        Target::Resolve(host, port) => {
            let resolve_err = |reason: String| ProxyError::Resolve {
                host: host.clone(),
                reason,
            };
            let addr = tokio::net::lookup_host((host.as_str(), port))
                .await
                .map_err(|e| resolve_err(e.to_string()))?
                .next()
                .ok_or_else(|| resolve_err("no addresses".to_string()))?;
            passthrough_to(ctx, snap, addr)
        }
    }
}

fn passthrough_to(
    ctx: &ConnCtx,
    snap: &Snapshot,
    addr: SocketAddr,
) -> Result<Upstream, ProxyError> {
    if ctx.state.is_own_address(addr) {
        // Forwarding to ourselves would loop until file descriptors ran out.
        return Err(ProxyError::NoRoute {
            authority: format!("{addr} (this proxy's own listener)"),
        });
    }
    Ok(Upstream {
        endpoint: ctx.state.passthrough.endpoint(addr, &snap.unknown_peer),
        connect_timeout: passthrough::CONNECT_TIMEOUT,
        protocol: UpstreamProtocol::Auto,
    })
}

mod gateway;

#[cfg(test)]
mod tests;
