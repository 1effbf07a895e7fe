//! What makes a VirtualService impossible on its own, following Istio's
//! validation (`pkg/config/validation`), with weights held to summing to
//! 100 as the VirtualService reference asks.

use super::*;
use crate::check::{Check, Validate};
use crate::kinds::istio::grpc_status_code;

/// Redirect codes Envoy can send (Istio's `redirectCode` accepts these).
const REDIRECT_CODES: [u32; 5] = [301, 302, 303, 307, 308];

impl Validate for VirtualService {
    fn validate(&self, cx: &mut Check<'_>) {
        for (i, host) in self.hosts.iter().enumerate() {
            if host.is_empty() {
                cx.error("host", format!("spec.hosts[{i}]"), "empty host; name a service such as `reviews` or `reviews.default.svc.cluster.local`");
            }
        }
        if self.http.is_empty() && self.tls.is_empty() && self.tcp.is_empty() {
            cx.error(
                "no-routes",
                "spec",
                "no routes: add at least one `http`, `tls` or `tcp` rule",
            );
        }
        for (i, rule) in self.http.iter().enumerate() {
            rule.check(cx, &format!("spec.http[{i}]"));
        }
        for (i, rule) in self.tls.iter().enumerate() {
            let path = format!("spec.tls[{i}]");
            if rule.matches.is_empty() || rule.matches.iter().any(|m| m.sni_hosts.is_empty()) {
                cx.error(
                    "tls-match",
                    format!("{path}.match"),
                    "a TLS rule needs a `match` with `sniHosts`; TLS is routed by SNI",
                );
            }
            check_l4_route(
                cx,
                &path,
                rule.route.iter().map(|r| (&r.destination, r.weight)),
            );
        }
        for (i, rule) in self.tcp.iter().enumerate() {
            let path = format!("spec.tcp[{i}]");
            check_l4_route(
                cx,
                &path,
                rule.route.iter().map(|r| (&r.destination, r.weight)),
            );
        }
    }
}

// === impl HttpRoute ===

