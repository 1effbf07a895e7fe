//! Opaque TCP proxying: routed by destination (and by the ClientHello's
//! server name where routes ask for it), bytes relayed both ways with
//! half-close preserved, counted as Istio's `istio_tcp_*` metrics.

mod decide;
mod routes;

pub use decide::{decide_tcp, need_sni};
pub use routes::TcpRoutes;

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use prometheus_client::metrics::counter::Counter;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use weft_proto::config::Direction;

use crate::authz::{Attrs, Verdict};
use crate::client_hello;
use crate::errors::ResponseFlag;
use crate::http::route;
use crate::io::PrefixedIo;
use crate::listen::ConnCtx;
use crate::state::Snapshot;
use crate::telemetry::{DeniedProtocol, PeerLabels, Reporter, ServiceLabels, TcpLabels};

/// Serves a connection detected (or declared) as opaque.
pub async fn serve<I>(mut io: I, ctx: Arc<ConnCtx>)
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    let snap = ctx.state.snapshot();
    if ctx.listener.direction == Direction::Inbound && !snap.authz.is_empty() {
        let attrs = Attrs {
            peer: ctx.peer.ip(),
            remote: ctx.peer.ip(),
            local: ctx.orig_dst,
            port: ctx.target_port().unwrap_or(0),
            identity: ctx.identity.as_deref(),
            http: None,
        };
        if let Verdict::Deny(policy) = snap.authz.check(&attrs) {
            ctx.state.metrics.denied(&policy, DeniedProtocol::tcp);
            tracing::warn!(listener = %ctx.listener.name, peer = %ctx.peer, response_flags = "RBAC", "RBAC: access denied by {policy}; closing TCP connection");
            return;
        }
    }
    // Envoy's tls_inspector: only ports whose routes choose by server
    // name wait for a ClientHello. A client that sends none in time is
    // routed as one without SNI.
    let need = need_sni(&snap, &ctx);
    drop(snap);
    let (prefix, sni) = match need {
        true => match client_hello::sni_of(&mut io, ctx.peer).await {
            Some(read) => read,
            None => return,
        },
        false => (Bytes::new(), None),
    };
    serve_routed(PrefixedIo::new(prefix, io), ctx, sni.as_deref()).await;
}

/// Routes a connection whose SNI (if its routes need one) is known, and
/// relays it.
pub async fn serve_routed<I>(io: I, ctx: Arc<ConnCtx>, sni: Option<&str>)
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    let snap = ctx.state.snapshot();
    let decision = match decide_tcp(&snap, &ctx, None, sni) {
        Ok(d) => d,
        Err(e) => {
            tracing::info!(listener = %ctx.listener.name, peer = %ctx.peer, response_flags = %e.flag(), "{e}; closing TCP connection");
            return;
        }
    };
    let service = decision.service.clone();
    let hash = crate::http::affinity::peer_hash(&decision.target, ctx.peer);
    let up = match route::resolve(&ctx, &snap, decision.target, hash).await {
        Ok(up) => up,
        Err(e) => {
            let mut labels = labels(&ctx, &snap, service, &snap.unknown_peer);
            fail(&ctx, &mut labels, &e);
            return;
        }
    };
    let mut labels = labels(&ctx, &snap, service, &up.endpoint.labels);
    drop(snap);
    // Envoy's TCP proxy: over the cluster's `max_connections` the
    // connection is refused (`UO`); the place is held while it relays.
    let _slot = match up.endpoint.limits().map(|l| (l, l.try_connection())) {
        Some((_, Some(slot))) => slot,
        Some((limits, None)) => {
            let e = limits.overflow_connections();
            return fail(&ctx, &mut labels, &e);
        }
        None => None,
    };
    match up
        .endpoint
        .connect(up.connect_timeout, crate::upstream::Carries::Tcp)
        .await
    {
        Ok(stream) => relay(io, stream, labels, &ctx).await,
        Err(e) => fail(&ctx, &mut labels, &e),
    }
}

fn fail(ctx: &ConnCtx, labels: &mut TcpLabels, e: &crate::errors::ProxyError) {
    tracing::warn!(listener = %ctx.listener.name, peer = %ctx.peer, response_flags = %e.flag(), "{e}; closing TCP connection");
    let metrics = &ctx.state.metrics;
    metrics.tcp_opened(labels);
    labels.response_flags = e.flag();
    metrics.tcp_closed(labels);
}

/// TCP metric labels for a connection on `ctx` to `upstream`.
pub fn labels(
    ctx: &ConnCtx,
    snap: &Snapshot,
    service: Arc<ServiceLabels>,
    upstream: &Arc<PeerLabels>,
) -> TcpLabels {
    let reporter = ctx.listener.reporter();
    let (source, destination) = match reporter {
        Reporter::Source => (snap.node.clone(), upstream.clone()),
        Reporter::Destination => (
            ctx.peer_labels
                .clone()
                .unwrap_or_else(|| snap.unknown_peer.clone()),
            snap.node.clone(),
        ),
    };
    let csp = crate::http::security_policy(reporter, ctx);
    TcpLabels {
        reporter,
        source,
        destination,
        service,
        response_flags: ResponseFlag::None,
        connection_security_policy: csp,
    }
}

/// Copies bytes both ways until both sides are done. A half-close on one
/// side is passed on to the other, so request/response protocols that
/// signal the end of a request with FIN keep working.
pub async fn relay<A, B>(client: A, upstream: B, labels: TcpLabels, ctx: &ConnCtx)
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let metrics = &ctx.state.metrics;
    metrics.tcp_opened(&labels);
    let (received, sent) = metrics.tcp_byte_counters(&labels);
    let mut client = Counted::new(client, received);
    let mut upstream = Counted::new(upstream, sent);
    if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
        tracing::debug!(peer = %ctx.peer, error = %e, "TCP connection ended with an error");
    }
    metrics.tcp_closed(&labels);
}

/// Counts bytes read from a stream into a metric as they pass.
struct Counted<T> {
    io: T,
    read: Counter,
}

impl<T> Counted<T> {
    fn new(io: T, read: Counter) -> Self {
        Self { io, read }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.io).poll_read(cx, buf))?;
        self.read.inc_by((buf.filled().len() - before) as u64);
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
