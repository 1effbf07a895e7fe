//! Byte tunnels that start as HTTP: protocol upgrades (WebSocket, ...) and
//! explicit-proxy `CONNECT`.

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use weft_proto::config::Direction;

use super::body::ResponseBody;
use super::exchange::Exchange;
use super::headers::split_authority;
use super::{respond, route};
use crate::errors::{ProxyError, ResponseFlag};
use crate::listen::ConnCtx;
use crate::state::Snapshot;
use crate::tcp;

/// After a 101, joins the client's and the upstream's upgraded connections.
pub fn splice_upgrade(downstream: OnUpgrade, upstream: OnUpgrade, ctx: Arc<ConnCtx>) {
    tokio::spawn(async move {
        let _drain = ctx.drain.clone();
        match tokio::try_join!(downstream, upstream) {
            Ok((down, up)) => {
                let mut down = TokioIo::new(down);
                let mut up = TokioIo::new(up);
                if let Err(e) = tokio::io::copy_bidirectional(&mut down, &mut up).await {
                    tracing::debug!(peer = %ctx.peer, error = %e, "upgraded connection ended");
                }
            }
            Err(e) => tracing::debug!(peer = %ctx.peer, error = %e, "protocol upgrade failed"),
        }
    });
}

/// `CONNECT host:port`: opens a TCP connection to the destination (routed
/// like any other outbound traffic), answers 200, then relays bytes.
pub async fn connect(
    mut ex: Exchange,
    snap: &Snapshot,
    req: Request<Incoming>,
) -> Response<ResponseBody> {
    let ctx = ex.ctx().clone();
    if ctx.listener.direction != Direction::Outbound {
        return respond::error(
            ex,
            false,
            ProxyError::BadRequest("CONNECT is served on outbound listeners only"),
        );
    }
    let requested = req
        .uri()
        .authority()
        .map(|a| split_authority(a.as_str()))
        .and_then(|(h, p)| Some((h.to_string(), p?)));
    let Some((host, port)) = requested else {
        return respond::error(
            ex,
            false,
            ProxyError::BadRequest("CONNECT needs a host:port target"),
        );
    };
    let decision = match crate::tcp::decide_tcp(snap, &ctx, Some((&host, port)), None) {
        Ok(d) => d,
        Err(e) => return respond::error(ex, false, e),
    };
    ex.set_service(decision.service.clone());
    let hash = super::affinity::peer_hash(&decision.target, ctx.peer);
    let up = match route::resolve(&ctx, snap, decision.target, hash).await {
        Ok(up) => up,
        Err(e) => return respond::error(ex, false, e),
    };
    ex.set_upstream_peer(&up.endpoint.labels);
    let stream = match up
        .endpoint
        .connect(up.connect_timeout, crate::upstream::Carries::Tcp)
        .await
    {
        Ok(s) => s,
        Err(e) => return respond::error(ex, false, e),
    };

    let labels = tcp::labels(&ctx, snap, decision.service, &up.endpoint.labels);
    let on_upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => tcp::relay(TokioIo::new(upgraded), stream, labels, &ctx).await,
            Err(e) => tracing::debug!(peer = %ctx.peer, error = %e, "CONNECT tunnel never started"),
        }
    });
    ex.set_response(StatusCode::OK, ResponseFlag::None);
    Response::new(ResponseBody::local(Bytes::new(), Some(ex)))
}
