//! Access logs: one JSON line per request, with Envoy's default fields as
//! Istio's JSON encoding names them (`start_time`, `method`, `path`,
//! `protocol`, `response_code`, `response_flags`, `bytes_received`,
//! `bytes_sent`, `duration`, `upstream_host`, `upstream_cluster`,
//! `x_forwarded_for`, `user_agent`, `request_id`, `authority`,
//! `downstream_remote_address`, `route_name`), plus the peers' identities
//! and the trace id.
//!
//! Off, a request pays one `Option` check. On, the request keeps what its
//! line needs as it came (the URI and header values are reference-counted
//! clones, not copies), and when the exchange ends it moves that, with the
//! outcome, to a writer thread, which formats the JSON and appends it, once
//! a second or when 256 lines are waiting (as Envoy flushes its access log
//! files). The request path neither formats nor writes; a full queue drops
//! lines (counted) rather than hold a request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use http::header::{HOST, HeaderValue, USER_AGENT};
use http::{Method, Request, Uri, Version};
use serde::Serialize;
use tokio::sync::mpsc;
use weft_proto::config::AccessLog;

use super::{PeerLabels, RequestLabels, ServiceLabels};
use crate::errors::ResponseFlags;

/// Lines queued for the writer at most.
const QUEUE: usize = 4096;
/// The writer appends once this much is formatted, or the queue is empty.
const WRITE_BYTES: usize = 64 * 1024;
/// The writer wakes this often to write what is queued (Envoy's
/// `file_flush_interval_msec` default)...
const FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// ...or when this many lines are queued (about 100 KiB of them). Waking
/// the writer for every line cost two system calls a request (`perf`,
/// BENCHMARKS.md); this is one per 256.
const WAKE_AT: usize = 256;

/// Writes access log lines for one config.
#[derive(Debug)]
pub struct AccessLogger {
    config: AccessLog,
    tx: mpsc::Sender<Finished>,
    /// Lines queued, counted before they are sent (so never below the
    /// queue's length); the writer takes out what it has written.
    queued: Arc<AtomicUsize>,
    writer: std::thread::Thread,
    dropped: Arc<AtomicU64>,
}

/// What a line needs from the request, kept while logging is on.
#[derive(Debug)]
pub struct Pending {
    start_time: SystemTime,
    method: Method,
    uri: Uri,
    version: Version,
    host: Option<HeaderValue>,
    user_agent: Option<HeaderValue>,
    request_id: Option<HeaderValue>,
    x_forwarded_for: Option<HeaderValue>,
    traceparent: Option<HeaderValue>,
    /// The endpoint and cluster picked, once routed.
    upstream: Option<(SocketAddr, Arc<str>)>,
}

/// A finished request's line, unformatted, on its way to the writer.
struct Finished {
    request: Box<Pending>,
    response_code: u16,
    response_flags: ResponseFlags,
    bytes_received: u64,
    bytes_sent: u64,
    duration: Duration,
    peer: SocketAddr,
    source: Arc<PeerLabels>,
    destination: Arc<PeerLabels>,
    service: Arc<ServiceLabels>,
}

