//! Checks on one HTTP route: its match blocks, where it sends requests and
//! the actions it takes. The rules are Istio's VirtualService validation
//! plus what Envoy refuses in the route configuration Istio would give it
//! (`:`-headers and `host` in header edits, status ranges).

use crate::config::{
    AbortStatus, ConfigError, Cors, DirectResponse, Fault, HeaderEdits, HeaderMatch, HeaderOps,
    HttpRoute, PathMatch, QueryMatch, Redirect, RedirectPort, Rewrite, RouteMatch, StringMatch,
};

use super::retry::check_retries;

/// Istio refuses larger direct response bodies (they travel in every push).
const MAX_DIRECT_BODY: usize = 1024 * 1024;

/// The statuses Envoy's `RedirectAction.response_code` can send.
const REDIRECT_STATUSES: [u16; 5] = [301, 302, 303, 307, 308];

pub(in crate::config) fn check_route(path: &str, route: &HttpRoute, errs: &mut Vec<ConfigError>) {
    check_destination(path, route, errs);
    for (m, rm) in route.matches.iter().enumerate() {
        check_match(&format!("{path}.match[{m}]"), rm, errs);
    }
    if let Some(rl) = &route.rate_limit {
        super::rate_limit::check_rate_limit(&format!("{path}.rate_limit"), rl, errs);
    }
    if let Some(fault) = &route.fault {
        check_fault(&format!("{path}.fault"), fault, errs);
    }
    if let Some(redirect) = &route.redirect {
        check_redirect(&format!("{path}.redirect"), redirect, errs);
    }
    if let Some(direct) = &route.direct_response {
        check_direct_response(&format!("{path}.direct_response"), direct, errs);
    }
    if let Some(rewrite) = &route.rewrite {
        check_rewrite(&format!("{path}.rewrite"), rewrite, errs);
    }
    check_header_ops(&format!("{path}.headers"), &route.headers, errs);
    if let Some(retries) = &route.retries {
        check_retries(&format!("{path}.retries"), retries, errs);
    }
    for (m, mirror) in route.mirrors.iter().enumerate() {
        if !(0.0..=100.0).contains(&mirror.percent) {
            errs.push(ConfigError::new(
                format!("{path}.mirrors[{m}].percent"),
                format!("{} is not a percentage; use 0 to 100", mirror.percent),
            ));
        }
    }
    if let Some(cors) = &route.cors {
        check_cors(&format!("{path}.cors"), cors, errs);
    }
    if let Some(m) = &route.metrics {
        check_metrics(&format!("{path}.metrics"), m, errs);
    }
    for (b, backend) in route.backends.iter().enumerate() {
        check_header_ops(
            &format!("{path}.backends[{b}].headers"),
            &backend.headers,
            errs,
        );
    }
}

/// A route forwards to backends or answers itself with a redirect or a
/// direct response: exactly one of the three (Istio's rule).
fn check_destination(path: &str, route: &HttpRoute, errs: &mut Vec<ConfigError>) {
    let forwards = !route.backends.is_empty();
    let (redirect, direct) = (route.redirect.is_some(), route.direct_response.is_some());
    let mut err = |field: &str, message: &str| {
        errs.push(ConfigError::new(format!("{path}{field}"), message));
    };
    match (forwards, redirect, direct) {
        (false, false, false) => err(
            ".backends",
            "a route needs at least one backend, or a redirect or direct_response to answer with",
        ),
        (true, true, _) => err(
            ".redirect",
            "a route either forwards to backends or answers with a redirect; remove one",
        ),
        (true, _, true) => err(
            ".direct_response",
            "a route either forwards to backends or answers with a direct_response; remove one",
        ),
        (false, true, true) => err(
            ".direct_response",
            "a route answers with a redirect or a direct_response, not both; remove one",
        ),
        _ => {}
    }
    if forwards && route.backends.iter().all(|b| b.weight == 0) {
        err(
            ".backends",
            "all weights are 0, so no backend can be chosen; give at least one a positive weight",
        );
    }
    if redirect || direct {
        // Istio refuses these on a route that answers itself: nothing is
        // forwarded to rewrite, and a fault would hide the answer.
        if route.fault.is_some() {
            err(
                ".fault",
                "a route that answers with a redirect or direct_response takes no fault (Istio refuses it); put the fault on a route with backends",
            );
        }
        if route.rewrite.is_some() {
            err(
                ".rewrite",
                "a route that answers with a redirect or direct_response forwards nothing to rewrite; remove rewrite (a redirect sets its own path and authority)",
            );
        }
    }
}

