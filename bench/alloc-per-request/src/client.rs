//! The app calling through the proxy: one HTTP/1.1 keep-alive connection,
//! requests sent one after another.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::Error;

/// What each request of a scenario looks like.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub method: &'static str,
    /// Sent with `content-length`; empty: no body.
    pub body: &'static [u8],
}

/// One connection to the proxy (or straight to the upstream).
pub struct Client {
    send: SendRequest<Full<Bytes>>,
    host: &'static str,
}

// === impl Client ===

impl Client {
    pub async fn connect(addr: SocketAddr, host: &'static str) -> Result<Self, Error> {
        let sock = TcpStream::connect(addr).await?;
        sock.set_nodelay(true)?;
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(sock)).await?;
        tokio::spawn(conn);
        Ok(Self { send, host })
    }

    /// Sends `n` requests, each after the previous response's body has
    /// been read; fails on the first answer that is not 200 with 1 KiB.
    pub async fn run(&mut self, shape: Shape, n: u64) -> Result<(), Error> {
        let method = Method::from_bytes(shape.method.as_bytes())?;
        for i in 0..n {
            let req = Request::builder()
                .method(method.clone())
                .uri("/bytes/1024")
                .header(http::header::HOST, self.host)
                .body(Full::new(Bytes::from_static(shape.body)))?;
            self.send.ready().await?;
            let rsp = self.send.send_request(req).await?;
            let status = rsp.status();
            let body = rsp.into_body().collect().await?.to_bytes();
            if status != StatusCode::OK || body.len() != 1024 {
                return Err(format!(
                    "request {i}: {status} with {} bytes: {}",
                    body.len(),
                    String::from_utf8_lossy(&body)
                )
                .into());
            }
        }
        Ok(())
    }
}
