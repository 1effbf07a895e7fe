//! What a matched route does besides choosing a backend, in the order
//! Envoy's filter chain and router do it with the route configuration
//! Istio gives them: the fault filter first (a delay, then an abort),
//! then the router: the route's own answer (a redirect or a direct
//! response), or the upstream request with its path and authority
//! rewritten and its headers edited, the backend's edits before the
//! route's; and the response's headers edited on the way back, in the
//! same order.
//!
//! Routes without actions cost nothing here: their decision carries
//! `None` and none of this runs.

mod cors;
mod fault;
mod header_edits;
mod redirect;
mod rewrite;

use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderValue, LOCATION};
use http::{HeaderMap, Request, Response, StatusCode};
use weft_proto::config::HttpRoute;

pub use header_edits::HeaderOps;

use self::cors::{Cors, Verdict};
use self::fault::{Abort, Fault};
use self::redirect::{Redirect, RequestUrl};
use self::rewrite::Rewrite;
use super::body::ResponseBody;
use super::exchange::Exchange;
use super::headers::authority;
use super::respond::{self, LocalReply};
use crate::errors::ResponseFlag;

/// Envoy's fault filter answers an abort with this body.
const ABORT_BODY: &str = "fault filter abort";

/// A route's actions, compiled once per config.
#[derive(Debug, Default)]
pub struct RouteActions {
    cors: Option<Cors>,
    fault: Option<Fault>,
    answer: Option<Answer>,
    rewrite: Option<Rewrite>,
    headers: HeaderOps,
}

/// A route that answers requests itself.
#[derive(Debug)]
enum Answer {
    Redirect(Redirect),
    Direct { status: StatusCode, body: Bytes },
}

/// What one request carries of its route's actions: two pointers and two
/// numbers, so handing it over allocates nothing.
#[derive(Debug, Clone)]
pub struct Applied {
    route: Arc<RouteActions>,
    /// The chosen backend's header edits.
    backend: Option<Arc<HeaderOps>>,
    /// Bytes at the start of the path the route's match matched.
    matched: usize,
    /// The port the route serves (service or gateway port).
    port: u16,
    /// The `Origin` of a CORS request the route's policy allows.
    cors_origin: Option<HeaderValue>,
}

// === impl RouteActions ===

impl RouteActions {
    /// `None` when the route does nothing but forward, and no backend has
    /// header edits (`backend_edits`): the common case.
    pub fn compile(cfg: &HttpRoute, backend_edits: bool) -> Result<Option<Self>, String> {
        let answer = match (&cfg.redirect, &cfg.direct_response) {
            (Some(r), _) => Some(Answer::Redirect(Redirect::compile(r)?)),
            (None, Some(d)) => Some(Answer::Direct {
                status: StatusCode::from_u16(d.status)
                    .map_err(|_| format!("bad status {}", d.status))?,
                body: match &d.body {
                    Some(b) => Bytes::from(b.bytes()?),
                    None => Bytes::new(),
                },
            }),
            (None, None) => None,
        };
        let actions = Self {
            cors: cfg.cors.as_ref().map(Cors::compile).transpose()?,
            fault: cfg.fault.as_ref().map(Fault::compile).transpose()?,
            answer,
            rewrite: cfg.rewrite.as_ref().map(Rewrite::compile).transpose()?,
            headers: HeaderOps::compile(&cfg.headers)?,
        };
        let idle = actions.cors.is_none()
            && actions.fault.is_none()
            && actions.answer.is_none()
            && actions.rewrite.is_none()
            && actions.headers.is_empty();
        Ok((!idle || backend_edits).then_some(actions))
    }

    /// Whether the route answers requests itself instead of forwarding.
    pub fn answers(&self) -> bool {
        self.answer.is_some()
    }
}

// === impl Applied ===

impl Applied {
    pub fn new(
        route: Arc<RouteActions>,
        backend: Option<Arc<HeaderOps>>,
        matched: usize,
        port: u16,
    ) -> Self {
        Self {
            route,
            backend,
            matched,
            port,
            cors_origin: None,
        }
    }