fn check_match(path: &str, rm: &RouteMatch, errs: &mut Vec<ConfigError>) {
    if let Some(PathMatch::Regex(re)) = &rm.path {
        check_regex(&format!("{path}.path.regex"), re, errs);
    }
    if let Some(PathMatch::Prefix(p) | PathMatch::Exact(p)) = &rm.path
        && !p.starts_with('/')
    {
        errs.push(ConfigError::new(
            format!("{path}.path"),
            format!("{p:?} does not start with '/'; request paths always do"),
        ));
    }
    for (h, HeaderMatch { name, value }) in rm.headers.iter().enumerate() {
        let path = format!("{path}.headers[{h}]");
        if http_header_name_invalid(name) {
            errs.push(ConfigError::new(
                format!("{path}.name"),
                format!("{name:?} is not a valid HTTP header name"),
            ));
        }
        check_string_match(&format!("{path}.value"), value, errs);
    }
    if let Some(authority) = &rm.authority {
        check_string_match(&format!("{path}.authority"), authority, errs);
    }
    // Every request has a method and a scheme: presence says nothing.
    for (field, m) in [("method", &rm.method), ("scheme", &rm.scheme)] {
        let Some(m) = m else { continue };
        let at = format!("{path}.{field}");
        match m {
            StringMatch::Present(_) => errs.push(ConfigError::new(
                at,
                format!("every request has a {field}; match it by exact, prefix or regex"),
            )),
            // A method is an HTTP token, as a header name is.
            StringMatch::Exact(v) if field == "method" && http_header_name_invalid(v) => {
                errs.push(ConfigError::new(
                    at,
                    format!("{v:?} is not an HTTP method; write GET, POST, ..."),
                ))
            }
            other => check_string_match(&at, other, errs),
        }
    }
    for (q, QueryMatch { name, value }) in rm.query.iter().enumerate() {
        let path = format!("{path}.query[{q}]");
        if name.is_empty() {
            errs.push(ConfigError::new(
                format!("{path}.name"),
                "must not be empty; name the query parameter, as in ?name=value",
            ));
        }
        check_string_match(&format!("{path}.value"), value, errs);
    }
}

fn check_string_match(path: &str, m: &StringMatch, errs: &mut Vec<ConfigError>) {
    if let StringMatch::Regex(re) = m {
        check_regex(&format!("{path}.regex"), re, errs);
    }
}

/// CORS values end up in response headers: each must be a header value,
/// and the listed names header names.
fn check_cors(path: &str, cors: &Cors, errs: &mut Vec<ConfigError>) {
    for (i, m) in cors.allow_origins.iter().enumerate() {
        let p = format!("{path}.allow_origins[{i}]");
        if matches!(m, StringMatch::Present(_)) {
            errs.push(ConfigError::new(
                p,
                "an origin matches by exact, prefix or regex, not present",
            ));
        } else {
            check_string_match(&p, m, errs);
        }
    }
    let lists = [
        ("allow_methods", &cors.allow_methods),
        ("allow_headers", &cors.allow_headers),
        ("expose_headers", &cors.expose_headers),
    ];
    for (field, list) in lists {
        for (i, v) in list.iter().enumerate() {
            // Methods are tokens, like header names.
            if v != "*" && http_header_name_invalid(v) {
                errs.push(ConfigError::new(
                    format!("{path}.{field}[{i}]"),
                    format!("{v:?} is not a valid HTTP token (a method or header name)"),
                ));
            }
        }
    }
}

fn check_fault(path: &str, fault: &Fault, errs: &mut Vec<ConfigError>) {
    if fault.delay.is_none() && fault.abort.is_none() {
        errs.push(ConfigError::new(
            path,
            "a fault needs a delay, an abort or both",
        ));
    }
    if let Some(delay) = &fault.delay {
        check_percent(&format!("{path}.delay.percent"), delay.percent, errs);
        if delay.fixed.is_zero() {
            errs.push(ConfigError::new(
                format!("{path}.delay.fixed"),
                "must be more than 0 (Envoy refuses a zero delay); remove the delay instead",
            ));
        }
    }
    if let Some(abort) = &fault.abort {
        check_percent(&format!("{path}.abort.percent"), abort.percent, errs);
        match abort.status {
            AbortStatus::Http(s) if !(200..=599).contains(&s) => errs.push(ConfigError::new(
                format!("{path}.abort.status.http"),
                format!("{s} is not a status an abort can answer with; use 200-599"),
            )),
            AbortStatus::Grpc(c) if c > 16 => errs.push(ConfigError::new(
                format!("{path}.abort.status.grpc"),
                format!("{c} is not a gRPC status code; use 0-16 (14 is UNAVAILABLE)"),
            )),
            _ => {}
        }
    }
}

