//! A frontend app: answers each request by calling a backend (through its
//! sidecar when given one) and wrapping the backend's answer.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, Uri, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

use crate::call::Caller;

/// Headers a mesh app must copy from its request to its outgoing calls so
/// traces and user identity follow the request (as Istio's samples do):
/// W3C Trace Context and every B3 header, `x-b3-flags` (debug) included.
pub const PROPAGATED: [&str; 10] = [
    "x-request-id",
    "traceparent",
    "tracestate",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
    "b3",
    "end-user",
];

struct Frontend {
    name: String,
    backend: Uri,
    caller: Caller,
}

pub async fn serve(listener: TcpListener, name: &str, backend: Uri, proxy: Option<SocketAddr>) {
    let app = Arc::new(Frontend {
        name: name.to_string(),
        backend,
        caller: Caller::new(proxy),
    });
    loop {
        let Ok((sock, _)) = listener.accept().await else {
            continue;
        };
        let app = app.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(app.handle(req).await) }
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(sock), svc)
                .await;
        });
    }
}

impl Frontend {
    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let headers: Vec<(&str, &str)> = PROPAGATED
            .iter()
            .filter_map(|h| Some((*h, req.headers().get(*h)?.to_str().ok()?)))
            .collect();
        let (status, body) = match self
            .caller
            .get(&self.backend, &headers, Duration::from_secs(5))
            .await
        {
            Ok(r) => {
                let backend: serde_json::Value = serde_json::from_slice(&r.body)
                    .unwrap_or_else(|_| String::from_utf8_lossy(&r.body).into());
                let status = if r.status < 400 {
                    StatusCode::OK
                } else {
                    StatusCode::BAD_GATEWAY
                };
                (
                    status,
                    serde_json::json!({ "frontend": self.name, "backend_status": r.status, "backend": backend }),
                )
            }
            Err(e) => (
                StatusCode::BAD_GATEWAY,
                serde_json::json!({ "frontend": self.name, "error": format!("calling {}: {e}", self.backend) }),
            ),
        };
        let mut rsp = Response::new(Full::new(Bytes::from(format!("{body}\n"))));
        *rsp.status_mut() = status;
        rsp.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
        rsp
    }
}
