//! Routing an opaque connection: inbound to the app's port; outbound by
//! the service its destination belongs to (and, on ports with TLS routes,
//! the server name its ClientHello asks for); on a gateway by the gateway
//! port's routes. A connection is routed once, when it opens.

use std::net::SocketAddr;
use std::sync::Arc;

use weft_proto::config::{Direction, OutboundPolicy};

use crate::errors::ProxyError;
use crate::http::route::{self, Decision, Target};
use crate::listen::ConnCtx;
use crate::state::{ServicePort, Snapshot};
use crate::telemetry::ServiceLabels;

/// Whether routing this connection needs its SNI: its port has routes
/// that choose by server name, so the ClientHello must be read first.
pub fn need_sni(snap: &Snapshot, ctx: &ConnCtx) -> bool {
    match ctx.listener.direction {
        Direction::Inbound => false,
        Direction::Outbound => service(snap, ctx, None).is_some_and(|s| s.tcp_routes.need_sni()),
        Direction::Gateway => ctx
            .target_port()
            .and_then(|p| snap.gateways.server(p))
            .is_some_and(|s| s.tcp_routes.need_sni()),
    }
}

/// Routes an opaque connection: from the listener's fixed destination, a
/// CONNECT request's `requested` authority, or the original destination;
/// `sni` is the server name its ClientHello asked for, when read.
pub fn decide_tcp(
    snap: &Snapshot,
    ctx: &ConnCtx,
    requested: Option<(&str, u16)>,
    sni: Option<&str>,
) -> Result<Decision, ProxyError> {
    let no_route = |what: String| ProxyError::NoRoute { authority: what };
    match ctx.listener.direction {
        Direction::Inbound => return Ok(route::inbound(snap, ctx)),
        Direction::Gateway => return gateway(snap, ctx, sni),
        Direction::Outbound => {}
    }
    if let Some(svc) = service(snap, ctx, requested) {
        let cluster = if svc.tcp_routes.is_empty() {
            // Opaque bytes on an HTTP port follow its catch-all route, if any.
            svc.tcp_cluster.clone().or_else(|| {
                svc.routes
                    .iter()
                    .rev()
                    .find(|r| r.matches.is_empty())
                    .and_then(|r| r.pick_backend().cloned())
            })
        } else {
            svc.tcp_routes.pick(sni).cloned()
        };
        return match cluster {
            Some(c) => Ok(Decision::plain(svc.labels.clone(), Target::Cluster(c))),
            None => Err(no_route(format!(
                "{}:{} (tcp{})",
                svc.labels.service,
                svc.port,
                sni.map(|s| format!(", sni {s}")).unwrap_or_default()
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
        (_, Some((h, p))) => Ok(Decision::plain(
            Arc::new(ServiceLabels::new(h, None)),
            match h.parse() {
                Ok(ip) => Target::Addr(SocketAddr::new(ip, p)),
                Err(_) => Target::Resolve(h.to_string(), p),
            },
        )),
        (Some(addr), None) => Ok(Decision::plain(
            Arc::new(ServiceLabels::new(&addr.ip().to_string(), None)),
            Target::Addr(addr),
        )),
        (None, None) => Err(no_route(wanted)),
    }
}

/// The outbound service port a connection is for.
fn service<'a>(
    snap: &'a Snapshot,
    ctx: &ConnCtx,
    requested: Option<(&str, u16)>,
) -> Option<&'a ServicePort> {
    match (&ctx.listener.destination, requested) {
        (Some((h, p)), _) => snap.services.by_host(h, *p),
        (None, Some((h, p))) => snap.services.by_host(h, p).or_else(|| {
            h.parse()
                .ok()
                .and_then(|ip| snap.services.by_addr(SocketAddr::new(ip, p)))
        }),
        (None, None) => ctx.orig_dst.and_then(|a| snap.services.by_addr(a)),
    }
}

/// A gateway port's routes for connections it passes through.
fn gateway(snap: &Snapshot, ctx: &ConnCtx, sni: Option<&str>) -> Result<Decision, ProxyError> {
    let port = ctx.target_port().unwrap_or_default();
    let cluster = snap
        .gateways
        .server(port)
        .and_then(|s| s.tcp_routes.pick(sni))
        .ok_or_else(|| ProxyError::NoRoute {
            authority: format!(
                "gateway port {port} (tcp{})",
                sni.map(|s| format!(", sni {s}")).unwrap_or_default()
            ),
        })?;
    let service = snap
        .gateways
        .service_of(&cluster.name)
        .unwrap_or(&snap.unknown_service)
        .clone();
    Ok(Decision::plain(service, Target::Cluster(cluster.clone())))
}
