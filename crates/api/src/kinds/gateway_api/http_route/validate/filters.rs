//! HTTPRoute filters: the `type` and configuration rules and the CEL rules
//! on filter lists (`HTTPRouteFilter`, `HTTPRouteRule.filters` and
//! `HTTPBackendRef.filters` in `apis/v1/httproute_types.go`).

use std::collections::{HashMap, HashSet};

use crate::check::Check;
use crate::kinds::gateway_api::common::validate::{self as common, Backend, well_formed};
use crate::kinds::gateway_api::http_route::*;
use crate::kinds::gateway_api::syntax;

/// What `statusCode` of a redirect may be.
const REDIRECT_CODES: [i32; 5] = [301, 302, 303, 307, 308];

/// What CORS `allowMethods` may list (`HTTPMethodWithWildcard`).
const CORS_METHODS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "*",
];

/// A rule's (or a backendRef's) filters: each type with exactly its own
/// configuration, non-repeatable types once, redirect and rewrite apart.
pub(super) fn filters(
    cx: &mut Check<'_>,
    path: &str,
    filters: &[HttpRouteFilter],
    matches: &[HttpRouteMatch],
) {
    common::max_items(cx, path, filters.len(), 16, "move some to another rule");
    let mut first: HashMap<HttpRouteFilterType, usize> = HashMap::new();
    for (i, f) in filters.iter().enumerate() {
        let at = format!("{path}[{i}]");
        let t = f.type_;
        match first.get(&t) {
            Some(j) if !t.repeatable() => cx.error(
                "filter-repeated",
                format!("{at}.type"),
                format!("a second `{}` filter (the first is {path}[{j}]); it may appear once, so merge the two", t.as_str()),
            ),
            Some(_) => {}
            None => {
                first.insert(t, i);
            }
        }
        f.check(cx, &at, matches);
    }
    if let (Some(r), Some(w)) = (
        first.get(&HttpRouteFilterType::RequestRedirect),
        first.get(&HttpRouteFilterType::UrlRewrite),
    ) {
        cx.error(
            "filter-conflict",
            format!("{path}[{}]", r.max(w)),
            format!("`RequestRedirect` ({path}[{r}]) and `URLRewrite` ({path}[{w}]) cannot be used together: a redirect answers the client, so nothing is forwarded to rewrite; keep one"),
        );
    }
}

impl HttpRouteFilter {
    fn check(&self, cx: &mut Check<'_>, path: &str, matches: &[HttpRouteMatch]) {
        let t = self.type_;
        common::filter_settings(cx, path, t, &self.configs());
        if let Some(h) = &self.request_header_modifier {
            common::header_filter(cx, &format!("{path}.requestHeaderModifier"), h);
        }
        if let Some(h) = &self.response_header_modifier {
            common::header_filter(cx, &format!("{path}.responseHeaderModifier"), h);
        }
        if let Some(m) = &self.request_mirror {
            common::mirror(cx, &format!("{path}.requestMirror"), m);
        }
        if let Some(r) = &self.request_redirect {
            let at = format!("{path}.requestRedirect");
            if let Some(h) = &r.hostname {
                hostname(cx, &format!("{at}.hostname"), h);
            }
            if let Some(p) = r.port {
                common::port(cx, &format!("{at}.port"), p);
            }
            if let Some(code) = r.status_code
                && !REDIRECT_CODES.contains(&code)
            {
                cx.error(
                    "status-code",
                    format!("{at}.statusCode"),
                    format!("{code} is not a redirect status; use 301, 302, 303, 307 or 308"),
                );
            }
            if let Some(p) = &r.path {
                p.check(cx, &format!("{at}.path"), matches);
            }
        }
        if let Some(r) = &self.url_rewrite {
            let at = format!("{path}.urlRewrite");
            if let Some(h) = &r.hostname {
                hostname(cx, &format!("{at}.hostname"), h);
            }
            if let Some(p) = &r.path {
                p.check(cx, &format!("{at}.path"), matches);
            }
        }
        if let Some(c) = &self.cors {
            c.check(cx, &format!("{path}.cors"));
        }
        if let Some(a) = &self.external_auth {
            a.check(cx, &format!("{path}.externalAuth"));
        }
        if let Some(e) = &self.extension_ref {
            common::extension_ref(cx, &format!("{path}.extensionRef"), e);
        }
    }
}

/// A redirect's or rewrite's `hostname`: one precise host, no wildcard.
fn hostname(cx: &mut Check<'_>, path: &str, h: &str) {
    if let Some(why) = syntax::hostname(h, false) {
        cx.error(
            "hostname",
            path,
            format!("{h:?} is not a valid hostname: {why}"),
        );
    }
}

