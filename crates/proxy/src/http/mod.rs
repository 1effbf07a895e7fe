//! HTTP proxying: serving HTTP/1.1 and HTTP/2 connections from clients and
//! forwarding each request to the upstream its route picks.

mod actions;
pub(crate) mod affinity;
mod authorize;
mod body;
mod exchange;
mod forward;
mod headers;
mod mirror;
pub(crate) mod peer;
pub(crate) mod rate_limit;
mod request_id;
mod respond;
mod retry;
pub(crate) mod route;
mod tunnel;

use std::convert::Infallible;
use std::sync::Arc;

use hyper::Version;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};

pub use body::{RequestBody, ResponseBody};
pub use exchange::security_policy;
pub(crate) use headers::authority as authority_of;
pub(crate) use headers::authority_in;
pub use rate_limit::{LocalRateLimiter, RateLimiters, Stats as RateLimitStats};
pub use retry::Budget as RetryBudget;
pub use route::{Decision, Route, Target};

use crate::listen::ConnCtx;

/// Largest request header block accepted from a client; larger gets 431.
/// Envoy's (and so Istio's) default is 60 KiB.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Serves one client connection whose protocol is known.
pub async fn serve<I>(io: I, version: Version, ctx: Arc<ConnCtx>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let drain = ctx.drain.clone();
    let peer = ctx.peer;
    let svc = {
        let ctx = ctx.clone();
        hyper::service::service_fn(move |req| {
            let ctx = ctx.clone();
            async move { Ok::<_, Infallible>(forward::handle(ctx, req).await) }
        })
    };
    let io = TokioIo::new(io);
    let result = if version == Version::HTTP_2 {
        let conn = http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .max_header_list_size(MAX_HEADER_BYTES as u32)
            .serve_connection(io, svc);
        let conn = std::pin::pin!(conn);
        drain.watch(conn, |c| c.as_mut().graceful_shutdown()).await
    } else {
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            // `max_buf_size` alone is checked only while a head is still
            // incomplete, so a bigger head that arrives in one read slips
            // through; `max_header_size` checks every parsed head.
            .max_header_size(MAX_HEADER_BYTES)
            .max_buf_size(MAX_HEADER_BYTES)
            .serve_connection(io, svc)
            .with_upgrades();
        let conn = std::pin::pin!(conn);
        drain.watch(conn, |c| c.as_mut().graceful_shutdown()).await
    };
    if let Err(e) = result {
        // Malformed requests and oversized headers were already answered
        // (400 / 431) by hyper; this is the connection's end.
        tracing::debug!(%peer, error = %e, "client connection ended with an error");
    }
}
