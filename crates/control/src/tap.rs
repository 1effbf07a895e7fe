//! Tap, the control plane's side (`proto/weft/mesh/v1/tap.proto`): every
//! proxy keeps a tap stream open beside its config stream; `GET
//! /api/v1/tap` (with the tap token) starts a tap on every proxy of one
//! workload and streams what they report, one JSON line per request, until
//! the caller hangs up, which stops the tap everywhere.
//!
//! Who may tap: a caller presenting the tap token, a random secret the
//! control plane writes, readable by its owner only, beside its state
//! (`tap-token`), as Kubernetes RBAC guards Linkerd's tap. Proxies prove
//! who they are with their workload certificate, as on the config stream.

use std::collections::HashMap;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use weft_proto::discovery::tap_server::Tap;
use weft_proto::discovery::{TapCommand, TapEvent, TapFilter, TapReport};

use crate::server::Registry;

/// Events queued for one `weft tap` caller; a slow reader loses events.
const CALLER_QUEUE: usize = 512;

/// Every proxy's tap stream, and every open tap.
pub struct TapBroker {
    token: String,
    registry: Arc<Registry>,
    next: AtomicU64,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Node id → its stream's commands (and which stream, to tell a
    /// reconnect's from the old one's end).
    proxies: HashMap<String, (u64, mpsc::Sender<Result<TapCommand, Status>>)>,
    taps: HashMap<String, OpenTap>,
}

struct OpenTap {
    namespace: String,
    workload: String,
    command: TapCommand,
    events: mpsc::Sender<TapEvent>,
}

/// What to tap (`GET /api/v1/tap` query).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct TapQuery {
    pub workload: String,
    #[serde(default = "default_namespace")]
    pub namespace: String,
    #[serde(default)]
    pub direction: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub method: String,
    #[serde(default = "default_rate")]
    pub max_rps: u32,
}

fn default_namespace() -> String {
    "default".into()
}

fn default_rate() -> u32 {
    100
}

// === impl TapBroker ===

impl TapBroker {
    /// A broker with a fresh token, written to `token_file` (mode 0600).
    pub fn new(registry: Arc<Registry>, token_file: &Path) -> std::io::Result<Self> {
        let mut raw = [0u8; 24];
        weft_identity::random(&mut raw);
        let token: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        write_private(token_file, &token)?;
        Ok(Self {
            token,
            registry,
            next: AtomicU64::new(1),
            inner: Mutex::default(),
        })
    }

    /// Whether `header` (an `Authorization` value) carries the tap token.
    pub fn authorized(&self, header: Option<&str>) -> bool {
        let given = header.and_then(|h| h.strip_prefix("Bearer ")).unwrap_or("");
        // Compare without stopping at the first difference.
        given.len() == self.token.len()
            && given
                .bytes()
                .zip(self.token.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }

    /// Starts a tap; its events until the returned stream is dropped.
    /// `Err` when no proxy of the workload has a tap stream open.
    pub fn open(self: &Arc<Self>, q: &TapQuery) -> Result<OpenStream, String> {
        let id = format!("tap-{}", self.next.fetch_add(1, Ordering::Relaxed));
        let command = TapCommand {
            id: id.clone(),
            stop: false,
            filter: Some(TapFilter {
                direction: q.direction.clone(),
                to: q.to.clone(),
                path_prefix: q.path.clone(),
                method: q.method.clone(),
            }),
            max_per_second: q.max_rps.clamp(1, 1000),
        };
        let targets: Vec<String> = self
            .registry
            .list()
            .into_iter()
            .filter(|p| p.namespace == q.namespace && p.workload == q.workload)
            .map(|p| p.id)
            .collect();
        if targets.is_empty() {
            return Err(format!(
                "no proxy of workload {}/{} is connected",
                q.namespace, q.workload
            ));
        }
        let (tx, rx) = mpsc::channel(CALLER_QUEUE);
        let mut inner = self.inner.lock();
        // Proxies whose tap stream is not open yet get it when it opens.
        for node in &targets {
            if let Some((_, proxy)) = inner.proxies.get(node) {
                send(node, proxy, &command);
            }
        }
        inner.taps.insert(
            id.clone(),
            OpenTap {
                namespace: q.namespace.clone(),
                workload: q.workload.clone(),
                command,
                events: tx,
            },
        );
        Ok(OpenStream {
            events: ReceiverStream::new(rx),
            _stop: StopOnDrop {
                broker: self.clone(),
                id,
            },
        })
    }

    fn close(&self, id: &str) {
        let mut inner = self.inner.lock();
        if inner.taps.remove(id).is_none() {
            return;
        }
        let stop = TapCommand {
            id: id.to_string(),
            stop: true,
            ..Default::default()
        };
        for (node, (_, proxy)) in &inner.proxies {
            send(node, proxy, &stop);
        }
    }

    /// A proxy's stream opened: it gets the open taps of its workload.
    fn attach(
        &self,
        node: &str,
        namespace: &str,
        workload: &str,
    ) -> (u64, mpsc::Receiver<Result<TapCommand, Status>>) {
        let (tx, rx) = mpsc::channel(16);
        let serial = self.next.fetch_add(1, Ordering::Relaxed);
        let mut inner = self.inner.lock();
        for t in inner.taps.values() {
            if t.namespace == namespace && t.workload == workload {
                send(node, &tx, &t.command);
            }
        }
        inner.proxies.insert(node.to_string(), (serial, tx));
        (serial, rx)
    }

    fn detach(&self, node: &str, serial: u64) {
        let mut inner = self.inner.lock();
        if inner.proxies.get(node).is_some_and(|(s, _)| *s == serial) {
            inner.proxies.remove(node);
        }
    }

    /// Relays `node`'s events to their callers. Events of a tap no longer
    /// open mean its stop never reached the proxy (its command queue was
    /// full): it is sent again, so no proxy keeps tapping for no one.
    fn deliver(&self, node: &str, report: TapReport) {
        let inner = self.inner.lock();
        let mut stale: Vec<String> = Vec::new();
        for e in report.events {
            match inner.taps.get(&e.tap_id) {
                // A caller reading too slowly loses events, never the proxy.
                Some(t) => {
                    let _ = t.events.try_send(e);
                }
                None if !stale.contains(&e.tap_id) => stale.push(e.tap_id),
                None => {}
            }
        }
        let Some((_, proxy)) = inner.proxies.get(node) else {
            return;
        };
        for id in stale {
            let stop = TapCommand {
                id,
                stop: true,
                ..Default::default()
            };
            send(node, proxy, &stop);
        }
    }
}

/// A tap's events; dropping it stops the tap on every proxy.
pub struct OpenStream {
    events: ReceiverStream<TapEvent>,
    _stop: StopOnDrop,
}

impl Stream for OpenStream {
    type Item = TapEvent;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<TapEvent>> {
        Pin::new(&mut self.events).poll_next(cx)
    }
}

struct StopOnDrop {
    broker: Arc<TapBroker>,
    id: String,
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.broker.close(&self.id);
    }
}

