//! OTLP over HTTP with protobuf bodies (OTLP spec, "OTLP/HTTP"): one
//! `POST /v1/traces` of an `ExportTraceServiceRequest`, `Content-Type:
//! application/x-protobuf`, on a connection of its own per batch (batches
//! are seconds apart; a pool would only hold sockets open).

use std::time::Duration;

use bytes::Bytes;
use http::{Request, header};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use prost::Message;
use tokio::net::TcpStream;
use weft_proto::otlp::collector::trace::v1::ExportTraceServiceRequest;

/// The OTLP/HTTP path for traces.
const PATH: &str = "/v1/traces";

/// Sends one batch; the error says why it did not arrive.
pub(super) async fn export(
    authority: &str,
    request: &ExportTraceServiceRequest,
    connect_timeout: Duration,
    timeout: Duration,
) -> Result<(), String> {
    let stream = tokio::time::timeout(connect_timeout, TcpStream::connect(authority))
        .await
        .map_err(|_| format!("no connection to {authority} in {connect_timeout:?}"))?
        .map_err(|e| format!("cannot connect to {authority}: {e}"))?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let req = Request::post(PATH)
        .header(header::HOST, authority)
        .header(header::CONTENT_TYPE, "application/x-protobuf")
        .body(Full::new(Bytes::from(request.encode_to_vec())))
        .map_err(|e| e.to_string())?;
    let rsp = tokio::time::timeout(timeout, send.send_request(req))
        .await
        .map_err(|_| format!("no answer from {authority} in {timeout:?}"))?
        .map_err(|e| e.to_string())?;
    // OTLP/HTTP: 200 is success (a partial success still is); anything
    // else drops the batch (no retries here).
    if rsp.status().is_success() {
        Ok(())
    } else {
        Err(format!("the collector answered {}", rsp.status()))
    }
}
