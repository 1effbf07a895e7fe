//! Sample applications for the weft demo and tests.

pub mod bookinfo;
pub mod call;
pub mod echo;
pub mod flaky;
pub mod frontend;
pub mod grpc;
pub mod loadgen;
pub mod tcp;

/// Generated gRPC types for `weft.sample.echo`.
pub mod pb {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("weft.sample.echo");
}