/// The JSON line; field order is the output's.
#[derive(Serialize)]
struct Line<'a> {
    start_time: String,
    method: &'a str,
    path: String,
    protocol: &'a str,
    response_code: u16,
    response_flags: String,
    bytes_received: u64,
    bytes_sent: u64,
    duration: u128,
    upstream_host: String,
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
        let queued = Arc::new(AtomicUsize::new(0));
        let taken = queued.clone();
        let writer = std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write(&path, rx, &taken))
            .inspect_err(|e| tracing::error!("access log off: cannot start its writer: {e}"))
            .ok()?;
        Some(Arc::new(Self {
            config: config.clone(),
            tx,
            queued,
            writer: writer.thread().clone(),
            dropped: Arc::default(),
        }))
    }

    /// Writes the lines queued now, and whether all of them are in the
    /// file by `deadline`: the proxy is shutting down.
    pub async fn flush(&self, deadline: tokio::time::Instant) -> bool {
        self.writer.unpark();
        super::until(deadline, || self.queued.load(Ordering::Acquire) == 0).await
    }

    /// Keeps what the line needs from `req`.
    pub fn start<B>(&self, req: &Request<B>) -> Box<Pending> {
        Pending::of(req)
    }

    /// Queues the line of a finished request for the writer to format.
    pub fn finish(
        &self,
        request: Box<Pending>,
        labels: &RequestLabels,
        duration: Duration,
        bytes: (u64, u64),
        peer: SocketAddr,
    ) {
        let line = Finished {
            request,
            response_code: labels.response_code,
            response_flags: labels.response_flags,
            bytes_received: bytes.0,
            bytes_sent: bytes.1,
            duration,
            peer,
            source: labels.source.clone(),
            destination: labels.destination.clone(),
            service: labels.service.clone(),
        };
        let queued = self.queued.fetch_add(1, Ordering::AcqRel) + 1;
        if self.tx.try_send(line).is_ok() {
            if queued == WAKE_AT {
                self.writer.unpark();
            }
        } else {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(dropped = n, path = %self.config.path, "access log lines dropped: the writer cannot keep up");
            }
        }
    }
}

// === impl Pending ===

impl Pending {
    /// One allocation: the URI and header values clone as reference
    /// counts on the buffers they were parsed into, not as copies.
    fn of<B>(req: &Request<B>) -> Box<Self> {
        let h = |name: &str| req.headers().get(name).cloned();
        Box::new(Pending {
            start_time: SystemTime::now(),
            method: req.method().clone(),
            uri: req.uri().clone(),
            version: req.version(),
            host: req.headers().get(HOST).cloned(),
            user_agent: req.headers().get(USER_AGENT).cloned(),
            request_id: h("x-request-id"),
            x_forwarded_for: h("x-forwarded-for"),
            traceparent: h("traceparent"),
            upstream: None,
        })
    }

    pub fn set_upstream(&mut self, host: SocketAddr, cluster: &Arc<str>) {
        self.upstream = Some((host, cluster.clone()));
    }
}

// === impl Finished ===

impl Finished {
    /// Appends the JSON line and its newline to `out`.
    fn format(&self, out: &mut Vec<u8>) {
        fn principal(s: &str) -> &str {
            if s == "unknown" { "" } else { s }
        }
        // A header that is not visible ASCII logs as empty, as Envoy's `-`
        // would be; a missing one too.
        fn text(v: Option<&HeaderValue>) -> &str {
            v.and_then(|v| v.to_str().ok()).unwrap_or("")
        }
        let p = &self.request;
        let uri = &p.uri;
        let (upstream_host, upstream_cluster) = match &p.upstream {
            Some((host, cluster)) => (host.to_string(), &**cluster),
            None => (String::new(), ""),
        };
        let line = Line {
            start_time: rfc3339(p.start_time),
            method: p.method.as_str(),
            path: uri
                .path_and_query()
                .map_or_else(|| uri.path().to_string(), |p| p.to_string()),
            protocol: match p.version {
                Version::HTTP_2 => "HTTP/2",
                Version::HTTP_10 => "HTTP/1.0",
                _ => "HTTP/1.1",
            },
            response_code: self.response_code,
            response_flags: self.response_flags.to_string(),
            bytes_received: self.bytes_received,
            bytes_sent: self.bytes_sent,
            duration: self.duration.as_millis(),
            upstream_host,
            upstream_cluster,
            x_forwarded_for: text(p.x_forwarded_for.as_ref()),
            user_agent: text(p.user_agent.as_ref()),
            request_id: text(p.request_id.as_ref()),
            authority: crate::http::authority_in(uri, p.host.as_ref()).unwrap_or(""),
            downstream_remote_address: self.peer.to_string(),
            route_name: "",
            source_principal: principal(&self.source.principal),
            destination_principal: principal(&self.destination.principal),
            source_workload: &self.source.workload,
            destination_workload: &self.destination.workload,
            destination_service: &self.service.service,
            // `00-<trace id>-<span id>-<flags>`.
            trace_id: text(p.traceparent.as_ref()).get(3..35).unwrap_or(""),
        };
        let at = out.len();
        match serde_json::to_writer(&mut *out, &line) {
            Ok(()) => out.push(b'\n'),
            // Not a whole line: none of it.
            Err(_) => out.truncate(at),
        }
    }
}

