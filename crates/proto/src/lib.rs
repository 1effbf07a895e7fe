//! The proxy configuration model.
//!
//! One model, two transports: `weft-proxy --config proxy.yaml` reads it from a
//! static file today, and the control plane pushes the same types to each
//! proxy later. Nothing in the data plane knows which one it came from.

pub mod config;
pub mod duration;
pub mod resources;

/// The control-plane protocol (`proto/weft/mesh/v1/discovery.proto`).
#[allow(clippy::all, clippy::pedantic, missing_docs, rust_2018_idioms)]
pub mod discovery {
    tonic::include_proto!("weft.mesh.v1");
}

/// The CA service (`proto/weft/mesh/v1/ca.proto`); the same protobuf
/// package as the config stream, so generated once, in [`discovery`].
pub mod ca {
    pub use super::discovery::{
        SignRequest, SignResponse, certificates_client, certificates_server,
    };
}

/// OTLP, OpenTelemetry's span export protocol: the official schema
/// (`proto/opentelemetry`, unchanged), nested by protobuf package so the
/// generated cross-references resolve.
#[allow(clippy::all, clippy::pedantic, missing_docs, rust_2018_idioms)]
pub mod otlp {
    pub mod common {
        pub mod v1 {
            tonic::include_proto!("opentelemetry.proto.common.v1");
        }
    }
    pub mod resource {
        pub mod v1 {
            tonic::include_proto!("opentelemetry.proto.resource.v1");
        }
    }
    pub mod trace {
        pub mod v1 {
            tonic::include_proto!("opentelemetry.proto.trace.v1");
        }
    }
    pub mod collector {
        pub mod trace {
            pub mod v1 {
                tonic::include_proto!("opentelemetry.proto.collector.trace.v1");
            }
        }
    }
}

pub use config::ProxyConfig;
