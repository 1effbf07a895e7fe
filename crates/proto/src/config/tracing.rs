//! Distributed tracing: where a proxy sends its spans and how many requests
//! it traces. Istio sets the same in `meshConfig.defaultConfig.tracing`
//! (`sampling`, `max_path_tag_length`) and an OpenTelemetry provider
//! (`extensionProviders[].opentelemetry`: `service`, `port`).

use serde::{Deserialize, Serialize};

/// Trace requests and export the spans over OTLP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tracing {
    /// The collector the spans go to.
    pub otlp: OtlpExporter,
    /// Share of new traces that are sampled, 0-100 (Istio's `sampling`,
    /// whose default is 1). A request that arrives with a sampling decision
    /// (`traceparent` flags, `x-b3-sampled`, `b3`) keeps it, as Envoy does.
    #[serde(default = "default_sampling")]
    pub sampling: f64,
    /// Longest `http.url` attribute kept, in bytes (Istio's
    /// `max_path_tag_length`); longer ones are cut.
    #[serde(default = "default_max_path_tag_length")]
    pub max_path_tag_length: usize,
}

/// An OpenTelemetry collector's OTLP receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpExporter {
    /// `host:port` of the receiver (4317 for OTLP/gRPC, 4318 for
    /// OTLP/HTTP).
    pub endpoint: String,
    /// The OTLP transport.
    #[serde(default)]
    pub protocol: OtlpProtocol,
}

/// OTLP's transports (OTLP spec, "Protocol Details").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OtlpProtocol {
    /// `opentelemetry.proto.collector.trace.v1.TraceService/Export` over
    /// HTTP/2 (plaintext).
    #[default]
    Grpc,
    /// `POST /v1/traces` with a protobuf body over HTTP/1.1 (plaintext;
    /// 4318 is its port).
    HttpProtobuf,
}

fn default_sampling() -> f64 {
    1.0
}

fn default_max_path_tag_length() -> usize {
    256
}
