//! Integration tests: a real proxy in-process, real servers and clients on
//! 127.0.0.1:0, real sockets throughout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access_log;
mod authz;
mod balance;
mod conn_pool;
mod cors;
mod detect;
mod errors;
mod faults;
mod gateway;
mod grpc;
mod hash_lb;
mod http1;
mod http2;
mod inbound;
mod locality;
mod mirror;
mod origination;
mod outlier;
mod rate_limit;
mod reload;
mod request_id;
mod retries;
mod route_actions;
mod route_matches;
mod route_metrics;
mod scripted;
mod support;
mod tcp;
mod tls_routes;
mod tracing;
mod upstreams;
