//! Sample applications for the weft demo and tests.

pub mod echo;
pub mod grpc;
pub mod tcp;

/// Generated gRPC types for `weft.sample.echo`.
pub mod pb {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("weft.sample.echo");
}
