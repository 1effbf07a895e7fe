//! What a matched HTTP route does besides choosing a backend: faults to
//! inject, rewrites, redirects, direct responses and header edits. Each
//! follows the VirtualService field it comes from (istio/api
//! `networking/v1/virtual_service.proto`) as Envoy carries it out.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Faults injected before the request is routed (Envoy's fault filter
/// runs ahead of the router): a delay, an abort, or both (each sampled on
/// its own; a request may be delayed and then aborted).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<FaultDelay>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort: Option<FaultAbort>,
}

/// Holds the request this long before routing it (response flag `DI`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultDelay {
    #[serde(with = "crate::duration::serde")]
    pub fixed: Duration,
    /// Share of requests, 0 to 100 (fractions allowed).
    pub percent: f64,
}

/// Answers without routing (response flag `FI`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultAbort {
    pub status: AbortStatus,
    /// Share of requests, 0 to 100 (fractions allowed).
    pub percent: f64,
}

/// What an aborted request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AbortStatus {
    /// An HTTP status, 200 to 599.
    Http(u16),
    /// A gRPC status code (0 to 16, as Istio's names for them): HTTP 200
    /// with `grpc-status` in a trailers-only response to a gRPC request.
    Grpc(u32),
}

/// Changes to the request before it is forwarded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rewrite {
    /// Replaces the part of the path the route's match matched: the
    /// prefix of a prefix match, else the whole path (the query string
    /// stays). With no path condition the matched prefix is `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Replaces every match of `pattern` in the path with `substitution`
    /// (`\1`-style groups). Exclusive with `uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri_regex: Option<RegexRewrite>,
    /// Replaces the Host / `:authority`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegexRewrite {
    /// RE2 syntax.
    pub pattern: String,
    /// RE2's rewrite syntax: `\1` is group 1 (one digit), `\\` a backslash.
    pub substitution: String,
}

/// Answers with a redirect to the same request with some parts replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redirect {
    /// Replaces the whole path; a query string in it replaces the
    /// request's, else the request's stays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Replaces the host (the port is kept unless `port` says otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<RedirectPort>,
    /// 301 unless set (Istio's default).
    #[serde(default = "default_redirect_code")]
    pub status: u16,
}

/// The port of a redirect's location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedirectPort {
    Number(u16),
    /// The port the request came to.
    FromRequest,
    /// None in the location: the scheme's default.
    FromScheme,
}

fn default_redirect_code() -> u16 {
    301
}

/// Answers with this status and body, without forwarding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectResponse {
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<ResponseBody>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseBody {
    Text(String),
    /// Bytes, standard base64.
    Base64(String),
}

/// Header edits on requests (towards the backend) and responses (towards
/// the client).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderOps {
    #[serde(default, skip_serializing_if = "HeaderEdits::is_empty")]
    pub request: HeaderEdits,
    #[serde(default, skip_serializing_if = "HeaderEdits::is_empty")]
    pub response: HeaderEdits,
}

/// Applied as Envoy does: `remove` first, then `set` (replacing every
/// value), then `add` (appending).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderEdits {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
}

// === impl RegexRewrite ===

impl RegexRewrite {
    /// `substitution` in the `regex` crate's replacement syntax, and the
    /// highest group it refers to. RE2's rewrite (which Envoy runs) knows
    /// `\0` to `\9` and `\\` only and refuses any other escape, so this
    /// does too; a `$` is literal there and escaped here.
    pub fn replacement(&self) -> Result<(String, usize), String> {
        let mut out = String::with_capacity(self.substitution.len() + 8);
        let mut max_group = 0;
        let mut chars = self.substitution.chars();
        while let Some(c) = chars.next() {
            match c {
                '$' => out.push_str("$$"),
                '\\' => match chars.next() {
                    Some(d @ '0'..='9') => {
                        let n = d as usize - '0' as usize;
                        max_group = max_group.max(n);
                        out.push_str("${");
                        out.push(d);
                        out.push('}');
                    }
                    Some('\\') => out.push('\\'),
                    other => {
                        let escape: String = other.into_iter().collect();
                        return Err(format!(
                            "\\{escape} is not an escape RE2 knows; write \\1 for group 1 or \\\\ for a backslash"
                        ));
                    }
                },
                c => out.push(c),
            }
        }
        Ok((out, max_group))
    }
}

// === impl ResponseBody ===

impl ResponseBody {
    /// The bytes to answer with. Base64 is the standard alphabet with
    /// padding optional, as protobuf JSON reads Istio's `bytes`.
    pub fn bytes(&self) -> Result<Vec<u8>, String> {
        use base64::Engine;
        use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
        const STANDARD: GeneralPurpose = GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
        );
        match self {
            Self::Text(t) => Ok(t.as_bytes().to_vec()),
            Self::Base64(b) => STANDARD.decode(b.trim()).map_err(|e| e.to_string()),
        }
    }
}

// === impl HeaderOps ===

impl HeaderOps {
    pub fn is_empty(&self) -> bool {
        self.request.is_empty() && self.response.is_empty()
    }
}

// === impl HeaderEdits ===

impl HeaderEdits {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.add.is_empty() && self.remove.is_empty()
    }
}

/// Cross-origin resource sharing for a route (Istio `corsPolicy`, carried
/// out as Envoy's CORS filter): preflights from an allowed origin are
/// answered by the proxy; other requests from one get the
/// `access-control-*` response headers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cors {
    /// Origins allowed (`exact`, `prefix` or `regex`); one that matches
    /// `*` allows every origin.
    pub allow_origins: Vec<super::StringMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_methods: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose_headers: Vec<String>,
    #[serde(
        default,
        with = "crate::duration::serde_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_age: Option<Duration>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_credentials: bool,
    /// A preflight from an origin not allowed: `true` (Istio's `FORWARD`)
    /// sends it upstream; `false` (`IGNORE`) answers it with no CORS
    /// headers.
    #[serde(default = "yes", skip_serializing_if = "Clone::clone")]
    pub forward_unmatched_preflights: bool,
}

fn yes() -> bool {
    true
}

/// A copy of a route's requests sent to another cluster, its answer
/// thrown away (Istio `mirror` / `mirrors`, Envoy's request shadowing).
/// The copy's host gets `-shadow` appended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mirror {
    pub cluster: String,
    /// Share of requests copied, 0 to 100 (fractions allowed).
    #[serde(default = "all")]
    pub percent: f64,
}

fn all() -> f64 {
    100.0
}