impl HttpRoute {
    fn check(&self, cx: &mut Check<'_>, path: &str) {
        let actions = [
            !self.route.is_empty(),
            self.redirect.is_some(),
            self.direct_response.is_some(),
            self.delegate.is_some(),
        ];
        match actions.iter().filter(|a| **a).count() {
            0 => cx.error("no-action", path, "an HTTP rule needs `route`, `redirect`, `directResponse` or `delegate`"),
            1 => {}
            _ if self.route.is_empty() => cx.error(
                "conflicting-actions",
                path,
                "set only one of `redirect`, `directResponse` and `delegate`",
            ),
            _ => cx.error(
                "conflicting-actions",
                path,
                "a rule with `route` cannot also `redirect`, `directResponse` or `delegate`; split it into two rules",
            ),
        }
        for (j, m) in self.matches.iter().enumerate() {
            m.check(cx, &format!("{path}.match[{j}]"));
        }
        weights(
            cx,
            path,
            self.route.iter().map(|r| (&r.destination, r.weight)),
        );
        if self.redirect.is_some() || self.direct_response.is_some() {
            // Istio's validation: such a rule answers before anything else
            // could apply.
            for (field, set) in [
                ("fault", self.fault.is_some()),
                ("rewrite", self.rewrite.is_some()),
            ] {
                if set {
                    cx.error(
                        "conflicting-actions",
                        format!("{path}.{field}"),
                        format!("a rule that redirects or answers directly cannot also {field}; move it to a rule with `route`"),
                    );
                }
            }
        }
        if let Some(r) = &self.redirect {
            if r.uri.is_none()
                && r.authority.is_none()
                && r.port.is_none()
                && r.derive_port.is_none()
                && r.scheme.is_none()
            {
                cx.error(
                    "redirect",
                    format!("{path}.redirect"),
                    "a redirect needs `uri`, `authority`, `scheme` or a port to send the client to",
                );
            }
            if let Some(code) = r.redirect_code
                && !REDIRECT_CODES.contains(&code)
            {
                cx.error(
                    "redirect-code",
                    format!("{path}.redirect.redirectCode"),
                    format!("{code} is not a redirect status; use 301, 302, 303, 307 or 308"),
                );
            }
            if r.port.is_some() && r.derive_port.is_some() {
                cx.error(
                    "redirect-port",
                    format!("{path}.redirect"),
                    "set `port` or `derivePort`, not both",
                );
            }
        }
        if let Some(d) = &self.direct_response {
            if !(200..=599).contains(&d.status) {
                cx.error(
                    "status",
                    format!("{path}.directResponse.status"),
                    format!("{} is not an HTTP status; use 200 to 599", d.status),
                );
            }
            if let Some(b) = &d.body
                && b.string.is_some() == b.bytes.is_some()
            {
                cx.error(
                    "body",
                    format!("{path}.directResponse.body"),
                    "set exactly one of `string` or `bytes`",
                );
            }
            let body = d.body.as_ref().and_then(|b| match (&b.string, &b.bytes) {
                (Some(t), None) => Some(weft_proto::config::ResponseBody::Text(t.clone())),
                (None, Some(b)) => Some(weft_proto::config::ResponseBody::Base64(b.clone())),
                _ => None,
            });
            match body.map(|b| b.bytes()) {
                Some(Err(e)) => cx.error(
                    "body",
                    format!("{path}.directResponse.body.bytes"),
                    format!("not standard base64: {e}"),
                ),
                Some(Ok(b)) if b.len() > 1 << 20 => cx.error(
                    "body",
                    format!("{path}.directResponse.body"),
                    format!(
                        "{} bytes; at most 1 MiB (serve large bodies from a backend)",
                        b.len()
                    ),
                ),
                _ => {}
            }
        }
        if let Some(rw) = &self.rewrite {
            if rw.uri.is_some() && rw.uri_regex_rewrite.is_some() {
                cx.error(
                    "rewrite",
                    format!("{path}.rewrite"),
                    "set `uri` or `uriRegexRewrite`, not both",
                );
            }
            if let Some(re) = &rw.uri_regex_rewrite {
                cx.regex(format!("{path}.rewrite.uriRegexRewrite.match"), &re.pattern);
                let proxy_form = weft_proto::config::RegexRewrite {
                    pattern: re.pattern.clone(),
                    substitution: re.rewrite.clone(),
                };
                let groups = regex::Regex::new(&re.pattern).map(|r| r.captures_len() - 1);
                match (proxy_form.replacement(), groups) {
                    (Err(why), _) => cx.error(
                        "rewrite",
                        format!("{path}.rewrite.uriRegexRewrite.rewrite"),
                        why,
                    ),
                    (Ok((_, wanted)), Ok(have)) if wanted > have => cx.error(
                        "rewrite",
                        format!("{path}.rewrite.uriRegexRewrite.rewrite"),
                        format!("refers to group {wanted}, but `match` has {have}"),
                    ),
                    _ => {}
                }
            }
        }
        if let Some(t) = &self.timeout {
            positive(cx, &format!("{path}.timeout"), t, true);
        }
        if let Some(r) = &self.retries {
            if r.attempts < 0 {
                cx.error(
                    "retries",
                    format!("{path}.retries.attempts"),
                    "attempts cannot be negative",
                );
            }
            if let Some(t) = &r.per_try_timeout {
                positive(cx, &format!("{path}.retries.perTryTimeout"), t, false);
            }
        }
        if let Some(h) = &self.headers {
            h.check(cx, &format!("{path}.headers"));
        }
        for (j, rd) in self.route.iter().enumerate() {
            if let Some(h) = &rd.headers {
                h.check(cx, &format!("{path}.route[{j}].headers"));
            }
        }
        if let Some(f) = &self.fault {
            f.check(cx, &format!("{path}.fault"));
        }
        if self.mirror.is_some() && !self.mirrors.is_empty() {
            cx.error(
                "mirror",
                format!("{path}.mirror"),
                "use `mirror` or `mirrors`, not both",
            );
        }
        if let Some(p) = &self.mirror_percentage {
            cx.percentage(format!("{path}.mirrorPercentage.value"), p.value);
        }
        for (j, m) in self.mirrors.iter().enumerate() {
            if let Some(p) = &m.percentage {
                cx.percentage(format!("{path}.mirrors[{j}].percentage.value"), p.value);
            }
        }
        if let Some(c) = &self.cors_policy {
            for (j, o) in c.allow_origins.iter().enumerate() {
                o.check(cx, &format!("{path}.corsPolicy.allowOrigins[{j}]"));
            }
        }
    }
}

