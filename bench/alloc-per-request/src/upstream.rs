//! The app behind the proxy: HTTP/1.1 on 127.0.0.1:0, reading each
//! request's body and answering 200 with a fixed 1 KiB body (as the
//! data-plane benchmark's `GET /bytes/1024`). It does the same work
//! whether a proxy is in front or not, so it cancels out of the
//! whole-process cross-check.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::Error;

static BODY: [u8; 1024] = [b'w'; 1024];

/// Binds, then serves on the current runtime until it is dropped.
pub async fn start() -> Result<SocketAddr, Error> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let _ = sock.set_nodelay(true);
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(sock), service_fn(answer));
            tokio::spawn(conn);
        }
    });
    Ok(addr)
}

async fn answer(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    // Read the body so a POST's bytes really travel.
    let _ = req.into_body().collect().await;
    Ok(Response::new(Full::new(Bytes::from_static(&BODY))))
}
