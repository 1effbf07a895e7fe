//! Routing a request that reached an ingress gateway: its gateway port
//! picks the server, its Host the virtual host (exact, then the longest
//! wildcard, then `*`), and the virtual host's first matching route the
//! cluster, as Envoy does with the route configuration Istio gives a
//! gateway. No server, virtual host or route: 404 `NR`.

use http::Request;

use super::super::headers::{authority, split_authority};
use super::{Decision, Target, select};
use crate::errors::ProxyError;
use crate::listen::ConnCtx;
use crate::state::Snapshot;

/// Routes one request arriving on a gateway listener.
///
/// Cost: two hash lookups and a scan of the wildcard hosts; nothing is
/// allocated unless the request fails (the error names what was asked).
/// A route's actions travel in the decision as pointers.
pub fn decide<B>(snap: &Snapshot, ctx: &ConnCtx, req: &Request<B>) -> Result<Decision, ProxyError> {
    let port = ctx.target_port().unwrap_or_default();
    let host = authority(req).map(|a| split_authority(a).0);
    let no_route = |what: String| ProxyError::NoRoute { authority: what };
    let Some(server) = snap.gateways.server(port) else {
        return Err(no_route(format!(
            "{} (no Gateway serves port {port} on this proxy)",
            host.unwrap_or("(no host)")
        )));
    };
    let Some(host) = host else {
        return Err(no_route(format!("(no host) on gateway port {port}")));
    };
    let Some(vh) = server.virtual_host(host) else {
        return Err(no_route(format!(
            "{host} (no virtual host for it on gateway port {port})"
        )));
    };
    let selected = select(&vh.routes, req, super::scheme(req, ctx)).ok_or_else(|| {
        no_route(format!(
            "{host}{} (no route of {} on gateway port {port} matches)",
            req.uri().path(),
            vh.name
        ))
    })?;
    let (target, actions) = selected.dispatch(req, port).ok_or_else(|| {
        no_route(format!(
            "{host} (route {} has no backend)",
            selected.route.name
        ))
    })?;
    let service = match &target {
        Target::Cluster(cluster) => snap.gateways.service_of(&cluster.name),
        _ => None,
    }
    .unwrap_or(&snap.unknown_service)
    .clone();
    Ok(Decision {
        service,
        target,
        timeout: selected.route.timeout,
        actions,
        retry: selected.route.retry.clone(),
        mirrors: selected.route.mirrors.clone(),
        metered: selected.route.metered.clone(),
        // Envoy: a route's own config replaces the filter's.
        rate_limit: selected
            .route
            .rate_limit
            .clone()
            .or_else(|| server.rate_limit.clone()),
    })
}

#[cfg(test)]
mod tests;