impl HttpMatchRequest {
    fn check(&self, cx: &mut Check<'_>, path: &str) {
        let fields = [
            ("uri", &self.uri),
            ("scheme", &self.scheme),
            ("method", &self.method),
            ("authority", &self.authority),
        ];
        for (name, m) in fields {
            if let Some(m) = m {
                m.check(cx, &format!("{path}.{name}"));
            }
        }
        for (field, map) in [
            ("headers", &self.headers),
            ("queryParams", &self.query_params),
            ("withoutHeaders", &self.without_headers),
        ] {
            for (name, m) in map {
                // An empty match (`end-user: {}`) means "present" in Istio.
                if m.exact.is_some() || m.prefix.is_some() || m.regex.is_some() {
                    m.check(cx, &format!("{path}.{field}.{name}"));
                }
            }
        }
        if let Some(p) = self.port
            && !(1..=65535).contains(&p)
        {
            cx.error(
                "port",
                format!("{path}.port"),
                format!("{p} is not a port; use 1 to 65535"),
            );
        }
    }
}

impl Headers {
    /// Names must be header names; the host is changed with
    /// `rewrite.authority`, and pseudo-headers not at all (Envoy refuses
    /// both in header edits).
    fn check(&self, cx: &mut Check<'_>, path: &str) {
        for (side, ops) in [("request", &self.request), ("response", &self.response)] {
            let Some(ops) = ops else { continue };
            let names = ops
                .set
                .keys()
                .map(|k| ("set", k))
                .chain(ops.add.keys().map(|k| ("add", k)))
                .chain(ops.remove.iter().map(|k| ("remove", k)));
            for (op, name) in names {
                let at = format!("{path}.{side}.{op}.{name}");
                if name.eq_ignore_ascii_case("host") || name.eq_ignore_ascii_case(":authority") {
                    cx.error(
                        "header",
                        at,
                        format!("`{name}` cannot be edited as a header; change the host with `rewrite.authority`"),
                    );
                } else if name.starts_with(':') {
                    cx.error(
                        "header",
                        at,
                        format!("`{name}` is a pseudo-header, which cannot be edited"),
                    );
                } else if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                    cx.error(
                        "header",
                        at,
                        format!("`{name}` is not a header name; use letters, digits and `-`"),
                    );
                }
            }
            for (op, map) in [("set", &ops.set), ("add", &ops.add)] {
                for (name, value) in map {
                    if http::HeaderValue::from_str(value).is_err() {
                        cx.error(
                            "header",
                            format!("{path}.{side}.{op}.{name}"),
                            "the value has characters a header cannot carry (control characters or a line break)",
                        );
                    }
                }
            }
        }
    }
}

