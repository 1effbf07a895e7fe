//! Retries of a route's requests, as Envoy's router carries out the retry
//! policy Istio gives it (`retry_on`, `num_retries`, `per_try_timeout`,
//! the `previous_hosts` predicate and its jittered back-off), bounded by
//! the service port's retry budget (Linkerd's).
//!
//! Routes without a policy carry `None` and none of this runs.

mod budget;
mod send;

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use weft_proto::config::{RetryOn, RetryPolicy};

pub use budget::Budget;
pub(super) use send::send;

use crate::errors::ProxyError;

/// Requests with bodies up to this size are kept for a retry (Linkerd's
/// limit); larger ones are sent once.
pub const MAX_REPLAY_BYTES: usize = 64 * 1024;

/// A route's retry policy, compiled, with its port's budget.
#[derive(Debug)]
pub struct Retry {
    policy: Policy,
    budget: Arc<Budget>,
}

/// Envoy's retry policy in a form cheap to consult per try.
#[derive(Debug, Clone)]
struct Policy {
    retries: u32,
    per_try_timeout: Option<Duration>,
    retry_on: Vec<RetryOn>,
    status_codes: Vec<u16>,
    backoff: Duration,
}

/// How one try ended, as far as deciding to retry goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Response {
        status: StatusCode,
        grpc_status: Option<u16>,
    },
    /// Connecting (TCP or TLS) failed: the request never left.
    ConnectFailure,
    /// The upstream reset or closed the connection before responding.
    Reset,
    /// The per-try timeout passed.
    Timeout,
    /// Nothing a retry could help (no endpoint, a bad request).
    Other,
}

// === impl Retry ===

impl Retry {
    /// `None` when the policy retries nothing (`attempts: 0`), so such
    /// routes cost nothing per request either.
    pub fn compile(cfg: &RetryPolicy, budget: Arc<Budget>) -> Option<Self> {
        (cfg.attempts > 0 && !cfg.retry_on.is_empty()).then(|| Self {
            policy: Policy {
                retries: cfg.attempts,
                per_try_timeout: cfg.per_try_timeout,
                retry_on: cfg.retry_on.clone(),
                status_codes: cfg.status_codes.clone(),
                backoff: cfg.backoff,
            },
            budget,
        })
    }

    /// The same policy drawing on `budget` (the service port's, shared by
    /// its routes).
    pub fn with_budget(&self, budget: Arc<Budget>) -> Self {
        Self {
            policy: self.policy.clone(),
            budget,
        }
    }
}

// === impl Policy ===

impl Policy {
    fn retryable(&self, outcome: Outcome) -> bool {
        self.retry_on
            .iter()
            .any(|on| matches(*on, outcome, &self.status_codes))
    }

    /// Envoy's back-off before retry `n` (1 for the first): random in
    /// `[0, base × (2^n − 1))` (full jitter), never above 10 × base.
    fn backoff(&self, n: u32) -> Duration {
        let base = self.backoff.as_millis().max(1) as u64;
        let cap = base.saturating_mul(10);
        let ceiling = base
            .saturating_mul((1u64 << n.min(32)).saturating_sub(1))
            .clamp(1, cap);
        Duration::from_millis(fastrand::u64(..ceiling))
    }
}

/// Whether `outcome` meets one `retry_on` condition (Envoy's
/// `x-envoy-retry-on` and `x-envoy-retry-grpc-on` docs).
fn matches(on: RetryOn, outcome: Outcome, codes: &[u16]) -> bool {
    use Outcome::*;
    let status = match outcome {
        Response { status, .. } => Some(status.as_u16()),
        _ => None,
    };
    let grpc = match outcome {
        Response { grpc_status, .. } => grpc_status,
        _ => None,
    };
    // Envoy: 5xx, gateway-error and reset all include connect failures,
    // resets and per-try timeouts (a timeout is its local 504).
    let failed = matches!(outcome, ConnectFailure | Reset | Timeout);
    match on {
        RetryOn::FiveXx => failed || status.is_some_and(|s| (500..=599).contains(&s)),
        RetryOn::GatewayError => failed || matches!(status, Some(502..=504)),
        RetryOn::Reset => failed,
        RetryOn::ConnectFailure => outcome == ConnectFailure,
        RetryOn::Retriable4xx => status == Some(409),
        // hyper does not tell REFUSED_STREAM apart from other resets (and
        // retries it itself before a stream starts); a refused stream
        // surfaces as a reset, which this does not retry.
        RetryOn::RefusedStream => false,
        RetryOn::RetriableStatusCodes => status.is_some_and(|s| codes.contains(&s)),
        RetryOn::Cancelled => grpc == Some(1),
        RetryOn::DeadlineExceeded => grpc == Some(4),
        RetryOn::ResourceExhausted => grpc == Some(8),
        RetryOn::Internal => grpc == Some(13),
        RetryOn::Unavailable => grpc == Some(14),
    }
}

// === impl Outcome ===

impl Outcome {
    fn of<B>(result: &Result<http::Response<B>, ProxyError>) -> Self {
        match result {
            Ok(rsp) => Self::Response {
                status: rsp.status(),
                // A trailers-only gRPC error carries its status in the
                // headers; one in real trailers comes too late to retry.
                grpc_status: rsp
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok()),
            },
            Err(
                ProxyError::ConnectFailed { .. }
                | ProxyError::ConnectTimeout { .. }
                | ProxyError::Tls { .. },
            ) => Self::ConnectFailure,
            Err(ProxyError::UpstreamReset(_)) => Self::Reset,
            Err(ProxyError::ResponseTimeout(_)) => Self::Timeout,
            Err(_) => Self::Other,
        }
    }
}

#[cfg(test)]
mod tests;
