//! The admin server (localhost: /ready, /live, /config_dump, /logging,
//! /drain), the Prometheus endpoint and the kubelet health probe. Tiny and
//! hand-rolled: the proxy binary carries no web framework.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::logging::LogHandle;
use crate::state::ProxyState;
use crate::telemetry::OPENMETRICS_CONTENT_TYPE;

/// Which endpoints a server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Metrics,
    Health,
}

/// What the admin endpoints act on.
pub struct AdminCtx {
    pub state: Arc<ProxyState>,
    pub log: Option<Arc<LogHandle>>,
    /// Asks the process to drain (`POST /drain`).
    pub drain_requests: mpsc::Sender<()>,
    /// The addresses each listener is bound to, for `/config_dump`.
    pub bound: serde_json::Value,
    /// The control plane connection, when there is one.
    pub discovery: Option<Arc<crate::discovery::Status>>,
}

pub async fn serve(listener: TcpListener, role: Role, ctx: Arc<AdminCtx>) {
    loop {
        let (sock, _) = match listener.accept().await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "admin accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let ctx = ctx.clone();
                async move { Ok::<_, Infallible>(route(role, &ctx, req)) }
            });
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(sock), svc)
                .await;
        });
    }
}

/// Copies each cluster's outlier detection counts into the metrics.
fn outlier_stats(ctx: &AdminCtx) {
    let snap = ctx.state.snapshot();
    for (name, c) in &snap.clusters {
        if let Some(d) = &c.outlier {
            let (active, total) = (d.ejections_active(), d.ejections_total());
            ctx.state.metrics.outlier_detection(name, active, total);
        }
    }
}

fn route(role: Role, ctx: &AdminCtx, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    match (role, req.method(), path) {
        (Role::Metrics | Role::Admin, &Method::GET, "/stats/prometheus" | "/metrics") => {
            reply(StatusCode::OK, OPENMETRICS_CONTENT_TYPE, {
                outlier_stats(ctx);
                ctx.state.metrics.encode()
            })
        }
        (Role::Health, &Method::GET, "/healthz/ready") | (Role::Admin, &Method::GET, "/ready") => {
            if ctx.state.is_draining() {
                text(StatusCode::SERVICE_UNAVAILABLE, "DRAINING\n")
            } else if ctx.state.is_awaiting_config() {
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "AWAITING CONFIG from the control plane\n",
                )
            } else {
                text(StatusCode::OK, "LIVE\n")
            }
        }
        (Role::Admin, &Method::GET, "/live") => text(StatusCode::OK, "LIVE\n"),
        (Role::Admin, &Method::GET, "/config_dump") => config_dump(ctx),
        (Role::Admin, &Method::GET, "/logging") => match &ctx.log {
            Some(log) => text(StatusCode::OK, format!("{}\n", log.current())),
            None => text(
                StatusCode::NOT_IMPLEMENTED,
                "this process does not manage logging\n",
            ),
        },
        (Role::Admin, &Method::POST, "/logging") => set_logging(ctx, req.uri().query()),
        (Role::Admin, &Method::POST, "/drain") => {
            let _ = ctx.drain_requests.try_send(());
            text(StatusCode::OK, "draining\n")
        }
        (Role::Admin, &Method::GET, "/") => text(
            StatusCode::OK,
            "weft-proxy admin\n  GET  /ready /live /config_dump /logging /stats/prometheus\n  POST /logging?level=<filter> /drain\n",
        ),
        (_, m, _) if m != Method::GET && m != Method::POST => {
            text(StatusCode::METHOD_NOT_ALLOWED, "use GET or POST\n")
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "not found; GET / lists the endpoints\n",
        ),
    }
}

fn config_dump(ctx: &AdminCtx) -> Response<Full<Bytes>> {
    let snap = ctx.state.snapshot();
    let dump = serde_json::json!({
        "config": &*snap.config,
        "bound_addresses": ctx.bound,
        "draining": ctx.state.is_draining(),
        "control_plane": ctx.discovery.as_ref().map(|d| d.report()),
    });
    match serde_json::to_string_pretty(&dump) {
        Ok(body) => reply(StatusCode::OK, "application/json", body),
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode config: {e}\n"),
        ),
    }
}

fn set_logging(ctx: &AdminCtx, query: Option<&str>) -> Response<Full<Bytes>> {
    let Some(log) = &ctx.log else {
        return text(
            StatusCode::NOT_IMPLEMENTED,
            "this process does not manage logging\n",
        );
    };
    let level = query
        .unwrap_or_default()
        .split('&')
        .find_map(|kv| kv.strip_prefix("level="));
    let Some(level) = level.filter(|l| !l.is_empty()) else {
        return text(
            StatusCode::BAD_REQUEST,
            "missing ?level=, e.g. POST /logging?level=debug\n",
        );
    };
    let level = percent_decode(level);
    match log.set(&level) {
        Ok(()) => {
            tracing::info!(level = %level, "log level changed");
            text(StatusCode::OK, format!("log level set to {level}\n"))
        }
        Err(e) => text(StatusCode::BAD_REQUEST, format!("{e}\n")),
    }
}

/// Enough percent-decoding for filter directives (`warn%2Cweft_proxy%3Ddebug`).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, ..) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn text(status: StatusCode, body: impl Into<String>) -> Response<Full<Bytes>> {
    reply(status, "text/plain; charset=utf-8", body.into())
}

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut rsp = Response::new(Full::new(Bytes::from(body)));
    *rsp.status_mut() = status;
    rsp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    rsp
}

#[cfg(test)]
mod tests {
    #[test]
    fn percent_decoding() {
        assert_eq!(
            super::percent_decode("warn%2Cweft_proxy%3Ddebug"),
            "warn,weft_proxy=debug"
        );
        assert_eq!(super::percent_decode("debug"), "debug");
        assert_eq!(super::percent_decode("bad%zz"), "bad%zz");
    }
}
