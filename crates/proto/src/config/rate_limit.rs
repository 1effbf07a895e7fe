//! Local rate limiting: a token bucket per inbound port, gateway port or
//! route, as Envoy's `envoy.filters.http.local_ratelimit` filter runs it
//! (Istio users configure it with an `EnvoyFilter`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::HeaderEdits;

/// Envoy's `LocalRateLimit`: a token bucket that starts full, gains
/// `tokens_per_fill` tokens every `fill_interval` up to `max_tokens`, and
/// spends one per request. A request finding it empty is rate limited:
/// 429 `local_rate_limited`, flag `RL`, when enforced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalRateLimit {
    /// The bucket's size, and the burst it allows (at least 1).
    pub max_tokens: u32,
    /// Tokens added every `fill_interval` (at least 1).
    #[serde(default = "default_tokens_per_fill")]
    pub tokens_per_fill: u32,
    /// At least 1ms; Envoy refuses shorter ones.
    #[serde(with = "crate::duration::serde")]
    pub fill_interval: Duration,
    /// Share of requests checked against the bucket, 0-100 (Envoy's
    /// `filter_enabled`). The others pass without spending a token.
    #[serde(default = "full", skip_serializing_if = "is_full")]
    pub enabled_percent: f64,
    /// Share of the checked requests that are refused when the bucket is
    /// empty, 0-100 (Envoy's `filter_enforced`). The others pass and are
    /// only counted as rate limited.
    #[serde(default = "full", skip_serializing_if = "is_full")]
    pub enforced_percent: f64,
    /// Headers on the 429 responses (Envoy's `response_headers_to_add`):
    /// `set` replaces, `add` appends.
    #[serde(default, skip_serializing_if = "HeaderEdits::is_empty")]
    pub response_headers: HeaderEdits,
}

fn default_tokens_per_fill() -> u32 {
    1
}

fn full() -> f64 {
    100.0
}

fn is_full(p: &f64) -> bool {
    *p == 100.0
}
