//! Minimal HTTP clients on raw hyper connections, so tests control the
//! exact protocol, target form and headers the proxy sees.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode, Version};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Body = BoxBody<Bytes, BoxError>;

pub fn empty() -> Body {
    Empty::new().map_err(|e| match e {}).boxed()
}

pub fn full(data: impl Into<Bytes>) -> Body {
    Full::new(data.into()).map_err(|e| match e {}).boxed()
}

/// An HTTP/1.1 connection.
pub async fn h1(addr: SocketAddr) -> http1::SendRequest<Body> {
    let io = TokioIo::new(TcpStream::connect(addr).await.unwrap());
    let (tx, conn) = http1::handshake(io).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    tx
}

/// An HTTP/2 prior-knowledge (h2c) connection.
pub async fn h2(addr: SocketAddr) -> http2::SendRequest<Body> {
    let io = TokioIo::new(TcpStream::connect(addr).await.unwrap());
    let (tx, conn) = http2::handshake(TokioExecutor::new(), io).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    tx
}

/// A collected response.
#[derive(Debug)]
pub struct Collected {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub trailers: Option<HeaderMap>,
}

impl Collected {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

pub async fn collect(rsp: Response<Incoming>) -> Collected {
    let (parts, body) = rsp.into_parts();
    let collected = body.collect().await.unwrap();
    let trailers = collected.trailers().cloned();
    Collected {
        status: parts.status,
        headers: parts.headers,
        body: collected.to_bytes(),
        trailers,
    }
}

/// GET `path` on a fresh connection with the given version and Host.
pub async fn get(addr: SocketAddr, version: Version, host: &str, path: &str) -> Collected {
    let rsp = if version == Version::HTTP_2 {
        let req = Request::get(format!("http://{host}{path}"))
            .body(empty())
            .unwrap();
        h2(addr).await.send_request(req).await.unwrap()
    } else {
        let req = Request::get(path)
            .header("host", host)
            .body(empty())
            .unwrap();
        h1(addr).await.send_request(req).await.unwrap()
    };
    collect(rsp).await
}
