//! Forwarding one HTTP request: route, pick an endpoint, send, and stream
//! the response back.

use std::sync::Arc;
use std::time::Instant;

use http::header::{HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Version, header};
use hyper::body::Incoming;
use weft_proto::config::{Direction, UpstreamProtocol};

use super::actions::Applied;
use super::affinity::Affinity;
use super::body::{ClientBody, RequestBody, ResponseBody};
use super::exchange::Exchange;
use super::headers::{is_grpc, is_upgrade, set_upstream_target, strip_hop_by_hop};
use super::route::Target;
use super::{authorize, peer, request_id, respond, retry, route, tunnel};
use crate::errors::{ProxyError, ResponseFlag};
use crate::listen::ConnCtx;
use crate::upstream::HttpVersion;

/// Marks a request the caller's proxy upgraded from HTTP/1.1 to HTTP/2, so
/// the callee's proxy hands it to the app as HTTP/1.1 again (Linkerd's
/// `l5d-orig-proto`). Only honoured inbound; stripped everywhere. A
/// `HeaderName`, not a `&str`: inserting a custom name given as a `&str`
/// copies it into a new allocation on every request.
pub const ORIG_PROTO_HEADER: HeaderName = HeaderName::from_static("weft-orig-proto");

/// Handles one request from a client; never fails: proxy errors become
/// responses that say what went wrong.
pub async fn handle(ctx: Arc<ConnCtx>, mut req: Request<Incoming>) -> Response<ResponseBody> {
    let start = Instant::now();
    let snap = ctx.state.snapshot();
    let grpc = is_grpc(&req);
    let mut ex = Exchange::new(ctx.clone(), &snap, start, grpc);
    if ctx.listener.direction == Direction::Inbound
        && let Some(source) = peer::take_inbound(&ctx, req.headers_mut())
    {
        ex.set_source(source);
    }
    // Before the span and the access log line read it, and before the
    // route: a route's own header actions see it too.
    request_id::ensure(ctx.listener.direction, ctx.peer.ip(), req.headers_mut());
    // Tracing off: this one check.
    if let Some(tracer) = &snap.tracer {
        ex.start_trace(tracer, &mut req);
    }
    ex.start_tap(&req);
    // Access log off: this one check.
    ex.start_log(&snap, &req);

    if ctx.listener.direction == Direction::Inbound
        && !snap.authz.is_empty()
        && let Err(e) = authorize::check(&ctx, &snap, &req)
    {
        return respond::error(ex, grpc, e);
    }
    if req.method() == Method::CONNECT {
        return tunnel::connect(ex, &snap, req).await;
    }

    let decision = match route::decide(&snap, &ctx, &req) {
        Ok(d) => d,
        Err(e) => return respond::error(ex, grpc, e),
    };
    ex.set_service(decision.service.clone());
    if let Some(m) = decision.metered.clone() {
        ex.set_route(m);
    }
    // Envoy's local_ratelimit filter; for most requests one `None` check.
    if let Some(rl) = &decision.rate_limit
        && !rl.admit()
    {
        return rl.refuse(ex, grpc);
    }
    // Most routes have no actions: this is one `None` check for them.
    let mut actions = decision.actions;
    if let Some(a) = &mut actions {
        ex = match a.before_upstream(ex, &req, grpc).await {
            Ok(ex) => ex,
            Err(rsp) => return rsp,
        };
    }
    // Retries pick endpoints from the cluster again; only clusters retry.
    let retry = match (&decision.target, decision.retry) {
        (Target::Cluster(c), Some(r)) => Some((r, c.clone())),
        _ => None,
    };
    // Clusters balancing by consistent hash hash a part of the request
    // (DestinationRule `consistentHash`); for others this is one check.
    let affinity = Affinity::of(&decision.target, ctx.peer, &req);
    let hash = affinity.as_ref().and_then(|a| a.hash);
    ex.trace_target(&decision.target);
    let cluster_name = match &decision.target {
        Target::Cluster(c) if ex.logging() => Some(c.name.clone()),
        _ => None,
    };
    let up = match route::resolve(&ctx, &snap, decision.target, hash).await {
        Ok(up) => up,
        Err(e) => return edited(respond::error(ex, grpc, e), &actions),
    };
    ex.tap_upstream(up.endpoint.is_meshed());
    if let Some(c) = &cluster_name {
        ex.log_upstream(up.endpoint.addr, c);
    }
    if ctx.listener.direction != Direction::Inbound {
        let meshed = up.endpoint.is_meshed();
        peer::set_outbound(req.headers_mut(), meshed, snap.peer_header.as_ref());
    }
    drop(snap);
    ex.set_upstream_peer(&up.endpoint.labels);
    ex.trace_upstream(up.endpoint.addr);
    let in_flight = match up.endpoint.admit() {
        Ok(f) => f,
        Err(e) => return edited(respond::error(ex, grpc, e), &actions),
    };
    ex.hold(in_flight);

    let upgrade = is_upgrade(&req);
    // Between proxies HTTP/1.1 rides HTTP/2; the far side restores it.
    let orig_proto = req.headers_mut().remove(ORIG_PROTO_HEADER);
    let restore_http1 = ctx.listener.direction == Direction::Inbound && orig_proto.is_some();
    let version = match (upgrade || restore_http1, up.protocol, req.version()) {
        // Upgrades exist only in HTTP/1.1.
        (true, ..) => HttpVersion::Http1,
        (false, UpstreamProtocol::Http1, _) => HttpVersion::Http1,
        (false, UpstreamProtocol::Http2, _) => HttpVersion::Http2,
        (false, UpstreamProtocol::Auto, Version::HTTP_2) => HttpVersion::Http2,
        (false, UpstreamProtocol::Auto, _) => HttpVersion::Http1,
    };
    let downstream_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));

    strip_hop_by_hop(req.headers_mut(), upgrade);
    if let Some(a) = &actions {
        a.edit_request(&mut req);
    }
    if version == HttpVersion::Http2 && req.version() != Version::HTTP_2 {
        req.headers_mut()
            .insert(ORIG_PROTO_HEADER, HeaderValue::from_static("HTTP/1.1"));
    }
    // hyper already answers `Expect: 100-continue` to the client when the
    // body is first read; the upstream need not do it again.
    req.headers_mut().remove(header::EXPECT);
    // Copies for the route's mirrors leave now, with the request's head as
    // it goes upstream; its body feeds them as the upstream reads it.
    let taps = match &decision.mirrors {
        Some(m) if downstream_upgrade.is_none() => m.start(&req, decision.timeout),
        _ => Vec::new(),
    };
    set_upstream_target(
        &mut req,
        match version {
            HttpVersion::Http1 => Version::HTTP_11,
            HttpVersion::Http2 => Version::HTTP_2,
        },
    );

    let req = req.map(|b| ClientBody::tapped(b, taps));
    let (result, exhausted) = match retry {
        // An upgrade's body is the rest of the connection: never retried.
        Some((retry, cluster)) if downstream_upgrade.is_none() => {
            // The route timeout bounds every try and wait together.
            let send = retry::send(&retry, &cluster, up.endpoint, version, req, &mut ex);
            match decision.timeout {
                Some(t) => match tokio::time::timeout(t, send).await {
                    Ok(tried) => (tried.result, tried.exhausted),
                    Err(_) => (Err(ProxyError::ResponseTimeout(t)), false),
                },
                None => {
                    let tried = send.await;
                    (tried.result, tried.exhausted)
                }
            }
        }
        _ => {
            let req = req.map(|b| RequestBody::new(b, ex.request_bytes()));
            let send = up.endpoint.send(req, version, up.connect_timeout);
            let result = match decision.timeout {
                Some(t) => tokio::time::timeout(t, send)
                    .await
                    .unwrap_or(Err(ProxyError::ResponseTimeout(t))),
                None => send.await,
            };
            if result.is_ok() {
                up.endpoint.observe_latency(start.elapsed());
            }
            up.endpoint.observe_outcome(&result);
            (result, false)
        }
    };
    let mut rsp = match result {
        Ok(rsp) => rsp,
        Err(e) => return edited(respond::error(ex, grpc, e), &actions),
    };

    let switching = rsp.status() == StatusCode::SWITCHING_PROTOCOLS;
    if let (true, Some(down)) = (switching, downstream_upgrade) {
        tunnel::splice_upgrade(down, hyper::upgrade::on(&mut rsp), ctx);
    }
    strip_hop_by_hop(rsp.headers_mut(), switching);
    if let Some(a) = &actions {
        a.edit_response(rsp.headers_mut());
    }
    if let Some(a) = &affinity {
        a.set_cookie(rsp.headers_mut());
    }
    ex.observe_grpc_status(rsp.headers());
    // Envoy: URX when retries ran out (or the budget stopped them) and the
    // last try still failed; an error's own flag (UF, UC, UT) wins.
    let flag = if exhausted {
        ResponseFlag::URX
    } else {
        ResponseFlag::None
    };
    ex.set_response(rsp.status(), flag);
    rsp.map(|b| ResponseBody::upstream(b, ex))
}

/// The proxy's error after the route chose a backend gets the route's
/// response edits, as Envoy's router applies them to its local replies.
fn edited(mut rsp: Response<ResponseBody>, actions: &Option<Applied>) -> Response<ResponseBody> {
    if let Some(a) = actions {
        a.edit_response(rsp.headers_mut());
    }
    rsp
}
