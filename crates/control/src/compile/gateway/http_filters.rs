//! HTTPRoute filters as the proxy's route actions
//! (gateway-api `apis/v1/httproute_types.go`, `HTTPRouteFilter`):
//! `RequestHeaderModifier` and `ResponseHeaderModifier` (on a rule or a
//! backendRef), `RequestRedirect` and `URLRewrite`.
//!
//! Path modifiers: `ReplaceFullPath` replaces the whole path;
//! `ReplacePrefixMatch` replaces the matched `PathPrefix` by whole
//! segments, trailing slashes ignored (`/foo/bar` with prefix `/foo`
//! becomes `/xyz/bar` for `/xyz`, `/bar` for an empty replacement, and an
//! empty result is `/`). Both become a regex rewrite of the path, per
//! match, since each match of a rule has its own prefix.

use weft_api::kinds::gateway_api::HttpRouteMatch;
use weft_api::kinds::gateway_api::PathMatchType;
use weft_api::kinds::gateway_api::common::HttpHeaderFilter;
use weft_api::kinds::gateway_api::http_route::{
    HttpCorsFilter, HttpPathModifier, HttpPathModifierType, HttpRouteFilter, HttpRouteRetry,
    RedirectScheme,
};
use weft_proto::config::{
    Cors, HeaderEdits, HeaderOps, Redirect, RedirectPort, RegexRewrite, RetryOn, RetryPolicy,
    Rewrite, StringMatch,
};

/// What a rule's filters ask for one of its matches.
#[derive(Debug, Default)]
pub(super) struct Actions {
    pub headers: HeaderOps,
    pub redirect: Option<Redirect>,
    pub rewrite: Option<Rewrite>,
}

/// The actions of `filters` for requests matched by `m`; `None` when they
/// cannot be carried out for it (a prefix replacement on a match that is
/// not a `PathPrefix`, which Gateway API does not accept; or in a
/// redirect, which weft does not do yet; loading says so).
pub(super) fn actions(filters: &[HttpRouteFilter], m: &HttpRouteMatch) -> Option<Actions> {
    let mut out = Actions {
        headers: header_ops(filters),
        ..Actions::default()
    };
    for f in filters {
        if let Some(r) = &f.request_redirect {
            let path = match &r.path {
                Some(p) if p.type_ == HttpPathModifierType::ReplaceFullPath => {
                    Some(p.replace_full_path.clone().unwrap_or_default())
                }
                Some(_) => return None,
                None => None,
            };
            let port = match (r.port.and_then(|p| u16::try_from(p).ok()), r.scheme) {
                (Some(p), _) => RedirectPort::Number(p),
                // A scheme's well-known port, left out of the location.
                (None, Some(_)) => RedirectPort::FromScheme,
                // The listener's port.
                (None, None) => RedirectPort::FromRequest,
            };
            out.redirect = Some(Redirect {
                path,
                authority: r.hostname.clone(),
                scheme: r.scheme.map(|s| {
                    match s {
                        RedirectScheme::Http => "http",
                        RedirectScheme::Https => "https",
                    }
                    .to_string()
                }),
                port: Some(port),
                status: r
                    .status_code
                    .and_then(|c| u16::try_from(c).ok())
                    .unwrap_or(302),
            });
        }
        if let Some(rw) = &f.url_rewrite {
            out.rewrite = Some(Rewrite {
                uri: None,
                uri_regex: match &rw.path {
                    Some(p) => Some(path_rewrite(p, m)?),
                    None => None,
                },
                authority: rw.hostname.clone(),
            });
        }
    }
    Some(out)
}

