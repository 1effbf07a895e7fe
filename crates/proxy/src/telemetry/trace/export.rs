//! Sending finished spans to an OTLP collector: a bounded queue drained by
//! one thread that batches them into `TraceService/Export` calls.
//!
//! Batching follows the OpenTelemetry SDK's `BatchSpanProcessor` (see
//! `batch.rs`): a batch goes when it has `MAX_BATCH` spans or its oldest
//! span has waited `DELAY`. Requests only move their span into the queue;
//! the OTLP encoding happens here, on the exporter's thread, once per batch.
//! Requests never wait on the collector: a full queue drops the span
//! (counted), and a failed export drops its batch (counted) without
//! retrying.

use std::time::{Duration, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use tonic::transport::{Channel, Endpoint};
use weft_proto::config::{OtlpProtocol, Tracing, WorkloadMeta};
use weft_proto::otlp::collector::trace::v1::ExportTraceServiceRequest;
use weft_proto::otlp::collector::trace::v1::trace_service_client::TraceServiceClient;
use weft_proto::otlp::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use weft_proto::otlp::resource::v1::Resource;
use weft_proto::otlp::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span, status};

use super::batch::{self, Batcher, Batching};
use super::{Finished, Kind};

/// Spans waiting for export; past this they are dropped (the OpenTelemetry
/// SDK's `maxQueueSize` default).
const QUEUE: usize = 2048;
/// A batch this full goes at once (the SDK's `maxExportBatchSize`). Envoy
/// flushes every 5 spans (`min_flush_spans`), which at 100% sampling is
/// thousands of exports a second, each a connection of its own over
/// OTLP/HTTP (BENCHMARKS.md, "Telemetry overhead").
const MAX_BATCH: usize = 512;
/// The longest a span waits for its batch to fill (the SDK's
/// `scheduledDelayMillis`, and Envoy's `flush_interval_ms`).
const DELAY: Duration = Duration::from_secs(5);
/// A collector that does not answer in this time fails the export.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// `weft_tracing_spans_exported_total` and
/// `weft_tracing_spans_dropped_total{reason}`.
#[derive(Debug, Clone)]
pub struct SpanCounters {
    exported: Counter,
    dropped: Family<DropLabels, Counter>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct DropLabels {
    /// `queue_full` or `export_failed`.
    reason: &'static str,
}

// === impl SpanCounters ===

impl SpanCounters {
    pub fn register(reg: &mut Registry) -> Self {
        let this = Self {
            exported: Counter::default(),
            dropped: Family::default(),
        };
        reg.register(
            "weft_tracing_spans_exported",
            "Spans the OTLP collector accepted",
            this.exported.clone(),
        );
        reg.register(
            "weft_tracing_spans_dropped",
            "Spans dropped: the export queue was full (queue_full) or the collector failed (export_failed)",
            this.dropped.clone(),
        );
        this
    }

    pub(super) fn dropped_queue_full(&self) {
        self.dropped
            .get_or_create(&DropLabels {
                reason: "queue_full",
            })
            .inc();
    }

    fn dropped_export_failed(&self, n: usize) {
        self.dropped
            .get_or_create(&DropLabels {
                reason: "export_failed",
            })
            .inc_by(n as u64);
    }
}

/// Starts the exporter on a thread of its own, as the OpenTelemetry SDKs
/// run their batch processor: encoding hundreds of spans at once takes
/// milliseconds, which on the proxy's workers would hold the requests
/// queued behind it (p99 went from 0.9 to 2.9 ms in the benchmark). The
/// queue's sender comes back. The thread ends, after a last export, once
/// every sender is gone (the config that named this collector was
/// replaced).
pub(super) fn spawn(
    config: &Tracing,
    node: &WorkloadMeta,
    counters: SpanCounters,
) -> Option<batch::Sender<Finished>> {
    // Validated as host:port; a bad one would already have been refused.
    let endpoint = Endpoint::from_shared(format!("http://{}", config.otlp.endpoint))
        .inspect_err(|e| tracing::warn!(endpoint = %config.otlp.endpoint, "tracing off: {e}"))
        .ok()?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(EXPORT_TIMEOUT);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .inspect_err(|e| tracing::warn!("tracing off: no runtime for the exporter: {e}"))
        .ok()?;
    let policy = Batching {
        max: MAX_BATCH,
        delay: DELAY,
    };
    let (tx, batches) = batch::queue(QUEUE, policy);
    let exporter = Exporter {
        client: None,
        endpoint,
        protocol: config.otlp.protocol,
        authority: config.otlp.endpoint.clone(),
        resource: resource(node),
        constant: constant_attributes(node),
        counters,
    };
    std::thread::Builder::new()
        .name("otlp-export".into())
        .spawn(move || runtime.block_on(exporter.run(batches)))
        .inspect_err(|e| tracing::warn!("tracing off: cannot start the exporter: {e}"))
        .ok()?;
    Some(tx)
}

struct Exporter {
    /// Made on the first export: a lazy channel connects when used.
    client: Option<TraceServiceClient<Channel>>,
    endpoint: Endpoint,
    protocol: OtlpProtocol,
    /// `host:port`, for OTLP/HTTP.
    authority: String,
    resource: Resource,
    /// Attributes every span of this proxy carries.
    constant: Vec<KeyValue>,
    counters: SpanCounters,
}

// === impl Exporter ===

impl Exporter {
    async fn run(mut self, mut batches: Batcher<Finished>) {
        while let Some(batch) = batches.next().await {
            let n = batch.len();
            self.export(batch).await;
            batches.done(n);
        }
    }

