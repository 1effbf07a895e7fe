//! Responses the proxy writes itself: its own errors, with the reason in a
//! header, the body and the log; and replies on a route's behalf (fault
//! aborts, direct responses, redirects).

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, Response, StatusCode};

use super::body::ResponseBody;
use super::exchange::Exchange;
use crate::errors::{PROXY_ERROR_HEADER, ProxyError, ResponseFlag};

/// What a route answers with instead of forwarding.
#[derive(Debug)]
pub struct LocalReply {
    pub status: StatusCode,
    pub body: Bytes,
    /// What a gRPC request gets instead of the code mapped from `status`.
    pub grpc_status: Option<u16>,
    pub flag: ResponseFlag,
}

/// Answers a request with the proxy's own error. gRPC clients get a
/// trailers-only gRPC response carrying the equivalent status, as Envoy does.
pub fn error(mut ex: Exchange, grpc: bool, err: ProxyError) -> Response<ResponseBody> {
    let status = err.status();
    let flag = err.flag();
    let reason = err.to_string();
    let ctx = ex.ctx();
    tracing::warn!(
        listener = %ctx.listener.name,
        peer = %ctx.peer,
        status = status.as_u16(),
        response_flags = %flag,
        "{reason}"
    );
    let reason_header =
        HeaderValue::from_str(&reason).unwrap_or_else(|_| HeaderValue::from_static("proxy error"));

    let mut rsp = if grpc {
        grpc_status_only(
            ex,
            grpc_status_for(status),
            Some(reason_header.clone()),
            flag,
        )
    } else {
        ex.set_response(status, flag);
        let mut rsp = Response::new(ResponseBody::local(Bytes::from(reason + "\n"), Some(ex)));
        *rsp.status_mut() = status;
        rsp.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        rsp
    };
    rsp.headers_mut().insert(PROXY_ERROR_HEADER, reason_header);
    rsp
}

/// Answers on a route's behalf, as Envoy's `sendLocalReply`: a gRPC
/// request gets a trailers-only gRPC response (HTTP 200, `grpc-status`,
/// the body as `grpc-message`); any other the status, with the body as
/// `text/plain`.
pub fn local(mut ex: Exchange, grpc: bool, reply: LocalReply) -> Response<ResponseBody> {
    if grpc {
        let code = reply
            .grpc_status
            .unwrap_or_else(|| grpc_status_for(reply.status));
        let message = (!reply.body.is_empty())
            .then(|| HeaderValue::from_maybe_shared(reply.body).ok())
            .flatten();
        return grpc_status_only(ex, code, message, reply.flag);
    }
    ex.set_response(reply.status, reply.flag);
    let has_body = !reply.body.is_empty();
    let mut rsp = Response::new(ResponseBody::local(reply.body, Some(ex)));
    *rsp.status_mut() = reply.status;
    if has_body {
        rsp.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    }
    rsp
}

/// A trailers-only gRPC response: HTTP 200 whose headers carry
/// `grpc-status` and end the stream.
fn grpc_status_only(
    mut ex: Exchange,
    code: u16,
    message: Option<HeaderValue>,
    flag: ResponseFlag,
) -> Response<ResponseBody> {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert("grpc-status", HeaderValue::from(code));
    if let Some(m) = message {
        headers.insert("grpc-message", m);
    }
    ex.set_response(StatusCode::OK, flag);
    ex.observe_grpc_status(&headers);
    let mut rsp = Response::new(ResponseBody::local(Bytes::new(), Some(ex)));
    *rsp.headers_mut() = headers;
    rsp
}

/// The HTTP → gRPC status mapping gRPC specifies for intermediaries.
fn grpc_status_for(status: StatusCode) -> u16 {
    match status.as_u16() {
        400 => 13,             // INTERNAL
        401 => 16,             // UNAUTHENTICATED
        403 => 7,              // PERMISSION_DENIED
        404 => 12,             // UNIMPLEMENTED
        429 | 502..=504 => 14, // UNAVAILABLE
        _ => 2,                // UNKNOWN
    }
}
