//! Transparent interception inside network namespaces with real iptables
//! rules. Needs root; fails with a clear message without it.
//!
//! Each test builds its own pod (see [`pod`]): Istio's istio-init capture
//! rules, the real `weft-proxy` binary running as uid 1337, apps and
//! clients inside the namespace. None of the clients knows about the proxy:
//! they connect to service virtual IPs, outside addresses or the pod's own
//! address, and the kernel sends them through it.
//!
//! Every answer also shows the proxy's own upstream connections are not
//! captured again. For upstreams on the pod's loopback (the VIP and inbound
//! tests) Istio's `-d 127.0.0.1/32 -j RETURN` would spare them anyway; the
//! passthrough test is the one that needs the owner match on uid 1337:
//! without it, the proxy's connection to 198.18.1.1 is redirected back into
//! 15001, again and again, until the proxy runs out of file descriptors
//! and answers 503.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod pod;

use std::net::SocketAddr;
use std::time::Duration;

use http::{Request, StatusCode, Version};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use weft_testkit::{PATIENCE, client, metrics};

use crate::pod::{EXTERNAL_IP, METRICS, POD_IP, Pod};

/// A sidecar with transparent outbound (15001) and inbound (15006)
/// listeners, then `rest` (services, clusters, inbound ports).
fn sidecar_config(rest: &str) -> String {
    format!(
        "node: {{ workload: web-v1, namespace: test, app: web, version: v1, service_account: web }}
admin_address: 127.0.0.1:15000
metrics_address: {METRICS}
health_address: null
listeners:
  - {{ name: outbound, address: 0.0.0.0:15001, direction: outbound, interception: transparent }}
  - {{ name: inbound, address: 0.0.0.0:15006, direction: inbound, interception: transparent }}
{rest}"
    )
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Waits until the sidecar's metrics show `name` with `labels` summing to
/// `want`. Call from inside the pod: metrics are on its loopback.
async fn wait_metric(name: &str, labels: &[(&str, &str)], want: f64) {
    let mut last = String::new();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::time::Instant::now() < deadline {
        last = metrics::scrape(addr(METRICS)).await;
        if metrics::sum(&last, name, labels) == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{name}{labels:?} never became {want}; last scrape:\n{last}");
}

#[test]
fn outbound_http_to_a_service_vip_is_routed_to_its_cluster() {
    let pod = Pod::new("vip-http");
    let app = pod.ns.listen("127.0.0.1:0");
    let _sidecar = pod.sidecar(&sidecar_config(&format!(
        "services:
  - name: echo.test.svc.cluster.local
    addresses: [198.18.0.10]
    ports: [{{ port: 80, cluster: echo }}]
clusters:
  - {{ name: echo, service: echo.test.svc.cluster.local, endpoints: [{{ address: \"{}\" }}] }}
",
        app.local_addr().unwrap()
    )));
    pod.run(|| async move {
        let app = TcpListener::from_std(app).unwrap();
        tokio::spawn(async move { weft_sample::echo::serve(app, "echo").await });
        // Nothing listens on the VIP: only the redirect to 15001 and the
        // proxy's routing by original destination can answer. The Host
        // names no service, so the VIP alone decides.
        for version in [Version::HTTP_11, Version::HTTP_2] {
            let rsp =
                client::get(addr("198.18.0.10:80"), version, "anything.example", "/vip").await;
            assert_eq!(rsp.status, StatusCode::OK, "{version:?}: {}", rsp.text());
            let body = rsp.json();
            assert_eq!(body["service"], "echo", "{version:?}: {body}");
            assert_eq!(body["path"], "/vip");
        }
        let labels = [
            ("reporter", "source"),
            ("source_workload", "web-v1"),
            ("destination_service", "echo.test.svc.cluster.local"),
            ("response_code", "200"),
        ];
        wait_metric("istio_requests_total", &labels, 2.0).await;
    });
}

#[test]
fn outbound_opaque_tcp_to_a_service_vip_reaches_its_cluster() {
    let pod = Pod::new("vip-tcp");
    let db = pod.ns.listen("127.0.0.1:0");
    let _sidecar = pod.sidecar(&sidecar_config(&format!(
        "services:
  - name: db.test.svc.cluster.local
    addresses: [198.18.0.11]
    ports: [{{ port: 5432, protocol: tcp, cluster: db }}]
clusters:
  - {{ name: db, service: db.test.svc.cluster.local, endpoints: [{{ address: \"{}\" }}] }}
",
        db.local_addr().unwrap()
    )));
    pod.run(|| async move {
        let db = TcpListener::from_std(db).unwrap();
        tokio::spawn(weft_sample::tcp::serve(db));
        // Bytes that look like HTTP come back verbatim: the port is
        // declared opaque, so the proxy relays them without parsing.
        let sent = b"GET / HTTP/1.1\r\nhost: not-http\r\n\r\nand more bytes";
        let mut conn = TcpStream::connect("198.18.0.11:5432").await.unwrap();
        conn.write_all(sent).await.unwrap();
        conn.shutdown().await.unwrap();
        let mut got = Vec::new();
        conn.read_to_end(&mut got).await.unwrap();
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(sent));
        let labels = [
            ("reporter", "source"),
            ("destination_service", "db.test.svc.cluster.local"),
        ];
        wait_metric("istio_tcp_connections_closed_total", &labels, 1.0).await;
        wait_metric("istio_tcp_sent_bytes_total", &labels, sent.len() as f64).await;
    });
}

#[test]
fn outbound_traffic_no_service_claims_passes_through_unchanged() {
    let pod = Pod::new("passthrough");
    // Outside the pod: an HTTP server and a TCP echo server.
    let web = pod.net.listen(&format!("{EXTERNAL_IP}:8080"));
    let echo = pod.net.listen(&format!("{EXTERNAL_IP}:9000"));
    let _sidecar = pod.sidecar(&sidecar_config(""));
    pod.run(|| async move {
        let web = TcpListener::from_std(web).unwrap();
        tokio::spawn(async move { weft_sample::echo::serve(web, "external").await });
        tokio::spawn(weft_sample::tcp::serve(
            TcpListener::from_std(echo).unwrap(),
        ));

        let target = addr(&format!("{EXTERNAL_IP}:8080"));
        let rsp = client::get(target, Version::HTTP_11, "external.example", "/out?q=1").await;
        assert_eq!(rsp.status, StatusCode::OK, "{}", rsp.text());
        let body = rsp.json();
        assert_eq!(body["service"], "external");
        assert_eq!(
            (body["path"].as_str(), body["query"].as_str()),
            (Some("/out"), Some("q=1"))
        );
        assert_eq!(body["host"], "external.example");
        // It left the pod from the pod's address: the proxy's own
        // connection went out through eth0 instead of back into 15001.
        let peer: SocketAddr = body["peer"].as_str().unwrap().parse().unwrap();
        assert_eq!(peer.ip().to_string(), POD_IP);

        // Opaque bytes (detected, not declared) pass through as well.
        let mut conn = TcpStream::connect((EXTERNAL_IP, 9000)).await.unwrap();
        conn.write_all(b"\x00\x01 not http").await.unwrap();
        conn.shutdown().await.unwrap();
        let mut got = Vec::new();
        conn.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"\x00\x01 not http");

        let http = [
            ("reporter", "source"),
            ("destination_service", EXTERNAL_IP),
            ("response_code", "200"),
        ];
        wait_metric("istio_requests_total", &http, 1.0).await;
        let tcp = [("reporter", "source"), ("destination_service", EXTERNAL_IP)];
        wait_metric("istio_tcp_connections_closed_total", &tcp, 1.0).await;
    });
}

#[test]
fn inbound_connections_to_the_pod_reach_the_app_through_the_sidecar() {
    let pod = Pod::new("inbound");
    // The app listens on loopback only: a connection to 198.18.0.2:8080
    // that was not redirected to 15006 would be refused.
    let app = pod.ns.listen("127.0.0.1:8080");
    // A client in the network namespace, as another pod would be.
    let client_sock = pod.net.tcp_socket();
    let _sidecar = pod.sidecar(&sidecar_config(
        "inbound:
  - { port: 8080, service: web.test.svc.cluster.local }
",
    ));
    pod.run(|| async move {
        let app = TcpListener::from_std(app).unwrap();
        tokio::spawn(async move { weft_sample::echo::serve(app, "web").await });

        let conn = client_sock
            .connect(addr(&format!("{POD_IP}:8080")))
            .await
            .unwrap();
        let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(conn))
            .await
            .unwrap();
        tokio::spawn(conn);
        let req = Request::get("/in")
            .header("host", "web.test")
            .body(client::empty())
            .unwrap();
        let rsp = client::collect(tx.send_request(req).await.unwrap()).await;
        assert_eq!(rsp.status, StatusCode::OK, "{}", rsp.text());
        let body = rsp.json();
        assert_eq!(
            (body["service"].as_str(), body["path"].as_str()),
            (Some("web"), Some("/in"))
        );
        // The app sees the sidecar on loopback, not the remote client.
        let peer: SocketAddr = body["peer"].as_str().unwrap().parse().unwrap();
        assert!(peer.ip().is_loopback(), "app saw {peer}");

        let labels = [
            ("reporter", "destination"),
            ("destination_workload", "web-v1"),
            ("destination_service", "web.test.svc.cluster.local"),
            ("response_code", "200"),
        ];
        wait_metric("istio_requests_total", &labels, 1.0).await;
    });
}
