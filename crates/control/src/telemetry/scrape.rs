//! The scrape loop: every interval, GET `/metrics` from every connected
//! proxy that said where it serves them (`Node.metrics_address`), all at
//! once, each bounded by a timeout so one stuck proxy delays nothing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::{Scraped, Telemetry};
use crate::server::Registry;

/// The largest metrics page read; a proxy with more series is cut off
/// (and its figures skipped for that round) rather than held in memory.
const MAX_PAGE: usize = 16 * 1024 * 1024;

/// Scrapes until `stop` turns true.
pub async fn run(
    telemetry: Arc<Telemetry>,
    registry: Arc<Registry>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(telemetry.interval());
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let timeout = telemetry.interval().min(Duration::from_secs(2));
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => return,
        }
        let mut tasks = tokio::task::JoinSet::new();
        for p in registry.list() {
            let addr = metrics_addr(&p.node.metrics_address, &p.addresses);
            tasks.spawn(async move {
                let text = match addr {
                    Some(addr) => match tokio::time::timeout(timeout, fetch(addr)).await {
                        Ok(Ok(text)) => Some(text),
                        Ok(Err(e)) => {
                            tracing::debug!(proxy = %p.id, %addr, "metrics scrape failed: {e}");
                            None
                        }
                        Err(_) => {
                            tracing::debug!(proxy = %p.id, %addr, "metrics scrape timed out");
                            None
                        }
                    },
                    None => None,
                };
                Scraped {
                    id: p.id,
                    namespace: p.namespace,
                    workload: p.workload,
                    service_account: p.node.service_account,
                    text,
                }
            });
        }
        let mut round = Vec::new();
        while let Some(done) = tasks.join_next().await {
            if let Ok(s) = done {
                round.push(s);
            }
        }
        let t = telemetry.clone();
        // Parsing pages is CPU work: off the runtime's threads.
        let _ = tokio::task::spawn_blocking(move || t.record_round(&round)).await;
    }
}

/// Where a proxy serves metrics: the address it reported, with an
/// unspecified IP (`0.0.0.0:15020`) replaced by its workload address.
pub fn metrics_addr(reported: &str, addresses: &[String]) -> Option<SocketAddr> {
    let addr: SocketAddr = reported.parse().ok()?;
    if !addr.ip().is_unspecified() {
        return Some(addr);
    }
    let ip = addresses.first()?.parse().ok()?;
    Some(SocketAddr::new(ip, addr.port()))
}

async fn fetch(addr: SocketAddr) -> Result<String, String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let req = hyper::Request::get("/metrics")
        .header(hyper::header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let rsp = send.send_request(req).await.map_err(|e| e.to_string())?;
    if !rsp.status().is_success() {
        return Err(format!("status {}", rsp.status()));
    }
    let body = Limited::new(rsp.into_body(), MAX_PAGE)
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    String::from_utf8(body.to_vec()).map_err(|_| "not UTF-8".to_string())
}
