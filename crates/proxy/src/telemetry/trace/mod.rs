//! Distributed tracing, as Envoy's OpenTelemetry tracer does it for Istio:
//! each proxy joins the caller's trace (or starts one), records one span
//! per request (SERVER on inbound listeners, CLIENT on outbound and gateway
//! ones), tells the next hop about it in the request's headers, and sends
//! the span to an OTLP collector in batches, off the request path.
//!
//! Cost: with no `tracing` config, nothing (the caller checks one
//! `Option`). Not sampled: reading the trace headers, and writing
//! `traceparent` and `x-b3-sampled: 0` when the request starts a trace.
//! Sampled: one boxed [`Span`] and a non-blocking send into a bounded
//! queue; the OTLP encoding and the export happen on the exporter's own
//! thread, hundreds of spans at a time.

mod batch;
mod export;
mod otlp_http;
mod propagation;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::header::{HeaderValue, USER_AGENT};
use http::{Method, Request};
use weft_proto::config::{Direction, Tracing, WorkloadMeta};

pub use export::SpanCounters;
pub use propagation::{Extracted, SpanId, TraceId, extract, inject};

use crate::errors::ResponseFlags;
use crate::listen::ConnCtx;
use crate::telemetry::RequestLabels;

/// The tracing of one proxy config: sampling and the exporter's queue.
#[derive(Debug)]
pub struct Tracer {
    config: Tracing,
    node: WorkloadMeta,
    queue: batch::Sender<Finished>,
    counters: SpanCounters,
}

/// OpenTelemetry's span kinds that a proxy records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An inbound request: this workload serves it.
    Server,
    /// An outbound or gateway request: this proxy calls the next hop.
    Client,
}

/// A sampled request's span while the request runs.
#[derive(Debug)]
pub struct Span {
    tracer: Arc<Tracer>,
    trace_id: TraceId,
    span_id: SpanId,
    parent: Option<SpanId>,
    kind: Kind,
    start: SystemTime,
    began: std::time::Instant,
    method: Method,
    url: String,
    protocol: &'static str,
    /// `host:port` the request was addressed to; the span name's port.
    authority_port: u16,
    host: String,
    user_agent: Option<HeaderValue>,
    request_id: Option<HeaderValue>,
    downstream_cluster: Option<HeaderValue>,
    peer: IpAddr,
    /// The mesh's name of the service (`reviews.default.svc.cluster.local`),
    /// once the request is routed to one.
    service: Option<Arc<str>>,
    upstream_cluster: Option<Arc<str>>,
    upstream_address: Option<SocketAddr>,
}

/// A span whose request is over, on its way to the exporter. It keeps the
/// span's box, so finishing a span allocates nothing.
#[derive(Debug)]
pub struct Finished {
    span: Box<Span>,
    duration: Duration,
    status: u16,
    grpc_status: Option<u32>,
    flags: ResponseFlags,
    request_size: u64,
    response_size: u64,
}

/// Envoy's `x-envoy-downstream-service-cluster`, which Istio's sidecars
/// set to the caller's canonical service; Envoy tags `downstream_cluster`
/// with it.
const DOWNSTREAM_CLUSTER: &str = "x-envoy-downstream-service-cluster";

// === impl Tracer ===

impl Tracer {
    /// The tracer for a new config: the previous one when nothing it
    /// depends on changed (its queue and exporter carry on), else a new
    /// exporter. `None` when the exporter cannot start.
    pub fn build(
        config: &Tracing,
        node: &WorkloadMeta,
        prev: Option<&Arc<Tracer>>,
        counters: &SpanCounters,
    ) -> Option<Arc<Tracer>> {
        if let Some(p) = prev
            && p.config == *config
            && p.node == *node
        {
            return Some(p.clone());
        }
        let queue = export::spawn(config, node, counters.clone())?;
        Some(Arc::new(Tracer {
            config: config.clone(),
            node: node.clone(),
            queue,
            counters: counters.clone(),
        }))
    }

    /// Sends the spans queued now, and whether all of them have been
    /// (exported or dropped) by `deadline`: the proxy is shutting down.
    pub async fn flush(&self, deadline: tokio::time::Instant) -> bool {
        self.queue.flush();
        super::until(deadline, || self.queue.pending() == 0).await
    }

