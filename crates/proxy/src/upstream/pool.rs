//! Per-endpoint HTTP connection pools: a stack of idle HTTP/1.1
//! connections, and one multiplexed HTTP/2 connection.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use parking_lot::Mutex;

use super::{Carries, Endpoint};
use crate::errors::ProxyError;
use crate::http::RequestBody;

/// Idle HTTP/1.1 connections kept per endpoint.
const MAX_IDLE: usize = 128;
/// Idle connections older than this are closed rather than reused, before
/// the upstream's own keep-alive timeout races us.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The HTTP version spoken to an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpVersion {
    Http1,
    Http2,
}

#[derive(Debug, Default)]
pub struct Pool {
    idle: Mutex<Vec<Idle>>,
    h2: Mutex<Option<http2::SendRequest<RequestBody>>>,
    /// Serializes HTTP/2 connection setup so a burst opens one connection.
    h2_connecting: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct Idle {
    tx: http1::SendRequest<RequestBody>,
    since: Instant,
}

// === impl Endpoint ===

impl Endpoint {
    /// Sends a request over a pooled connection (opening one if needed) and
    /// returns the response head.
    pub async fn send(
        self: &Arc<Self>,
        req: Request<RequestBody>,
        version: HttpVersion,
        connect_timeout: Duration,
    ) -> Result<Response<Incoming>, ProxyError> {
        match version {
            HttpVersion::Http1 => self.send_h1(req, connect_timeout).await,
            HttpVersion::Http2 => self.send_h2(req, connect_timeout).await,
        }
    }

    async fn send_h1(
        self: &Arc<Self>,
        mut req: Request<RequestBody>,
        connect_timeout: Duration,
    ) -> Result<Response<Incoming>, ProxyError> {
        loop {
            let (mut tx, reused) = match self.pool.checkout_h1() {
                Some(tx) => (tx, true),
                None => (self.connect_h1(connect_timeout).await?, false),
            };
            match tx.try_send_request(req).await {
                Ok(rsp) => {
                    self.return_when_idle(tx);
                    return Ok(rsp);
                }
                Err(mut e) => match e.take_message() {
                    // A pooled connection the upstream closed while idle: the
                    // request was never written, so retry it on a fresh one.
                    Some(unsent) if reused => req = unsent,
                    _ => return Err(ProxyError::UpstreamReset(e.into_error())),
                },
            }
        }
    }

    async fn send_h2(
        self: &Arc<Self>,
        mut req: Request<RequestBody>,
        connect_timeout: Duration,
    ) -> Result<Response<Incoming>, ProxyError> {
        let mut fresh = false;
        loop {
            let mut tx = self.h2_sender(connect_timeout, fresh).await?;
            match tx.try_send_request(req).await {
                Ok(rsp) => return Ok(rsp),
                Err(mut e) => match e.take_message() {
                    // The connection was going away (GOAWAY) before our
                    // stream started: safe to retry once on a new one.
                    Some(unsent) if !fresh => {
                        req = unsent;
                        fresh = true;
                    }
                    _ => return Err(ProxyError::UpstreamReset(e.into_error())),
                },
            }
        }
    }

    async fn connect_h1(
        &self,
        connect_timeout: Duration,
    ) -> Result<http1::SendRequest<RequestBody>, ProxyError> {
        let io = self.connect(connect_timeout, Carries::Http1).await?;
        let (tx, conn) = http1::Builder::new()
            .handshake(TokioIo::new(io))
            .await
            .map_err(ProxyError::UpstreamReset)?;
        let addr = self.addr;
        tokio::spawn(async move {
            // Upgrades (101) take the connection over; otherwise it lives
            // until either side closes it.
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(upstream = %addr, error = %e, "upstream HTTP/1 connection ended");
            }
        });
        Ok(tx)
    }

    async fn h2_sender(
        &self,
        connect_timeout: Duration,
        force_new: bool,
    ) -> Result<http2::SendRequest<RequestBody>, ProxyError> {
        if !force_new && let Some(tx) = self.pool.live_h2() {
            return Ok(tx);
        }
        let _connecting = self.pool.h2_connecting.lock().await;
        if !force_new && let Some(tx) = self.pool.live_h2() {
            return Ok(tx);
        }
        let io = self.connect(connect_timeout, Carries::Http2).await?;
        let (tx, conn) = http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .keep_alive_interval(Duration::from_secs(30))
            .handshake(TokioIo::new(io))
            .await
            .map_err(ProxyError::UpstreamReset)?;
        let addr = self.addr;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(upstream = %addr, error = %e, "upstream HTTP/2 connection ended");
            }
        });
        *self.pool.h2.lock() = Some(tx.clone());
        Ok(tx)
    }

    /// An HTTP/1.1 connection is reusable once its response body has been
    /// read; wait for that off the request path, then pool it.
    fn return_when_idle(self: &Arc<Self>, mut tx: http1::SendRequest<RequestBody>) {
        let ep = self.clone();
        tokio::spawn(async move {
            if tx.ready().await.is_ok() {
                ep.pool.checkin_h1(tx);
            }
        });
    }
}

// === impl Pool ===

impl Pool {
    fn checkout_h1(&self) -> Option<http1::SendRequest<RequestBody>> {
        let now = Instant::now();
        let mut idle = self.idle.lock();
        while let Some(conn) = idle.pop() {
            if conn.tx.is_ready() && now.duration_since(conn.since) < IDLE_TIMEOUT {
                return Some(conn.tx);
            }
        }
        None
    }

    fn checkin_h1(&self, tx: http1::SendRequest<RequestBody>) {
        let mut idle = self.idle.lock();
        if idle.len() < MAX_IDLE {
            idle.push(Idle {
                tx,
                since: Instant::now(),
            });
        }
    }

    fn live_h2(&self) -> Option<http2::SendRequest<RequestBody>> {
        self.h2
            .lock()
            .as_ref()
            .filter(|tx| !tx.is_closed())
            .cloned()
    }
}