    /// What happens before an endpoint is chosen: the fault filter's delay
    /// and abort, then the route's own answer. `Err` is the response that
    /// ends the exchange; `Ok` hands the exchange back to forward.
    ///
    /// The delay is not part of the route's timeout, which starts with the
    /// upstream request (Envoy's fault filter runs before the router).
    pub async fn before_upstream<B>(
        &mut self,
        mut ex: Exchange,
        req: &Request<B>,
        grpc: bool,
    ) -> Result<Exchange, Response<ResponseBody>> {
        // Istio puts the CORS filter ahead of the fault filter.
        if let Some(cors) = &self.route.cors {
            match cors.verdict(req) {
                Verdict::NotCors => {}
                Verdict::Request(origin) => self.cors_origin = Some(origin),
                Verdict::Preflight(origin) => {
                    let mut rsp = respond::local(ex, grpc, cors_reply());
                    cors.preflight_headers(origin, rsp.headers_mut());
                    return Err(rsp);
                }
                Verdict::IgnoredPreflight => return Err(respond::local(ex, grpc, cors_reply())),
            }
        }
        if let Some(fault) = &self.route.fault {
            if let Some(delay) = fault.sample_delay() {
                tokio::time::sleep(delay).await;
                ex.delay_injected();
            }
            if let Some(abort) = fault.sample_abort() {
                let (status, grpc_status) = match abort {
                    Abort::Http(s) => (s, None),
                    Abort::Grpc(code) => (StatusCode::OK, Some(code)),
                };
                let reply = LocalReply {
                    status,
                    body: Bytes::from_static(ABORT_BODY.as_bytes()),
                    grpc_status,
                    flag: ResponseFlag::FI,
                };
                return Err(respond::local(ex, grpc, reply));
            }
        }
        let reply = |status, body| LocalReply {
            status,
            body,
            grpc_status: None,
            flag: ResponseFlag::None,
        };
        let mut rsp = match &self.route.answer {
            None => return Ok(ex),
            Some(Answer::Direct { status, body }) => {
                respond::local(ex, grpc, reply(*status, body.clone()))
            }
            Some(Answer::Redirect(redirect)) => {
                let scheme = match req.uri().scheme_str() {
                    Some(s) => s,
                    None if ex.ctx().client_tls => "https",
                    None => "http",
                };
                let location = redirect.location(RequestUrl {
                    scheme,
                    authority: authority(req).unwrap_or_default(),
                    path_and_query: req.uri().path_and_query().map_or("/", |pq| pq.as_str()),
                    route_port: self.port,
                });
                let mut rsp = respond::local(ex, grpc, reply(redirect.status(), Bytes::new()));
                match HeaderValue::try_from(location) {
                    Ok(l) => {
                        rsp.headers_mut().insert(LOCATION, l);
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "redirect location is not a header value")
                    }
                }
                rsp
            }
        };
        // A route's answer has no backend: only the route's edits apply.
        self.route.headers.response.apply(rsp.headers_mut());
        self.add_cors_headers(rsp.headers_mut());
        Err(rsp)
    }

    /// The upstream request: rewritten, then the backend's edits, then
    /// the route's (so the route's win).
    pub fn edit_request<B>(&self, req: &mut Request<B>) {
        if let Some(rewrite) = &self.route.rewrite {
            rewrite.apply(req, self.matched);
        }
        if let Some(b) = &self.backend {
            b.request.apply(req.headers_mut());
        }
        self.route.headers.request.apply(req.headers_mut());
    }

    /// The response to the client (the upstream's, or the proxy's error
    /// after the route chose a backend): the backend's edits, then the
    /// route's.
    pub fn edit_response(&self, headers: &mut HeaderMap) {
        if let Some(b) = &self.backend {
            b.response.apply(headers);
        }
        self.route.headers.response.apply(headers);
        self.add_cors_headers(headers);
    }

    fn add_cors_headers(&self, headers: &mut HeaderMap) {
        if let (Some(cors), Some(origin)) = (&self.route.cors, &self.cors_origin) {
            cors.response_headers(origin, headers);
        }
    }
}

/// Envoy's CORS filter answers a preflight 200 with no body.
fn cors_reply() -> LocalReply {
    LocalReply {
        status: StatusCode::OK,
        body: Bytes::new(),
        grpc_status: None,
        flag: ResponseFlag::None,
    }
}