fn check_percent(path: &str, percent: f64, errs: &mut Vec<ConfigError>) {
    // `contains` is false for NaN too.
    if !(0.0..=100.0).contains(&percent) {
        errs.push(ConfigError::new(
            path,
            format!("{percent} is not a share of requests; use 0 to 100 (fractions allowed)"),
        ));
    }
}

fn check_redirect(path: &str, redirect: &Redirect, errs: &mut Vec<ConfigError>) {
    let Redirect {
        path: new_path,
        authority,
        scheme,
        port,
        status,
    } = redirect;
    if new_path.is_none() && authority.is_none() && scheme.is_none() && port.is_none() {
        errs.push(ConfigError::new(
            path,
            "a redirect needs a path, authority, scheme or port to send the client to",
        ));
    }
    if !REDIRECT_STATUSES.contains(status) {
        errs.push(ConfigError::new(
            format!("{path}.status"),
            format!("{status} is not a redirect status; use 301, 302, 303, 307 or 308"),
        ));
    }
    if let Some(s) = scheme
        && s != "http"
        && s != "https"
    {
        errs.push(ConfigError::new(
            format!("{path}.scheme"),
            format!("{s:?} is not a scheme a redirect can send; use http or https"),
        ));
    }
    if *port == Some(RedirectPort::Number(0)) {
        errs.push(ConfigError::new(
            format!("{path}.port.number"),
            "must be 1-65535",
        ));
    }
    if let Some(a) = authority {
        check_authority(&format!("{path}.authority"), a, errs);
    }
    if let Some(p) = new_path {
        check_uri_path(&format!("{path}.path"), p, errs);
    }
}

fn check_direct_response(path: &str, direct: &DirectResponse, errs: &mut Vec<ConfigError>) {
    if !(200..=599).contains(&direct.status) {
        errs.push(ConfigError::new(
            format!("{path}.status"),
            format!(
                "{} is not a status to answer with; use 200-599",
                direct.status
            ),
        ));
    }
    let Some(body) = &direct.body else { return };
    match body.bytes() {
        Ok(b) if b.len() > MAX_DIRECT_BODY => errs.push(ConfigError::new(
            format!("{path}.body"),
            format!(
                "is {} bytes; Istio allows at most 1 MiB (serve large bodies from a backend)",
                b.len()
            ),
        )),
        Ok(_) => {}
        Err(e) => errs.push(ConfigError::new(
            format!("{path}.body.base64"),
            format!("does not decode as standard base64: {e}"),
        )),
    }
}

fn check_rewrite(path: &str, rewrite: &Rewrite, errs: &mut Vec<ConfigError>) {
    if rewrite.uri.is_some() && rewrite.uri_regex.is_some() {
        errs.push(ConfigError::new(
            path,
            "set uri or uri_regex, not both: each replaces the path",
        ));
    }
    if rewrite.uri.is_none() && rewrite.uri_regex.is_none() && rewrite.authority.is_none() {
        errs.push(ConfigError::new(
            path,
            "a rewrite needs uri, uri_regex or authority",
        ));
    }
    if let Some(uri) = &rewrite.uri {
        if uri.is_empty() {
            errs.push(ConfigError::new(
                format!("{path}.uri"),
                "must not be empty; remove it to keep the path",
            ));
        }
        check_uri_path(&format!("{path}.uri"), uri, errs);
    }
    if let Some(re) = &rewrite.uri_regex {
        let path = format!("{path}.uri_regex");
        if re.pattern.is_empty() {
            errs.push(ConfigError::new(
                format!("{path}.pattern"),
                "must not be empty (Istio requires both pattern and substitution)",
            ));
        }
        let groups = match regex::Regex::new(&re.pattern) {
            Ok(compiled) => Some(compiled.captures_len() - 1),
            Err(_) => {
                check_regex(&format!("{path}.pattern"), &re.pattern, errs);
                None
            }
        };
        match re.replacement() {
            Err(why) => errs.push(ConfigError::new(format!("{path}.substitution"), why)),
            Ok((_, wanted)) if groups.is_some_and(|g| wanted > g) => {
                errs.push(ConfigError::new(
                    format!("{path}.substitution"),
                    format!(
                        "refers to group {wanted}, but the pattern has {}; RE2 would then leave the path unchanged",
                        groups.unwrap_or_default()
                    ),
                ));
            }
            Ok(_) if re.substitution.is_empty() => errs.push(ConfigError::new(
                format!("{path}.substitution"),
                "must not be empty (Istio requires both pattern and substitution)",
            )),
            Ok(_) => {}
        }
    }
    if let Some(a) = &rewrite.authority {
        check_authority(&format!("{path}.authority"), a, errs);
    }
}