    /// Encodes and sends one batch; a failure drops it (counted).
    async fn export(&mut self, batch: Vec<Finished>) {
        let n = batch.len();
        let spans = batch.iter().map(|f| self.encode(f)).collect();
        // The spans' boxes go back to the allocator here, off the request
        // path, before the export waits on the network.
        drop(batch);
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(self.resource.clone()),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "weft-proxy".into(),
                        version: env!("CARGO_PKG_VERSION").into(),
                        ..Default::default()
                    }),
                    spans,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        };
        let sent = match self.protocol {
            OtlpProtocol::Grpc => {
                let client = self
                    .client
                    .get_or_insert_with(|| TraceServiceClient::new(self.endpoint.connect_lazy()));
                client
                    .export(request)
                    .await
                    .map(drop)
                    .map_err(|s| s.to_string())
            }
            OtlpProtocol::HttpProtobuf => {
                super::otlp_http::export(&self.authority, &request, CONNECT_TIMEOUT, EXPORT_TIMEOUT)
                    .await
            }
        };
        match sent {
            Ok(()) => {
                self.counters.exported.inc_by(n as u64);
            }
            Err(e) => {
                tracing::debug!(spans = n, "OTLP export failed: {e}");
                self.counters.dropped_export_failed(n);
            }
        }
    }

    /// The OTLP span, with Envoy's standard tags as attributes.
    fn encode(&self, f: &Finished) -> Span {
        let s = &f.span;
        let nanos = |t: std::time::SystemTime| {
            t.duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        };
        // Istio's route decorator names a span `<service host>:<port>/*`.
        let host = s.service.as_deref().unwrap_or(&s.host);
        let name = format!("{host}:{}/*", s.authority_port);
        // Room for the tags below, so the vector grows once.
        let mut attrs = Vec::with_capacity(self.constant.len() + 16);
        attrs.extend_from_slice(&self.constant);
        let mut put = |k: &'static str, v: any_value::Value| {
            attrs.push(KeyValue {
                key: k.into(),
                value: Some(AnyValue { value: Some(v) }),
                ..Default::default()
            });
        };
        let text = |v: &str| any_value::Value::StringValue(v.to_string());
        let header = |v: &Option<http::HeaderValue>| {
            text(v.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("-"))
        };
        put("http.method", text(s.method.as_str()));
        put("http.url", text(&s.url));
        put("http.protocol", text(s.protocol));
        put("http.status_code", text(&f.status.to_string()));
        put("response_flags", text(&f.flags.to_string()));
        put("user_agent", header(&s.user_agent));
        put("guid:x-request-id", header(&s.request_id));
        put("downstream_cluster", header(&s.downstream_cluster));
        put("peer.address", text(&s.peer.to_string()));
        put("request_size", text(&f.request_size.to_string()));
        put("response_size", text(&f.response_size.to_string()));
        if let Some(c) = &s.upstream_cluster {
            put("upstream_cluster", text(c));
            put("upstream_cluster.name", text(c));
        }
        if let Some(a) = s.upstream_address {
            put("upstream_address", text(&a.to_string()));
        }
        if let Some(g) = f.grpc_status {
            put("grpc.status_code", text(&g.to_string()));
        }
        // Envoy: no response, or a 5xx, is an error.
        let error = f.status == 0 || f.status >= 500;
        if error {
            put("error", text("true"));
        }
        Span {
            trace_id: s.trace_id.0.to_vec(),
            span_id: s.span_id.0.to_vec(),
            parent_span_id: s.parent.map(|p| p.0.to_vec()).unwrap_or_default(),
            // Sampled (W3C flag 0x01); the OTLP spec's `flags` low byte.
            flags: 1,
            name,
            kind: match s.kind {
                Kind::Server => span::SpanKind::Server,
                Kind::Client => span::SpanKind::Client,
            } as i32,
            start_time_unix_nano: nanos(s.start),
            end_time_unix_nano: nanos(s.start + f.duration),
            attributes: attrs,
            status: Some(Status {
                message: String::new(),
                code: if error {
                    status::StatusCode::Error
                } else {
                    status::StatusCode::Unset
                } as i32,
            }),
            ..Default::default()
        }
    }
}

/// Istio names a proxy's service `<canonical service>.<namespace>` in the
/// tracing backend (its default `APP_LABEL_AND_NAMESPACE` service name).
fn resource(node: &WorkloadMeta) -> Resource {
    let (service, ns) = canonical(node);
    Resource {
        attributes: vec![
            kv("service.name", format!("{service}.{ns}")),
            kv("k8s.namespace.name", ns.to_string()),
        ],
        ..Default::default()
    }
}

/// The custom tags Istio adds to every span (`istio.*`), and Envoy's
/// `component` and `node_id`.
fn constant_attributes(node: &WorkloadMeta) -> Vec<KeyValue> {
    let (service, ns) = canonical(node);
    let revision = node.version.as_deref().unwrap_or("latest");
    let workload = node.workload.as_deref().unwrap_or(service);
    let mesh = node.trust_domain.as_deref().unwrap_or("cluster.local");
    let mut attrs = vec![
        kv("component", "proxy".into()),
        kv("node_id", format!("{workload}.{ns}")),
        kv("istio.canonical_service", service.to_string()),
        kv("istio.canonical_revision", revision.to_string()),
        kv("istio.namespace", ns.to_string()),
        // Istio's mesh id defaults to the trust domain.
        kv("istio.mesh_id", mesh.to_string()),
    ];
    if let Some(c) = &node.cluster {
        attrs.push(kv("istio.cluster_id", c.clone()));
    }
    attrs
}

fn canonical(node: &WorkloadMeta) -> (&str, &str) {
    let service = node
        .app
        .as_deref()
        .or(node.workload.as_deref())
        .unwrap_or("unknown");
    (service, node.namespace.as_deref().unwrap_or("default"))
}

fn kv(key: &str, value: String) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value)),
        }),
        ..Default::default()
    }
}
