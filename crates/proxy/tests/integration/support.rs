//! Config snippets and raw-socket helpers shared by the tests.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One explicit outbound listener and one service `echo.test:80` whose
/// cluster `echo` holds `endpoints`. `cluster_extra` is spliced into the
/// cluster (indent 4), e.g. `"    lb: round_robin\n"`.
pub fn outbound_to(endpoints: &[SocketAddr], cluster_extra: &str) -> String {
    let eps: String = if endpoints.is_empty() {
        "      []\n".to_string()
    } else {
        endpoints
            .iter()
            .map(|a| format!("      - address: \"{a}\"\n"))
            .collect()
    };
    format!(
        "node: {{ workload: client-v1, namespace: test, app: client, version: v1 }}
listeners:
  - name: outbound
    address: 127.0.0.1:0
    direction: outbound
services:
  - name: echo.test.svc.cluster.local
    hosts: [echo.test]
    ports:
      - port: 80
        cluster: echo
clusters:
  - name: echo
{cluster_extra}    endpoints:
{eps}"
    )
}

/// Writes `request` raw and reads until the peer closes or `until` appears
/// in what was read.
pub async fn raw_exchange(addr: SocketAddr, request: &[u8], until: &str) -> String {
    let mut sock = TcpStream::connect(addr).await.unwrap();
    sock.write_all(request).await.unwrap();
    read_until(&mut sock, until).await
}

/// Reads from `sock` until `until` appears or the peer closes (5 s max).
pub async fn read_until(sock: &mut TcpStream, until: &str) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let n = match tokio::time::timeout_at(deadline, sock.read(&mut buf)).await {
            Ok(Ok(n)) => n,
            Ok(Err(_)) | Err(_) => break,
        };
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        if String::from_utf8_lossy(&out).contains(until) {
            break;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Waits until metric `name` summed over series with `labels` equals
/// `want` (metrics are recorded when a response body ends, which can be a
/// moment after the client has read it).
pub async fn wait_metric(
    proxy: &weft_testkit::proxy::TestProxy,
    name: &str,
    labels: &[(&str, &str)],
    want: f64,
) {
    let addr = proxy.addrs.metrics.unwrap();
    let mut last = String::new();
    let deadline = tokio::time::Instant::now() + weft_testkit::PATIENCE;
    while tokio::time::Instant::now() < deadline {
        last = weft_testkit::metrics::scrape(addr).await;
        if weft_testkit::metrics::sum(&last, name, labels) == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{name}{labels:?} never became {want}; last scrape:\n{last}");
}

/// GET `path` from `host` over HTTP/1.1 through the `outbound` listener.
pub async fn get(
    proxy: &weft_testkit::proxy::TestProxy,
    host: &str,
    path: &str,
) -> weft_testkit::client::Collected {
    weft_testkit::client::get(
        proxy.listener("outbound"),
        http::Version::HTTP_11,
        host,
        path,
    )
    .await
}

/// Opens a `CONNECT authority` tunnel through the `outbound` listener and
/// returns the socket with the response head read so far.
pub async fn connect_tunnel(
    proxy: &weft_testkit::proxy::TestProxy,
    authority: &str,
) -> (TcpStream, String) {
    let mut sock = TcpStream::connect(proxy.listener("outbound"))
        .await
        .unwrap();
    let req = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
    sock.write_all(req.as_bytes()).await.unwrap();
    let head = read_until(&mut sock, "\r\n\r\n").await;
    (sock, head)
}

/// An explicit outbound listener and one service `host:80` with one HTTP
/// route (`route` is the YAML after `- `, indent 10) to a cluster `backend`
/// at `upstream`.
pub fn one_route(host: &str, route: &str, upstream: SocketAddr) -> String {
    format!(
        "listeners: [{{ name: outbound, address: 127.0.0.1:0, direction: outbound }}]
services:
  - name: {host}
    ports:
      - port: 80
        routes:
          - {route}
clusters:
  - {{ name: backend, endpoints: [{{ address: \"{upstream}\" }}] }}
"
    )
}

/// An explicit outbound listener that sends every connection to the
/// service at `authority` (`host:port`) whatever the Host, so tests choose
/// the Host freely; the service's HTTP routes are `routes` (each a YAML
/// flow mapping) and its cluster `backend` is at `upstream`.
pub fn service_routes(authority: &str, routes: &[&str], upstream: SocketAddr) -> String {
    let (host, port) = authority.split_once(':').unwrap();
    let routes: String = routes
        .iter()
        .map(|r| format!("          - {r}\n"))
        .collect();
    format!(
        "listeners: [{{ name: outbound, address: 127.0.0.1:0, direction: outbound, destination: \"{authority}\" }}]
services:
  - name: {host}
    ports:
      - port: {port}
        protocol: http
        routes:
{routes}clusters:
  - {{ name: backend, endpoints: [{{ address: \"{upstream}\" }}] }}
"
    )
}

/// Sends `req` on a fresh HTTP/1.1 connection to the `outbound` listener.
pub async fn send(
    proxy: &weft_testkit::proxy::TestProxy,
    req: http::Request<weft_testkit::client::Body>,
) -> weft_testkit::client::Collected {
    let mut conn = weft_testkit::client::h1(proxy.listener("outbound")).await;
    weft_testkit::client::collect(conn.send_request(req).await.unwrap()).await
}

/// A listener that counts the connections made to it and closes each at
/// once (so a request that wrongly reaches it fails fast instead of
/// hanging): an upstream that must never be reached.
pub struct Untouched {
    pub addr: SocketAddr,
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Untouched {
    pub async fn start() -> Self {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            while let Ok((_closed, _)) = l.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        Self {
            addr,
            accepted,
            task,
        }
    }

    pub fn connections(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for Untouched {
    fn drop(&mut self) {
        self.task.abort();
    }
}
