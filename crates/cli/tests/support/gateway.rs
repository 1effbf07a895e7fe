//! Ingress gateways for process tests: a gateway `weft-proxy` under a real
//! control plane, a self-signed certificate for its HTTPS, and clients
//! that speak plain HTTP or verified HTTPS to it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::{Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio_rustls::rustls;
use weft_testkit::client;
use weft_testkit::control::ControlProcess;
use weft_testkit::process::{ProxyProcess, workspace_bin};

/// A self-signed certificate for `host`, written as PEM files.
pub struct Certificate {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub der: rustls_pki_types::CertificateDer<'static>,
}

impl Certificate {
    pub fn generate(dir: &Path, host: &str) -> Self {
        let c = rcgen::generate_simple_self_signed(vec![host.to_string()]).unwrap();
        let (cert, key) = (dir.join("gateway.pem"), dir.join("gateway-key.pem"));
        std::fs::write(&cert, c.cert.pem()).unwrap();
        std::fs::write(&key, c.signing_key.serialize_pem()).unwrap();
        Self {
            cert,
            key,
            der: c.cert.der().clone(),
        }
    }
}

/// A gateway proxy in `ns` speaking for service account `sa`, with
/// `labels` (`k: v, ...`) and `listeners` (YAML list items, each `- {...}`).
pub fn gateway_proxy(
    control: &ControlProcess,
    ns: &str,
    sa: &str,
    labels: &str,
    listeners: &str,
) -> ProxyProcess {
    let trust = control.bootstrap(ns, sa);
    ProxyProcess::spawn(
        &workspace_bin("weft-proxy"),
        &format!(
            "node: {{ workload: {sa}, namespace: {ns}, app: {sa}, service_account: {sa} }}
admin_address: 127.0.0.1:0
metrics_address: 127.0.0.1:0
health_address: null
listeners:
{listeners}
control_plane: {{ address: \"{}\", node_id: {sa}, labels: {{ {labels} }}, {trust} }}
",
            control.grpc,
        ),
    )
}

/// What a client got.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    /// The proxy's `weft-proxy-error`, if it answered itself.
    pub error: String,
    pub body: String,
    /// The ALPN protocol agreed, over TLS.
    pub alpn: Option<Vec<u8>>,
}

/// `GET path` with `Host: host`, in plain HTTP/1.1.
pub async fn http_get(addr: SocketAddr, host: &str, path: &str) -> Result<Answer, String> {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    send_h1(TokioIo::new(tcp), host, path, None).await
}

/// `GET path` with `Host: host` over TLS to `addr`, sending SNI `sni`,
/// trusting only `root`, offering `alpn` (HTTP/2 when it agrees on `h2`).
pub async fn https_get(
    addr: SocketAddr,
    sni: &str,
    root: &rustls_pki_types::CertificateDer<'static>,
    alpn: &[&[u8]],
    host: &str,
    path: &str,
) -> Result<Answer, String> {
    weft_identity::install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).map_err(|e| e.to_string())?;
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let name =
        rustls_pki_types::ServerName::try_from(sni.to_string()).map_err(|e| e.to_string())?;
    let tls = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp),
    )
    .await
    .map_err(|_| "TLS handshake timed out".to_string())?
    .map_err(|e| format!("TLS handshake: {e}"))?;
    let agreed = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    if agreed.as_deref() == Some(b"h2".as_slice()) {
        let (mut send, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let req = Request::get(format!("https://{host}{path}"))
            .body(client::empty())
            .unwrap();
        let rsp = tokio::time::timeout(Duration::from_secs(5), send.send_request(req))
            .await
            .map_err(|_| "timed out".to_string())?
            .map_err(|e| e.to_string())?;
        return Ok(answer(rsp, agreed).await);
    }
    send_h1(TokioIo::new(tls), host, path, agreed).await
}

async fn send_h1<I>(
    io: TokioIo<I>,
    host: &str,
    path: &str,
    alpn: Option<Vec<u8>>,
) -> Result<Answer, String>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut send, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let req = Request::get(path)
        .header("host", host)
        .body(client::empty())
        .unwrap();
    let rsp = tokio::time::timeout(Duration::from_secs(5), send.send_request(req))
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())?;
    Ok(answer(rsp, alpn).await)
}

async fn answer(rsp: http::Response<hyper::body::Incoming>, alpn: Option<Vec<u8>>) -> Answer {
    let error = rsp
        .headers()
        .get("weft-proxy-error")
        .map(|v| v.to_str().unwrap_or_default().to_string())
        .unwrap_or_default();
    let got = client::collect(rsp).await;
    Answer {
        status: got.status,
        error,
        body: got.text(),
        alpn,
    }
}
