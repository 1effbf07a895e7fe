use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use weft_testkit::proxy::TestProxy;
use weft_testkit::servers;

use crate::support::{outbound_to, read_until, wait_metric};

/// A detecting listener pinned to `db.test:3306` (declared `detect`, so the
/// port is sniffed) plus the same destination with the port declared
/// opaque.
fn config(upstream: SocketAddr, timeout: &str) -> String {
    format!(
        "listeners:
  - name: sniffed
    address: 127.0.0.1:0
    direction: outbound
    destination: db.test:3306
    detect_timeout: {timeout}
  - name: opaque
    address: 127.0.0.1:0
    direction: outbound
    destination: db.test:3306
    detect_timeout: 10s
    opaque_ports: [3306]
services:
  - name: db.test
    ports: [{{ port: 3306, cluster: db }}]
clusters:
  - name: db
    endpoints: [{{ address: \"{upstream}\" }}]
"
    )
}

#[tokio::test]
async fn a_client_sending_one_byte_at_a_time_is_still_http() {
    let echo = servers::http_echo("echo").await;
    let proxy = TestProxy::start(&outbound_to(&[echo.addr], "")).await;
    let mut sock = TcpStream::connect(proxy.listener("outbound"))
        .await
        .unwrap();
    let req = b"GET /slow HTTP/1.1\r\nHost: echo.test\r\nConnection: close\r\n\r\n";
    for b in req {
        sock.write_all(&[*b]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let rsp = read_until(&mut sock, "\"path\":\"/slow\"").await;
    assert!(rsp.starts_with("HTTP/1.1 200"), "{rsp}");
}

#[tokio::test]
async fn a_server_that_speaks_first_is_not_stalled() {
    let mysql = servers::banner(b"5.7.0-mysql-greeting\n").await;
    let proxy = TestProxy::start(&config(mysql.addr, "100ms")).await;
    let started = Instant::now();
    let mut sock = TcpStream::connect(proxy.listener("sniffed")).await.unwrap();
    let greeting = read_until(&mut sock, "greeting\n").await;
    assert_eq!(greeting, "5.7.0-mysql-greeting\n");
    // Detection gives up after its timeout, not Linkerd's 10 s.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    wait_metric(
        &proxy,
        "weft_protocol_detect_timeouts_total",
        &[("listener", "sniffed")],
        1.0,
    )
    .await;
    // And the connection then works as opaque TCP.
    sock.write_all(b"SELECT 1").await.unwrap();
    assert_eq!(read_until(&mut sock, "SELECT 1").await, "SELECT 1");
}

#[tokio::test]
async fn opaque_ports_skip_detection_entirely() {
    let mysql = servers::banner(b"hello from mysql\n").await;
    let proxy = TestProxy::start(&config(mysql.addr, "10s")).await;
    let mut sock = TcpStream::connect(proxy.listener("opaque")).await.unwrap();
    // With a 10 s detection timeout, only skipping detection can deliver
    // the greeting within read_until's 5 s.
    assert_eq!(read_until(&mut sock, "mysql\n").await, "hello from mysql\n");
    let text = proxy.metrics().await;
    assert_eq!(
        weft_testkit::metrics::sum(&text, "weft_protocol_detect_timeouts_total", &[]),
        None,
        "{text}"
    );
}

#[tokio::test]
async fn a_client_that_never_speaks_is_closed_after_the_timeout() {
    let echo = servers::http_echo("echo").await;
    // The explicit outbound listener has no destination for opaque bytes.
    let proxy = TestProxy::start(&outbound_to(&[echo.addr], "")).await;
    let started = Instant::now();
    let mut sock = TcpStream::connect(proxy.listener("outbound"))
        .await
        .unwrap();
    let mut buf = [0u8; 8];
    let n = tokio::time::timeout(Duration::from_secs(5), sock.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "closed without a reply");
    assert!(
        started.elapsed() >= Duration::from_millis(90),
        "{:?}",
        started.elapsed()
    );
    wait_metric(
        &proxy,
        "weft_protocol_detect_timeouts_total",
        &[("listener", "outbound")],
        1.0,
    )
    .await;
    // Everyone else is still served.
    let rsp = weft_testkit::client::get(
        proxy.listener("outbound"),
        http::Version::HTTP_11,
        "echo.test",
        "/",
    )
    .await;
    assert_eq!(rsp.status, 200);
}

#[tokio::test]
async fn tls_client_hellos_are_proxied_as_opaque_bytes() {
    let echo = servers::tcp_echo().await;
    let proxy = TestProxy::start(&config(echo.addr, "5s")).await;
    let mut sock = TcpStream::connect(proxy.listener("sniffed")).await.unwrap();
    let hello = b"\x16\x03\x01\x00\x05hello";
    sock.write_all(hello).await.unwrap();
    let back = read_until(&mut sock, "hello").await;
    assert_eq!(back.as_bytes(), hello);
}