impl HttpFaultInjection {
    fn check(&self, cx: &mut Check<'_>, path: &str) {
        if self.delay.is_none() && self.abort.is_none() {
            cx.error("fault", path, "a fault needs a `delay` or an `abort`");
        }
        if let Some(d) = &self.delay {
            if d.fixed_delay.is_none() && d.exponential_delay.is_none() {
                cx.error(
                    "fault",
                    format!("{path}.delay"),
                    "a delay needs `fixedDelay`, such as `fixedDelay: 5s`",
                );
            }
            if let Some(t) = &d.fixed_delay {
                positive(cx, &format!("{path}.delay.fixedDelay"), t, true);
            }
            if let Some(p) = &d.percentage {
                cx.percentage(format!("{path}.delay.percentage.value"), p.value);
            }
            if let Some(p) = d.percent {
                cx.percentage(format!("{path}.delay.percent"), f64::from(p));
            }
            if d.percentage.is_none() && d.percent.is_none() {
                cx.warn(
                    "fault-percentage",
                    format!("{path}.delay"),
                    "no `percentage`: as in Istio, no request is delayed; add `percentage: { value: 100 }` to delay every request",
                );
            }
        }
        if let Some(a) = &self.abort {
            let set = [
                a.http_status.is_some(),
                a.grpc_status.is_some(),
                a.http2_error.is_some(),
            ];
            if set.iter().filter(|s| **s).count() != 1 {
                cx.error(
                    "fault",
                    format!("{path}.abort"),
                    "an abort needs exactly one of `httpStatus`, `grpcStatus` or `http2Error`",
                );
            }
            if let Some(name) = &a.grpc_status
                && grpc_status_code(name).is_none()
            {
                cx.error(
                    "status",
                    format!("{path}.abort.grpcStatus"),
                    format!("`{name}` is not a gRPC status; use a name such as UNAVAILABLE, or a number 0 to 16"),
                );
            }
            if let Some(s) = a.http_status
                && !(200..=599).contains(&s)
            {
                cx.error(
                    "status",
                    format!("{path}.abort.httpStatus"),
                    format!("{s} is not an HTTP status; use 200 to 599"),
                );
            }
            if let Some(p) = &a.percentage {
                cx.percentage(format!("{path}.abort.percentage.value"), p.value);
            }
            if a.percentage.is_none() {
                cx.warn(
                    "fault-percentage",
                    format!("{path}.abort"),
                    "no `percentage`: as in Istio, no request is aborted; add `percentage: { value: 100 }` to abort every request",
                );
            }
        }
    }
}

fn check_l4_route<'a>(
    cx: &mut Check<'_>,
    path: &str,
    route: impl Iterator<Item = (&'a Destination, i32)> + Clone,
) {
    if route.clone().next().is_none() {
        cx.error(
            "no-action",
            path,
            "a rule needs a `route` with at least one destination",
        );
    }
    weights(cx, path, route);
}

/// Istio: with more than one destination, the weights must add up to 100;
/// with one, its weight is taken as 100.
fn weights<'a>(
    cx: &mut Check<'_>,
    path: &str,
    route: impl Iterator<Item = (&'a Destination, i32)>,
) {
    let mut total = 0i64;
    let mut count = 0usize;
    for (j, (dest, weight)) in route.enumerate() {
        count += 1;
        let at = format!("{path}.route[{j}]");
        if dest.host.is_empty() {
            cx.error(
                "host",
                format!("{at}.destination.host"),
                "empty host; name the service to route to",
            );
        }
        if let Some(p) = &dest.port {
            p.check(cx, &format!("{at}.destination.port"));
        }
        if weight < 0 {
            cx.error(
                "weight",
                format!("{at}.weight"),
                format!("weight {weight} is negative; use 0 to 100"),
            );
        }
        total += i64::from(weight);
    }
    if count > 1 && total != 100 {
        cx.error(
            "weights-sum",
            format!("{path}.route[{}].weight", count - 1),
            format!("weights sum to {total}, must sum to 100"),
        );
    }
}

fn positive(cx: &mut Check<'_>, path: &str, d: &crate::types::Duration, allow_zero: bool) {
    if d.0.is_zero() && !allow_zero {
        cx.error("duration", path, "must be more than zero, such as `2s`");
    } else if !d.0.is_zero() && d.0 < std::time::Duration::from_millis(1) {
        cx.error(
            "duration",
            path,
            format!("{d} is below Envoy's 1ms resolution; use at least `1ms`"),
        );
    }
}
