//! Golden metrics with Istio's standard names and labels.

pub mod access_log;
mod labels;
mod metrics;
mod route;
pub mod trace;

pub use labels::{PeerLabels, Reporter, RequestLabels, ServiceLabels, TcpLabels};
pub use metrics::{DeniedProtocol, Metrics, OPENMETRICS_CONTENT_TYPE};
pub use route::{Classification, MeteredRoute};
