//! An HTTP client for the sample apps that can send every request through
//! an explicit proxy (the app's sidecar), as apps do with `HTTP_PROXY`.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Uri};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A pooled HTTP/1.1 client.
#[derive(Clone)]
pub enum Caller {
    Direct(Client<HttpConnector, Empty<Bytes>>),
    Proxied(Client<ProxyConnector, Empty<Bytes>>),
}

/// Connects every request to the proxy, whatever host the URI names.
#[derive(Clone)]
pub struct ProxyConnector(SocketAddr);

/// What a call returned.
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
}

impl Caller {
    pub fn new(proxy: Option<SocketAddr>) -> Self {
        let builder = Client::builder(TokioExecutor::new());
        match proxy {
            Some(addr) => Self::Proxied(builder.build(ProxyConnector(addr))),
            None => Self::Direct(builder.build(HttpConnector::new())),
        }
    }

    /// GETs `uri` with extra headers, within `timeout`.
    pub async fn get(
        &self,
        uri: &Uri,
        headers: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<Reply, BoxError> {
        let mut req = Request::get(uri.clone());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Empty::new())?;
        let call = async {
            let rsp = match self {
                Self::Direct(c) => c.request(req).await?,
                Self::Proxied(c) => c.request(req).await?,
            };
            let status = rsp.status().as_u16();
            let body = rsp.into_body().collect().await?.to_bytes();
            Ok::<_, BoxError>(Reply { status, body })
        };
        tokio::time::timeout(timeout, call)
            .await
            .map_err(|_| format!("no answer from {uri} within {timeout:?}"))?
    }
}

impl tower::Service<Uri> for ProxyConnector {
    type Response = TokioIo<TcpStream>;
    type Error = std::io::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = std::io::Result<Self::Response>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Self::Future {
        let addr = self.0;
        Box::pin(async move {
            let s = TcpStream::connect(addr).await?;
            let _ = s.set_nodelay(true);
            Ok(TokioIo::new(s))
        })
    }
}
