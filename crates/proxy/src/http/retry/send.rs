//! The retry loop: try, classify, wait, try again on another endpoint,
//! until a try succeeds, the policy or the budget says stop, or the
//! request body cannot be sent again. The caller bounds the whole loop by
//! the route timeout.

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, Method, Request, Response, Uri, Version};
use http_body::Body as _;
use hyper::body::Incoming;

use super::{Outcome, Retry};
use crate::errors::ProxyError;
use crate::http::body::{ClientBody, RequestBody, Tee};
use crate::http::exchange::Exchange;
use crate::upstream::{Cluster, Endpoint, HttpVersion};

/// How many picks the balancer gets to find an endpoint other than the
/// last try's (Istio sets Envoy's `host_selection_retry_max_attempts`
/// to 5 with the `previous_hosts` predicate).
const PICKS_FOR_ANOTHER_HOST: usize = 5;

/// The last try: what the client gets.
pub struct Tried {
    pub result: Result<Response<Incoming>, ProxyError>,
    /// The last try failed retryably after retrying, or the budget refused
    /// a retry (Envoy's `URX`).
    pub exhausted: bool,
}

/// What a retry rebuilds its request from.
struct Template {
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
}

/// Sends `req` to `endpoint` (already chosen from `cluster`, and held by
/// `ex`), retrying as `retry` says.
pub async fn send(
    retry: &Retry,
    cluster: &Arc<Cluster>,
    mut endpoint: Arc<Endpoint>,
    version: HttpVersion,
    req: Request<ClientBody>,
    ex: &mut Exchange,
) -> Tried {
    let (parts, body) = req.into_parts();
    // A request without a body (most) needs no copy of one: a retry sends
    // an empty body again.
    let bodiless = body.is_end_stream();
    let (body, tee) = if bodiless {
        (RequestBody::new(body, ex.request_bytes()), None)
    } else {
        RequestBody::teed(body, ex.request_bytes())
    };
    // Only a request whose body can be sent again pays for a copy of its
    // head.
    let template = (bodiless || tee.is_some()).then(|| Template {
        method: parts.method.clone(),
        uri: parts.uri.clone(),
        version: parts.version,
        headers: parts.headers.clone(),
    });
    let mut req = Request::from_parts(parts, body);
    retry.budget.deposit();
    let policy = &retry.policy;
    let mut retries = 0;
    // Envoy's `max_retries` breaker: a place held while a retry runs.
    let mut _retrying = None;
    loop {
        let started = Instant::now();
        let send = endpoint.send(req, version, cluster.connect_timeout);
        let result = match policy.per_try_timeout {
            Some(t) => tokio::time::timeout(t, send)
                .await
                .unwrap_or(Err(ProxyError::ResponseTimeout(t))),
            None => send.await,
        };
        if result.is_ok() {
            endpoint.observe_latency(started.elapsed());
        }
        // Outlier detection sees every try, on the endpoint that made it.
        endpoint.observe_outcome(&result);
        let done = |result, _: Arc<Endpoint>, exhausted| Tried { result, exhausted };
        if !policy.retryable(Outcome::of(&result)) {
            return done(result, endpoint, false);
        }
        if retries >= policy.retries {
            return done(result, endpoint, true);
        }
        // The body must have gone out whole, within the limit.
        let replay = match &tee {
            _ if bodiless => Some(RequestBody::new(ClientBody::Empty, ex.request_bytes())),
            Some(t) => Tee::replay(t, ex.request_bytes()),
            None => None,
        };
        let (Some(body), Some(t)) = (replay, &template) else {
            return done(result, endpoint, false);
        };
        if !retry.budget.try_withdraw() {
            return done(result, endpoint, true);
        }
        match cluster.limits.as_ref().map(|l| l.try_retry()) {
            Some(Err(_)) => return done(result, endpoint, true),
            Some(Ok(slot)) => _retrying = slot,
            None => {}
        }
        let Some(other) = pick_another(cluster, &endpoint) else {
            return done(result, endpoint, false);
        };
        // The retry is a request of its own to the cluster (`max_requests`).
        let Ok(in_flight) = other.admit() else {
            return done(result, endpoint, true);
        };
        // The failed response is dropped: only the last try's reaches the
        // client.
        drop(result);
        retries += 1;
        tokio::time::sleep(policy.backoff(retries)).await;
        endpoint = other;
        ex.set_upstream_peer(&endpoint.labels);
        ex.hold(in_flight);
        req = t.request(body);
    }
}

/// Istio's `previous_hosts` predicate: prefer an endpoint other than the
/// last try's, but take it again when it is the only one left. The
/// balancer gets a few picks; a latency-aware pick can keep choosing an
/// endpoint that fails fast, so after those any other available endpoint
/// will do. Cost: O(1) usually, O(n) when the picks keep landing on
/// `previous`.
fn pick_another(cluster: &Cluster, previous: &Arc<Endpoint>) -> Option<Arc<Endpoint>> {
    for _ in 0..PICKS_FOR_ANOTHER_HOST {
        // Not the request's hash (consistent-hash clusters): it points at
        // `previous` again; another endpoint is the point of a retry.
        let e = cluster.balancer.pick(None)?;
        if !Arc::ptr_eq(e, previous) {
            return Some(e.clone());
        }
    }
    let all = cluster.balancer.endpoints();
    let now = Instant::now();
    let start = fastrand::usize(..all.len().max(1));
    all.iter()
        .cycle()
        .skip(start)
        .take(all.len())
        .find(|e| !Arc::ptr_eq(e, previous) && e.is_available(now))
        .or(Some(previous))
        .cloned()
}

// === impl Template ===

impl Template {
    fn request(&self, body: RequestBody) -> Request<RequestBody> {
        let mut req = Request::new(body);
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.version_mut() = self.version;
        *req.headers_mut() = self.headers.clone();
        req
    }
}
