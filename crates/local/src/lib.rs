//! The local runtime behind `weft up` and `weft demo`: the workloads found
//! in resource files run as local processes, each with its own `weft-proxy`
//! sidecar and identity, either in network-namespace pods with transparent
//! capture (root on Linux) or on loopback with explicit proxies.

pub mod gateway;
pub mod hosts;
pub mod plan;
pub mod pod;
pub mod proxy_user;
pub mod sidecar;
pub mod state;
pub mod supervise;
pub mod up;