/// The gRPC face of the broker, on 15012 beside the config stream.
#[derive(Clone)]
pub struct TapService(pub Arc<TapBroker>);

type Commands = Pin<Box<dyn Stream<Item = Result<TapCommand, Status>> + Send>>;

#[tonic::async_trait]
impl Tap for TapService {
    type StreamStream = Commands;

    async fn stream(
        &self,
        request: Request<Streaming<TapReport>>,
    ) -> Result<Response<Commands>, Status> {
        let peer = crate::ca::peer_identity(&request);
        let mut reports = request.into_inner();
        let first = reports.message().await?.ok_or_else(|| {
            Status::invalid_argument("the tap stream ended before naming its proxy")
        })?;
        // Only a proxy whose config stream is open, with the identity it
        // proved there.
        let proxy = self
            .0
            .registry
            .get(&first.node_id)
            .ok_or_else(|| Status::failed_precondition("open the config stream first"))?;
        crate::server::check_node_identity(&proxy.node, peer)?;
        let broker = self.0.clone();
        let (serial, rx) = broker.attach(&proxy.id, &proxy.namespace, &proxy.workload);
        tokio::spawn(async move {
            while let Ok(Some(report)) = reports.message().await {
                broker.deliver(&proxy.id, report);
            }
            broker.detach(&proxy.id, serial);
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// Queues `command` for `node`'s tap stream. A full queue (a proxy not
/// reading its commands) loses it: said in the log; a lost stop is sent
/// again when the proxy next reports the tap's events.
fn send(node: &str, proxy: &mpsc::Sender<Result<TapCommand, Status>>, command: &TapCommand) {
    if proxy.try_send(Ok(command.clone())).is_err() {
        tracing::warn!(
            node,
            tap = %command.id,
            stop = command.stop,
            "tap command not delivered: the proxy's tap stream is full or closed"
        );
    }
}

/// Writes `text` to `path`, readable and writable by the owner only.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_proxy_reporting_a_closed_tap_is_told_again_to_stop() {
        let dir = tempfile::tempdir().unwrap();
        let broker = TapBroker::new(Arc::default(), &dir.path().join("tap-token")).unwrap();
        let (_, mut rx) = broker.attach("reviews-v1-0.default", "default", "reviews-v1");
        let event = |id: &str| TapEvent {
            tap_id: id.into(),
            ..TapEvent::default()
        };
        broker.deliver(
            "reviews-v1-0.default",
            TapReport {
                events: vec![event("tap-9"), event("tap-9")],
                ..TapReport::default()
            },
        );
        let stop = rx.try_recv().unwrap().unwrap();
        assert_eq!((stop.id.as_str(), stop.stop), ("tap-9", true));
        // Once per report, however many of its events it sent.
        assert!(rx.try_recv().is_err());
    }
}
