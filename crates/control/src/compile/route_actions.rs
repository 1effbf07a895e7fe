//! A VirtualService rule's actions besides routing (`fault`, `redirect`,
//! `directResponse`, `rewrite`, `headers`) as the proxy carries them out,
//! for sidecars and gateways alike. Istio's translation to Envoy
//! (pilot `networking/core/route`) is the reference: a fault with no
//! percentage injects into no request (loading warns), `redirectCode`
//! defaults to 301, `derivePort` picks the redirect's port.

use std::time::Duration;

use weft_api::kinds::istio::{
    CorsPolicy, Destination, HeaderOperations, Headers, HttpFaultInjection, HttpRetry,
    HttpRoute as VsRule, RedirectPortSelection, UnmatchedPreflights, grpc_status_code,
    retry_condition,
};
use weft_proto::config::{
    AbortStatus, Cors, DirectResponse, Fault, FaultAbort, FaultDelay, HeaderEdits, HeaderOps,
    HttpRoute, Mirror, Redirect, RedirectPort, RegexRewrite, ResponseBody, RetryOn, RetryPolicy,
    Rewrite, StringMatch,
};

/// Fills `route`'s actions from `rule`.
pub(super) fn apply(rule: &VsRule, route: &mut HttpRoute) {
    route.fault = rule.fault.as_ref().and_then(fault);
    route.redirect = rule.redirect.as_ref().map(|r| Redirect {
        path: r.uri.clone(),
        authority: r.authority.clone(),
        scheme: r.scheme.clone(),
        port: match (r.port.and_then(|p| u16::try_from(p).ok()), r.derive_port) {
            (Some(p), _) => Some(RedirectPort::Number(p)),
            (None, Some(RedirectPortSelection::FromRequestPort)) => Some(RedirectPort::FromRequest),
            (None, Some(RedirectPortSelection::FromProtocolDefault)) => {
                Some(RedirectPort::FromScheme)
            }
            (None, None) => None,
        },
        status: r
            .redirect_code
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(301),
    });
    route.direct_response = rule.direct_response.as_ref().map(|d| DirectResponse {
        status: u16::try_from(d.status).unwrap_or(0),
        body: d.body.as_ref().and_then(|b| match (&b.string, &b.bytes) {
            (Some(s), _) => Some(ResponseBody::Text(s.clone())),
            (None, Some(b)) => Some(ResponseBody::Base64(b.clone())),
            (None, None) => None,
        }),
    });
    route.rewrite = rule.rewrite.as_ref().map(|r| Rewrite {
        uri: r.uri.clone(),
        uri_regex: r.uri_regex_rewrite.as_ref().map(|x| RegexRewrite {
            pattern: x.pattern.clone(),
            substitution: x.rewrite.clone(),
        }),
        authority: r.authority.clone(),
    });
    route.headers = header_ops(rule.headers.as_ref());
    route.retries = retries(rule.retries.as_ref());
    route.cors = rule.cors_policy.as_ref().map(cors);
    // Istio puts a lone destination's edits after the rule's in the
    // route's own lists, so the destination's `set` wins there; with
    // several destinations each keeps its own, applied before the rule's.
    if let [only] = &mut route.backends[..] {
        let own = std::mem::take(&mut only.headers);
        for (mine, theirs) in [
            (&mut route.headers.request, own.request),
            (&mut route.headers.response, own.response),
        ] {
            mine.set.extend(theirs.set);
            mine.add.extend(theirs.add);
            mine.remove.extend(theirs.remove);
        }
    }
}

/// A destination's (or a rule's) `headers`.
pub(super) fn header_ops(h: Option<&Headers>) -> HeaderOps {
    let Some(h) = h else {
        return HeaderOps::default();
    };
    HeaderOps {
        request: edits(h.request.as_ref()),
        response: edits(h.response.as_ref()),
    }
}

fn edits(ops: Option<&HeaderOperations>) -> HeaderEdits {
    let Some(ops) = ops else {
        return HeaderEdits::default();
    };
    // Header names are case-insensitive; the proxy keeps them lower-case.
    let pairs = |m: &std::collections::BTreeMap<String, String>| {
        m.iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect()
    };
    HeaderEdits {
        set: pairs(&ops.set),
        add: pairs(&ops.add),
        remove: ops.remove.iter().map(|k| k.to_ascii_lowercase()).collect(),
    }
}

/// Istio's `retryOn` when a rule sets `attempts` without it: connection
/// failures, refused streams, gRPC `unavailable` and `cancelled`, and 503.
const DEFAULT_RETRY_ON: [RetryOn; 5] = [
    RetryOn::ConnectFailure,
    RetryOn::RefusedStream,
    RetryOn::Unavailable,
    RetryOn::Cancelled,
    RetryOn::RetriableStatusCodes,
];

/// Envoy's default base interval between tries.
const DEFAULT_BACKOFF: Duration = Duration::from_millis(25);

