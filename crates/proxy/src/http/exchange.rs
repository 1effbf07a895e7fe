//! One request/response exchange's telemetry, recorded exactly once: when
//! the response body ends, or when the exchange is dropped early (the
//! client went away).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use http::HeaderMap;

use crate::errors::{ResponseFlag, ResponseFlags};
use crate::listen::ConnCtx;
use crate::state::Snapshot;
use crate::telemetry::trace::{Span, Tracer};
use crate::telemetry::{MeteredRoute, PeerLabels, Reporter, RequestLabels, ServiceLabels};
use crate::upstream::InFlight;

#[derive(Debug)]
pub struct Exchange {
    ctx: Arc<ConnCtx>,
    labels: RequestLabels,
    start: Instant,
    request_bytes: Arc<AtomicU64>,
    pub(super) response_bytes: u64,
    complete: bool,
    in_flight: Option<InFlight>,
    /// The route, when it counts its requests (Linkerd ServiceProfile
    /// routes); `None` for the rest, which then record nothing more.
    route: Option<Arc<MeteredRoute>>,
    /// This proxy's span, when the request is traced and sampled.
    span: Option<Box<Span>>,
    /// What an open tap needs of the request; `None` with no tap open.
    tap: Option<Box<crate::tap::Tapped>>,
    /// The access log line's request part and its writer, when logging.
    log: Option<(
        Box<crate::telemetry::access_log::Pending>,
        Arc<crate::telemetry::access_log::AccessLogger>,
    )>,
}

// === impl Exchange ===

impl Exchange {
    pub fn new(ctx: Arc<ConnCtx>, snap: &Snapshot, start: Instant, grpc: bool) -> Self {
        let reporter = ctx.listener.reporter();
        let unknown = snap.unknown_peer.clone();
        let (source, destination) = match reporter {
            Reporter::Source => (snap.node.clone(), unknown),
            Reporter::Destination => (
                ctx.peer_labels.clone().unwrap_or(unknown),
                snap.node.clone(),
            ),
        };
        let labels = RequestLabels {
            reporter,
            source,
            destination,
            service: snap.unknown_service.clone(),
            request_protocol: if grpc { "grpc" } else { "http" },
            response_code: 0,
            grpc_response_status: None,
            response_flags: ResponseFlags::NONE,
            connection_security_policy: security_policy(reporter, &ctx),
        };
        Self {
            ctx,
            labels,
            start,
            request_bytes: Arc::new(AtomicU64::new(0)),
            response_bytes: 0,
            complete: false,
            in_flight: None,
            route: None,
            span: None,
            tap: None,
            log: None,
        }
    }

    pub fn ctx(&self) -> &Arc<ConnCtx> {
        &self.ctx
    }

    /// The caller, as its proxy named it (`peer.rs`).
    pub fn set_source(&mut self, source: Arc<PeerLabels>) {
        self.labels.source = source;
    }

    pub fn set_service(&mut self, service: Arc<ServiceLabels>) {
        if let Some(s) = &mut self.span {
            s.set_service(&service.service);
        }
        self.labels.service = service;
    }

    /// Count this exchange under its route too.
    pub fn set_route(&mut self, route: Arc<MeteredRoute>) {
        self.route = Some(route);
    }

    /// The workload that served the request, as far as this side knows.
    pub fn set_upstream_peer(&mut self, peer: &Arc<PeerLabels>) {
        if self.labels.reporter == Reporter::Source {
            self.labels.destination = peer.clone();
        }
    }

    /// Joins or starts the request's trace (see `telemetry::trace`); the
    /// span ends with the exchange.
    pub fn start_trace<B>(&mut self, tracer: &Arc<Tracer>, req: &mut http::Request<B>) {
        self.span = tracer.start(&self.ctx, req);
    }

    /// The cluster the route chose, for the span's `upstream_cluster`.
    pub fn trace_target(&mut self, target: &super::route::Target) {
        if let (Some(s), super::route::Target::Cluster(c)) = (&mut self.span, target) {
            s.set_upstream_cluster(&c.name);
        }
    }

