//! Tap: a live, sampled copy of the requests this proxy handles, for
//! `weft tap` (Linkerd's tap). The control plane asks for it over the tap
//! stream (`discovery/tap.rs`) with a filter and a rate; matching requests
//! are described as [`TapEvent`]s and sent back.
//!
//! With no tap open a request costs one relaxed atomic load. With one
//! open, each request keeps its method, authority and path, and those that
//! match are rate-limited per tap (a second's budget; the rest are counted
//! as dropped) and queued without blocking: a full queue drops too.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::Method;
use parking_lot::Mutex;
use tokio::sync::mpsc;
use weft_proto::discovery::{TapCommand, TapEvent};

use crate::telemetry::{Reporter, RequestLabels};

/// Events queued for the control plane at most; more are dropped.
const QUEUE: usize = 1024;

/// The most events a second any tap may ask for.
pub const MAX_PER_SECOND: u32 = 1000;

/// Every tap open on this proxy.
#[derive(Debug, Default)]
pub struct Taps {
    active: AtomicUsize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    sessions: Vec<Session>,
    /// Where events go: the open tap stream, if any.
    out: Option<mpsc::Sender<TapEvent>>,
    dropped: HashMap<String, u64>,
}

#[derive(Debug)]
struct Session {
    id: String,
    direction: Option<Reporter>,
    to: String,
    path_prefix: String,
    method: Option<Method>,
    per_second: u32,
    second: Instant,
    sent: u32,
}

/// What a tapped request keeps until it completes.
#[derive(Debug)]
pub struct Tapped {
    method: Method,
    authority: String,
    path: String,
    started: SystemTime,
    /// The hop to the upstream (outbound) is mesh mTLS.
    pub meshed_upstream: bool,
}

// === impl Taps ===

impl Taps {
    /// Whether any tap is open: the one check every request pays.
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed) > 0
    }

    /// A new tap stream to the control plane: its events go to the
    /// returned receiver; taps of an earlier stream end.
    pub fn attach(&self) -> mpsc::Receiver<TapEvent> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let mut inner = self.inner.lock();
        inner.sessions.clear();
        inner.out = Some(tx);
        self.active.store(0, Ordering::Relaxed);
        rx
    }

    /// The stream ended: every tap ends with it.
    pub fn detach(&self) {
        let mut inner = self.inner.lock();
        inner.sessions.clear();
        inner.out = None;
        self.active.store(0, Ordering::Relaxed);
    }

    /// Starts or stops a tap as the control plane asks.
    pub fn command(&self, cmd: &TapCommand) {
        let mut inner = self.inner.lock();
        inner.sessions.retain(|s| s.id != cmd.id);
        if !cmd.stop {
            let f = cmd.filter.clone().unwrap_or_default();
            inner.sessions.push(Session {
                id: cmd.id.clone(),
                direction: match f.direction.as_str() {
                    "inbound" => Some(Reporter::Destination),
                    "outbound" => Some(Reporter::Source),
                    _ => None,
                },
                to: f.to,
                path_prefix: f.path_prefix,
                method: Method::from_bytes(f.method.as_bytes())
                    .ok()
                    .filter(|_| !f.method.is_empty()),
                per_second: cmd.max_per_second.clamp(1, MAX_PER_SECOND),
                second: Instant::now(),
                sent: 0,
            });
        }
        self.active.store(inner.sessions.len(), Ordering::Relaxed);
    }

    /// Events dropped since the last call, by tap.
    pub fn take_dropped(&self) -> HashMap<String, u64> {
        std::mem::take(&mut self.inner.lock().dropped)
    }

    /// Keeps what a tap needs of a request, when a tap is open.
    pub fn start<B>(&self, req: &http::Request<B>) -> Option<Box<Tapped>> {
        if !self.is_active() {
            return None;
        }
        Some(Box::new(Tapped {
            method: req.method().clone(),
            authority: crate::http::authority_of(req)
                .unwrap_or_default()
                .to_string(),
            path: req.uri().path().to_string(),
            started: SystemTime::now(),
            meshed_upstream: false,
        }))
    }

    /// Offers a completed request to every open tap.
    pub fn finish(&self, t: &Tapped, labels: &RequestLabels, latency: Duration, mtls_in: bool) {
        let mut inner = self.inner.lock();
        let Inner {
            sessions,
            out,
            dropped,
        } = &mut *inner;
        let Some(out) = out else {
            return;
        };
        for s in sessions.iter_mut().filter(|s| s.matches(t, labels)) {
            let now = Instant::now();
            if now.duration_since(s.second) >= Duration::from_secs(1) {
                s.second = now;
                s.sent = 0;
            }
            if s.sent >= s.per_second {
                *dropped.entry(s.id.clone()).or_default() += 1;
                continue;
            }
            s.sent += 1;
            let event = event(&s.id, t, labels, latency, mtls_in);
            if out.try_send(event).is_err() {
                *dropped.entry(s.id.clone()).or_default() += 1;
            }
        }
    }
}

