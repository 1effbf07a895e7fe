//! A scripted upstream for tests that need one to fail, stall or tell
//! what it received.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use parking_lot::Mutex;
use tokio::net::TcpListener;

/// What the scripted upstream answers its `n`th request (from 0).
#[derive(Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub grpc_status: Option<u8>,
    pub delay: Duration,
}

type Script = dyn Fn(u64) -> Reply + Send + Sync;

/// An upstream that answers by script and remembers every request body.
pub struct Scripted {
    pub addr: SocketAddr,
    served: Arc<AtomicU64>,
    pub bodies: Arc<Mutex<Vec<Bytes>>>,
    /// The Host (HTTP/1) or `:authority` (HTTP/2) of each request.
    pub hosts: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Scripted {
    pub async fn start(h2: bool, script: impl Fn(u64) -> Reply + Send + Sync + 'static) -> Self {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let served = Arc::new(AtomicU64::new(0));
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let hosts = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let (count, kept, seen) = (served.clone(), bodies.clone(), hosts.clone());
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = l.accept().await {
                let (count, kept, seen, script) =
                    (count.clone(), kept.clone(), seen.clone(), script.clone());
                let svc = service_fn(move |req: Request<Incoming>| {
                    let (count, kept, seen, script) =
                        (count.clone(), kept.clone(), seen.clone(), script.clone());
                    async move {
                        let host = req
                            .headers()
                            .get("host")
                            .and_then(|h| h.to_str().ok())
                            .map(str::to_string)
                            .or_else(|| req.uri().authority().map(|a| a.to_string()))
                            .unwrap_or_default();
                        seen.lock().push(host);
                        let body = req.into_body().collect().await?.to_bytes();
                        let n = count.fetch_add(1, Ordering::SeqCst);
                        kept.lock().push(body.clone());
                        let reply = script(n);
                        tokio::time::sleep(reply.delay).await;
                        let mut rsp = Response::new(Full::new(body));
                        *rsp.status_mut() = reply.status;
                        if let Some(g) = reply.grpc_status {
                            let h = rsp.headers_mut();
                            h.insert("content-type", "application/grpc".parse().unwrap());
                            h.insert("grpc-status", g.to_string().parse().unwrap());
                        }
                        Ok::<_, hyper::Error>(rsp)
                    }
                });
                let io = TokioIo::new(sock);
                tokio::spawn(async move {
                    let _ = if h2 {
                        hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                            .serve_connection(io, svc)
                            .await
                    } else {
                        hyper::server::conn::http1::Builder::new()
                            .serve_connection(io, svc)
                            .await
                    };
                });
            }
        });
        Self {
            addr,
            served,
            bodies,
            hosts,
            task,
        }
    }

    pub fn served(&self) -> u64 {
        self.served.load(Ordering::SeqCst)
    }
}

pub fn status(code: u16) -> Reply {
    Reply {
        status: StatusCode::from_u16(code).unwrap(),
        grpc_status: None,
        delay: Duration::ZERO,
    }
}
