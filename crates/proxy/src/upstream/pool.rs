//! Per-endpoint HTTP connection pools: a stack of idle HTTP/1.1
//! connections, and one multiplexed HTTP/2 connection. A cluster's
//! [`Limits`] cap the HTTP/1.1 connections of all its endpoints together;
//! a request that finds none free waits as pending.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use parking_lot::Mutex;
use tokio::sync::Notify;
use weft_proto::config::ConnectionPool;

use super::limits::{DEFAULT_IDLE_TIMEOUT, Slot};
use super::{Carries, Endpoint};
use crate::errors::ProxyError;
use crate::http::RequestBody;

/// Idle HTTP/1.1 connections kept per endpoint.
const MAX_IDLE: usize = 128;

/// The HTTP version spoken to an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpVersion {
    Http1,
    Http2,
}

#[derive(Debug, Default)]
pub struct Pool {
    idle: Mutex<Vec<H1Conn>>,
    h2: Mutex<Option<H2Conn>>,
    /// Serializes HTTP/2 connection setup so a burst opens one connection.
    h2_connecting: tokio::sync::Mutex<()>,
    /// Woken when an HTTP/1.1 connection comes back idle, for requests
    /// pending under the cluster's `max_connections`.
    returned: Notify,
}

#[derive(Debug)]
struct H1Conn {
    tx: http1::SendRequest<RequestBody>,
    born: Instant,
    /// Requests it has carried.
    served: u32,
    idle_since: Instant,
}

