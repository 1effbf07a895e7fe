//! Mirroring (Istio `mirror` / `mirrors`, as Envoy shadows requests):
//! copies reach the mirror with `-shadow` after the host, carry the body,
//! are sampled by percentage, and never slow down or fail the caller.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http::{Request, StatusCode};
use weft_testkit::proxy::TestProxy;
use weft_testkit::{client, servers};

use crate::scripted::{Reply, Scripted, status};
use crate::support::send;

/// Service `web.test:80` whose route goes to `primary` and copies
/// `percent`% to `mirror`; `route_extra` is spliced into the route.
fn config(primary: SocketAddr, mirror: SocketAddr, percent: f64, route_extra: &str) -> String {
    format!(
        "listeners: [{{ name: outbound, address: 127.0.0.1:0, direction: outbound }}]
services:
  - name: web.test
    ports:
      - port: 80
        routes:
          - {{ backends: [{{ cluster: primary }}], mirrors: [{{ cluster: shadow, percent: {percent} }}] {route_extra} }}
clusters:
  - {{ name: primary, endpoints: [{{ address: \"{primary}\" }}] }}
  - {{ name: shadow, endpoints: [{{ address: \"{mirror}\" }}] }}
"
    )
}

fn post(body: &'static str) -> Request<client::Body> {
    Request::post("/echo?id=7")
        .header("host", "web.test")
        .body(client::full(body))
        .unwrap()
}

/// Waits until the mirror has served `n` copies.
async fn served(mirror: &Scripted, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while mirror.served() < n {
        assert!(
            Instant::now() < deadline,
            "{} of {n} copies arrived",
            mirror.served()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_copy_reaches_the_mirror_with_the_shadow_host_and_the_body() {
    let primary = servers::http_echo("primary").await;
    let mirror = Scripted::start(false, |_| status(200)).await;
    let proxy = TestProxy::start(&config(primary.addr, mirror.addr, 100.0, "")).await;

    let rsp = send(&proxy, post("two lattes")).await;
    assert_eq!(rsp.status, StatusCode::OK);
    assert_eq!(
        rsp.text(),
        "two lattes",
        "the caller gets the primary's answer"
    );
    served(&mirror, 1).await;
    assert_eq!(mirror.hosts.lock()[0], "web.test-shadow");
    assert_eq!(&mirror.bodies.lock()[0][..], b"two lattes");

    // A body of many chunks arrives whole too.
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let req = Request::post("/echo")
        .header("host", "web.test:80")
        .body(client::full(big.clone()))
        .unwrap();
    let rsp = send(&proxy, req).await;
    assert_eq!(rsp.body.len(), big.len());
    served(&mirror, 2).await;
    assert_eq!(mirror.hosts.lock()[1], "web.test-shadow:80");
    assert_eq!(mirror.bodies.lock()[1].len(), big.len());
}

#[tokio::test]
async fn a_slow_or_failing_mirror_never_delays_or_fails_the_caller() {
    let primary = servers::http_echo("primary").await;
    let slow = Scripted::start(false, |_| Reply {
        delay: Duration::from_secs(3),
        ..status(500)
    })
    .await;
    let proxy = TestProxy::start(&config(primary.addr, slow.addr, 100.0, "")).await;
    let started = Instant::now();
    for _ in 0..10 {
        let rsp = send(&proxy, post("x")).await;
        assert_eq!(rsp.status, StatusCode::OK);
    }
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1_500), "{took:?}");
    served(&slow, 10).await;

    // A mirror no one listens on: same answers.
    let gone = servers::refused_addr().await;
    let proxy = TestProxy::start(&config(primary.addr, gone, 100.0, "")).await;
    for _ in 0..10 {
        assert_eq!(send(&proxy, post("x")).await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn copies_are_sampled_by_percentage() {
    let primary = servers::http_echo("primary").await;
    let mirror = Scripted::start(false, |_| status(200)).await;
    let proxy = TestProxy::start(&config(primary.addr, mirror.addr, 25.0, "")).await;
    let n = 400;
    for _ in 0..n {
        send(&proxy, post("x")).await;
    }
    // Settle: copies are sent in the background.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let copies = mirror.served() as f64;
    // 25% of 400 = 100, σ ≈ 8.7: allow 4σ.
    assert!((65.0..=135.0).contains(&copies), "{copies} copies of {n}");

    let none = Scripted::start(false, |_| status(200)).await;
    let proxy = TestProxy::start(&config(primary.addr, none.addr, 0.0, "")).await;
    for _ in 0..50 {
        send(&proxy, post("x")).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(none.served(), 0);
}

#[tokio::test]
async fn a_retried_request_is_copied_once() {
    let primary = Scripted::start(false, |n| status(if n == 0 { 503 } else { 200 })).await;
    let mirror = Scripted::start(false, |_| status(200)).await;
    let yaml = config(
        primary.addr,
        mirror.addr,
        100.0,
        ", retries: { attempts: 2, retry_on: [5xx], backoff: 1ms }",
    );
    let proxy = TestProxy::start(&yaml).await;
    let rsp = send(&proxy, post("once")).await;
    assert_eq!(rsp.status, StatusCode::OK);
    assert_eq!(primary.served(), 2);
    served(&mirror, 1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(mirror.served(), 1);
    assert_eq!(&mirror.bodies.lock()[0][..], b"once");
}
