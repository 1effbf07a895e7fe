//! Local rate limits from Istio `EnvoyFilter`s: the
//! `envoy.filters.http.local_ratelimit` patches of Istio's "Enabling Rate
//! Limits using Envoy" task, carried into the proxy config.
//!
//! Scoping as Istio applies EnvoyFilters: one in the root namespace applies
//! mesh-wide, one elsewhere to its own namespace; with a
//! `workloadSelector`, only to workloads carrying its labels. Root
//! namespace filters apply first, then the workload's namespace's, each by
//! `priority`, then name; a later limit for the same place replaces an
//! earlier one.
//!
//! Envoy's semantics: the HTTP_FILTER patch's limit holds every request on
//! the listener; a route's `typed_per_filter_config` replaces it for that
//! route, and counts only when the filter is in the chain (an HTTP_FILTER
//! patch for the same context applies to the workload).

use weft_api::Resource;
use weft_api::analyze::ROOT_NAMESPACE;
use weft_api::kinds::Spec;
use weft_api::kinds::istio::{
    EnvoyFilter, LocalRateLimit, PatchContext, RateLimitPatch, RateLimitScope, recognize_rate_limit,
};
use weft_proto::config::{self, GatewayServer, HeaderEdits, InboundPort};

use super::routes::Caller;
use crate::model::Mesh;

/// The rate limit patches that apply to one workload, in order.
#[derive(Debug, Default)]
pub struct Limits {
    patches: Vec<RateLimitPatch>,
}

/// The patches of every EnvoyFilter that selects `caller`.
pub fn for_caller(mesh: &Mesh, caller: &Caller) -> Limits {
    let mut filters: Vec<(bool, i32, &str, &EnvoyFilter)> = mesh
        .resources
        .iter()
        .filter_map(|r| match &r.spec {
            Spec::EnvoyFilter(f) if applies(r, f, caller) => {
                Some((r.namespace() != ROOT_NAMESPACE, f.priority, r.name(), f))
            }
            _ => None,
        })
        .collect();
    filters.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    let patches = filters
        .iter()
        .flat_map(|(.., f)| &f.config_patches)
        // Loading reported the ones Envoy would refuse; they change nothing.
        .filter_map(|p| recognize_rate_limit(p).ok().flatten())
        .collect();
    Limits { patches }
}

fn applies(r: &Resource, f: &EnvoyFilter, caller: &Caller) -> bool {
    let ns = r.namespace();
    if !f.target_refs.is_empty() || (ns != ROOT_NAMESPACE && ns != caller.namespace) {
        return false;
    }
    f.workload_selector.as_ref().is_none_or(|s| {
        s.labels
            .iter()
            .all(|(k, v)| caller.labels.get(k) == Some(v))
    })
}

// === impl Limits ===

impl Limits {
    pub fn is_empty(&self) -> bool {
        self.patches.is_empty()
    }

    /// Sets each inbound port's limit: the filter's for the port, replaced
    /// by a route patch's for its inbound route (`inbound|http|<port>`).
    pub fn apply_inbound(&self, ports: &mut [InboundPort]) {
        let inbound = || {
            self.patches
                .iter()
                .filter(|p| p.context == PatchContext::SidecarInbound)
        };
        for port in ports.iter_mut() {
            let mut filter_in_chain = false;
            let mut limit = None;
            for p in inbound() {
                if let RateLimitScope::Filter { port: at } = &p.scope
                    && at.is_none_or(|at| at == port.port)
                {
                    filter_in_chain = true;
                    limit = p.limit.as_ref();
                }
            }
            if !filter_in_chain {
                continue;
            }
            let vhost = format!("inbound|http|{}", port.port);
            for p in inbound() {
                if let RateLimitScope::Route {
                    port: at,
                    vhost: v,
                    route: _,
                } = &p.scope
                    && at.is_none_or(|at| at == port.port)
                    && v.as_deref().is_none_or(|v| v == vhost)
                    && p.limit.is_some()
                {
                    limit = p.limit.as_ref();
                }
            }
            port.rate_limit = limit.map(convert);
        }
    }

    /// Sets each gateway port's limit (the filter's, on `listener.portNumber`
    /// if set) and the routes' own (by `routeConfiguration.portNumber`,
    /// vhost `host:port` and route name, each if set).
    pub fn apply_gateway(&self, servers: &mut [GatewayServer]) {
        let gateway = || {
            self.patches
                .iter()
                .filter(|p| p.context == PatchContext::Gateway)
        };
        for server in servers.iter_mut() {
            let mut filter_in_chain = false;
            for p in gateway() {
                if let RateLimitScope::Filter { port: at } = &p.scope
                    && at.is_none_or(|at| at == server.port)
                {
                    filter_in_chain = true;
                    server.rate_limit = p.limit.as_ref().map(convert);
                }
            }
            if !filter_in_chain {
                continue;
            }
            for vh in &mut server.virtual_hosts {
                let names: Vec<String> = vh
                    .hosts
                    .iter()
                    .map(|h| format!("{h}:{}", server.port))
                    .collect();
                for route in &mut vh.routes {
                    for p in gateway() {
                        if let RateLimitScope::Route {
                            port: at,
                            vhost,
                            route: name,
                        } = &p.scope
                            && at.is_none_or(|at| at == server.port)
                            && vhost.as_ref().is_none_or(|v| names.contains(v))
                            && name.as_ref().is_none_or(|n| route.name.as_ref() == Some(n))
                            && let Some(l) = &p.limit
                        {
                            route.rate_limit = Some(convert(l));
                        }
                    }
                }
            }
        }
    }
}

fn convert(l: &LocalRateLimit) -> config::LocalRateLimit {
    config::LocalRateLimit {
        max_tokens: l.max_tokens,
        tokens_per_fill: l.tokens_per_fill,
        fill_interval: l.fill_interval,
        enabled_percent: l.enabled_percent,
        enforced_percent: l.enforced_percent,
        response_headers: HeaderEdits {
            set: l.set_headers.clone(),
            add: l.add_headers.clone(),
            remove: Vec::new(),
        },
    }
}
