//! A small bookinfo for process tests: `details` behind its sidecar, client
//! sidecars with their own identities, and ways to call and to forge.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{Method, Request, StatusCode};
use weft_identity::{ALPN_H2, Ca, Credentials, Expect, SpiffeId, WorkloadKey};
use weft_testkit::control::ControlProcess;
use weft_testkit::process::{ProxyProcess, workspace_bin};
use weft_testkit::servers::Server;
use weft_testkit::{client, metrics};

pub const TD: &str = "cluster.local";

pub fn weft() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weft"))
}

/// `details` behind its sidecar (service account `bookinfo-details`).
pub struct Details {
    pub app: Server,
    pub sidecar: ProxyProcess,
}

impl Details {
    pub fn inbound(&self) -> SocketAddr {
        self.sidecar.listener("inbound")
    }

    pub async fn metrics(&self) -> String {
        metrics::scrape(self.sidecar.metrics()).await
    }
}

/// A service `details` on 9080 selecting `app: details`, plus `extra`.
pub fn write_files(dir: &Path, app_port: u16, extra: &str) {
    std::fs::write(
        dir.join("details.yaml"),
        format!(
            "apiVersion: v1
kind: Service
metadata: {{ name: details, namespace: default }}
spec:
  selector: {{ app: details }}
  ports: [{{ name: http, port: 9080, targetPort: {app_port} }}]
"
        ),
    )
    .unwrap();
    write_policy(dir, extra);
}

/// Rewrites `policy.yaml`, with a later mtime so the watcher sees it.
pub fn write_policy(dir: &Path, yaml: &str) {
    let path = dir.join("policy.yaml");
    std::fs::write(&path, yaml).unwrap();
    weft_testkit::touch_later(&path, Duration::from_secs(1));
}

pub fn control(dir: &Path) -> ControlProcess {
    ControlProcess::spawn(
        weft(),
        &[&dir.join("details.yaml"), &dir.join("policy.yaml")],
        &dir.join("state"),
        "127.0.0.1:0".parse().unwrap(),
    )
}

/// details' sidecar: `inbound` on `address` (port 0 for any); `extra` is
/// spliced into its `control_plane` block.
pub fn details_sidecar(
    control: &ControlProcess,
    app: SocketAddr,
    address: &str,
    extra: &str,
) -> ProxyProcess {
    inbound_sidecar(control, "details", app, address, extra)
}