#[derive(Debug)]
struct H2Conn {
    tx: http2::SendRequest<RequestBody>,
    born: Instant,
    /// Requests it has been given.
    streams: u32,
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
            let (mut conn, reused) = self.h1_conn(connect_timeout).await?;
            match conn.tx.try_send_request(req).await {
                Ok(rsp) => {
                    conn.served += 1;
                    self.return_when_idle(conn);
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

    /// An idle connection, or a new one (`false`). Under a cluster's
    /// `max_connections`, a request that gets neither waits as pending
    /// (Envoy) for one to come back or close, up to the connect timeout.
    async fn h1_conn(&self, connect_timeout: Duration) -> Result<(H1Conn, bool), ProxyError> {
        let config = self.limits.as_deref().map(|l| &l.config);
        let Some(limits) = self
            .limits
            .as_ref()
            .filter(|l| l.config.max_connections.is_some())
        else {
            if let Some(conn) = self.pool.checkout_h1(config) {
                return Ok((conn, true));
            }
            return Ok((self.connect_h1(connect_timeout, None).await?, false));
        };
        let deadline = tokio::time::Instant::now() + connect_timeout;
        let mut pending = None;
        loop {
            // Registered before looking, so a release in between still
            // wakes this request.
            let freed = limits.freed.notified();
            let returned = self.pool.returned.notified();
            tokio::pin!(freed, returned);
            freed.as_mut().enable();
            returned.as_mut().enable();
            if let Some(conn) = self.pool.checkout_h1(Some(&limits.config)) {
                return Ok((conn, true));
            }
            if let Some(slot) = limits.try_connection() {
                return Ok((self.connect_h1(connect_timeout, slot).await?, false));
            }
            if pending.is_none() {
                pending = Some(limits.try_pending()?);
            }
            tokio::select! {
                _ = &mut freed => {}
                _ = &mut returned => {}
                _ = tokio::time::sleep_until(deadline) => return Err(limits.overflow_connections()),
            }
        }
    }

    /// Opens a connection; `slot` (its place under the cluster's
    /// `max_connections`) is given back when the connection closes.
    async fn connect_h1(
        &self,
        connect_timeout: Duration,
        slot: Option<Slot>,
    ) -> Result<H1Conn, ProxyError> {
        let io = self.connect(connect_timeout, Carries::Http1).await?;
        let (tx, conn) = http1::Builder::new()
            .handshake(TokioIo::new(io))
            .await
            .map_err(ProxyError::UpstreamReset)?;
        let addr = self.addr;
        tokio::spawn(async move {
            let _slot = slot;
            // Upgrades (101) take the connection over; otherwise it lives
            // until either side closes it.
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(upstream = %addr, error = %e, "upstream HTTP/1 connection ended");
            }
        });
        let now = Instant::now();
        Ok(H1Conn {
            tx,
            born: now,
            served: 0,
            idle_since: now,
        })
    }

    async fn h2_sender(
        &self,
        connect_timeout: Duration,
        force_new: bool,
    ) -> Result<http2::SendRequest<RequestBody>, ProxyError> {
        let config = self.limits.as_deref().map(|l| &l.config);
        if !force_new && let Some(tx) = self.pool.live_h2(config) {
            return Ok(tx);
        }
        let _connecting = self.pool.h2_connecting.lock().await;
        if !force_new && let Some(tx) = self.pool.live_h2(config) {
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
        *self.pool.h2.lock() = Some(H2Conn {
            tx: tx.clone(),
            born: Instant::now(),
            streams: 1,
        });
        Ok(tx)
    }

    /// An HTTP/1.1 connection is reusable once its response body has been
    /// read; wait for that off the request path, then pool it, unless it
    /// has carried `max_requests_per_connection` (dropping it closes it).
    fn return_when_idle(self: &Arc<Self>, mut conn: H1Conn) {
        let ep = self.clone();
        tokio::spawn(async move {
            if conn.tx.ready().await.is_err() {
                return;
            }
            let config = ep.limits.as_deref().map(|l| &l.config);
            if config
                .and_then(|c| c.max_requests_per_connection)
                .is_some_and(|max| conn.served >= max)
            {
                return;
            }
            conn.idle_since = Instant::now();
            ep.pool.checkin_h1(conn);
            if config.is_some_and(|c| c.max_connections.is_some()) {
                ep.pool.returned.notify_waiters();
            }
        });
    }
}

// === impl Pool ===

impl Pool {
    /// The most recently used idle connection that may still be used:
    /// idle less than the idle timeout (the cluster's, else 60 s, before
    /// the upstream's own keep-alive timeout races us) and younger than
    /// `max_connection_duration`. The others are dropped, which closes
    /// them.
    fn checkout_h1(&self, config: Option<&ConnectionPool>) -> Option<H1Conn> {
        let now = Instant::now();
        let idle_timeout = config
            .and_then(|c| c.idle_timeout)
            .unwrap_or(DEFAULT_IDLE_TIMEOUT);
        let max_age = config.and_then(|c| c.max_connection_duration);
        let mut idle = self.idle.lock();
        while let Some(conn) = idle.pop() {
            if conn.tx.is_ready()
                && now.duration_since(conn.idle_since) < idle_timeout
                && max_age.is_none_or(|max| now.duration_since(conn.born) < max)
            {
                return Some(conn);
            }
        }
        None
    }

    fn checkin_h1(&self, conn: H1Conn) {
        let mut idle = self.idle.lock();
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    /// The HTTP/2 connection, unless it closed or, under the cluster's
    /// settings, is too old or has carried `max_requests_per_connection`
    /// streams: then it is let go (it closes when its last stream ends)
    /// and the caller opens another.
    fn live_h2(&self, config: Option<&ConnectionPool>) -> Option<http2::SendRequest<RequestBody>> {
        let mut h2 = self.h2.lock();
        let conn = h2.as_mut()?;
        let spent = config.is_some_and(|c| {
            c.max_requests_per_connection
                .is_some_and(|max| conn.streams >= max)
                || c.max_connection_duration
                    .is_some_and(|max| conn.born.elapsed() >= max)
        });
        if conn.tx.is_closed() || spent {
            *h2 = None;
            return None;
        }
        conn.streams += 1;
        Some(conn.tx.clone())
    }
}