fn check_header_ops(path: &str, ops: &HeaderOps, errs: &mut Vec<ConfigError>) {
    for (dir, edits) in [("request", &ops.request), ("response", &ops.response)] {
        check_header_edits(&format!("{path}.{dir}"), edits, errs);
    }
}

pub(in crate::config) fn check_header_edits(
    path: &str,
    edits: &HeaderEdits,
    errs: &mut Vec<ConfigError>,
) {
    for (op, list) in [("set", &edits.set), ("add", &edits.add)] {
        for (i, (name, value)) in list.iter().enumerate() {
            let path = format!("{path}.{op}[{i}]");
            check_edited_name(&path, name, errs);
            if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
                errs.push(ConfigError::new(
                    path,
                    format!("the value {value:?} has a control character; header values are one line of text"),
                ));
            }
        }
    }
    for (i, name) in edits.remove.iter().enumerate() {
        check_edited_name(&format!("{path}.remove[{i}]"), name, errs);
    }
}

/// Envoy refuses to modify or remove `:`-headers and `host` ("may not be
/// modified"); Istio's way to change them is `rewrite.authority`.
fn check_edited_name(path: &str, name: &str, errs: &mut Vec<ConfigError>) {
    let why = if name.starts_with(':') || name.eq_ignore_ascii_case("host") {
        format!(
            "{name:?} cannot be edited (Envoy refuses pseudo-headers and host); use rewrite.authority to change the host"
        )
    } else if http_header_name_invalid(name) {
        format!("{name:?} is not a valid HTTP header name")
    } else {
        return;
    };
    errs.push(ConfigError::new(path, why));
}

/// A host with an optional port, as a Host header carries it.
fn check_authority(path: &str, authority: &str, errs: &mut Vec<ConfigError>) {
    let valid = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"/?#@".contains(&b));
    if !valid {
        errs.push(ConfigError::new(
            path,
            format!("{authority:?} is not a host[:port]; write it like reviews.example.com or reviews:9080"),
        ));
    }
}

/// A path (and query) as sent on the wire: visible ASCII, no fragment.
fn check_uri_path(path: &str, uri: &str, errs: &mut Vec<ConfigError>) {
    if !uri.bytes().all(|b| b.is_ascii_graphic() && b != b'#') {
        errs.push(ConfigError::new(
            path,
            format!("{uri:?} is not a URI path; write it like /v2/items?x=1, percent-encoding spaces and other characters"),
        ));
    }
}

fn check_regex(path: &str, re: &str, errs: &mut Vec<ConfigError>) {
    if let Err(e) = regex::Regex::new(re) {
        let detail = e.to_string().lines().last().unwrap_or_default().to_string();
        errs.push(ConfigError::new(
            path,
            format!("{re:?} does not compile: {detail}"),
        ));
    }
}

pub(super) fn http_header_name_invalid(name: &str) -> bool {
    name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests;

/// A metrics name labels every request of the route; failure ranges are
/// HTTP statuses, low end first.
fn check_metrics(path: &str, m: &crate::config::RouteMetrics, errs: &mut Vec<ConfigError>) {
    if m.name.is_empty() {
        errs.push(ConfigError::new(
            format!("{path}.name"),
            "per-route metrics need a route name, such as `GET /books`",
        ));
    }
    for (i, r) in m.failures.iter().flatten().enumerate() {
        if !(100..=599).contains(&r.min) || !(100..=599).contains(&r.max) || r.max < r.min {
            errs.push(ConfigError::new(
                format!("{path}.failures[{i}]"),
                format!(
                    "{}..={} is not a range of HTTP statuses; use 100 to 599, min first",
                    r.min, r.max
                ),
            ));
        }
    }
}
