//! HTTP routing: from a request and a config snapshot to a destination.
//! Plain functions over plain data, so every rule is a table test.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::Request;
use weft_proto::config::{Direction, HttpRoute, OutboundPolicy, RetryBudget};

use super::actions::{Applied, HeaderOps, RouteActions};
use super::headers::{authority, split_authority};
use super::mirror::Mirrors;
use super::rate_limit::LocalRateLimiter;
use super::retry::{Budget, Retry};
use crate::errors::ProxyError;
use crate::listen::ConnCtx;
use crate::state::{ServicePort, Snapshot, passthrough};
use crate::telemetry::{MeteredRoute, ServiceLabels};
use crate::upstream::{Cluster, Endpoint};
use weft_proto::config::UpstreamProtocol;

/// A compiled HTTP route.
#[derive(Debug)]
pub struct Route {
    pub name: Arc<str>,
    pub(crate) matches: Vec<Match>,
    backends: Vec<RouteBackend>,
    total_weight: u64,
    pub timeout: Option<Duration>,
    /// What the route does besides choosing a backend. `None` for most
    /// routes, whose requests then carry nothing extra.
    actions: Option<Arc<RouteActions>>,
    /// How the route retries; `None` for most routes, whose requests then
    /// neither keep their bodies nor touch a budget.
    retry: Option<Arc<Retry>>,
    /// Where copies of its requests go; `None` for most routes.
    mirrors: Option<Arc<Mirrors>>,
    /// Counted under its name (Linkerd ServiceProfile routes); `None` for
    /// most routes.
    metered: Option<Arc<MeteredRoute>>,
    /// The route's own token bucket; `None` for most routes.
    pub rate_limit: Option<Arc<LocalRateLimiter>>,
}

#[derive(Debug)]
struct RouteBackend {
    cluster: Arc<Cluster>,
    weight: u32,
    /// Header edits for requests sent here, and their responses.
    headers: Option<Arc<HeaderOps>>,
}

/// A route chosen for a request, with the match block that chose it
/// (`None`: the route has no match blocks).
#[derive(Debug, Clone, Copy)]
pub struct Selected<'a> {
    pub route: &'a Route,
    by: Option<&'a Match>,
}

/// Where a request goes.
#[derive(Debug)]
pub enum Target {
    Cluster(Arc<Cluster>),
    /// Nowhere: the route answers itself (a redirect or direct response
    /// in `Decision::actions`).
    Local,
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
    /// The matched route's actions, when it has any.
    pub actions: Option<Applied>,
    /// The matched route's retry policy, when it has one.
    pub retry: Option<Arc<Retry>>,
    /// The matched route's mirrors, when it has any.
    pub mirrors: Option<Arc<Mirrors>>,
    /// The matched route, when it counts its requests.
    pub metered: Option<Arc<MeteredRoute>>,
    /// The token bucket the request draws on (the route's, else its
    /// port's), when there is one.
    pub rate_limit: Option<Arc<LocalRateLimiter>>,
}

// === impl Decision ===

impl Decision {
    /// Straight to `target`, with nothing a route adds (inbound, TCP,
    /// passthrough).
    pub fn plain(service: Arc<ServiceLabels>, target: Target) -> Self {
        Self {
            service,
            target,
            timeout: None,
            actions: None,
            retry: None,
            mirrors: None,
            metered: None,
            rate_limit: None,
        }
    }
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
            let headers = if b.headers.is_empty() {
                None
            } else {
                Some(Arc::new(HeaderOps::compile(&b.headers)?))
            };
            backends.push(RouteBackend {
                cluster: c,
                weight: b.weight,
                headers,
            });
        }
        let matches = cfg
            .matches
            .iter()
            .map(Match::compile)
            .collect::<Result<Vec<_>, _>>()?;
        let backend_edits = backends.iter().any(|b| b.headers.is_some());
        Ok(Self {
            name: Arc::from(cfg.name.as_deref().unwrap_or("default")),
            matches,
            total_weight: backends.iter().map(|b| b.weight as u64).sum(),
            backends,
            timeout: cfg.timeout,
            actions: RouteActions::compile(cfg, backend_edits)?.map(Arc::new),
            // A budget of the route's own until `share_retry_budget` (a
            // gateway's routes keep theirs: they have no service port).
            retry: cfg.retries.as_ref().and_then(|r| {
                let budget = Arc::new(Budget::new(&RetryBudget::default()));
                Retry::compile(r, budget).map(Arc::new)
            }),
            mirrors: Mirrors::compile(&cfg.mirrors, &cluster)?.map(Arc::new),
            metered: cfg.metrics.as_ref().map(|m| Arc::new(MeteredRoute::new(m))),
            rate_limit: cfg
                .rate_limit
                .as_ref()
                .map(|rl| LocalRateLimiter::compile(rl).map(Arc::new))
                .transpose()?,
        })
    }

    /// Makes the route's retries draw on its service port's `budget`.
    pub fn share_retry_budget(&mut self, budget: &Arc<Budget>) {
        if let Some(r) = &self.retry {
            self.retry = Some(Arc::new(r.with_budget(budget.clone())));
        }
    }

    /// A route with no conditions sending everything to one cluster.
    pub fn to_cluster(cluster: Arc<Cluster>) -> Self {
        Self {
            name: Arc::from("default"),
            matches: Vec::new(),
            backends: vec![RouteBackend {
                cluster,
                weight: 1,
                headers: None,
            }],
            total_weight: 1,
            timeout: None,
            actions: None,
            retry: None,
            mirrors: None,
            metered: None,
            rate_limit: None,
        }
    }

    /// Istio: a route matches when any of its match blocks does; no match
    /// blocks means it matches everything. `Some(block)` says which block
    /// matched (`Some(None)`: the route has none).
    fn matching<B>(&self, req: &Request<B>, scheme: &str) -> Option<Option<&Match>> {
        if self.matches.is_empty() {
            return Some(None);
        }
        self.matches
            .iter()
            .find(|m| m.matches(req, scheme))
            .map(Some)
    }

    /// Picks a backend cluster by weight.
    pub fn pick_backend(&self) -> Option<&Arc<Cluster>> {
        self.pick().map(|b| &b.cluster)
    }

    fn pick(&self) -> Option<&RouteBackend> {
        if self.backends.len() == 1 {
            return self.backends.first();
        }
        let mut r = fastrand::u64(..self.total_weight.max(1));
        for b in &self.backends {
            if r < b.weight as u64 {
                return Some(b);
            }
            r -= b.weight as u64;
        }
        self.backends.first()
    }
}

