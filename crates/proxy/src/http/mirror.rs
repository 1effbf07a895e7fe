//! Traffic mirroring (Istio `mirror` / `mirrors`, carried out as Envoy's
//! request shadowing): a sampled copy of a request goes to another
//! cluster with `-shadow` appended to its host, and its answer is thrown
//! away. Fire and forget: the copy runs in a task of its own, its body is
//! fed from the client's without ever holding it back (a copy that falls
//! behind is cut off), and nothing about it reaches the caller.
//!
//! Routes without mirrors carry `None` and none of this runs.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::uri::Authority;
use http::{HeaderMap, Request, Uri, Version};
use http_body::Frame;
use http_body_util::BodyExt;
use tokio::sync::mpsc;
use weft_proto::config::{Mirror as MirrorConfig, UpstreamProtocol};

use super::body::{ClientBody, RequestBody};
use super::forward::ORIG_PROTO_HEADER;
use super::headers::set_upstream_target;
use crate::upstream::{Cluster, HttpVersion};

/// Frames of the client's body a copy may lag behind by before it is
/// cut off; the client never waits for a copy.
const LAG_FRAMES: usize = 32;

/// How long a copy may take when its route sets no timeout, so copies to
/// a dead cluster do not pile up.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// A route's mirrors, compiled.
#[derive(Debug)]
pub struct Mirrors {
    targets: Vec<Target>,
}

#[derive(Debug)]
struct Target {
    cluster: Arc<Cluster>,
    /// Share of requests copied, 0 to 100.
    percent: f64,
}

/// Where the client's body frames are copied to, one per copy.
#[derive(Debug)]
pub struct Tap {
    tx: mpsc::Sender<Option<Frame<Bytes>>>,
}

// === impl Mirrors ===