/// A rule's mirrors: `mirrors` (each 100% unless its `percentage` says
/// otherwise), else `mirror` at `mirrorPercentage`, else the deprecated
/// `mirrorPercent`, else 100% (Istio). `cluster` names a destination's
/// cluster (and makes sure the proxy gets it).
pub(super) fn mirrors(
    rule: &VsRule,
    mut cluster: impl FnMut(&Destination) -> String,
) -> Vec<Mirror> {
    if !rule.mirrors.is_empty() {
        return rule
            .mirrors
            .iter()
            .map(|m| Mirror {
                cluster: cluster(&m.destination),
                percent: m.percentage.map_or(100.0, |p| p.value),
            })
            .collect();
    }
    let Some(dest) = &rule.mirror else {
        return Vec::new();
    };
    let percent = match (rule.mirror_percentage, rule.mirror_percent) {
        (Some(p), _) => p.value,
        (None, Some(p)) => f64::from(p),
        (None, None) => 100.0,
    };
    vec![Mirror {
        cluster: cluster(dest),
        percent,
    }]
}

/// A rule's `corsPolicy` as Istio gives it to Envoy: `allowOrigins`, or
/// the deprecated exact `allowOrigin` when that is empty; lists joined
/// by the proxy; `unmatchedPreflights` FORWARD unless IGNORE.
fn cors(c: &CorsPolicy) -> Cors {
    let allow_origins = if c.allow_origins.is_empty() {
        c.allow_origin
            .iter()
            .map(|o| StringMatch::Exact(o.clone()))
            .collect()
    } else {
        c.allow_origins
            .iter()
            .filter_map(super::routes::string_match)
            .collect()
    };
    Cors {
        allow_origins,
        allow_methods: c.allow_methods.clone(),
        allow_headers: c.allow_headers.clone(),
        expose_headers: c.expose_headers.clone(),
        max_age: c.max_age.as_ref().map(|d| d.0),
        allow_credentials: c.allow_credentials.unwrap_or(false),
        forward_unmatched_preflights: c.unmatched_preflights != Some(UnmatchedPreflights::Ignore),
    }
}

/// Istio's policy for a route that sets no retries (its mesh-wide
/// `defaultHttpRetryPolicy` default): 2 retries on connection failures,
/// refused streams, gRPC `unavailable` and `cancelled`, and 503. The
/// service port's retry budget still bounds them.
pub fn default_retries() -> RetryPolicy {
    RetryPolicy {
        attempts: 2,
        per_try_timeout: None,
        retry_on: DEFAULT_RETRY_ON.to_vec(),
        status_codes: vec![503],
        backoff: DEFAULT_BACKOFF,
    }
}

/// A rule's `retries`: `attempts: 0` turns retries off; `retryOn` is
/// Envoy's comma-separated list, where a number is a status to retry
/// (conditions weft does not know are left out; loading warns). A rule
/// without `retries` gets Istio's default policy.
fn retries(r: Option<&HttpRetry>) -> Option<RetryPolicy> {
    let Some(r) = r else {
        return Some(default_retries());
    };
    let attempts = u32::try_from(r.attempts).ok().filter(|a| *a > 0)?;
    let (retry_on, status_codes) = match r.retry_on.as_deref() {
        Some(list) if !list.trim().is_empty() => retry_on(list),
        _ => (DEFAULT_RETRY_ON.to_vec(), vec![503]),
    };
    Some(RetryPolicy {
        attempts,
        per_try_timeout: r
            .per_try_timeout
            .as_ref()
            .map(|t| t.0)
            .filter(|t| !t.is_zero()),
        retry_on,
        status_codes,
        backoff: r
            .backoff
            .as_ref()
            .map(|b| b.0)
            .filter(|b| !b.is_zero())
            .unwrap_or(DEFAULT_BACKOFF),
    })
}

/// Envoy's `retry_on` list as conditions and status codes.
pub fn retry_on(list: &str) -> (Vec<RetryOn>, Vec<u16>) {
    let mut on = Vec::new();
    let mut codes = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if let Ok(code) = item.parse::<u16>() {
            codes.push(code);
            continue;
        }
        if let Some(c) = retry_condition(item)
            && !on.contains(&c)
        {
            on.push(c);
        }
    }
    if !codes.is_empty() && !on.contains(&RetryOn::RetriableStatusCodes) {
        on.push(RetryOn::RetriableStatusCodes);
    }
    (on, codes)
}

fn fault(f: &HttpFaultInjection) -> Option<Fault> {
    let delay = f.delay.as_ref().and_then(|d| {
        Some(FaultDelay {
            // `exponentialDelay` is not carried out (loading warns).
            // A zero delay delays nothing (and Envoy refuses it).
            fixed: d
                .fixed_delay
                .as_ref()
                .map(|t| t.0)
                .filter(|t| !t.is_zero())?,
            percent: percent(d.percentage.as_ref().map(|p| p.value), d.percent),
        })
    });
    let abort = f.abort.as_ref().and_then(|a| {
        let status = match (a.http_status, a.grpc_status.as_deref()) {
            (Some(s), _) => AbortStatus::Http(u16::try_from(s).ok()?),
            (None, Some(name)) => AbortStatus::Grpc(grpc_status_code(name)?),
            // `http2Error` is not carried out (loading warns).
            (None, None) => return None,
        };
        Some(FaultAbort {
            status,
            percent: percent(a.percentage.as_ref().map(|p| p.value), None),
        })
    });
    (delay.is_some() || abort.is_some()).then_some(Fault { delay, abort })
}

/// `percentage.value`, else the deprecated integer `percent`, else none.
fn percent(value: Option<f64>, legacy: Option<i32>) -> f64 {
    value.or(legacy.map(f64::from)).unwrap_or(0.0)
}

#[cfg(test)]
mod tests;
