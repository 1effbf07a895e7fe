//! Access logs: one JSON line per request, with Envoy's default fields as
//! Istio's JSON encoding names them (`start_time`, `method`, `path`,
//! `protocol`, `response_code`, `response_flags`, `bytes_received`,
//! `bytes_sent`, `duration`, `upstream_host`, `upstream_cluster`,
//! `x_forwarded_for`, `user_agent`, `request_id`, `authority`,
//! `downstream_remote_address`, `route_name`), plus the peers' identities
//! and the trace id.
//!
//! Off, a request pays one `Option` check. On, what a line needs is kept
//! from the request, the line is formatted when the exchange ends, and a
//! writer task appends it; a full queue drops lines (counted) rather than
//! hold a request.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use http::Request;
use serde::Serialize;
use tokio::sync::mpsc;
use weft_proto::config::AccessLog;

use super::RequestLabels;

/// Lines queued for the writer at most.
const QUEUE: usize = 4096;

/// Writes access log lines for one config.
#[derive(Debug)]
pub struct AccessLogger {
    config: AccessLog,
    tx: mpsc::Sender<String>,
    dropped: Arc<AtomicU64>,
}

/// What a line needs from the request, kept while logging is on.
#[derive(Debug)]
pub struct Pending {
    start_time: SystemTime,
    method: String,
    path: String,
    protocol: &'static str,
    authority: String,
    user_agent: String,
    request_id: String,
    x_forwarded_for: String,
    trace_id: String,
    upstream_host: String,
    upstream_cluster: String,
}

#[derive(Serialize)]
struct Line<'a> {
    start_time: String,
    method: &'a str,
    path: &'a str,
    protocol: &'a str,
    response_code: u16,
    response_flags: String,
    bytes_received: u64,
    bytes_sent: u64,
    duration: u128,
    upstream_host: &'a str,
    upstream_cluster: &'a str,
    x_forwarded_for: &'a str,
    user_agent: &'a str,
    request_id: &'a str,
    authority: &'a str,
    downstream_remote_address: String,
    route_name: &'a str,
    source_principal: &'a str,
    destination_principal: &'a str,
    source_workload: &'a str,
    destination_workload: &'a str,
    destination_service: &'a str,
    trace_id: &'a str,
}

// === impl AccessLogger ===

impl AccessLogger {
    /// The logger for `config`: `prev` while its config holds, else a new
    /// writer thread (file writes block; they stay off the runtime).
    /// `None` when the thread cannot start.
    pub fn build(config: &AccessLog, prev: Option<&Arc<AccessLogger>>) -> Option<Arc<Self>> {
        if let Some(p) = prev.filter(|p| p.config == *config) {
            return Some(p.clone());
        }
        let (tx, rx) = mpsc::channel(QUEUE);
        let path = config.path.clone();
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write(&path, rx))
            .inspect_err(|e| tracing::error!("access log off: cannot start its writer: {e}"))
            .ok()?;
        Some(Arc::new(Self {
            config: config.clone(),
            tx,
            dropped: Arc::default(),
        }))
    }

    /// Keeps what the line needs from `req`.
    pub fn start<B>(&self, req: &Request<B>) -> Box<Pending> {
        let h = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let traceparent = h("traceparent");
        Box::new(Pending {
            start_time: SystemTime::now(),
            method: req.method().to_string(),
            path: req
                .uri()
                .path_and_query()
                .map_or_else(|| req.uri().path().to_string(), |p| p.to_string()),
            protocol: match req.version() {
                http::Version::HTTP_2 => "HTTP/2",
                http::Version::HTTP_10 => "HTTP/1.0",
                _ => "HTTP/1.1",
            },
            authority: crate::http::authority_of(req).unwrap_or("").to_string(),
            user_agent: h("user-agent"),
            request_id: h("x-request-id"),
            x_forwarded_for: h("x-forwarded-for"),
            // `00-<trace id>-<span id>-<flags>`.
            trace_id: traceparent.get(3..35).unwrap_or("").to_string(),
            upstream_host: String::new(),
            upstream_cluster: String::new(),
        })
    }

    /// Formats and queues the line of a finished request.
    pub fn finish(
        &self,
        p: &Pending,
        labels: &RequestLabels,
        duration: Duration,
        bytes: (u64, u64),
        peer: std::net::SocketAddr,
    ) {
        fn principal(s: &str) -> &str {
            if s == "unknown" { "" } else { s }
        }
        let line = Line {
            start_time: rfc3339(p.start_time),
            method: &p.method,
            path: &p.path,
            protocol: p.protocol,
            response_code: labels.response_code,
            response_flags: labels.response_flags.to_string(),
            bytes_received: bytes.0,
            bytes_sent: bytes.1,
            duration: duration.as_millis(),
            upstream_host: &p.upstream_host,
            upstream_cluster: &p.upstream_cluster,
            x_forwarded_for: &p.x_forwarded_for,
            user_agent: &p.user_agent,
            request_id: &p.request_id,
            authority: &p.authority,
            downstream_remote_address: peer.to_string(),
            route_name: "",
            source_principal: principal(&labels.source.principal),
            destination_principal: principal(&labels.destination.principal),
            source_workload: &labels.source.workload,
            destination_workload: &labels.destination.workload,
            destination_service: &labels.service.service,
            trace_id: &p.trace_id,
        };
        let Ok(mut text) = serde_json::to_string(&line) else {
            return;
        };
        text.push('\n');
        if self.tx.try_send(text).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(dropped = n, path = %self.config.path, "access log lines dropped: the writer cannot keep up");
            }
        }
    }
}

// === impl Pending ===

impl Pending {
    pub fn set_upstream(&mut self, host: std::net::SocketAddr, cluster: &str) {
        self.upstream_host = host.to_string();
        self.upstream_cluster = cluster.to_string();
    }
}

/// Appends lines to `path` until every sender is gone (the config that
/// named it was replaced).
fn write(path: &str, mut rx: mpsc::Receiver<String>) {
    use std::io::Write;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path);
    let mut file = match file {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(%path, "access log off: cannot open the file: {e}");
            return;
        }
    };
    while let Some(line) = rx.blocking_recv() {
        let mut batch = line;
        while let Ok(more) = rx.try_recv() {
            batch.push_str(&more);
            if batch.len() > 64 * 1024 {
                break;
            }
        }
        if let Err(e) = file.write_all(batch.as_bytes()).and_then(|()| file.flush()) {
            tracing::error!(%path, "access log write failed: {e}");
        }
    }
}

/// `2026-11-23T21:07:36.123Z`, Envoy's `%START_TIME%` in UTC.
fn rfc3339(t: SystemTime) -> String {
    let d = time::OffsetDateTime::from(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        d.year(),
        u8::from(d.month()),
        d.day(),
        d.hour(),
        d.minute(),
        d.second(),
        d.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_times_are_utc_rfc3339() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_468_056_123);
        assert_eq!(rfc3339(t), "2026-11-23T21:07:36.123Z");
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }
}