impl Mirrors {
    /// `None` without mirrors. A mirror naming a cluster `lookup` does not
    /// know is an error, as a backend's is.
    pub fn compile(
        cfg: &[MirrorConfig],
        lookup: &impl Fn(&str) -> Option<Arc<Cluster>>,
    ) -> Result<Option<Self>, String> {
        if cfg.is_empty() {
            return Ok(None);
        }
        let targets = cfg
            .iter()
            .map(|m| {
                let cluster = lookup(&m.cluster)
                    .ok_or_else(|| format!("mirror cluster {:?} is not defined", m.cluster))?;
                Ok(Target {
                    cluster,
                    percent: m.percent,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Some(Self { targets }))
    }

    /// Starts the copies of `req` this request is sampled for (its head
    /// as it will go upstream, before the upstream form is set) and
    /// returns the taps its body must feed; empty when none is sampled or
    /// the body is already complete.
    pub fn start<B: http_body::Body>(
        &self,
        req: &Request<B>,
        timeout: Option<Duration>,
    ) -> Vec<Tap> {
        let mut taps = Vec::new();
        for t in &self.targets {
            if fastrand::f64() * 100.0 >= t.percent {
                continue;
            }
            let body = if req.body().is_end_stream() {
                RequestBody::uncounted(ClientBody::Empty)
            } else {
                let (tx, rx) = mpsc::channel(LAG_FRAMES);
                taps.push(Tap { tx });
                RequestBody::uncounted(ClientBody::mirror(rx))
            };
            let version = match (t.cluster.protocol, req.version()) {
                (UpstreamProtocol::Http1, _) => HttpVersion::Http1,
                (UpstreamProtocol::Http2, _) => HttpVersion::Http2,
                (UpstreamProtocol::Auto, Version::HTTP_2) => HttpVersion::Http2,
                (UpstreamProtocol::Auto, _) => HttpVersion::Http1,
            };
            let copy = shadow(req, body, version);
            let cluster = t.cluster.clone();
            let limit = timeout.unwrap_or(DEFAULT_TIMEOUT);
            tokio::spawn(send(cluster, copy, version, limit));
        }
        taps
    }
}

/// Sends one copy and reads its answer to the end (so its connection can
/// be reused), throwing it away.
async fn send(
    cluster: Arc<Cluster>,
    req: Request<RequestBody>,
    version: HttpVersion,
    limit: Duration,
) {
    let Some(endpoint) = cluster.balancer.pick(None).cloned() else {
        tracing::debug!(cluster = %cluster.name, "mirror: no endpoint");
        return;
    };
    // The mirror cluster's breakers apply to copies too (Envoy).
    let Ok(_in_flight) = endpoint.admit() else {
        tracing::debug!(cluster = %cluster.name, "mirror: over the cluster's max_requests");
        return;
    };
    let exchange = async {
        let rsp = endpoint.send(req, version, cluster.connect_timeout).await?;
        let mut body = rsp.into_body();
        while let Some(frame) = body.frame().await {
            if frame.is_err() {
                break;
            }
        }
        Ok::<_, crate::errors::ProxyError>(())
    };
    match tokio::time::timeout(limit, exchange).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!(cluster = %cluster.name, error = %e, "mirror failed"),
        Err(_) => tracing::debug!(cluster = %cluster.name, "mirror timed out"),
    }
}

/// The copy's head: the request's, with `-shadow` after the host (Envoy:
/// `reviews:9080` becomes `reviews-shadow:9080`) in the upstream form of
/// the copy's own HTTP version.
fn shadow<B>(req: &Request<B>, body: RequestBody, version: HttpVersion) -> Request<RequestBody> {
    let mut copy = Request::new(body);
    *copy.method_mut() = req.method().clone();
    *copy.version_mut() = req.version();
    *copy.headers_mut() = req.headers().clone();
    *copy.uri_mut() = shadow_uri(req.uri());
    if let Some(host) = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        && let Ok(v) = HeaderValue::try_from(shadow_host(host))
    {
        copy.headers_mut().insert(header::HOST, v);
    }
    let headers: &mut HeaderMap = copy.headers_mut();
    match version {
        HttpVersion::Http2 if req.version() != Version::HTTP_2 => {
            headers.insert(ORIG_PROTO_HEADER, HeaderValue::from_static("HTTP/1.1"));
        }
        HttpVersion::Http1 => {
            headers.remove(ORIG_PROTO_HEADER);
        }
        HttpVersion::Http2 => {}
    }
    set_upstream_target(
        &mut copy,
        match version {
            HttpVersion::Http1 => Version::HTTP_11,
            HttpVersion::Http2 => Version::HTTP_2,
        },
    );
    copy
}

fn shadow_uri(uri: &Uri) -> Uri {
    let Some(authority) = uri.authority() else {
        return uri.clone();
    };
    let mut parts = uri.clone().into_parts();
    parts.authority = Authority::try_from(shadow_host(authority.as_str())).ok();
    Uri::from_parts(parts).unwrap_or_else(|_| uri.clone())
}

/// `host[:port]` with `-shadow` after the host.
fn shadow_host(authority: &str) -> String {
    match authority.rsplit_once(':') {
        // Not an IPv6 literal's colons: the port follows the last one
        // only when what comes after it is all digits.
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{host}-shadow:{port}")
        }
        _ => format!("{authority}-shadow"),
    }
}

// === impl Tap ===

impl Tap {
    /// Copies one frame of the client's body; `false`: the copy is gone
    /// or fell behind, and this tap is done.
    pub fn frame(&self, frame: &Frame<Bytes>) -> bool {
        let copy = if let Some(d) = frame.data_ref() {
            Frame::data(d.clone())
        } else if let Some(t) = frame.trailers_ref() {
            Frame::trailers(t.clone())
        } else {
            return true;
        };
        self.tx.try_send(Some(copy)).is_ok()
    }

    /// The client's body ended whole.
    pub fn end(&self) {
        let _ = self.tx.try_send(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shadow_hosts_are_envoys() {
        assert_eq!(shadow_host("reviews"), "reviews-shadow");
        assert_eq!(shadow_host("reviews:9080"), "reviews-shadow:9080");
        assert_eq!(shadow_host("[::1]:80"), "[::1]-shadow:80");
        let uri: Uri = "http://reviews:9080/a?b".parse().unwrap();
        assert_eq!(
            shadow_uri(&uri).to_string(),
            "http://reviews-shadow:9080/a?b"
        );
        let path: Uri = "/a".parse().unwrap();
        assert_eq!(shadow_uri(&path), path);
    }
}
