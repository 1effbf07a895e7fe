//! An HTTP echo server (HTTP/1.1 and HTTP/2 prior knowledge on one port)
//! that reports who called and how, plus endpoints that exercise what a
//! proxy must pass through intact:
//!
//! | path              | answer                                                   |
//! |-------------------|----------------------------------------------------------|
//! | `/status/{code}`  | that status                                              |
//! | `/delay/{ms}`     | 200 after a delay                                        |
//! | `/bytes/{n}`      | `n` bytes, streamed in 64 KiB chunks                     |
//! | `/echo`           | the request body (and trailers) streamed straight back   |
//! | `/sink`           | reads the whole body: `bytes=<n> sum=<byte sum>`         |
//! | `/trailers`       | a body followed by trailers `x-trailer: done`            |
//! | `/upgrade`        | `101` with `Upgrade: echo`, then echoes raw bytes        |
//! | anything else     | JSON describing the request                              |

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

/// Response body of the echo server.
pub type EchoBody = http_body_util::combinators::BoxBody<Bytes, hyper::Error>;

/// Serves HTTP on `listener` forever, answering as `name`.
pub async fn serve(listener: TcpListener, name: &str) {
    let name: Arc<str> = Arc::from(name);
    loop {
        let Ok((sock, peer)) = listener.accept().await else {
            continue;
        };
        let _ = sock.set_nodelay(true);
        let name = name.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let name = name.clone();
                async move { Ok::<_, Infallible>(handle(&name, peer, req).await) }
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(TokioIo::new(sock), svc)
                .await;
        });
    }
}

async fn handle(name: &str, peer: SocketAddr, mut req: Request<Incoming>) -> Response<EchoBody> {
    let path = req.uri().path().to_string();
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    match (parts.next().unwrap_or_default(), parts.next()) {
        ("status", Some(code)) => {
            let status = code.parse().ok().and_then(|c| StatusCode::from_u16(c).ok());
            let status = status.unwrap_or(StatusCode::BAD_REQUEST);
            text(status, format!("{name}: status {}\n", status.as_u16()))
        }
        ("delay", Some(ms)) => {
            let ms: u64 = ms.parse().unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            text(StatusCode::OK, format!("{name}: waited {ms}ms\n"))
        }
        ("bytes", Some(n)) => {
            let n: u64 = n.parse().unwrap_or(0);
            let mut rsp = Response::new(BodyExt::boxed(Pattern { remaining: n }));
            rsp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            rsp
        }
        ("echo", None) => {
            // HTTP/1.1 sends only trailers the message declared up front.
            let declared = req.headers().get(header::TRAILER).cloned();
            let mut rsp = Response::new(req.into_body().boxed());
            if let Some(t) = declared {
                rsp.headers_mut().insert(header::TRAILER, t);
            }
            rsp.headers_mut().insert(
                "x-echoed-by",
                HeaderValue::from_str(name).unwrap_or(HeaderValue::from_static("echo")),
            );
            rsp
        }
        ("sink", None) => {
            let mut body = req.into_body();
            let (mut n, mut sum) = (0u64, 0u64);
            while let Some(frame) = body.frame().await {
                match frame {
                    Ok(f) => {
                        if let Some(d) = f.data_ref() {
                            n += d.len() as u64;
                            sum = d.iter().fold(sum, |s, b| s.wrapping_add(*b as u64));
                        }
                    }
                    Err(e) => return text(StatusCode::BAD_REQUEST, format!("body error: {e}\n")),
                }
            }
            text(StatusCode::OK, format!("bytes={n} sum={sum}\n"))
        }
        ("trailers", None) => {
            let mut trailers = HeaderMap::new();
            trailers.insert("x-trailer", HeaderValue::from_static("done"));
            let frames = vec![
                Ok(Frame::data(Bytes::from_static(b"body before trailers\n"))),
                Ok(Frame::trailers(trailers)),
            ];
            let body = http_body_util::StreamBody::new(tokio_stream::iter(frames));
            let mut rsp = Response::new(BodyExt::boxed(body));
            rsp.headers_mut()
                .insert(header::TRAILER, HeaderValue::from_static("x-trailer"));
            rsp
        }
        ("upgrade", None) => upgrade(req),
        _ => describe(name, peer, &mut req),
    }
}

fn describe(name: &str, peer: SocketAddr, req: &mut Request<Incoming>) -> Response<EchoBody> {
    let headers: serde_json::Map<String, serde_json::Value> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
        .collect();
    let host = req.uri().authority().map(|a| a.to_string()).or_else(|| {
        req.headers()
            .get(header::HOST)
            .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned())
    });
    let body = serde_json::json!({
        "service": name,
        "method": req.method().as_str(),
        "path": req.uri().path(),
        "query": req.uri().query(),
        "version": format!("{:?}", req.version()),
        "host": host,
        "peer": peer.to_string(),
        "headers": headers,
    });
    let mut rsp = text(StatusCode::OK, format!("{body}\n"));
    rsp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    rsp
}

fn upgrade(req: Request<Incoming>) -> Response<EchoBody> {
    if !req.headers().contains_key(header::UPGRADE) {
        return text(
            StatusCode::BAD_REQUEST,
            "send Connection: upgrade and Upgrade: echo\n".into(),
        );
    }
    let on_upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        if let Ok(upgraded) = on_upgrade.await {
            let io = TokioIo::new(upgraded);
            let (mut r, mut w) = tokio::io::split(io);
            let _ = tokio::io::copy(&mut r, &mut w).await;
            let _ = tokio::io::AsyncWriteExt::shutdown(&mut w).await;
        }
    });
    let mut rsp = Response::new(empty());
    *rsp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    rsp.headers_mut()
        .insert(header::UPGRADE, HeaderValue::from_static("echo"));
    rsp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    rsp
}

fn text(status: StatusCode, body: String) -> Response<EchoBody> {
    let mut rsp = Response::new(
        http_body_util::Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed(),
    );
    *rsp.status_mut() = status;
    rsp
}

fn empty() -> EchoBody {
    http_body_util::Empty::new()
        .map_err(|never| match never {})
        .boxed()
}

/// `n` bytes of a repeating pattern, produced lazily in 64 KiB chunks so
/// memory stays flat whatever `n` is.
struct Pattern {
    remaining: u64,
}

const CHUNK: &[u8; 64 * 1024] = &{
    let mut buf = [0u8; 64 * 1024];
    let mut i = 0;
    while i < buf.len() {
        buf[i] = (i % 251) as u8;
        i += 1;
    }
    buf
};

impl Body for Pattern {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let n = self.remaining.min(CHUNK.len() as u64) as usize;
        self.remaining -= n as u64;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&CHUNK[..n])))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// The byte sum `/sink` reports for `n` bytes of `/bytes/{n}`'s pattern.
pub fn pattern_sum(n: u64) -> u64 {
    let chunk_sum: u64 = CHUNK.iter().map(|b| *b as u64).sum();
    let full = n / CHUNK.len() as u64;
    let rest: u64 = CHUNK[..(n % CHUNK.len() as u64) as usize]
        .iter()
        .map(|b| *b as u64)
        .sum();
    full * chunk_sum + rest
}