// === impl Session ===

impl Session {
    fn matches(&self, t: &Tapped, labels: &RequestLabels) -> bool {
        let to_ok = self.to.is_empty()
            || match labels.reporter {
                Reporter::Source => {
                    *labels.service.service == *self.to || *labels.service.name == *self.to
                }
                Reporter::Destination => *labels.source.workload == *self.to,
            };
        self.direction.is_none_or(|d| d == labels.reporter)
            && to_ok
            && t.path.starts_with(&self.path_prefix)
            && self.method.as_ref().is_none_or(|m| *m == t.method)
    }
}

fn event(id: &str, t: &Tapped, l: &RequestLabels, latency: Duration, mtls_in: bool) -> TapEvent {
    let peer = |p: &crate::telemetry::PeerLabels| {
        if &*p.workload == "unknown" {
            String::new()
        } else {
            format!("{}/{}", p.namespace, p.workload)
        }
    };
    let identity = |p: &crate::telemetry::PeerLabels| {
        if &*p.principal == "unknown" {
            String::new()
        } else {
            p.principal.to_string()
        }
    };
    TapEvent {
        tap_id: id.to_string(),
        direction: match l.reporter {
            Reporter::Source => "outbound",
            Reporter::Destination => "inbound",
        }
        .to_string(),
        source: peer(&l.source),
        source_identity: identity(&l.source),
        destination: peer(&l.destination),
        destination_identity: identity(&l.destination),
        service: l.service.service.to_string(),
        method: t.method.to_string(),
        authority: t.authority.clone(),
        path: t.path.clone(),
        status: u32::from(l.response_code),
        grpc_status: l
            .grpc_response_status
            .map(|c| c.to_string())
            .unwrap_or_default(),
        latency_ms: latency.as_secs_f64() * 1000.0,
        mtls: match l.reporter {
            Reporter::Destination => mtls_in,
            Reporter::Source => t.meshed_upstream,
        },
        response_flags: l.response_flags.to_string(),
        started_ms: t
            .started
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use weft_proto::discovery::TapFilter;

    fn start(id: &str, path: &str, rate: u32) -> TapCommand {
        TapCommand {
            id: id.into(),
            stop: false,
            filter: Some(TapFilter {
                path_prefix: path.into(),
                ..Default::default()
            }),
            max_per_second: rate,
        }
    }

    fn request(path: &str) -> http::Request<()> {
        http::Request::get(path)
            .header("host", "reviews:9080")
            .body(())
            .unwrap()
    }

    fn labels() -> RequestLabels {
        let unknown = Arc::new(crate::telemetry::PeerLabels::unknown());
        RequestLabels {
            reporter: Reporter::Destination,
            source: unknown.clone(),
            destination: unknown,
            service: Arc::new(crate::telemetry::ServiceLabels::new(
                "reviews.default.svc.cluster.local",
                None,
            )),
            request_protocol: "http",
            response_code: 200,
            grpc_response_status: None,
            response_flags: crate::errors::ResponseFlags::NONE,
            connection_security_policy: "mutual_tls",
        }
    }
    #[test]
    fn no_tap_no_work_and_a_stopped_tap_leaves_none() {
        let taps = Taps::default();
        assert!(taps.start(&request("/")).is_none());
        let mut rx = taps.attach();
        taps.command(&start("t1", "/reviews", 100));
        assert!(taps.is_active());
        let t = taps.start(&request("/reviews/0")).unwrap();
        taps.finish(&t, &labels(), Duration::from_millis(3), true);
        let e = rx.try_recv().unwrap();
        assert_eq!(
            (e.tap_id.as_str(), e.path.as_str(), e.status, e.mtls),
            ("t1", "/reviews/0", 200, true)
        );
        assert_eq!(e.authority, "reviews:9080");
        // Filtered out by path.
        let t = taps.start(&request("/health")).unwrap();
        taps.finish(&t, &labels(), Duration::from_millis(1), true);
        assert!(rx.try_recv().is_err());
        taps.command(&TapCommand {
            id: "t1".into(),
            stop: true,
            ..Default::default()
        });
        assert!(!taps.is_active());
        assert!(taps.start(&request("/reviews/0")).is_none());
    }

    #[test]
    fn a_tap_is_rate_limited_and_counts_what_it_drops() {
        let taps = Taps::default();
        let mut rx = taps.attach();
        taps.command(&start("t", "", 3));
        for _ in 0..10 {
            let t = taps.start(&request("/")).unwrap();
            taps.finish(&t, &labels(), Duration::from_millis(1), false);
        }
        let mut got = 0;
        while rx.try_recv().is_ok() {
            got += 1;
        }
        assert_eq!(got, 3);
        assert_eq!(taps.take_dropped().get("t"), Some(&7));
        // Detaching (the stream ended) ends every tap.
        taps.detach();
        assert!(!taps.is_active());
    }
}