/// The sidecar of workload `<name>-v1` (`app: <name>`, service account
/// `bookinfo-<name>`) in front of `app`.
pub fn inbound_sidecar(
    control: &ControlProcess,
    name: &str,
    app: SocketAddr,
    address: &str,
    extra: &str,
) -> ProxyProcess {
    let trust = control.bootstrap("default", &format!("bookinfo-{name}"));
    ProxyProcess::spawn(
        &workspace_bin("weft-proxy"),
        &format!(
            "node: {{ workload: {name}-v1, namespace: default, app: {name}, version: v1, service_account: bookinfo-{name} }}
admin_address: 127.0.0.1:0
metrics_address: 127.0.0.1:0
health_address: null
listeners:
  - {{ name: inbound, address: \"{address}\", direction: inbound, target_port: {} }}
control_plane: {{ address: \"{}\", node_id: {name}-v1, labels: {{ app: {name}, version: v1 }}, {trust}{extra} }}
",
            app.port(),
            control.grpc,
        ),
    )
}

pub async fn details(control: &ControlProcess, app: Server) -> Details {
    let sidecar = details_sidecar(control, app.addr, "127.0.0.1:0", "");
    Details { app, sidecar }
}

/// A client workload's sidecar, outbound only, speaking for `sa`.
pub fn client_sidecar(control: &ControlProcess, sa: &str, extra: &str) -> ProxyProcess {
    let trust = control.bootstrap("default", sa);
    client_sidecar_with(control.grpc, sa, &trust, extra)
}

/// As [`client_sidecar`], with `trust` (`ControlProcess::bootstrap`)
/// minted by the caller: from another network namespace, say.
pub fn client_sidecar_with(grpc: SocketAddr, sa: &str, trust: &str, extra: &str) -> ProxyProcess {
    ProxyProcess::spawn(
        &workspace_bin("weft-proxy"),
        &format!(
            "node: {{ workload: {sa}, namespace: default, app: {sa}, service_account: {sa} }}
admin_address: 127.0.0.1:0
metrics_address: 127.0.0.1:0
health_address: null
outbound_policy: registry_only
listeners:
  - {{ name: outbound, address: 127.0.0.1:0, direction: outbound }}
control_plane: {{ address: \"{grpc}\", node_id: {sa}, labels: {{ app: {sa} }}, {trust}{extra} }}
"
        ),
    )
}

/// `method http://details:9080/` through the client sidecar at
/// `outbound`: the status and the proxy's error header, if any.
pub async fn call(outbound: SocketAddr, method: Method) -> Result<(StatusCode, String), String> {
    let mut send = tokio::time::timeout(Duration::from_secs(5), client::h1(outbound))
        .await
        .map_err(|_| "connect timed out".to_string())?;
    let req = Request::builder()
        .method(method)
        .uri("/")
        .header("host", "details:9080")
        .body(client::empty())
        .unwrap();
    let rsp = tokio::time::timeout(Duration::from_secs(5), send.send_request(req))
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let why = rsp
        .headers()
        .get("weft-proxy-error")
        .map(|v| v.to_str().unwrap_or_default().to_string())
        .unwrap_or_default();
    let got = client::collect(rsp).await;
    Ok((got.status, format!("{why} {}", got.text())))
}

pub async fn status(outbound: SocketAddr, method: Method) -> StatusCode {
    call(outbound, method)
        .await
        .map_or(StatusCode::IM_A_TEAPOT, |(s, _)| s)
}

/// A plaintext HTTP/1.1 GET straight to `addr`: the status, or why none.
pub async fn plaintext_get(addr: SocketAddr) -> Result<StatusCode, String> {
    let conn = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(conn))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let req = Request::get("/")
        .header("host", "details")
        .body(client::empty())
        .unwrap();
    match tokio::time::timeout(Duration::from_secs(5), send.send_request(req)).await {
        Ok(Ok(rsp)) => Ok(rsp.status()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".into()),
    }
}

/// Credentials for `sa` signed by `ca`.
pub fn workload(ca: &Ca, sa: &str) -> Arc<Credentials> {
    let id = SpiffeId::new(ca.trust_domain(), "default", sa).unwrap();
    let key = WorkloadKey::generate(id.clone()).unwrap();
    let issued = ca
        .sign(&key.csr().unwrap(), &id, Duration::from_secs(3600))
        .unwrap();
    let creds = Credentials::new(ca.trust_domain(), ca.bundle().clone());
    creds
        .set_cert(
            id,
            key.certified(issued.chain).unwrap(),
            SystemTime::now(),
            issued.not_after,
        )
        .unwrap();
    creds
}

/// A mesh mTLS handshake to `addr` as `creds`, expecting any workload of
/// the trust domain: Ok, or the error that ended it.
pub async fn handshake(addr: SocketAddr, creds: &Arc<Credentials>) -> Result<(), String> {
    let config = creds.mesh_client_config(Expect::TrustDomain(TD.into()), ALPN_H2);
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let name = rustls_pki_types::ServerName::IpAddress(addr.ip().into());
    let mut tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    // TLS 1.3: the server checks the client's certificate after the
    // client thinks the handshake is done, so read to see its verdict.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 64];
    match tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buf)).await {
        Ok(Ok(n)) if n > 0 => Ok(()),
        Ok(Ok(_)) => Err("closed".into()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer".into()),
    }
}

pub fn sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    metrics::sum(text, name, labels).unwrap_or(0.0)
}
