//! weft's data plane.
//!
//! A connection's life: a [`listen`]er accepts it and learns where it was
//! headed (original destination, or HTTP proxy semantics), [`detect`] sniffs
//! its protocol, and it is served either by [`http`] (routing, load
//! balancing through [`upstream`], per-request metrics) or by [`tcp`]
//! (opaque byte copying). [`admin`] serves readiness, config and metrics.

pub mod admin;
pub mod app;
pub mod authz;
pub mod client_hello;
pub mod detect;
pub mod discovery;
pub mod errors;
pub mod http;
pub mod identity;
pub mod io;
pub mod listen;
pub mod logging;
pub mod state;
pub mod tap;
pub mod tcp;
pub mod telemetry;
pub mod upstream;

pub use app::{BoundAddrs, Proxy, Running};
pub use weft_proto::config;
