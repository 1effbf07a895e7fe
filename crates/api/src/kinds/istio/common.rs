//! Messages several Istio kinds share.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::check::Check;

/// istio/api `StringMatch`: exactly one of `exact`, `prefix` or `regex`
/// (RE2, matched against the whole value).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StringMatch {
    pub exact: Option<String>,
    pub prefix: Option<String>,
    pub regex: Option<String>,
}

/// istio/api `PortSelector`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortSelector {
    #[serde(default)]
    pub number: u32,
}

/// istio/api `WorkloadSelector`: `selector: { matchLabels: {...} }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadSelector {
    #[serde(default, alias = "match_labels")]
    pub match_labels: BTreeMap<String, String>,
}

// === impl StringMatch ===

impl StringMatch {
    /// Checks that exactly one form is set and that a regex compiles.
    pub fn check(&self, cx: &mut Check<'_>, path: &str) {
        let set = [&self.exact, &self.prefix, &self.regex]
            .iter()
            .filter(|v| v.is_some())
            .count();
        if set != 1 {
            cx.error(
                "string-match",
                path,
                format!("set exactly one of `exact`, `prefix` or `regex` (found {set})"),
            );
        }
        if let Some(re) = &self.regex {
            cx.regex(format!("{path}.regex"), re);
        }
    }
}

// === impl PortSelector ===

impl PortSelector {
    pub fn check(&self, cx: &mut Check<'_>, path: &str) {
        if self.number == 0 || self.number > 65535 {
            cx.error(
                "port",
                format!("{path}.number"),
                format!("{} is not a port; use 1 to 65535", self.number),
            );
        }
    }
}

/// A gRPC status by its name (`UNAVAILABLE`) or number.
pub fn grpc_status_code(name: &str) -> Option<u32> {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    if let Ok(n) = name.parse::<u32>() {
        return (n < 17).then_some(n);
    }
    NAMES
        .iter()
        .position(|n| n.eq_ignore_ascii_case(name))
        .and_then(|i| u32::try_from(i).ok())
}

/// One of Envoy's (and gRPC's) `retry_on` names weft carries out.
pub fn retry_condition(name: &str) -> Option<weft_proto::config::RetryOn> {
    Some(match name {
        "5xx" => weft_proto::config::RetryOn::FiveXx,
        "gateway-error" => weft_proto::config::RetryOn::GatewayError,
        "reset" => weft_proto::config::RetryOn::Reset,
        "connect-failure" => weft_proto::config::RetryOn::ConnectFailure,
        "retriable-4xx" => weft_proto::config::RetryOn::Retriable4xx,
        "refused-stream" => weft_proto::config::RetryOn::RefusedStream,
        "retriable-status-codes" => weft_proto::config::RetryOn::RetriableStatusCodes,
        "cancelled" => weft_proto::config::RetryOn::Cancelled,
        "deadline-exceeded" => weft_proto::config::RetryOn::DeadlineExceeded,
        "internal" => weft_proto::config::RetryOn::Internal,
        "resource-exhausted" => weft_proto::config::RetryOn::ResourceExhausted,
        "unavailable" => weft_proto::config::RetryOn::Unavailable,
        _ => return None,
    })
}
