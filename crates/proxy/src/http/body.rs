//! Body types on the request path. Bodies stream through untouched (constant
//! memory whatever their size); these wrappers count bytes and notice how
//! a response ended, for metrics, and on routes with retries keep a copy
//! of small request bodies to send again.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use parking_lot::Mutex;

use tokio::sync::mpsc;

use super::exchange::Exchange;
use super::mirror::Tap;
use super::retry::MAX_REPLAY_BYTES as MAX_KEPT;

/// Errors of request bodies: the client's (hyper's), or a mirror copy's
/// source going away.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// A downstream request body on its way upstream, counting bytes; on a
/// route with retries, also kept (up to a limit) for sending again.
#[derive(Debug)]
pub struct RequestBody {
    /// What a retry sends first: the part of the body an earlier try
    /// already read from the client (counted then).
    replayed: VecDeque<Bytes>,
    replayed_trailers: Option<HeaderMap>,
    /// The rest, still coming from the client; `None` once handed back to
    /// the tee for a retry, or for a body that is all replay.
    body: Option<ClientBody>,
    /// Where a copy goes, on routes with retries only.
    tee: Option<Arc<Mutex<Tee>>>,
    bytes: Arc<AtomicU64>,
}

/// The copy of a request body kept for retries while a try sends it.
/// Chunks are `Bytes` clones: reference counts, not copies.
#[derive(Debug, Default)]
pub struct Tee {
    chunks: Vec<Bytes>,
    len: usize,
    trailers: Option<HeaderMap>,
    /// The client's body has ended and all of it is in `chunks`.
    complete: bool,
    too_big: bool,
    /// What a try dropped before reading it all (a connect failure reads
    /// none of it): a retry reads on from here (Linkerd's `ReplayBody`).
    rest: Option<ClientBody>,
}

/// Where a request body's bytes come from.
#[derive(Debug)]
pub enum ClientBody {
    /// The client, feeding each frame to the mirrors' copies too (`taps`,
    /// empty on routes without mirrors).
    Client {
        inner: Incoming,
        taps: Vec<Tap>,
    },
    /// A mirror's copy, fed by the client's body through a channel. The
    /// channel closing without the end marker (`None`) means the client's
    /// body broke off or this copy fell behind: the copy is aborted.
    Mirror {
        rx: mpsc::Receiver<Option<Frame<Bytes>>>,
        ended: bool,
    },
    Empty,
}

/// What the proxy answers a client with: the upstream's body, or a body the
/// proxy wrote itself. Records the exchange's metrics when it ends or is
/// dropped.
#[derive(Debug)]
pub struct ResponseBody {
    inner: Inner,
    exchange: Option<Exchange>,
}

#[derive(Debug)]
enum Inner {
    Upstream(Incoming),
    Local(Option<Bytes>),
}

// === impl RequestBody ===

impl RequestBody {
    pub fn new(inner: impl Into<ClientBody>, bytes: Arc<AtomicU64>) -> Self {
        Self {
            replayed: VecDeque::new(),
            replayed_trailers: None,
            body: Some(inner.into()),
            tee: None,
            bytes,
        }
    }

    /// A body no exchange counts: a mirror's copy.
    pub fn uncounted(inner: ClientBody) -> Self {
        Self::new(inner, Arc::default())
    }

