//! Local rate limiting, as Envoy's `envoy.filters.http.local_ratelimit`
//! filter runs it for an Istio `EnvoyFilter`: a token bucket per inbound
//! port, gateway port or route; requests that find it empty get 429
//! `local_rate_limited` with flag `RL` and never reach the upstream.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use http::{StatusCode, Version};
use weft_testkit::client;
use weft_testkit::proxy::TestProxy;

use crate::scripted::{Scripted, status};
use crate::support::wait_metric;

/// An inbound sidecar for an app at `app`'s port with `rate_limit` (a YAML
/// flow mapping) on that port.
fn sidecar(app_port: u16, rate_limit: &str) -> String {
    format!(
        "node: {{ workload: echo-v1, namespace: test }}
listeners:
  - {{ name: inbound, address: 127.0.0.1:0, direction: inbound, target_port: {app_port} }}
inbound:
  - {{ port: {app_port}, service: echo.test.svc.cluster.local, rate_limit: {rate_limit} }}
"
    )
}

async fn burst(proxy: &TestProxy, listener: &str, host: &str, n: usize) -> Vec<client::Collected> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(client::get(proxy.listener(listener), Version::HTTP_11, host, "/").await);
    }
    out
}

#[tokio::test]
async fn an_inbound_port_passes_a_burst_then_answers_429_rl_and_refills() {
    let app = Scripted::start(false, |_| status(200)).await;
    let proxy = TestProxy::start(&sidecar(
        app.addr.port(),
        "{ max_tokens: 5, tokens_per_fill: 5, fill_interval: 1s, \
           response_headers: { set: [[x-local-rate-limit, 'true']] } }",
    ))
    .await;

    let started = Instant::now();
    let rsps = burst(&proxy, "inbound", "echo.test", 20).await;
    let took = started.elapsed();
    let passed = rsps.iter().filter(|r| r.status == StatusCode::OK).count();
    let limited: Vec<_> = rsps
        .iter()
        .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(passed + limited.len(), 20);
    // A full bucket: 5 at once, plus 5 per fill if the burst was slow.
    let fills = took.as_secs() as usize + 1;
    assert!(
        passed >= 5 && passed <= 5 + 5 * fills,
        "{passed} passed in {took:?}"
    );
    assert!(!limited.is_empty());
    for r in &limited {
        assert_eq!(r.text(), "local_rate_limited");
        assert_eq!(r.headers["x-local-rate-limit"], "true");
        assert_eq!(r.headers["x-envoy-ratelimited"], "true");
    }
    // Passed responses carry none of the limit's headers.
    let ok = rsps.iter().find(|r| r.status == StatusCode::OK).unwrap();
    assert!(!ok.headers.contains_key("x-local-rate-limit"));
    // The app saw only the requests that passed.
    assert_eq!(app.served(), passed as u64);
    wait_metric(
        &proxy,
        "istio_requests_total",
        &[("response_code", "429"), ("response_flags", "RL")],
        limited.len() as f64,
    )
    .await;

    // After a fill interval the bucket has tokens again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let rsp = client::get(
        proxy.listener("inbound"),
        Version::HTTP_11,
        "echo.test",
        "/",
    )
    .await;
    assert_eq!(rsp.status, StatusCode::OK, "{}", rsp.text());
}

#[tokio::test]
async fn an_unenforced_limit_lets_everything_through_and_counts() {
    let app = Scripted::start(false, |_| status(200)).await;
    let proxy = TestProxy::start(&sidecar(
        app.addr.port(),
        "{ max_tokens: 2, fill_interval: 60s, enforced_percent: 0 }",
    ))
    .await;
    let rsps = burst(&proxy, "inbound", "echo.test", 10).await;
    assert!(rsps.iter().all(|r| r.status == StatusCode::OK));
    assert_eq!(app.served(), 10);
    let snap = proxy.state().snapshot();
    let rl = snap.inbound[&app.addr.port()].rate_limit.clone().unwrap();
    assert_eq!(rl.stats().ok.load(Ordering::Relaxed), 2);
    assert_eq!(rl.stats().rate_limited.load(Ordering::Relaxed), 8);
    assert_eq!(rl.stats().enforced.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn a_route_limit_holds_its_route_only_and_survives_a_push() {
    let app = Scripted::start(false, |_| status(200)).await;
    let yaml = format!(
        "listeners: [{{ name: outbound, address: 127.0.0.1:0, direction: outbound, destination: \"svc.test:80\" }}]
services:
  - name: svc.test
    ports:
      - port: 80
        protocol: http
        routes:
          - {{ match: [{{ path: {{ prefix: /limited }} }}], backends: [{{ cluster: backend }}], rate_limit: {{ max_tokens: 2, fill_interval: 60s }} }}
          - {{ backends: [{{ cluster: backend }}] }}
clusters:
  - {{ name: backend, endpoints: [{{ address: \"{}\" }}] }}
",
        app.addr
    );
    let proxy = TestProxy::start(&yaml).await;
    let get = |path: &'static str| {
        let addr = proxy.listener("outbound");
        async move { client::get(addr, Version::HTTP_11, "svc.test", path).await }
    };
    assert_eq!(get("/limited").await.status, StatusCode::OK);
    assert_eq!(get("/limited").await.status, StatusCode::OK);
    assert_eq!(get("/limited").await.status, StatusCode::TOO_MANY_REQUESTS);
    // Another route of the same port has no limit.
    for _ in 0..5 {
        assert_eq!(get("/other").await.status, StatusCode::OK);
    }
    // The same config pushed again keeps the spent bucket.
    let cfg = weft_proto::config::ProxyConfig::from_yaml("proxy.yaml", &yaml).unwrap();
    proxy.state().update(cfg).unwrap();
    assert_eq!(get("/limited").await.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.served(), 2 + 5);
}

#[tokio::test]
async fn a_gateway_port_limit_holds_every_route_unless_a_route_has_its_own() {
    let app = Scripted::start(false, |_| status(200)).await;
    let proxy = TestProxy::start(&format!(
        "node: {{ workload: ingress, namespace: edge }}
listeners:
  - {{ name: http, address: 127.0.0.1:0, direction: gateway, target_port: 80 }}
gateway_servers:
  - port: 80
    rate_limit: {{ max_tokens: 1, fill_interval: 60s }}
    virtual_hosts:
      - name: shop
        hosts: [shop.example.com]
        routes:
          - {{ name: own, match: [{{ path: {{ prefix: /own }} }}], backends: [{{ cluster: backend }}], rate_limit: {{ max_tokens: 3, fill_interval: 60s }} }}
          - {{ backends: [{{ cluster: backend }}] }}
clusters:
  - {{ name: backend, endpoints: [{{ address: \"{}\" }}] }}
",
        app.addr
    ))
    .await;
    let get = |path: &'static str| {
        let addr = proxy.listener("http");
        async move { client::get(addr, Version::HTTP_11, "shop.example.com", path).await }
    };
    assert_eq!(get("/").await.status, StatusCode::OK);
    assert_eq!(get("/").await.status, StatusCode::TOO_MANY_REQUESTS);
    for _ in 0..3 {
        assert_eq!(get("/own").await.status, StatusCode::OK);
    }
    assert_eq!(get("/own").await.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.served(), 4);
}
