//! The failures the proxy itself reports, each classified once, at the edge,
//! into a status code, an Envoy-style response flag and a log line.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use weft_proto::duration;

/// Response header naming the reason on every proxy-generated error, so a
/// client can tell a proxy failure from an application's own error.
pub const PROXY_ERROR_HEADER: &str = "weft-proxy-error";

/// Why the proxy answered a request itself instead of the upstream.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("no route to {authority}")]
    NoRoute { authority: String },
    #[error("no healthy endpoint in cluster {cluster}")]
    NoHealthyUpstream { cluster: Arc<str> },
    #[error("upstream connect failure: {addr}: {source}")]
    ConnectFailed {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The TLS handshake failed: the peer did not prove the identity
    /// expected, or does not speak TLS.
    #[error("upstream TLS handshake failed: {addr}: {source}")]
    Tls {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("upstream connect timeout: {addr} did not accept within {}", duration::Display(*.timeout))]
    ConnectTimeout { addr: SocketAddr, timeout: Duration },
    #[error("upstream request timeout: no response within {}", duration::Display(*.0))]
    ResponseTimeout(Duration),
    #[error("upstream connection terminated before response headers: {0}")]
    UpstreamReset(#[source] hyper::Error),
    #[error("cannot resolve {host}: {reason}")]
    Resolve { host: String, reason: String },
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// Refused by an authorization policy (`namespace/name`), as Envoy's
    /// RBAC filter words it.
    #[error("RBAC: access denied by {policy}")]
    Denied { policy: Arc<str> },
    /// A circuit breaker of the cluster is full (Envoy's words, then which
    /// limit).
    #[error(
        "upstream connect error or disconnect/reset before headers. reset reason: overflow ({limit} {max} of cluster {cluster})"
    )]
    Overflow {
        cluster: Arc<str>,
        limit: &'static str,
        max: u32,
    },
}

/// Envoy's short codes for why a request or connection failed; Istio puts
/// them in the `response_flags` metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseFlag {
    /// No flag (`-`).
    None,
    /// No healthy upstream.
    UH,
    /// Upstream connection failure.
    UF,
    /// Upstream overflow (circuit breaking).
    UO,
    /// No route configured.
    NR,
    /// Upstream request timeout.
    UT,
    /// Upstream connection termination.
    UC,
    /// Downstream connection termination.
    DC,
    /// Bad request from downstream (DPE: downstream protocol error).
    DPE,
    /// Denied by an authorization policy.
    RBAC,
    /// A fault delay held the request (Envoy's fault filter).
    DI,
    /// A fault abort answered the request (Envoy's fault filter).
    FI,
    /// Refused by the local rate limit (Envoy's `local_ratelimit` filter).
    RL,
    /// Upstream retry limit exceeded: the last try failed after retries
    /// ran out or the retry budget refused one.
    URX,
}

/// Every flag of one HTTP exchange: its outcome, plus `DI` when a fault
/// delay held the request first (Envoy sets both on a delayed request
/// that is then aborted or fails upstream).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResponseFlags {
    pub outcome: ResponseFlag,
    pub delay_injected: bool,
}

// === impl ProxyError ===

impl ProxyError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NoRoute { .. } => StatusCode::NOT_FOUND,
            Self::NoHealthyUpstream { .. }
            | Self::ConnectFailed { .. }
            | Self::ConnectTimeout { .. }
            | Self::Tls { .. }
            | Self::UpstreamReset(_)
            | Self::Resolve { .. }
            | Self::Overflow { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::ResponseTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Denied { .. } => StatusCode::FORBIDDEN,
        }
    }

    pub fn flag(&self) -> ResponseFlag {
        match self {
            Self::NoRoute { .. } => ResponseFlag::NR,
            Self::NoHealthyUpstream { .. } => ResponseFlag::UH,
            Self::ConnectFailed { .. }
            | Self::ConnectTimeout { .. }
            | Self::Tls { .. }
            | Self::Resolve { .. } => ResponseFlag::UF,
            Self::ResponseTimeout(_) => ResponseFlag::UT,
            Self::UpstreamReset(_) => ResponseFlag::UC,
            Self::BadRequest(_) => ResponseFlag::DPE,
            Self::Denied { .. } => ResponseFlag::RBAC,
            Self::Overflow { .. } => ResponseFlag::UO,
        }
    }
}

// === impl ResponseFlag ===

impl ResponseFlag {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "-",
            Self::UH => "UH",
            Self::UF => "UF",
            Self::UO => "UO",
            Self::NR => "NR",
            Self::UT => "UT",
            Self::UC => "UC",
            Self::DC => "DC",
            Self::DPE => "DPE",
            Self::RBAC => "RBAC",
            Self::DI => "DI",
            Self::FI => "FI",
            Self::RL => "RL",
            Self::URX => "URX",
        }
    }

    /// Whether Envoy lists this flag before `DI` (its flags print in bit
    /// order: UH, UT, UF, UC, UO, NR, then DI, FI, ..., DC, ..., DPE).
    fn before_delay(self) -> bool {
        matches!(
            self,
            Self::UH | Self::UT | Self::UF | Self::UC | Self::UO | Self::NR
        )
    }
}

// === impl ResponseFlags ===

impl ResponseFlags {
    pub const NONE: Self = Self {
        outcome: ResponseFlag::None,
        delay_injected: false,
    };
}

impl fmt::Display for ResponseFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.delay_injected, self.outcome) {
            (false, outcome) => f.write_str(outcome.as_str()),
            (true, ResponseFlag::None) => f.write_str("DI"),
            (true, outcome) if outcome.before_delay() => write!(f, "{outcome},DI"),
            (true, outcome) => write!(f, "DI,{outcome}"),
        }
    }
}

impl prometheus_client::encoding::EncodeLabelValue for ResponseFlags {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelValueEncoder<'_>,
    ) -> Result<(), fmt::Error> {
        fmt::Write::write_fmt(encoder, format_args!("{self}"))
    }
}

impl fmt::Display for ResponseFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl prometheus_client::encoding::EncodeLabelValue for ResponseFlag {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelValueEncoder<'_>,
    ) -> Result<(), fmt::Error> {
        fmt::Write::write_str(encoder, self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_print_in_envoys_order() {
        let flags = |outcome, delay_injected| {
            ResponseFlags {
                outcome,
                delay_injected,
            }
            .to_string()
        };
        assert_eq!(flags(ResponseFlag::None, false), "-");
        assert_eq!(flags(ResponseFlag::FI, false), "FI");
        assert_eq!(flags(ResponseFlag::None, true), "DI");
        assert_eq!(flags(ResponseFlag::FI, true), "DI,FI");
        assert_eq!(flags(ResponseFlag::UT, true), "UT,DI");
        assert_eq!(flags(ResponseFlag::DC, true), "DI,DC");
    }
}
