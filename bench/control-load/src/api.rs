//! The control plane's HTTP API, read with a hand-written HTTP/1.0 GET:
//! two JSON reads per check do not justify an HTTP client dependency.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const TIMEOUT: Duration = Duration::from_secs(10);

/// `GET http://{address}{path}` as JSON.
pub async fn get(address: &str, path: &str) -> Result<serde_json::Value, String> {
    let what = format!("GET http://{address}{path}");
    let exchange = async {
        let mut conn = TcpStream::connect(address)
            .await
            .map_err(|e| format!("{what}: cannot connect: {e}"))?;
        // HTTP/1.0: the server closes after the body, so reading to the
        // end is the whole response and no chunked decoding is needed.
        let request = format!("GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n");
        conn.write_all(request.as_bytes())
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        let mut raw = Vec::new();
        conn.read_to_end(&mut raw)
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        Ok::<_, String>(raw)
    };
    let raw = tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| format!("{what}: no answer within {TIMEOUT:?}"))??;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("{what}: not an HTTP response"))?;
    let status = head.split_whitespace().nth(1).unwrap_or_default();
    if status != "200" {
        return Err(format!("{what}: status {status}: {body}"));
    }
    serde_json::from_str(body).map_err(|e| format!("{what}: the body is not JSON: {e}"))
}