/// A rule's `retry` as Istio converts it: `attempts` (2 when unset; 0
/// turns retries off) of connection failures, refused streams, gRPC
/// `unavailable` and `cancelled`, and the listed `codes`.
pub(super) fn retries(r: &HttpRouteRetry) -> Option<RetryPolicy> {
    let attempts = u32::try_from(r.attempts.unwrap_or(2))
        .ok()
        .filter(|a| *a > 0)?;
    let status_codes: Vec<u16> = r
        .codes
        .iter()
        .filter_map(|c| u16::try_from(*c).ok())
        .collect();
    let mut retry_on = vec![
        RetryOn::ConnectFailure,
        RetryOn::RefusedStream,
        RetryOn::Unavailable,
        RetryOn::Cancelled,
    ];
    if !status_codes.is_empty() {
        retry_on.push(RetryOn::RetriableStatusCodes);
    }
    Some(RetryPolicy {
        attempts,
        per_try_timeout: None,
        retry_on,
        status_codes,
        backoff: r
            .backoff
            .as_ref()
            .map(|b| b.0)
            .filter(|b| !b.is_zero())
            .unwrap_or(std::time::Duration::from_millis(25)),
    })
}

/// A `CORS` filter (GEP-1767) as the proxy's CORS policy: an origin with
/// `*` in its host matches any characters there; `*` alone, any origin;
/// `maxAge` defaults to 5 seconds.
pub(super) fn cors(c: &HttpCorsFilter) -> Cors {
    let allow_origins = c
        .allow_origins
        .iter()
        .map(|o| {
            if o == "*" || !o.contains('*') {
                StringMatch::Exact(o.clone())
            } else {
                let parts: Vec<String> = o.split('*').map(regex::escape).collect();
                StringMatch::Regex(parts.join(".*"))
            }
        })
        .collect();
    Cors {
        allow_origins,
        allow_methods: c.allow_methods.clone(),
        allow_headers: c.allow_headers.clone(),
        expose_headers: c.expose_headers.clone(),
        max_age: Some(std::time::Duration::from_secs(
            u64::try_from(c.max_age.unwrap_or(5)).unwrap_or(5),
        )),
        allow_credentials: c.allow_credentials.unwrap_or(false),
        forward_unmatched_preflights: true,
    }
}

/// A backendRef's own header filters.
pub(super) fn header_ops(filters: &[HttpRouteFilter]) -> HeaderOps {
    let mut ops = HeaderOps::default();
    for f in filters {
        if let Some(h) = &f.request_header_modifier {
            merge(&mut ops.request, h);
        }
        if let Some(h) = &f.response_header_modifier {
            merge(&mut ops.response, h);
        }
    }
    ops
}

pub(in crate::compile) fn merge(edits: &mut HeaderEdits, h: &HttpHeaderFilter) {
    let lower = |n: &str| n.to_ascii_lowercase();
    edits
        .set
        .extend(h.set.iter().map(|x| (lower(&x.name), x.value.clone())));
    edits
        .add
        .extend(h.add.iter().map(|x| (lower(&x.name), x.value.clone())));
    edits.remove.extend(h.remove.iter().map(|n| lower(n)));
}

/// The path rewrite of `p` for requests `m` matched.
fn path_rewrite(p: &HttpPathModifier, m: &HttpRouteMatch) -> Option<RegexRewrite> {
    match p.type_ {
        HttpPathModifierType::ReplaceFullPath => Some(RegexRewrite {
            pattern: "^.*$".into(),
            substitution: literal(p.replace_full_path.as_deref().unwrap_or("/")),
        }),
        HttpPathModifierType::ReplacePrefixMatch => {
            let prefix = match &m.path {
                Some(path) if path.type_() == PathMatchType::PathPrefix => path.value(),
                Some(_) => return None,
                None => "/",
            };
            let prefix = regex_syntax_escape(prefix.trim_end_matches('/'));
            let with = p.replace_prefix_match.as_deref().unwrap_or_default();
            let with = with.trim_end_matches('/');
            Some(if with.is_empty() {
                RegexRewrite {
                    pattern: format!("^{prefix}/?(.*)$"),
                    substitution: "/\\1".into(),
                }
            } else {
                RegexRewrite {
                    pattern: format!("^{prefix}(/.*)?$"),
                    substitution: format!("{}\\1", literal(with)),
                }
            })
        }
    }
}

/// `s` as a substitution that inserts it as written (a backslash would
/// start a group reference).
fn literal(s: &str) -> String {
    s.replace('\\', "\\\\")
}

/// `s` as a regex matching itself.
fn regex_syntax_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
