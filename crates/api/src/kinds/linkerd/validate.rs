//! What makes a ServiceProfile impossible on its own, following the
//! validating webhook's `profiles.Validate` (linkerd2 `pkg/profiles`),
//! plus unique route names and compiling path regexes.

use std::collections::HashMap;

use super::*;
use crate::check::{Check, Validate};

/// The statuses a response class can match (`pkg/profiles`).
const STATUSES: std::ops::RangeInclusive<u32> = 100..=599;

impl Validate for ServiceProfile {
    fn validate(&self, cx: &mut Check<'_>) {
        if self.routes.is_empty() {
            cx.error(
                "no-routes",
                "spec.routes",
                "a ServiceProfile needs at least one route, such as `- name: GET /books` with `condition: {method: GET, pathRegex: /books}`",
            );
        }
        let mut names: HashMap<&str, usize> = HashMap::new();
        for (i, route) in self.routes.iter().enumerate() {
            let path = format!("spec.routes[{i}]");
            if route.name.is_empty() {
                cx.error("route-name", format!("{path}.name"), "a route needs a `name`, such as `GET /books/{id}`; metrics are labelled with it");
            } else if let Some(first) = names.get(route.name.as_str()) {
                cx.error(
                    "duplicate-route",
                    format!("{path}.name"),
                    format!("route name `{}` is already used by routes[{first}]; give each route its own name, or its metrics merge", route.name),
                );
            } else {
                names.insert(&route.name, i);
            }
            match &route.condition {
                None => cx.error(
                    "no-condition",
                    &path,
                    "a route needs a `condition`, such as `condition: {method: GET, pathRegex: /books}`",
                ),
                Some(c) => c.check(cx, &format!("{path}.condition")),
            }
            for (j, class) in route.response_classes.iter().enumerate() {
                let at = format!("{path}.responseClasses[{j}]");
                match &class.condition {
                    None => cx.error(
                        "no-condition",
                        &at,
                        "a response class needs a `condition`, such as `condition: {status: {min: 500, max: 599}}`",
                    ),
                    Some(c) => c.check(cx, &format!("{at}.condition")),
                }
            }
        }
        if let Some(b) = &self.retry_budget {
            if b.retry_ratio < 0.0 || !b.retry_ratio.is_finite() {
                cx.error(
                    "retry-ratio",
                    "spec.retryBudget.retryRatio",
                    format!("retryRatio {} is negative; use 0 or more, such as 0.2 for retries of at most 20% of requests", b.retry_ratio),
                );
            }
            if b.ttl.is_none() {
                cx.error("retry-budget", "spec.retryBudget", "a retry budget needs `ttl`, the window it is measured over, such as `ttl: 10s`");
            }
        }
        for (i, d) in self.dst_overrides.iter().enumerate() {
            let path = format!("spec.dstOverrides[{i}]");
            if d.authority.is_empty() {
                cx.error(
                    "authority",
                    format!("{path}.authority"),
                    "an override needs an `authority`, such as `web-v2.ns.svc.cluster.local:80`",
                );
            }
            if d.weight.milli < 0 {
                cx.error(
                    "weight",
                    format!("{path}.weight"),
                    "weight is negative; use 0 or more",
                );
            }
        }
        if !self.opaque_ports.is_empty() {
            cx.warn(
                "opaque-ports",
                "spec.opaquePorts",
                "Linkerd sets `opaquePorts` itself and overwrites what is written here; annotate the Service or pods with `config.linkerd.io/opaque-ports` instead",
            );
        }
    }
}

// === impl RequestMatch ===

impl RequestMatch {
    fn check(&self, cx: &mut Check<'_>, path: &str) {
        let set = !self.all.is_empty()
            || !self.any.is_empty()
            || self.not.is_some()
            || self.path_regex.is_some()
            || self.method.is_some();
        if !set {
            cx.error(
                "empty-match",
                path,
                "a request condition needs at least one of `method`, `pathRegex`, `all`, `any` or `not`",
            );
        }
        for (k, m) in self.all.iter().enumerate() {
            m.check(cx, &format!("{path}.all[{k}]"));
        }
        for (k, m) in self.any.iter().enumerate() {
            m.check(cx, &format!("{path}.any[{k}]"));
        }
        if let Some(m) = &self.not {
            m.check(cx, &format!("{path}.not"));
        }
        if let Some(re) = &self.path_regex {
            cx.regex(format!("{path}.pathRegex"), re);
        }
    }
}

// === impl ResponseMatch ===

impl ResponseMatch {
    fn check(&self, cx: &mut Check<'_>, path: &str) {
        let set = !self.all.is_empty()
            || !self.any.is_empty()
            || self.not.is_some()
            || self.status.is_some();
        if !set {
            cx.error(
                "empty-match",
                path,
                "a response condition needs at least one of `status`, `all`, `any` or `not`",
            );
        }
        for (k, m) in self.all.iter().enumerate() {
            m.check(cx, &format!("{path}.all[{k}]"));
        }
        for (k, m) in self.any.iter().enumerate() {
            m.check(cx, &format!("{path}.any[{k}]"));
        }
        if let Some(m) = &self.not {
            m.check(cx, &format!("{path}.not"));
        }
        if let Some(r) = &self.status {
            r.check(cx, &format!("{path}.status"));
        }
    }
}

// === impl Range ===

impl Range {
    fn check(&self, cx: &mut Check<'_>, path: &str) {
        for (field, v) in [("min", self.min), ("max", self.max)] {
            if v != 0 && !STATUSES.contains(&v) {
                cx.error(
                    "status",
                    format!("{path}.{field}"),
                    format!("{v} is not an HTTP status; use 100 to 599"),
                );
            }
        }
        if self.min != 0 && self.max != 0 && self.max < self.min {
            cx.error(
                "status",
                format!("{path}.max"),
                format!(
                    "max {} is below min {}; the range matches no status",
                    self.max, self.min
                ),
            );
        }
    }
}
