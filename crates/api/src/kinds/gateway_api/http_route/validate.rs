//! What makes an HTTPRoute impossible on its own: the CRD's validation
//! markers and CEL rules in kubernetes-sigs/gateway-api
//! `apis/v1/httproute_types.go`, and `apis/v1/validation/httproute.go`.

mod filters;

use super::*;
use crate::check::{Check, Validate};
use crate::kinds::gateway_api::common::validate::{self as common, Backend};
use crate::kinds::gateway_api::syntax;

/// Sequences an `Exact` or `PathPrefix` path may not contain (CEL rules
/// on `HTTPPathMatch`): they could step outside the matched prefix.
const BAD_SEQUENCES: [&str; 6] = ["//", "/./", "/../", "%2f", "%2F", "#"];

impl Validate for HttpRoute {
    fn validate(&self, cx: &mut Check<'_>) {
        common::route_spec(
            cx,
            "HTTPRoute",
            &self.parent_refs,
            &self.hostnames,
            self.rules.iter().map(|r| r.name.as_ref()),
            self.rules.iter().map(|r| r.matches.len()),
            self.rules.len(),
        );
        for (i, rule) in self.rules.iter().enumerate() {
            rule.check(cx, &format!("spec.rules[{i}]"));
        }
    }
}

// === impl HttpRouteRule ===

impl HttpRouteRule {
    fn check(&self, cx: &mut Check<'_>, path: &str) {
        common::max_items(
            cx,
            &format!("{path}.matches"),
            self.matches.len(),
            64,
            "split the rule into several rules",
        );
        for (j, m) in self.matches.iter().enumerate() {
            m.check(cx, &format!("{path}.matches[{j}]"));
        }
        filters::filters(cx, &format!("{path}.filters"), &self.filters, &self.matches);
        if !self.backend_refs.is_empty()
            && let Some(j) = self
                .filters
                .iter()
                .position(|f| f.request_redirect.is_some())
        {
            cx.error(
                "redirect-with-backends",
                format!("{path}.filters[{j}]"),
                "a rule with a `RequestRedirect` filter cannot have `backendRefs`: the redirect answers the request itself; remove the `backendRefs` or move the redirect to its own rule",
            );
        }
        common::max_items(
            cx,
            &format!("{path}.backendRefs"),
            self.backend_refs.len(),
            16,
            "split the rule",
        );
        for (j, b) in self.backend_refs.iter().enumerate() {
            let at = format!("{path}.backendRefs[{j}]");
            let view = Backend {
                group: b.group.as_deref(),
                kind: b.kind.as_deref(),
                name: &b.name,
                namespace: b.namespace.as_deref(),
                port: b.port,
                weight: b.weight,
            };
            common::backend(cx, &at, &view);
            filters::filters(cx, &format!("{at}.filters"), &b.filters, &self.matches);
        }
        common::all_zero_weights(
            cx,
            &format!("{path}.backendRefs"),
            self.backend_refs.iter().map(|b| b.weight),
        );
        if let Some(t) = &self.timeouts {
            t.check(cx, &format!("{path}.timeouts"));
        }
        if let Some(r) = &self.retry {
            for (k, code) in r.codes.iter().enumerate() {
                if !(400..=599).contains(code) {
                    cx.error("retry-code", format!("{path}.retry.codes[{k}]"), format!("{code} is not a status to retry on; use one from 400 to 599, such as 503"));
                }
            }
            if r.backoff.is_some() {
                common::duration(cx, &format!("{path}.retry.backoff"));
            }
        }
        if let Some(s) = &self.session_persistence {
            common::session_persistence(cx, &format!("{path}.sessionPersistence"), s);
        }
    }
}

impl HttpRouteTimeouts {
    fn check(&self, cx: &mut Check<'_>, path: &str) {
        if self.request.is_some() {
            common::duration(cx, &format!("{path}.request"));
        }
        if self.backend_request.is_some() {
            common::duration(cx, &format!("{path}.backendRequest"));
        }
        if let (Some(req), Some(backend)) = (self.request, self.backend_request)
            && !req.0.is_zero()
            && backend > req
        {
            cx.error(
                "timeouts",
                format!("{path}.backendRequest"),
                format!("backendRequest {backend} is longer than the request timeout {req}, which covers every attempt; lower `backendRequest` or raise `request`"),
            );
        }
    }
}

// === impl HttpRouteMatch ===

impl HttpRouteMatch {
    fn check(&self, cx: &mut Check<'_>, path: &str) {
        if let Some(p) = &self.path {
            p.check(cx, &format!("{path}.path"));
        }
        common::header_matches(cx, path, &self.headers);
        let params = format!("{path}.queryParams");
        common::max_items(cx, &params, self.query_params.len(), 16, "split the match");
        for (k, q) in self.query_params.iter().enumerate() {
            common::value_match(
                cx,
                &format!("{params}[{k}]"),
                q.type_,
                &q.name,
                &q.value,
                1024,
            );
        }
        common::duplicate_names(
            cx,
            &params,
            "query parameter",
            self.query_params.iter().map(|q| q.name.as_str()),
            false,
        );
    }
}

impl HttpPathMatch {
    fn check(&self, cx: &mut Check<'_>, path: &str) {
        let value = self.value();
        let at = format!("{path}.value");
        if value.len() > 1024 {
            cx.error(
                "path",
                &at,
                format!(
                    "the path is {} characters long, more than 1024",
                    value.len()
                ),
            );
        }
        let type_ = match self.type_() {
            PathMatchType::RegularExpression => return cx.regex(&at, value),
            PathMatchType::Exact => "Exact",
            PathMatchType::PathPrefix => "PathPrefix",
        };
        if !value.starts_with('/') {
            let fixed = format!("/{}", value.trim_start_matches('/'));
            cx.error(
                "path",
                &at,
                format!("path {value:?} must start with `/` for type {type_}; write `{fixed}`"),
            );
            return;
        }
        if let Some(seq) = BAD_SEQUENCES.iter().find(|s| value.contains(*s)) {
            cx.error("path", &at, format!("path {value:?} must not contain `{seq}` for type {type_}; remove it, or use type `RegularExpression`"));
        } else if let Some(end) = ["/..", "/."].iter().find(|e| value.ends_with(*e)) {
            cx.error(
                "path",
                &at,
                format!("path {value:?} must not end with `{end}` for type {type_}; remove it"),
            );
        } else if let Some(why) = syntax::path_chars(value) {
            cx.error(
                "path",
                &at,
                format!("path {value:?} is not a valid URL path: {why}"),
            );
        }
    }
}