    /// A body that keeps a copy of what it sends, up to 64 KiB, for
    /// [`Tee::replay`]; no copy (`None`) when its declared length is
    /// already over that.
    pub fn teed(inner: ClientBody, bytes: Arc<AtomicU64>) -> (Self, Option<Arc<Mutex<Tee>>>) {
        let over = inner.size_hint().lower() > MAX_KEPT as u64;
        let tee = (!over).then(|| {
            Arc::new(Mutex::new(Tee {
                // A body that is already over (a GET) needs no copy.
                complete: inner.is_end_stream(),
                ..Tee::default()
            }))
        });
        let mut body = Self::new(inner, bytes);
        body.tee = tee.clone();
        (body, tee)
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        if let Some(c) = self.replayed.pop_front() {
            return Poll::Ready(Some(Ok(Frame::data(c))));
        }
        let this = &mut *self;
        let Some(body) = this.body.as_mut() else {
            return Poll::Ready(
                this.replayed_trailers
                    .take()
                    .map(|t| Ok(Frame::trailers(t))),
            );
        };
        let frame = ready!(Pin::new(&mut *body).poll_frame(cx));
        if let Some(tee) = &this.tee {
            let mut tee = tee.lock();
            tee.record(&frame, MAX_KEPT);
            // A sender that knows the length (hyper's HTTP/1 client with a
            // content-length) stops polling after the last byte, before
            // the end the stream would report.
            if body.is_end_stream() {
                tee.complete = true;
            }
        }
        if let Some(Ok(data)) = frame.as_ref().map(|f| f.as_ref().map(Frame::data_ref))
            && let Some(data) = data
        {
            this.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.replayed.is_empty()
            && self.replayed_trailers.is_none()
            && self.body.as_ref().is_none_or(ClientBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        let kept: u64 = self.replayed.iter().map(|c| c.len() as u64).sum();
        match &self.body {
            None => SizeHint::with_exact(kept),
            Some(b) => {
                let rest = b.size_hint();
                let mut hint = SizeHint::new();
                hint.set_lower(rest.lower() + kept);
                if let Some(upper) = rest.upper() {
                    hint.set_upper(upper + kept);
                }
                hint
            }
        }
    }
}

impl Drop for RequestBody {
    fn drop(&mut self) {
        // A try that ends before sending all the body (a connect failure,
        // an early response) hands the unread rest to the next try.
        if let (Some(tee), Some(body)) = (&self.tee, self.body.take())
            && !body.is_end_stream()
        {
            tee.lock().rest = Some(body);
        }
    }
}

// === impl Tee ===

impl Tee {
    /// The body again for a retry: what was read so far, then the rest
    /// from the client. `None` when it cannot be had: over the limit,
    /// broken, or still held by the last try.
    pub fn replay(tee: &Arc<Mutex<Tee>>, bytes: Arc<AtomicU64>) -> Option<RequestBody> {
        let mut t = tee.lock();
        if t.too_big || !(t.complete || t.rest.is_some()) {
            return None;
        }
        let rest = t.rest.take();
        Some(RequestBody {
            replayed: t.chunks.iter().cloned().collect(),
            replayed_trailers: t.trailers.clone(),
            tee: rest.is_some().then(|| tee.clone()),
            body: rest,
            bytes,
        })
    }

    fn record(&mut self, frame: &Option<Result<Frame<Bytes>, BodyError>>, limit: usize) {
        if self.too_big {
            return;
        }
        match frame {
            Some(Ok(f)) => {
                if let Some(d) = f.data_ref() {
                    self.len += d.len();
                    if self.len > limit {
                        // Over the limit: drop the copy, never retry.
                        self.too_big = true;
                        self.chunks = Vec::new();
                    } else {
                        self.chunks.push(d.clone());
                    }
                } else if let Some(t) = f.trailers_ref() {
                    self.trailers = Some(t.clone());
                }
            }
            // A broken body cannot be sent again.
            Some(Err(_)) => self.too_big = true,
            None => self.complete = true,
        }
    }
}

// === impl ClientBody ===

impl ClientBody {
    /// The client's body, copied into `taps` as it is read.
    pub fn tapped(inner: Incoming, taps: Vec<Tap>) -> Self {
        Self::Client { inner, taps }
    }

    pub fn mirror(rx: mpsc::Receiver<Option<Frame<Bytes>>>) -> Self {
        Self::Mirror { rx, ended: false }
    }
}

impl From<Incoming> for ClientBody {
    fn from(inner: Incoming) -> Self {
        Self::tapped(inner, Vec::new())
    }
}

impl Body for ClientBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            Self::Client { inner, taps } => {
                let frame = ready!(Pin::new(&mut *inner).poll_frame(cx));
                if !taps.is_empty() {
                    match &frame {
                        Some(Ok(f)) => {
                            taps.retain(|t| t.frame(f));
                            // hyper's HTTP/1 client stops at content-length.
                            if inner.is_end_stream() {
                                taps.drain(..).for_each(|t| t.end());
                            }
                        }
                        None => taps.drain(..).for_each(|t| t.end()),
                        // Dropping a tap aborts its copy.
                        Some(Err(_)) => taps.clear(),
                    }
                }
                Poll::Ready(frame.map(|f| f.map_err(BodyError::from)))
            }
            Self::Mirror { rx, ended } => {
                if *ended {
                    return Poll::Ready(None);
                }
                match ready!(rx.poll_recv(cx)) {
                    Some(Some(frame)) => Poll::Ready(Some(Ok(frame))),
                    Some(None) => {
                        *ended = true;
                        Poll::Ready(None)
                    }
                    None => Poll::Ready(Some(Err(
                        "the request body broke off, or this mirror fell behind it".into(),
                    ))),
                }
            }
            Self::Empty => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Client { inner, .. } => inner.is_end_stream(),
            Self::Mirror { ended, .. } => *ended,
            Self::Empty => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Client { inner, .. } => inner.size_hint(),
            Self::Mirror { .. } => SizeHint::default(),
            Self::Empty => SizeHint::with_exact(0),
        }
    }
}

// === impl ResponseBody ===

impl ResponseBody {
    pub(super) fn upstream(inner: Incoming, exchange: Exchange) -> Self {
        Self {
            inner: Inner::Upstream(inner),
            exchange: Some(exchange),
        }
    }

    pub(super) fn local(body: Bytes, exchange: Option<Exchange>) -> Self {
        Self {
            inner: Inner::Local((!body.is_empty()).then_some(body)),
            exchange,
        }
    }

    /// An empty body with nothing to record (admin responses, 101s).
    pub fn empty() -> Self {
        Self {
            inner: Inner::Local(None),
            exchange: None,
        }
    }

    fn inner_is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Upstream(b) => b.is_end_stream(),
            Inner::Local(b) => b.is_none(),
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let frame = match &mut this.inner {
            Inner::Upstream(b) => ready!(Pin::new(b).poll_frame(cx)),
            Inner::Local(b) => b.take().map(|d| Ok(Frame::data(d))),
        };
        if let Some(ex) = this.exchange.as_mut() {
            match &frame {
                Some(Ok(f)) => {
                    if let Some(d) = f.data_ref() {
                        ex.response_bytes += d.len() as u64;
                    } else if let Some(t) = f.trailers_ref() {
                        ex.observe_grpc_status(t);
                    }
                }
                Some(Err(_)) => ex.upstream_failed_mid_body(),
                None => ex.end_of_stream(),
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner_is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Upstream(b) => b.size_hint(),
            Inner::Local(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Inner::Local(None) => SizeHint::with_exact(0),
        }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        // hyper may never poll a body that is already complete (HEAD, 204,
        // an empty local body), so check for completion here too.
        if self.inner_is_end_stream()
            && let Some(ex) = self.exchange.as_mut()
        {
            ex.end_of_stream();
        }
    }
}
