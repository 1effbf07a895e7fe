//! Mesh-wide tracing flags of `weft control` and `weft up`: what Istio
//! users set with `meshConfig.enableTracing`, an OpenTelemetry
//! `extensionProviders` entry and `defaultConfig.tracing.sampling`. The
//! control plane pushes the result to every proxy (`weft.dev/Tracing`),
//! with the sampling and span reporting that Istio `Telemetry` resources
//! set for its workload.

use weft_proto::config::{OtlpExporter, OtlpProtocol, Tracing};

#[derive(clap::Args, Debug, Clone)]
pub struct TracingArgs {
    /// Send every proxy's spans to this OTLP collector (host:port, e.g.
    /// 127.0.0.1:4317). Unset: no tracing.
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_endpoint)]
    pub tracing_otlp_endpoint: Option<String>,
    /// Percentage of new traces sampled (Istio's default is 1); requests
    /// arriving with a sampling decision keep it. A `Telemetry`'s
    /// `tracing[].randomSamplingPercentage` overrides it for the workloads
    /// it applies to.
    #[arg(long, default_value_t = 1.0, value_parser = parse_percent, requires = "tracing_otlp_endpoint")]
    pub tracing_sampling: f64,
    /// The OTLP transport: `grpc` (port 4317) or `http-protobuf` (4318).
    #[arg(long, value_enum, default_value_t = Protocol::Grpc, requires = "tracing_otlp_endpoint")]
    pub tracing_otlp_protocol: Protocol,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Protocol {
    Grpc,
    HttpProtobuf,
}

impl TracingArgs {
    pub fn config(&self) -> Option<Tracing> {
        let endpoint = self.tracing_otlp_endpoint.clone()?;
        Some(Tracing {
            otlp: OtlpExporter {
                endpoint,
                protocol: match self.tracing_otlp_protocol {
                    Protocol::Grpc => OtlpProtocol::Grpc,
                    Protocol::HttpProtobuf => OtlpProtocol::HttpProtobuf,
                },
            },
            sampling: self.tracing_sampling,
            max_path_tag_length: 256,
        })
    }
}

fn parse_endpoint(s: &str) -> Result<String, String> {
    if s.contains('/') || weft_proto::config::parse_authority(s).is_none() {
        return Err(format!("{s:?}: write host:port, like 127.0.0.1:4317"));
    }
    Ok(s.to_string())
}

fn parse_percent(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!("{s:?}: a percentage from 0 to 100")),
    }
}
