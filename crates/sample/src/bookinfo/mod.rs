//! A bookinfo-like application, Istio's sample rebuilt small: `productpage`
//! (HTML and a JSON API) calls `details` and `reviews`; reviews v2 and v3
//! call `ratings`. The visible behaviour follows Istio's, so its task docs
//! read true: the page names the reviews instance that served it, v1 shows
//! no stars, v2 black stars, v3 red ones, "Ratings service is currently
//! unavailable" when ratings fails and "Error fetching product reviews"
//! when reviews does.

pub mod details;
pub mod productpage;
pub mod ratings;
pub mod reviews;

use std::convert::Infallible;
use std::future::Future;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

use crate::frontend::PROPAGATED;

/// A response of the bookinfo services.
pub type Rsp = Response<Full<Bytes>>;

/// Serves `handler` on `listener` (HTTP/1.1 and h2c) until the task ends.
pub async fn serve<F, Fut>(listener: TcpListener, handler: F)
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Rsp> + Send + 'static,
{
    loop {
        let Ok((sock, _)) = listener.accept().await else {
            continue;
        };
        let _ = sock.set_nodelay(true);
        let handler = handler.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let handler = handler.clone();
                async move { Ok::<_, Infallible>(handler(req).await) }
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(sock), svc)
                .await;
        });
    }
}

pub fn json(status: StatusCode, value: &serde_json::Value) -> Rsp {
    respond(status, "application/json", format!("{value}\n"))
}

pub fn html(status: StatusCode, page: String) -> Rsp {
    respond(status, "text/html; charset=utf-8", page)
}

pub fn respond(status: StatusCode, content_type: &'static str, body: String) -> Rsp {
    let mut rsp = Response::new(Full::new(Bytes::from(body)));
    *rsp.status_mut() = status;
    rsp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    rsp
}

pub fn not_found(path: &str) -> Rsp {
    json(
        StatusCode::NOT_FOUND,
        &serde_json::json!({ "error": format!("no such page: {path}") }),
    )
}

/// The trace and user headers of `req`, to copy onto the calls it makes.
pub fn propagated<B>(req: &Request<B>) -> Vec<(&'static str, String)> {
    PROPAGATED
        .iter()
        .filter_map(|h| Some((*h, req.headers().get(*h)?.to_str().ok()?.to_string())))
        .collect()
}

/// The product id in `/<prefix>/<id>`.
pub fn product_id(path: &str, prefix: &str) -> Option<u32> {
    path.strip_prefix(prefix)?
        .strip_prefix('/')?
        .trim_end_matches('/')
        .parse()
        .ok()
}

/// Text made safe to put in HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_escaping() {
        assert_eq!(product_id("/details/0", "/details"), Some(0));
        assert_eq!(product_id("/details/7/", "/details"), Some(7));
        assert_eq!(product_id("/details/x", "/details"), None);
        assert_eq!(product_id("/detailsx/1", "/details"), None);
        assert_eq!(
            escape("<b>\"j&son'</b>"),
            "&lt;b&gt;&quot;j&amp;son&#39;&lt;/b&gt;"
        );
    }

    /// Every W3C and B3 trace header goes on to the next call, so the
    /// proxies' spans join into one trace (Istio's bookinfo does the same).
    #[test]
    fn trace_headers_are_propagated() {
        let trace = [
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("tracestate", "a=b"),
            ("x-b3-traceid", "4bf92f3577b34da6a3ce929d0e0e4736"),
            ("x-b3-spanid", "00f067aa0ba902b7"),
            ("x-b3-parentspanid", "05e3ac9a4f6e3b90"),
            ("x-b3-sampled", "1"),
            ("x-b3-flags", "1"),
            ("b3", "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"),
            ("x-request-id", "r1"),
        ];
        let mut req = Request::get("/reviews/0");
        for (k, v) in trace {
            req = req.header(k, v);
        }
        let req = req.header("x-unrelated", "no").body(()).unwrap();
        let out = propagated(&req);
        for (k, v) in trace {
            assert!(
                out.iter().any(|(ok, ov)| *ok == k && ov == v),
                "{k} not propagated"
            );
        }
        assert!(!out.iter().any(|(k, _)| *k == "x-unrelated"));
    }
}
