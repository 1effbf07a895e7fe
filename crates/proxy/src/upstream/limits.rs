//! A cluster's circuit breakers, as Envoy keeps them: per cluster per
//! proxy, shared by every endpoint, counted with atomics and released by
//! guards (so a cancelled request gives its place back too). A request
//! over a limit is refused at once with 503 `UO`.
//!
//! Clusters without a `connection_pool` have no [`Limits`]: their requests
//! pay one `Option` check.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use weft_proto::config::ConnectionPool;

use crate::errors::ProxyError;

/// Idle HTTP/1.1 connections older than this are closed rather than
/// reused, unless the cluster says otherwise.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The limits of one cluster and what currently counts against them.
/// Carried over to the next config while its settings stay the same.
#[derive(Debug)]
pub struct Limits {
    pub cluster: Arc<str>,
    pub config: ConnectionPool,
    connections: AtomicU32,
    pending: AtomicU32,
    requests: AtomicU32,
    retries: AtomicU32,
    /// Woken when a counted connection closes, so a pending request may
    /// open one.
    pub(super) freed: Notify,
}

/// One place taken under a limit, given back when dropped.
#[derive(Debug)]
pub struct Slot {
    limits: Arc<Limits>,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Connection,
    Pending,
    Request,
    Retry,
}

// === impl Limits ===

impl Limits {
    pub fn new(cluster: Arc<str>, config: ConnectionPool) -> Self {
        Self {
            cluster,
            config,
            connections: AtomicU32::new(0),
            pending: AtomicU32::new(0),
            requests: AtomicU32::new(0),
            retries: AtomicU32::new(0),
            freed: Notify::new(),
        }
    }

    /// Admits one request to the cluster (Envoy `max_requests`, whatever
    /// the protocol). `None`: the cluster does not count requests.
    pub fn try_request(self: &Arc<Self>) -> Result<Option<Slot>, ProxyError> {
        self.take(Kind::Request, self.config.max_requests, "max_requests")
    }

    /// Admits one request to wait for a connection (Envoy
    /// `max_pending_requests`).
    pub fn try_pending(self: &Arc<Self>) -> Result<Option<Slot>, ProxyError> {
        self.take(
            Kind::Pending,
            self.config.max_pending_requests,
            "max_pending_requests",
        )
    }

    /// Admits one retry (Envoy `max_retries`), for the retry policy.
    pub fn try_retry(self: &Arc<Self>) -> Result<Option<Slot>, ProxyError> {
        self.take(Kind::Retry, self.config.max_retries, "max_retries")
    }

    /// A place for one more connection, or `None` when the cluster has as
    /// many as it may (Envoy `max_connections`). Unlimited clusters get an
    /// uncounted `Some(None)`.
    pub fn try_connection(self: &Arc<Self>) -> Option<Option<Slot>> {
        self.take(
            Kind::Connection,
            self.config.max_connections,
            "max_connections",
        )
        .ok()
    }

    /// The refusal for a connection over `max_connections`.
    pub fn overflow_connections(&self) -> ProxyError {
        ProxyError::Overflow {
            cluster: self.cluster.clone(),
            limit: "max_connections",
            max: self.config.max_connections.unwrap_or(u32::MAX),
        }
    }

    /// What counts against each limit now: (connections, pending,
    /// requests, retries).
    pub fn counts(&self) -> (u32, u32, u32, u32) {
        let n = |c: &AtomicU32| c.load(Ordering::Relaxed);
        (
            n(&self.connections),
            n(&self.pending),
            n(&self.requests),
            n(&self.retries),
        )
    }

    fn counter(&self, kind: Kind) -> &AtomicU32 {
        match kind {
            Kind::Connection => &self.connections,
            Kind::Pending => &self.pending,
            Kind::Request => &self.requests,
            Kind::Retry => &self.retries,
        }
    }

    fn take(
        self: &Arc<Self>,
        kind: Kind,
        max: Option<u32>,
        limit: &'static str,
    ) -> Result<Option<Slot>, ProxyError> {
        let Some(max) = max else { return Ok(None) };
        self.counter(kind)
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .map_err(|_| ProxyError::Overflow {
                cluster: self.cluster.clone(),
                limit,
                max,
            })?;
        Ok(Some(Slot {
            limits: self.clone(),
            kind,
        }))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.limits
            .counter(self.kind)
            .fetch_sub(1, Ordering::AcqRel);
        if self.kind == Kind::Connection {
            self.limits.freed.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(config: ConnectionPool) -> Arc<Limits> {
        Arc::new(Limits::new(Arc::from("c"), config))
    }

    #[test]
    fn limits_refuse_one_more_and_dropped_slots_give_places_back() {
        let l = limits(ConnectionPool {
            max_requests: Some(2),
            max_pending_requests: Some(1),
            max_retries: Some(1),
            ..ConnectionPool::default()
        });
        let a = l.try_request().unwrap();
        let b = l.try_request().unwrap();
        assert!(a.is_some() && b.is_some());
        let err = l.try_request().unwrap_err();
        assert_eq!(err.flag(), crate::errors::ResponseFlag::UO);
        assert!(err.to_string().contains("reset reason: overflow"), "{err}");
        let p = l.try_pending().unwrap();
        assert!(l.try_pending().is_err());
        let r = l.try_retry().unwrap();
        assert!(l.try_retry().is_err());
        assert_eq!(l.counts(), (0, 1, 2, 1));
        drop((a, b, p, r));
        assert_eq!(l.counts(), (0, 0, 0, 0));
        assert!(l.try_request().unwrap().is_some());
    }

    #[test]
    fn unset_limits_count_nothing() {
        let l = limits(ConnectionPool::default());
        let slots: Vec<_> = (0..100).map(|_| l.try_request().unwrap()).collect();
        assert!(slots.iter().all(Option::is_none));
        assert!(matches!(l.try_connection(), Some(None)));
        assert_eq!(l.counts(), (0, 0, 0, 0));
    }

    #[tokio::test]
    async fn a_closed_connection_wakes_waiters() {
        let l = limits(ConnectionPool {
            max_connections: Some(1),
            ..ConnectionPool::default()
        });
        let conn = l.try_connection().unwrap();
        assert!(l.try_connection().is_none());
        let waiter = {
            let l = l.clone();
            tokio::spawn(async move {
                let freed = l.freed.notified();
                tokio::pin!(freed);
                freed.as_mut().enable();
                if l.try_connection().is_none() {
                    freed.await;
                }
                l.try_connection().is_some()
            })
        };
        tokio::task::yield_now().await;
        drop(conn);
        assert!(waiter.await.unwrap());
    }
}
