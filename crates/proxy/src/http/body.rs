//! Body types on the request path. Bodies stream through untouched (constant
//! memory whatever their size); these wrappers only count bytes and notice
//! how a response ended, for metrics.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use super::exchange::Exchange;

/// A downstream request body on its way upstream, counting bytes.
#[derive(Debug)]
pub struct RequestBody {
    inner: Incoming,
    bytes: Arc<AtomicU64>,
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
    pub fn new(inner: Incoming, bytes: Arc<AtomicU64>) -> Self {
        Self { inner, bytes }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if let Some(Ok(data)) = frame.as_ref().map(|f| f.as_ref().map(Frame::data_ref))
            && let Some(data) = data
        {
            self.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
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
