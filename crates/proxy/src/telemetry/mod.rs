//! Golden metrics with Istio's standard names and labels.

pub mod access_log;
mod labels;
mod metrics;
mod route;
pub mod trace;

pub use labels::{PeerLabels, Reporter, RequestLabels, ServiceLabels, TcpLabels};
pub use metrics::{DeniedProtocol, Metrics, OPENMETRICS_CONTENT_TYPE};
pub use route::{Classification, MeteredRoute};

/// Polls `done` every 10 ms until it holds or `deadline` passes; whether
/// it held. For shutdown only: telemetry writers run on threads of their
/// own, which a future cannot await.
pub(crate) async fn until(deadline: tokio::time::Instant, done: impl Fn() -> bool) -> bool {
    loop {
        if done() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
