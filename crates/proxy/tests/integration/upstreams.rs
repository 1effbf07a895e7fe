//! Upstreams that count what reaches them, for circuit breaker and outlier
//! detection tests: every answer has one status, and may be held until the
//! test lets it go.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// An HTTP/1.1 and HTTP/2 (prior knowledge) server answering every
/// request with `status` and the caller's address, counting connections
/// and requests.
pub struct Counting {
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    gate: Arc<Semaphore>,
    task: tokio::task::JoinHandle<()>,
}

impl Counting {
    /// Answers at once.
    pub async fn start(status: u16) -> Self {
        let s = Self::held(status).await;
        s.release();
        s
    }

    /// Holds every answer until [`Counting::release`].
    pub async fn held(status: u16) -> Self {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(Semaphore::new(0));
        let (conns, reqs, g) = (connections.clone(), requests.clone(), gate.clone());
        let task = tokio::spawn(async move {
            while let Ok((sock, peer)) = l.accept().await {
                conns.fetch_add(1, Ordering::SeqCst);
                let (reqs, g) = (reqs.clone(), g.clone());
                let svc = service_fn(move |_req| {
                    reqs.fetch_add(1, Ordering::SeqCst);
                    let g = g.clone();
                    async move {
                        // A closed gate lets everyone through.
                        let _ = g.acquire().await;
                        let mut rsp = Response::new(Full::new(Bytes::from(peer.to_string())));
                        *rsp.status_mut() = StatusCode::from_u16(status).unwrap();
                        Ok::<_, Infallible>(rsp)
                    }
                });
                tokio::spawn(async move {
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(sock), svc)
                        .await;
                });
            }
        });
        Self {
            addr,
            connections,
            requests,
            gate,
            task,
        }
    }

    /// Answers everything held, and from now on at once.
    pub fn release(&self) {
        self.gate.close();
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for Counting {
    fn drop(&mut self) {
        self.task.abort();
    }
}
