//! Talking to a running control plane's HTTP API (15014).

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::TcpStream;

/// Where the control plane's API is, unless `--control` says otherwise.
pub const DEFAULT_CONTROL: &str = "127.0.0.1:15014";

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "cannot reach the control plane at {addr}: {source}; is `weft control` running? (--control sets the address)"
    )]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the control plane at {addr} failed the request: {why}")]
    Http { addr: String, why: String },
    #[error("the control plane answered {status}: {body}")]
    Status { status: StatusCode, body: String },
    #[error("unexpected answer from the control plane: {0}")]
    Decode(#[from] serde_json::Error),
}

/// A response the caller reads as JSON or shows as text.
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

/// One request to the API on a fresh connection.
pub async fn call(
    addr: &str,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
) -> Result<Answer, ClientError> {
    let http_err = |e: &dyn std::fmt::Display| ClientError::Http {
        addr: addr.to_string(),
        why: e.to_string(),
    };
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|source| ClientError::Connect {
            addr: addr.to_string(),
            source,
        })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| http_err(&e))?;
    tokio::spawn(conn);
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .map_err(|e| http_err(&e))?;
    let rsp = sender.send_request(req).await.map_err(|e| http_err(&e))?;
    let status = rsp.status();
    let body = rsp
        .into_body()
        .collect()
        .await
        .map_err(|e| http_err(&e))?
        .to_bytes();
    Ok(Answer { status, body })
}

/// GET `path` as JSON; any status but 200 is an error with the body.
pub async fn get_json<T: DeserializeOwned>(addr: &str, path: &str) -> Result<T, ClientError> {
    let a = call(addr, Method::GET, path, None).await?;
    if a.status != StatusCode::OK {
        return Err(ClientError::Status {
            status: a.status,
            body: String::from_utf8_lossy(&a.body).trim().to_string(),
        });
    }
    Ok(serde_json::from_slice(&a.body)?)
}

/// POST `body` as JSON.
pub async fn post_json<B: Serialize>(
    addr: &str,
    path: &str,
    body: &B,
) -> Result<Answer, ClientError> {
    call(addr, Method::POST, path, Some(serde_json::to_vec(body)?)).await
}

/// Percent-encodes a query value (RFC 3986: unreserved characters and `/`
/// stay as they are).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
