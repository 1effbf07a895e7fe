//! Retries of a route's requests (Istio VirtualService `retries`, as Envoy's
//! router carries them out) and the retry budget that bounds them (as
//! Linkerd's: a share of the requests, plus a floor per second).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a route retries a failed request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Retries after the first try (Istio `attempts`); 0 turns retries off.
    pub attempts: u32,
    /// Time for each try's response headers; unset: the route timeout,
    /// which always bounds the whole request, retries included.
    #[serde(
        default,
        with = "crate::duration::serde_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub per_try_timeout: Option<Duration>,
    /// What counts as a failure worth retrying.
    pub retry_on: Vec<RetryOn>,
    /// With `retriable_status_codes`: these statuses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub status_codes: Vec<u16>,
    /// Base interval of the exponential back-off between tries (Envoy's
    /// default 25 ms); each wait is random (full jitter) up to
    /// `base × (2^n − 1)`, capped at 10 × base.
    #[serde(default = "default_backoff", with = "crate::duration::serde")]
    pub backoff: Duration,
}

/// Envoy's `retry_on` conditions (and gRPC's, by `grpc-status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RetryOn {
    /// Any 5xx, a reset, or a connect failure.
    #[serde(rename = "5xx")]
    FiveXx,
    /// 502, 503 or 504.
    GatewayError,
    /// The upstream reset or closed the connection before responding, or a
    /// per-try timeout.
    Reset,
    ConnectFailure,
    /// 409.
    Retriable4xx,
    /// HTTP/2 REFUSED_STREAM.
    RefusedStream,
    /// One of `status_codes`.
    RetriableStatusCodes,
    /// gRPC statuses in the response headers or trailers-only response.
    Cancelled,
    DeadlineExceeded,
    Internal,
    ResourceExhausted,
    Unavailable,
}

/// A bound on retries to one service: over the last `ttl`, retries may
/// add up to `ratio` of the requests, plus `min_per_second` at any rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryBudget {
    pub ratio: f64,
    pub min_per_second: u32,
    #[serde(with = "crate::duration::serde")]
    pub ttl: Duration,
}

fn default_backoff() -> Duration {
    Duration::from_millis(25)
}

// === impl RetryBudget ===

impl RetryBudget {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

impl Default for RetryBudget {
    /// Linkerd's defaults: 20% more load, 10 retries a second, over 10 s.
    fn default() -> Self {
        Self {
            ratio: 0.2,
            min_per_second: 10,
            ttl: Duration::from_secs(10),
        }
    }
}
