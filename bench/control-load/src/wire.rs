//! The config stream as raw gRPC over a tonic `Channel`: requests are
//! framed by hand, and each response is read into a buffer of its own that
//! is freed once decoded.
//!
//! Why not the generated `ConfigDiscoveryClient`: tonic's `Streaming`
//! reserves a buffer as large as the largest message and keeps it for the
//! stream's life. A full state at 10,000 services is about 16 MB, so a
//! thousand simulated proxies would hold about 16 GB for nothing, and the
//! load tool, not the control plane, would fill this machine first.

use std::convert::Infallible;

use bytes::Bytes;
use http_body::Frame;
use http_body_util::{BodyExt as _, StreamBody};
use prost::Message as _;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::client::GrpcService;
use tonic::transport::Channel;
use weft_proto::discovery::{ConfigRequest, ConfigResponse};

const PATH: &str = "/weft.mesh.v1.ConfigDiscovery/Stream";
/// gRPC's message prefix: a compression flag and a big-endian length.
const PREFIX: usize = 5;

type Outgoing = Result<Frame<Bytes>, Infallible>;

/// One open config stream.
pub struct ConfigStream {
    requests: mpsc::Sender<Outgoing>,
    body: tonic::body::Body,
    /// Bytes of the response being read.
    buf: Vec<u8>,
}

/// Opens the stream on `channel` and sends `hello` first.
pub async fn open(mut channel: Channel, hello: &ConfigRequest) -> Result<ConfigStream, String> {
    let (requests, rx) = mpsc::channel::<Outgoing>(4);
    requests
        .send(Ok(Frame::data(frame(hello))))
        .await
        .map_err(|_| "the request body closed before the hello".to_string())?;
    let body = tonic::body::Body::new(StreamBody::new(ReceiverStream::new(rx)));
    let request = http::Request::post(PATH)
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(body)
        .map_err(|e| format!("cannot build the request: {e}"))?;
    std::future::poll_fn(|cx| GrpcService::poll_ready(&mut channel, cx))
        .await
        .map_err(|e| format!("the connection is not ready: {e}"))?;
    let response = GrpcService::call(&mut channel, request)
        .await
        .map_err(|e| format!("the stream did not open: {e}"))?;
    if response.status() != http::StatusCode::OK {
        return Err(format!(
            "the stream did not open: HTTP {}",
            response.status()
        ));
    }
    // A refusal before any message comes as headers only.
    grpc_status(response.headers())?;
    Ok(ConfigStream {
        requests,
        body: response.into_body(),
        buf: Vec::new(),
    })
}

// === impl ConfigStream ===

impl ConfigStream {
    // `&mut`: the response body is `Send` but not `Sync`, so a shared
    // borrow held across `.await` would make the future not `Send`.
    pub async fn send(&mut self, request: &ConfigRequest) -> Result<(), String> {
        self.requests
            .send(Ok(Frame::data(frame(request))))
            .await
            .map_err(|_| "the request stream closed".to_string())
    }

    /// The next response and its encoded length (`encoded_len`, without
    /// the prefix); `None` when the control plane ends the stream cleanly.
    pub async fn next(&mut self) -> Result<Option<(ConfigResponse, usize)>, String> {
        loop {
            if let Some(message) = self.take()? {
                return Ok(Some(message));
            }
            let Some(frame) = self.body.frame().await else {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err("the stream ended inside a message".into())
                };
            };
            let frame = frame.map_err(|e| format!("stream error: {e}"))?;
            match frame.into_data() {
                Ok(data) => {
                    self.buf.extend_from_slice(&data);
                    if self.buf.len() >= PREFIX {
                        // Grow once to the whole message, not by doubling.
                        let want = PREFIX + length(&self.buf);
                        self.buf.reserve_exact(want.saturating_sub(self.buf.len()));
                    }
                }
                Err(frame) => {
                    if let Some(trailers) = frame.trailers_ref() {
                        grpc_status(trailers)?;
                    }
                }
            }
        }
    }

    /// A whole message from the front of the buffer, if there is one. The
    /// message's buffer is dropped here: nothing keeps its size.
    fn take(&mut self) -> Result<Option<(ConfigResponse, usize)>, String> {
        if self.buf.len() < PREFIX {
            return Ok(None);
        }
        if self.buf[0] != 0 {
            return Err("a compressed message, which this client never asked for".into());
        }
        let len = length(&self.buf);
        if self.buf.len() < PREFIX + len {
            return Ok(None);
        }
        let rest = self.buf.split_off(PREFIX + len);
        let message = std::mem::replace(&mut self.buf, rest);
        let response = ConfigResponse::decode(&message[PREFIX..])
            .map_err(|e| format!("a response does not decode: {e}"))?;
        Ok(Some((response, len)))
    }
}

/// The length in a message prefix (at least `PREFIX` bytes).
fn length(prefix: &[u8]) -> usize {
    let b = [prefix[1], prefix[2], prefix[3], prefix[4]];
    u32::from_be_bytes(b) as usize
}

/// One request as a gRPC message: uncompressed flag, length, body.
fn frame(request: &ConfigRequest) -> Bytes {
    let body = request.encode_to_vec();
    let mut out = Vec::with_capacity(PREFIX + body.len());
    out.push(0);
    // Requests are a node and a nonce: far below 4 GiB.
    out.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(&body);
    out.into()
}

/// An error for a `grpc-status` other than OK.
fn grpc_status(headers: &http::HeaderMap) -> Result<(), String> {
    match headers.get("grpc-status").map(|v| v.as_bytes()) {
        None | Some(b"0") => Ok(()),
        Some(code) => Err(format!(
            "the control plane ended the stream: grpc-status {} {}",
            String::from_utf8_lossy(code),
            headers
                .get("grpc-message")
                .map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned())
                .unwrap_or_default()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(nonce: &str) -> Vec<u8> {
        let body = ConfigResponse {
            nonce: nonce.into(),
            system_version: "7".into(),
            ..ConfigResponse::default()
        }
        .encode_to_vec();
        let mut out = vec![0];
        out.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn messages_are_cut_at_their_prefix_lengths() {
        let (requests, _rx) = mpsc::channel(1);
        let mut buf = response("1");
        buf.extend(response("22"));
        let third = response("333");
        buf.extend_from_slice(&third[..3]);
        let mut s = ConfigStream {
            requests,
            body: tonic::body::Body::empty(),
            buf,
        };
        let (first, len) = s.take().unwrap().unwrap();
        assert_eq!(
            (first.nonce.as_str(), len),
            ("1", response("1").len() - PREFIX)
        );
        assert_eq!(s.take().unwrap().unwrap().0.nonce, "22");
        assert!(
            s.take().unwrap().is_none(),
            "half a prefix is not a message"
        );
        s.buf.extend_from_slice(&third[3..]);
        assert_eq!(s.take().unwrap().unwrap().0.nonce, "333");
        assert!(s.buf.is_empty());
    }
}
