//! Starting the real binary with its stderr captured, the config the tests
//! share, and small clients for raw sockets and the admin port.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, Version};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use weft_testkit::client::{self, Collected};
use weft_testkit::process::ProxyProcess;

/// Admin and metrics on ephemeral loopback ports, no health port.
const TEST_PORTS: &str =
    "admin_address: 127.0.0.1:0\nmetrics_address: 127.0.0.1:0\nhealth_address: null\n";

/// The host clients name to reach the echo service over HTTP/1.1 upstream.
pub const ECHO: &str = "echo.test";
/// The same endpoints, spoken to over HTTP/2 (h2c) upstream.
pub const ECHO_H2: &str = "echo-h2.test";

/// A `weft-proxy` child whose stderr goes to a file the test can read.
pub struct Proc {
    proxy: ProxyProcess,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

/// Listeners: `outbound` (protocol detection), `http1` (HTTP/1 only) and
/// `to-db` (every connection forwarded to the TCP service `tcp.test:9000`).
/// Services `echo.test:80` and `echo-h2.test:80` lead to `echo`; the TCP
/// service leads to `tcp` (or nowhere when `None`). `top` is spliced in at
/// the top level (`drain_timeout: 1s\n`).
pub fn config(echo: SocketAddr, tcp: Option<SocketAddr>, top: &str) -> String {
    let tcp = tcp.map_or(String::new(), |a| format!("{{ address: \"{a}\" }}"));
    format!(
        "{top}node: {{ workload: client-v1, namespace: test, app: client, version: v1 }}
outbound_policy: registry_only
listeners:
  - {{ name: outbound, address: 127.0.0.1:0, direction: outbound }}
  - {{ name: http1, address: 127.0.0.1:0, direction: outbound, protocol: http1 }}
  - {{ name: to-db, address: 127.0.0.1:0, direction: outbound, destination: \"tcp.test:9000\" }}
services:
  - name: echo.test.svc.cluster.local
    hosts: [{ECHO}]
    ports: [{{ port: 80, cluster: echo }}]
  - name: echo-h2.test.svc.cluster.local
    hosts: [{ECHO_H2}]
    ports: [{{ port: 80, cluster: echo-h2 }}]
  - name: tcp.test
    ports: [{{ port: 9000, protocol: tcp, cluster: db }}]
clusters:
  - name: echo
    endpoints: [{{ address: \"{echo}\" }}]
  - name: echo-h2
    protocol: http2
    endpoints: [{{ address: \"{echo}\" }}]
  - name: db
    endpoints: [{tcp}]
"
    )
}

// === impl Proc ===

impl Proc {
    /// Starts the binary on `yaml` (admin and metrics ports are added).
    pub fn spawn(yaml: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let stderr = dir.path().join("stderr.log");
        let file = std::fs::File::create(&stderr).unwrap();
        let yaml = format!("{TEST_PORTS}{yaml}");
        let proxy =
            ProxyProcess::spawn_with(env!("CARGO_BIN_EXE_weft-proxy").as_ref(), &yaml, |c| {
                c.stderr(Stdio::from(file))
            });
        Self {
            proxy,
            stderr,
            _dir: dir,
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Fails the test when the child panicked at any point so far.
    pub fn assert_no_panic(&self) {
        let log = self.stderr();
        assert!(!log.contains("panicked"), "weft-proxy panicked:\n{log}");
    }

    /// GET `path` from the echo service through listener `listener`.
    pub async fn get(&self, listener: &str, path: &str) -> Collected {
        client::get(self.listener(listener), Version::HTTP_11, ECHO, path).await
    }

    /// A normal request through each HTTP listener still works.
    pub async fn assert_serving(&self) {
        for listener in ["outbound", "http1"] {
            let rsp = self.get(listener, "/hello").await;
            assert_eq!(rsp.status, StatusCode::OK, "via {listener}: {}", rsp.text());
            assert_eq!(rsp.json()["path"], "/hello");
        }
        self.assert_no_panic();
    }
}

impl Deref for Proc {
    type Target = ProxyProcess;
    fn deref(&self) -> &ProxyProcess {
        &self.proxy
    }
}

impl DerefMut for Proc {
    fn deref_mut(&mut self) -> &mut ProxyProcess {
        &mut self.proxy
    }
}

/// One request to an admin-style endpoint on a fresh connection.
pub async fn call(addr: SocketAddr, method: Method, path: &str) -> Collected {
    try_call(addr, method, path).await.unwrap()
}

/// [`call`], for a process that may exit meanwhile: failures are returned.
pub async fn try_call(addr: SocketAddr, method: Method, path: &str) -> Result<Collected, String> {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "admin")
        .body(client::empty())
        .map_err(|e| e.to_string())?;
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let rsp = send.send_request(req).await.map_err(|e| e.to_string())?;
    Ok(client::collect(rsp).await)
}

/// Whether a TCP connect to `addr` is refused.
pub async fn refused(addr: SocketAddr) -> bool {
    matches!(TcpStream::connect(addr).await, Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused)
}

/// Writes `bytes` raw and reads what comes back until the proxy closes (a
/// reset counts as a close). No half-close: hyper, by default, drops an
/// HTTP/1 connection whose client shuts its write side mid-exchange.
pub async fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut sock = TcpStream::connect(addr).await.unwrap();
    // The proxy may close as soon as it has seen enough; that is fine.
    let _ = sock.write_all(bytes).await;
    read_to_close(&mut sock).await
}

/// Reads until EOF or reset, returning what arrived; panics when the peer
/// keeps the connection open for 5 s.
pub async fn read_to_close(sock: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, sock.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "connection still open after 5 s; received {:?}",
                String::from_utf8_lossy(&out)
            ),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An HTTP server whose requests to `/delay/<ms>` answer 200 after `ms`,
/// reporting each request's arrival on the returned channel, so a test can
/// act while a request is known to be in flight.
pub async fn announcing_server() -> (SocketAddr, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                continue;
            };
            let tx = tx.clone();
            let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let path = req.uri().path().to_string();
                let _ = tx.send(path.clone());
                async move {
                    let ms = path.strip_prefix("/delay/").and_then(|m| m.parse().ok());
                    tokio::time::sleep(Duration::from_millis(ms.unwrap_or(0))).await;
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from("done\n"))))
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(sock), svc),
            );
        }
    });
    (addr, rx)
}
