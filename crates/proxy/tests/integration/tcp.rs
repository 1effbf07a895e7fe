use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use weft_testkit::proxy::TestProxy;
use weft_testkit::servers;

use crate::support::{connect_tunnel, read_until, wait_metric};

/// An outbound listener pinned to `tcp.test:9000`, a TCP service whose
/// endpoint is `upstream`, and an explicit proxy listener.
fn config(upstream: SocketAddr) -> String {
    format!(
        "node: {{ workload: client-v1, namespace: test }}
listeners:
  - {{ name: to-db, address: 127.0.0.1:0, direction: outbound, destination: \"tcp.test:9000\" }}
  - {{ name: outbound, address: 127.0.0.1:0, direction: outbound }}
services:
  - name: tcp.test
    ports:
      - {{ port: 9000, protocol: tcp, cluster: db }}
clusters:
  - name: db
    endpoints: [{{ address: \"{upstream}\" }}]
"
    )
}

#[tokio::test]
async fn opaque_tcp_round_trip_with_half_close() {
    let echo = servers::tcp_echo().await;
    let proxy = TestProxy::start(&config(echo.addr)).await;
    let mut sock = TcpStream::connect(proxy.listener("to-db")).await.unwrap();
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    sock.write_all(&payload).await.unwrap();
    // Half-close: we are done sending but still want the whole echo.
    sock.shutdown().await.unwrap();
    let mut back = Vec::new();
    sock.read_to_end(&mut back).await.unwrap();
    assert_eq!(back.len(), payload.len());
    assert!(back == payload);

    wait_metric(
        &proxy,
        "istio_tcp_connections_closed_total",
        &[("destination_service", "tcp.test")],
        1.0,
    )
    .await;
    let text = proxy.metrics().await;
    let sum = |n| {
        weft_testkit::metrics::sum(
            &text,
            n,
            &[("reporter", "source"), ("source_workload", "client-v1")],
        )
    };
    assert_eq!(sum("istio_tcp_received_bytes_total"), Some(200_000.0));
    assert_eq!(sum("istio_tcp_sent_bytes_total"), Some(200_000.0));
    assert_eq!(sum("istio_tcp_connections_opened_total"), Some(1.0));
}

#[tokio::test]
async fn connect_tunnels_to_a_service() {
    let echo = servers::tcp_echo().await;
    let proxy = TestProxy::start(&config(echo.addr)).await;
    let (mut sock, head) = connect_tunnel(&proxy, "tcp.test:9000").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // TLS bytes or anything else: the tunnel is opaque.
    sock.write_all(b"\x16\x03\x01 not really tls")
        .await
        .unwrap();
    let back = read_until(&mut sock, "tls").await;
    assert_eq!(back.as_bytes(), b"\x16\x03\x01 not really tls");
}

#[tokio::test]
async fn connect_passes_through_to_unknown_addresses() {
    let echo = servers::tcp_echo().await;
    let proxy = TestProxy::start(&config(echo.addr)).await;
    let (mut sock, head) = connect_tunnel(&proxy, &echo.addr.to_string()).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    sock.write_all(b"hello").await.unwrap();
    assert_eq!(read_until(&mut sock, "hello").await, "hello");
}

#[tokio::test]
async fn connect_to_a_dead_destination_is_a_503_uf() {
    let dead = servers::refused_addr().await;
    let proxy = TestProxy::start(&config(dead)).await;
    let (mut sock, mut rsp) = connect_tunnel(&proxy, "tcp.test:9000").await;
    rsp += &read_until(&mut sock, "failure").await;
    assert!(rsp.starts_with("HTTP/1.1 503"), "{rsp}");
    assert!(
        rsp.contains("weft-proxy-error: upstream connect failure"),
        "{rsp}"
    );
}

#[tokio::test]
async fn a_dead_tcp_upstream_closes_the_client_and_counts_uf() {
    let dead = servers::refused_addr().await;
    let proxy = TestProxy::start(&config(dead)).await;
    let mut sock = TcpStream::connect(proxy.listener("to-db")).await.unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(sock.read(&mut buf).await.unwrap_or(0), 0, "closed");
    wait_metric(
        &proxy,
        "istio_tcp_connections_closed_total",
        &[("response_flags", "UF")],
        1.0,
    )
    .await;
}

#[tokio::test]
async fn connections_over_max_connections_are_closed_with_uo() {
    let echo = servers::tcp_echo().await;
    let yaml = config(echo.addr).replace(
        "  - name: db\n",
        "  - name: db\n    connection_pool: { max_connections: 1 }\n",
    );
    let proxy = TestProxy::start(&yaml).await;
    let mut first = TcpStream::connect(proxy.listener("to-db")).await.unwrap();
    first.write_all(b"ping").await.unwrap();
    assert_eq!(read_until(&mut first, "ping").await, "ping");
    // The second is refused while the first relays...
    let mut second = TcpStream::connect(proxy.listener("to-db")).await.unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(second.read(&mut buf).await.unwrap_or(0), 0);
    wait_metric(
        &proxy,
        "istio_tcp_connections_closed_total",
        &[("response_flags", "UO")],
        1.0,
    )
    .await;
    // ...and a third gets through once it is done.
    drop(first);
    weft_testkit::eventually("the place comes back", weft_testkit::PATIENCE, || async {
        let mut s = TcpStream::connect(proxy.listener("to-db")).await.unwrap();
        s.write_all(b"pong").await.is_ok() && read_until(&mut s, "pong").await == "pong"
    })
    .await;
}