    /// Joins or starts the request's trace and, when it is sampled, starts
    /// this proxy's span and writes it into the request's trace headers.
    pub fn start<B>(self: &Arc<Self>, ctx: &ConnCtx, req: &mut Request<B>) -> Option<Box<Span>> {
        let incoming = extract(req.headers());
        // Envoy honours the caller's decision; only a request without one
        // is sampled at random.
        let sampled = incoming.sampled.unwrap_or_else(|| self.sample());
        if !sampled {
            // A new trace the next hops must not sample either; a caller's
            // context passes on as it came.
            if incoming == Extracted::default() {
                propagation::inject_unsampled(
                    req.headers_mut(),
                    TraceId::random(),
                    SpanId::random(),
                );
            }
            return None;
        }
        let trace_id = incoming.parent.map_or_else(TraceId::random, |(t, _)| t);
        let parent = incoming.parent.map(|(_, s)| s);
        let span_id = SpanId::random();
        inject(req.headers_mut(), trace_id, span_id, parent);

        let headers = req.headers();
        let authority = req
            .uri()
            .authority()
            .map(|a| a.as_str())
            .or_else(|| headers.get(http::header::HOST)?.to_str().ok())
            .unwrap_or("");
        let host = match authority.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => authority,
        };
        let authority_port = authority_port(req, ctx);
        Some(Box::new(Span {
            tracer: self.clone(),
            trace_id,
            span_id,
            parent,
            kind: match ctx.listener.direction {
                Direction::Inbound => Kind::Server,
                // Istio's gateways report as the source, as do sidecars'
                // outbound listeners: their spans are CLIENT spans.
                Direction::Outbound | Direction::Gateway => Kind::Client,
            },
            start: SystemTime::now(),
            began: std::time::Instant::now(),
            method: req.method().clone(),
            url: url(req, authority, ctx, self.config.max_path_tag_length),
            protocol: protocol(req.version()),
            authority_port,
            host: host.to_string(),
            user_agent: headers.get(USER_AGENT).cloned(),
            request_id: headers.get("x-request-id").cloned(),
            downstream_cluster: headers.get(DOWNSTREAM_CLUSTER).cloned(),
            peer: ctx.peer.ip(),
            service: None,
            upstream_cluster: None,
            upstream_address: None,
        }))
    }

    /// Istio's `sampling` is a percentage with 0.01 steps.
    fn sample(&self) -> bool {
        let p = self.config.sampling;
        p >= 100.0 || (p > 0.0 && fastrand::f64() * 100.0 < p)
    }
}

// === impl Span ===

impl Span {
    pub fn set_service(&mut self, host: &Arc<str>) {
        self.service = Some(host.clone());
    }

    pub fn set_upstream_cluster(&mut self, cluster: &Arc<str>) {
        self.upstream_cluster = Some(cluster.clone());
    }

    pub fn set_upstream_address(&mut self, address: SocketAddr) {
        self.upstream_address = Some(address);
    }

    /// Ends the span with the request's outcome and queues it for export.
    /// Never waits: a full queue drops the span and counts it.
    pub fn finish(self: Box<Self>, labels: &RequestLabels, request_size: u64, response_size: u64) {
        let tracer = self.tracer.clone();
        let finished = Finished {
            duration: self.began.elapsed(),
            status: labels.response_code,
            grpc_status: labels.grpc_response_status,
            flags: labels.response_flags,
            request_size,
            response_size,
            span: self,
        };
        if tracer.queue.try_send(finished).is_err() {
            tracer.counters.dropped_queue_full();
        }
    }
}

fn protocol(v: http::Version) -> &'static str {
    match v {
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2",
        http::Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

/// The port the request was addressed to: its authority's, else where a
/// transparently intercepted connection was going, else the listener's.
fn authority_port<B>(req: &Request<B>, ctx: &ConnCtx) -> u16 {
    let from_host = || {
        let host = req.headers().get(http::header::HOST)?.to_str().ok()?;
        host.rsplit_once(':')?.1.parse().ok()
    };
    req.uri()
        .port_u16()
        .or_else(from_host)
        .or(ctx.orig_dst.map(|a| a.port()))
        .unwrap_or(80)
}

/// Envoy's `http.url`: scheme, authority and path with query, cut to
/// `max` bytes (on a character boundary).
fn url<B>(req: &Request<B>, authority: &str, ctx: &ConnCtx, max: usize) -> String {
    let scheme = if ctx.client_tls { "https" } else { "http" };
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let mut url = format!("{scheme}://{authority}{path}");
    if url.len() > max {
        let mut cut = max;
        while !url.is_char_boundary(cut) {
            cut -= 1;
        }
        url.truncate(cut);
    }
    url
}