    /// The endpoint picked, for the span's `upstream_address`.
    pub fn trace_upstream(&mut self, addr: std::net::SocketAddr) {
        if let Some(s) = &mut self.span {
            s.set_upstream_address(addr);
        }
    }

    /// Keeps the request's method, authority and path when a tap is open
    /// (one atomic load when none is).
    pub fn start_tap<B>(&mut self, req: &http::Request<B>) {
        self.tap = self.ctx.state.taps.start(req);
    }

    /// Keeps what the access log line needs, when logging is on.
    pub fn start_log<B>(&mut self, snap: &Snapshot, req: &http::Request<B>) {
        if let Some(logger) = &snap.access_log {
            self.log = Some((logger.start(req), logger.clone()));
        }
    }

    pub fn logging(&self) -> bool {
        self.log.is_some()
    }

    /// The endpoint and cluster picked, for the access log.
    pub fn log_upstream(&mut self, addr: std::net::SocketAddr, cluster: &Arc<str>) {
        if let Some((p, _)) = &mut self.log {
            p.set_upstream(addr, cluster);
        }
    }

    /// The upstream hop is mesh mTLS (for a tap's `mtls`).
    pub fn tap_upstream(&mut self, meshed: bool) {
        if let Some(t) = &mut self.tap {
            t.meshed_upstream = meshed;
        }
    }

    pub fn hold(&mut self, in_flight: InFlight) {
        self.in_flight = Some(in_flight);
    }

    pub fn request_bytes(&self) -> Arc<AtomicU64> {
        self.request_bytes.clone()
    }

    pub fn set_response(&mut self, status: http::StatusCode, flag: ResponseFlag) {
        self.labels.response_code = status.as_u16();
        self.labels.response_flags.outcome = flag;
    }

    /// A fault delay held this request (`DI`, whatever happens next).
    pub fn delay_injected(&mut self) {
        self.labels.response_flags.delay_injected = true;
    }

    pub fn observe_grpc_status(&mut self, headers: &HeaderMap) {
        if let Some(code) = headers
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
        {
            self.labels.grpc_response_status = Some(code);
        }
    }

    pub(super) fn upstream_failed_mid_body(&mut self) {
        if self.labels.response_flags.outcome == ResponseFlag::None {
            self.labels.response_flags.outcome = ResponseFlag::UC;
        }
    }

    pub(super) fn end_of_stream(&mut self) {
        self.complete = true;
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        if !self.complete && self.labels.response_flags.outcome == ResponseFlag::None {
            // The client went away before the response finished.
            self.labels.response_flags.outcome = ResponseFlag::DC;
        }
        self.ctx.state.metrics.record_request(
            &self.labels,
            self.start.elapsed(),
            self.request_bytes.load(Ordering::Relaxed),
            self.response_bytes,
        );
        if let Some((p, logger)) = self.log.take() {
            logger.finish(
                p,
                &self.labels,
                self.start.elapsed(),
                (
                    self.request_bytes.load(Ordering::Relaxed),
                    self.response_bytes,
                ),
                self.ctx.peer,
            );
        }
        if let Some(t) = self.tap.take() {
            self.ctx.state.taps.finish(
                &t,
                &self.labels,
                self.start.elapsed(),
                self.ctx.identity.is_some(),
            );
        }
        if let Some(span) = self.span.take() {
            span.finish(
                &self.labels,
                self.request_bytes.load(Ordering::Relaxed),
                self.response_bytes,
            );
        }
        if let Some(route) = &self.route {
            self.ctx.state.metrics.record_route(
                route,
                &self.labels.service.service,
                self.labels.response_code,
                self.labels.grpc_response_status,
                self.start.elapsed(),
            );
        }
    }
}

/// Istio's `connection_security_policy`: the destination side knows
/// whether its peer proved an identity; the source side reports `unknown`.
pub fn security_policy(reporter: Reporter, ctx: &ConnCtx) -> &'static str {
    match (reporter, ctx.identity.is_some()) {
        (Reporter::Source, _) => "unknown",
        (Reporter::Destination, true) => "mutual_tls",
        (Reporter::Destination, false) => "none",
    }
}
