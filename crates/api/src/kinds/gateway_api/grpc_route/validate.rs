//! What makes a GRPCRoute impossible on its own: the CRD's validation
//! markers and CEL rules in kubernetes-sigs/gateway-api
//! `apis/v1/grpcroute_types.go`.

use std::collections::HashMap;

use super::*;
use crate::check::{Check, Validate};
use crate::kinds::gateway_api::common::validate::{self as common, Backend};

impl Validate for GrpcRoute {
    fn validate(&self, cx: &mut Check<'_>) {
        common::route_spec(
            cx,
            "GRPCRoute",
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

// === impl GrpcRouteRule ===

impl GrpcRouteRule {
    fn check(&self, cx: &mut Check<'_>, path: &str) {
        common::max_items(
            cx,
            &format!("{path}.matches"),
            self.matches.len(),
            8,
            "split the rule into several rules",
        );
        for (j, m) in self.matches.iter().enumerate() {
            m.check(cx, &format!("{path}.matches[{j}]"));
        }
        filters(cx, &format!("{path}.filters"), &self.filters);
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
            filters(cx, &format!("{at}.filters"), &b.filters);
        }
        common::all_zero_weights(
            cx,
            &format!("{path}.backendRefs"),
            self.backend_refs.iter().map(|b| b.weight),
        );
        if let Some(s) = &self.session_persistence {
            common::session_persistence(cx, &format!("{path}.sessionPersistence"), s);
        }
    }
}

impl GrpcRouteMatch {
    fn check(&self, cx: &mut Check<'_>, path: &str) {
        if let Some(m) = &self.method {
            m.check(cx, &format!("{path}.method"));
        }
        common::header_matches(cx, path, &self.headers);
    }
}

impl GrpcMethodMatch {
    fn check(&self, cx: &mut Check<'_>, path: &str) {
        if self.service.is_none() && self.method.is_none() {
            cx.error(
                "grpc-method",
                path,
                "a method match needs `service`, `method` or both, such as `service: com.example.User` and `method: Login`; to match every call, leave `method` out",
            );
            return;
        }
        let regex = self.type_ == Some(GrpcMethodMatchType::RegularExpression);
        for (field, value, rule) in [
            (
                "service",
                &self.service,
                service_problem as fn(&str) -> Option<&'static str>,
            ),
            ("method", &self.method, method_problem),
        ] {
            let Some(value) = value else { continue };
            let at = format!("{path}.{field}");
            if value.len() > 1024 {
                cx.error(
                    "grpc-method",
                    &at,
                    format!(
                        "the {field} is {} characters long, more than 1024",
                        value.len()
                    ),
                );
            } else if regex {
                cx.regex(&at, value);
            } else if let Some(why) = rule(value) {
                cx.error(
                    "grpc-method",
                    &at,
                    format!("{value:?} is not a valid gRPC {field} name: {why}"),
                );
            }
        }
    }
}

/// A fully qualified gRPC service name, as the CRD's CEL rule reads it:
/// `^(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$`.
fn service_problem(s: &str) -> Option<&'static str> {
    if s.contains('/') {
        return Some(
            "write the service alone, such as `com.example.User`, and the method under `method`",
        );
    }
    let body = s.strip_prefix('.').unwrap_or(s);
    if body.split('.').all(identifier) {
        None
    } else {
        Some("use dot-separated identifiers of letters, digits and `_`, such as `com.example.User`")
    }
}

/// A gRPC method name: `^[A-Za-z_][A-Za-z_0-9]*$`.
fn method_problem(s: &str) -> Option<&'static str> {
    if identifier(s) {
        None
    } else {
        Some("use one identifier of letters, digits and `_`, such as `Login`")
    }
}

fn identifier(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A rule's (or a backendRef's) filters: each type with exactly its own
/// configuration; the header modifiers once each.
fn filters(cx: &mut Check<'_>, path: &str, filters: &[GrpcRouteFilter]) {
    common::max_items(cx, path, filters.len(), 16, "move some to another rule");
    let mut first: HashMap<GrpcRouteFilterType, usize> = HashMap::new();
    for (i, f) in filters.iter().enumerate() {
        let at = format!("{path}[{i}]");
        let t = f.type_;
        let repeatable = matches!(
            t,
            GrpcRouteFilterType::RequestMirror | GrpcRouteFilterType::ExtensionRef
        );
        match first.get(&t) {
            Some(j) if !repeatable => cx.error(
                "filter-repeated",
                format!("{at}.type"),
                format!("a second `{}` filter (the first is {path}[{j}]); it may appear once, so merge the two", t.as_str()),
            ),
            Some(_) => {}
            None => {
                first.insert(t, i);
            }
        }
        common::filter_settings(cx, &at, t, &f.configs());
        if let Some(h) = &f.request_header_modifier {
            common::header_filter(cx, &format!("{at}.requestHeaderModifier"), h);
        }
        if let Some(h) = &f.response_header_modifier {
            common::header_filter(cx, &format!("{at}.responseHeaderModifier"), h);
        }
        if let Some(m) = &f.request_mirror {
            common::mirror(cx, &format!("{at}.requestMirror"), m);
        }
        if let Some(e) = &f.extension_ref {
            common::extension_ref(cx, &format!("{at}.extensionRef"), e);
        }
    }
}
