//! Responses the proxy writes itself, with the reason in a header, the
//! body and the log.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};

use super::body::ResponseBody;
use super::exchange::Exchange;
use crate::errors::{PROXY_ERROR_HEADER, ProxyError};

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

    if grpc {
        let code = grpc_status_for(status);
        ex.set_response(StatusCode::OK, flag);
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from(code));
        ex.observe_grpc_status(&trailers);
        let mut rsp = Response::new(ResponseBody::local(Bytes::new(), Some(ex)));
        let h = rsp.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        h.insert("grpc-status", HeaderValue::from(code));
        h.insert("grpc-message", reason_header.clone());
        h.insert(PROXY_ERROR_HEADER, reason_header);
        return rsp;
    }

    ex.set_response(status, flag);
    let mut rsp = Response::new(ResponseBody::local(Bytes::from(reason + "\n"), Some(ex)));
    *rsp.status_mut() = status;
    let h = rsp.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(PROXY_ERROR_HEADER, reason_header);
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