/// Formats and appends lines to `path`, every `FLUSH_INTERVAL` or when
/// woken, until every sender is gone (the config that named it was
/// replaced).
fn write(path: &str, mut rx: mpsc::Receiver<Finished>, queued: &AtomicUsize) {
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
    let mut buf = Vec::with_capacity(WRITE_BYTES);
    loop {
        // An `unpark` that came while writing makes this return at once.
        std::thread::park_timeout(FLUSH_INTERVAL);
        let mut closed = false;
        let mut taken = 0;
        loop {
            match rx.try_recv() {
                Ok(line) => {
                    taken += 1;
                    line.format(&mut buf);
                    if buf.len() < WRITE_BYTES {
                        continue;
                    }
                }
                Err(mpsc::error::TryRecvError::Empty) => {}
                Err(mpsc::error::TryRecvError::Disconnected) => closed = true,
            }
            if !buf.is_empty() {
                if let Err(e) = file.write_all(&buf).and_then(|()| file.flush()) {
                    tracing::error!(%path, "access log write failed: {e}");
                }
                buf.clear();
            }
            // Only now: a flush waits until its lines are in the file.
            queued.fetch_sub(std::mem::take(&mut taken), Ordering::AcqRel);
            if rx.is_empty() {
                break;
            }
        }
        if closed {
            return;
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

    /// The line, byte for byte, as it was when the request path formatted
    /// it: field order, empty strings for what is missing, `unknown`
    /// principals as empty.
    #[test]
    fn a_line_is_formatted_as_before() {
        let req = Request::get("/one?x=1")
            .header("host", "echo.test")
            .header("user-agent", "curl/8")
            .header("x-request-id", "req-1")
            .header(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )
            .body(())
            .unwrap();
        let mut request = Pending::of(&req);
        request.start_time = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_468_056_123);
        request.set_upstream("127.0.0.1:8080".parse().unwrap(), &Arc::from("echo"));
        let unknown = Arc::new(PeerLabels::unknown());
        let line = Finished {
            request,
            response_code: 200,
            response_flags: ResponseFlags::NONE,
            bytes_received: 0,
            bytes_sent: 1024,
            duration: Duration::from_micros(3_900),
            peer: "127.0.0.1:5000".parse().unwrap(),
            source: unknown.clone(),
            destination: unknown,
            service: Arc::new(ServiceLabels::new("echo.test.svc.cluster.local", None)),
        };
        let mut out = b"before\n".to_vec();
        line.format(&mut out);
        let want = concat!(
            "before\n",
            r#"{"start_time":"2026-11-23T21:07:36.123Z","method":"GET","path":"/one?x=1","#,
            r#""protocol":"HTTP/1.1","response_code":200,"response_flags":"-","#,
            r#""bytes_received":0,"bytes_sent":1024,"duration":3,"#,
            r#""upstream_host":"127.0.0.1:8080","upstream_cluster":"echo","#,
            r#""x_forwarded_for":"","user_agent":"curl/8","request_id":"req-1","#,
            r#""authority":"echo.test","downstream_remote_address":"127.0.0.1:5000","#,
            r#""route_name":"","source_principal":"","destination_principal":"","#,
            r#""source_workload":"unknown","destination_workload":"unknown","#,
            r#""destination_service":"echo.test.svc.cluster.local","#,
            r#""trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}"#,
            "\n"
        );
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }
}