/// The first route that matches, as Istio evaluates VirtualService rules.
/// `scheme` is the request's ([`scheme`]).
pub fn select<'a, B>(routes: &'a [Route], req: &Request<B>, scheme: &str) -> Option<Selected<'a>> {
    routes
        .iter()
        .find_map(|route| route.matching(req, scheme).map(|by| Selected { route, by }))
}

/// A request's scheme, as Envoy's `:scheme`: the one it carries (HTTP/2,
/// absolute-form), else `https` when this proxy terminated the client's
/// TLS and `http` when not (mesh mTLS between proxies does not count).
pub fn scheme<'r, B>(req: &'r Request<B>, ctx: &ConnCtx) -> &'r str {
    req.uri()
        .scheme_str()
        .unwrap_or(if ctx.client_tls { "https" } else { "http" })
}

// === impl Selected ===

impl Selected<'_> {
    /// Where the request goes (a backend by weight, or nowhere when the
    /// route answers itself) and what it carries of the route's actions;
    /// `port` is the one the route serves (a redirect's `from_request`).
    /// `None`: the route has neither a backend nor an answer.
    pub fn dispatch<B>(&self, req: &Request<B>, port: u16) -> Option<(Target, Option<Applied>)> {
        let backend = self.route.pick();
        let actions = self.route.actions.as_ref();
        let target = match backend {
            Some(b) => Target::Cluster(b.cluster.clone()),
            None if actions.is_some_and(|a| a.answers()) => Target::Local,
            None => return None,
        };
        let applied = actions.map(|a| {
            let path = req.uri().path();
            Applied::new(
                a.clone(),
                backend.and_then(|b| b.headers.clone()),
                self.by
                    .map_or(usize::from(path.starts_with('/')), |m| m.matched_len(path)),
                port,
            )
        });
        Some((target, applied))
    }
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
        return route_service_port(svc, req, scheme(req, ctx));
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
        return Ok(Decision::plain(
            Arc::new(ServiceLabels::new(&addr.ip().to_string(), None)),
            Target::Addr(addr),
        ));
    }
    match requested {
        Some((host, port)) => Ok(Decision::plain(
            Arc::new(ServiceLabels::new(host, None)),
            Target::Resolve(host.to_string(), port.unwrap_or(default_port)),
        )),
        None => Err(no_route()),
    }
}

fn route_service_port<B>(
    svc: &ServicePort,
    req: &Request<B>,
    scheme: &str,
) -> Result<Decision, ProxyError> {
    let selected = select(&svc.routes, req, scheme).ok_or_else(|| ProxyError::NoRoute {
        authority: format!("{}:{} {}", svc.labels.service, svc.port, req.uri().path()),
    })?;
    let (target, actions) =
        selected
            .dispatch(req, svc.port)
            .ok_or_else(|| ProxyError::NoRoute {
                authority: format!("{}:{}", svc.labels.service, svc.port),
            })?;
    Ok(Decision {
        service: svc.labels.clone(),
        target,
        timeout: selected.route.timeout,
        actions,
        retry: selected.route.retry.clone(),
        mirrors: selected.route.mirrors.clone(),
        metered: selected.route.metered.clone(),
        rate_limit: selected.route.rate_limit.clone(),
    })
}

pub(crate) fn inbound(snap: &Snapshot, ctx: &ConnCtx) -> Decision {
    let port = ctx.target_port();
    match port.and_then(|p| snap.inbound.get(&p)) {
        Some(t) => Decision {
            rate_limit: t.rate_limit.clone(),
            ..Decision::plain(t.labels.clone(), Target::Cluster(t.cluster.clone()))
        },
        // A port no one declared: hand it to the app on the same port, as
        // Istio's inbound passthrough does.
        None => Decision::plain(
            snap.unknown_service.clone(),
            Target::Addr(
                ctx.listener
                    .app_address
                    .filter(|_| port == ctx.listener.target_port)
                    .unwrap_or_else(|| {
                        (std::net::Ipv4Addr::LOCALHOST, port.unwrap_or_default()).into()
                    }),
            ),
        ),
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
/// DNS for explicit-proxy passthrough. `hash` is the request's
/// consistent-hash key (`http::affinity`), for clusters that hash.
pub async fn resolve(
    ctx: &ConnCtx,
    snap: &Snapshot,
    target: Target,
    hash: Option<u64>,
) -> Result<Upstream, ProxyError> {
    match target {
        Target::Cluster(c) => {
            let endpoint =
                c.balancer
                    .pick(hash)
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
        // Answered before resolving; reaching here is a bug, not a panic.
        Target::Local => Err(ProxyError::NoRoute {
            authority: "(a route that answers itself)".to_string(),
        }),
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
mod matcher;

pub(crate) use matcher::Match;

#[cfg(test)]
mod tests;
