//! Istio's `networking.istio.io` and `security.istio.io` kinds, read as the
//! istio/api protos define them (v1, v1beta1 and v1alpha3 share one schema).

mod authorization_policy;
mod common;
mod destination_rule;
mod envoy_filter;
mod gateway;
mod peer_authentication;
mod request_authentication;
mod service_entry;
mod sidecar;
mod telemetry;
mod virtual_service;
mod workload_entry;

pub use authorization_policy::*;
pub use common::*;
pub use destination_rule::*;
pub use envoy_filter::*;
pub use gateway::*;
pub use peer_authentication::*;
pub use request_authentication::*;
pub use service_entry::*;
pub use sidecar::*;
pub use telemetry::*;
pub use virtual_service::*;
pub use workload_entry::*;