impl HttpPathModifier {
    fn check(&self, cx: &mut Check<'_>, path: &str, matches: &[HttpRouteMatch]) {
        let (own, own_field, other, other_field) = match self.type_ {
            HttpPathModifierType::ReplaceFullPath => (
                &self.replace_full_path,
                "replaceFullPath",
                &self.replace_prefix_match,
                "replacePrefixMatch",
            ),
            HttpPathModifierType::ReplacePrefixMatch => (
                &self.replace_prefix_match,
                "replacePrefixMatch",
                &self.replace_full_path,
                "replaceFullPath",
            ),
        };
        let type_ = own_field[..1].to_ascii_uppercase() + &own_field[1..];
        if other.is_some() {
            cx.error("path-modifier", format!("{path}.{other_field}"), format!("`{other_field}` does not go with `type: {type_}`; remove it, or change the type"));
        }
        let Some(value) = own else {
            cx.error(
                "path-modifier",
                path,
                format!("`type: {type_}` needs `{own_field}`, the replacement path"),
            );
            return;
        };
        let at = format!("{path}.{own_field}");
        if value.len() > 1024 {
            cx.error(
                "path-modifier",
                &at,
                format!(
                    "the path is {} characters long, more than 1024",
                    value.len()
                ),
            );
        } else if !value.is_empty() && !value.starts_with('/') {
            cx.warn("path-modifier", &at, format!("{value:?} does not start with `/`, so the request path would not either; write `/{value}`"));
        }
        if self.type_ == HttpPathModifierType::ReplacePrefixMatch {
            // No matches means the default single `PathPrefix /` match.
            let found = match matches {
                [] => None,
                [m] if m
                    .path
                    .as_ref()
                    .is_none_or(|p| p.type_() == PathMatchType::PathPrefix) =>
                {
                    None
                }
                [m] => Some(format!(
                    "its path match is {:?}",
                    m.path.as_ref().map(|p| p.type_()).unwrap_or_default()
                )),
                _ => Some(format!("it has {} matches", matches.len())),
            };
            if let Some(found) = found {
                cx.error(
                    "replace-prefix-match",
                    &at,
                    format!("`ReplacePrefixMatch` replaces what the rule's `PathPrefix` match matched, so the rule needs exactly one match, with a `PathPrefix` path ({found}); use `ReplaceFullPath`, or give the rule a single PathPrefix match"),
                );
            }
        }
    }
}

impl HttpCorsFilter {
    fn check(&self, cx: &mut Check<'_>, path: &str) {
        string_set(
            cx,
            &format!("{path}.allowOrigins"),
            &self.allow_origins,
            64,
            "origin",
            syntax::cors_origin,
        );
        string_set(
            cx,
            &format!("{path}.allowMethods"),
            &self.allow_methods,
            9,
            "method",
            |m| {
                (!CORS_METHODS.contains(&m)).then(|| "use GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH, or `*` (upper case)".into())
            },
        );
        string_set(
            cx,
            &format!("{path}.allowHeaders"),
            &self.allow_headers,
            64,
            "header name",
            syntax::header_name,
        );
        string_set(
            cx,
            &format!("{path}.exposeHeaders"),
            &self.expose_headers,
            64,
            "header name",
            syntax::header_name,
        );
        if let Some(age) = self.max_age
            && age < 1
        {
            cx.error(
                "cors",
                format!("{path}.maxAge"),
                format!(
                    "maxAge {age} must be at least 1 (seconds); leave it unset for the default of 5"
                ),
            );
        }
    }
}

/// A CORS list (`listType=set`): at most `max` entries, each well formed,
/// no repeats, and `*` only alone.
fn string_set(
    cx: &mut Check<'_>,
    path: &str,
    list: &[String],
    max: usize,
    what: &str,
    rule: fn(&str) -> Option<String>,
) {
    common::max_items(cx, path, list.len(), max, "use `*` or remove some");
    let mut seen = HashSet::new();
    for (i, s) in list.iter().enumerate() {
        let at = format!("{path}[{i}]");
        well_formed(cx, "cors", &at, what, s, rule);
        if !seen.insert(s.as_str()) {
            cx.error("cors", &at, format!("`{s}` is listed twice; remove one"));
        }
    }
    if list.len() > 1 && seen.contains("*") {
        cx.error("cors", path, format!("`*` already allows every {what}, so it cannot be listed with others; keep `*` alone or remove it"));
    }
}

impl HttpExternalAuthFilter {
    fn check(&self, cx: &mut Check<'_>, path: &str) {
        let b = &self.backend_ref;
        let view = Backend {
            group: b.group.as_deref(),
            kind: b.kind.as_deref(),
            name: &b.name,
            namespace: b.namespace.as_deref(),
            port: b.port,
            weight: None,
        };
        common::backend(cx, &format!("{path}.backendRef"), &view);
        let (own, other, other_field) = match self.protocol {
            ExternalAuthProtocol::Grpc => (self.grpc.is_some(), self.http.is_some(), "http"),
            ExternalAuthProtocol::Http => (self.http.is_some(), self.grpc.is_some(), "grpc"),
        };
        let (protocol, field) = match self.protocol {
            ExternalAuthProtocol::Grpc => ("GRPC", "grpc"),
            ExternalAuthProtocol::Http => ("HTTP", "http"),
        };
        if !own {
            cx.error("external-auth", path, format!("`protocol: {protocol}` needs a `{field}` block (`{field}: {{}}` for the defaults)"));
        }
        if other {
            cx.error(
                "external-auth",
                format!("{path}.{other_field}"),
                format!("`{other_field}` does not go with `protocol: {protocol}`; remove it"),
            );
        }
        if let Some(g) = &self.grpc {
            common::max_items(
                cx,
                &format!("{path}.grpc.allowedHeaders"),
                g.allowed_headers.len(),
                64,
                "remove some",
            );
        }
        if let Some(h) = &self.http {
            if let Some(p) = &h.path
                && let Some(why) = syntax::path_chars(p)
            {
                cx.error(
                    "external-auth",
                    format!("{path}.http.path"),
                    format!("path {p:?} is not a valid URL path: {why}"),
                );
            }
            common::max_items(
                cx,
                &format!("{path}.http.allowedHeaders"),
                h.allowed_headers.len(),
                64,
                "remove some",
            );
            common::max_items(
                cx,
                &format!("{path}.http.allowedResponseHeaders"),
                h.allowed_response_headers.len(),
                64,
                "remove some",
            );
        }
        if let Some(size) = self.forward_body.as_ref().and_then(|f| f.max_size)
            && size < 0
        {
            cx.error(
                "external-auth",
                format!("{path}.forwardBody.maxSize"),
                format!("maxSize {size} is negative; use 0 (no body) or a byte count"),
            );
        }
    }
}
