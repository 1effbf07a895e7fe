//! Retries on a route (Istio VirtualService `retries`, carried out as
//! Envoy's router does) and the service port's retry budget (Linkerd's),
//! against scripted upstreams that fail on purpose.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use weft_testkit::client;
use weft_testkit::proxy::TestProxy;

use crate::scripted::{Reply, Scripted, status};
use crate::support::{send, wait_metric};

/// A service `retry.test:80` whose one route sends to cluster `backend`
/// (at `upstreams`) with `retries`; `port_extra` is spliced into the port
/// (e.g. a `retry_budget`), `cluster_extra` into the cluster.
fn config(
    upstreams: &[SocketAddr],
    retries: &str,
    port_extra: &str,
    cluster_extra: &str,
) -> String {
    let eps: Vec<String> = upstreams
        .iter()
        .map(|a| format!("{{ address: \"{a}\" }}"))
        .collect();
    format!(
        "listeners: [{{ name: outbound, address: 127.0.0.1:0, direction: outbound }}]
services:
  - name: retry.test
    ports:
      - port: 80
        {port_extra}
        routes:
          - {{ backends: [{{ cluster: backend }}], retries: {retries} }}
clusters:
  - {{ name: backend, {cluster_extra} endpoints: [{}] }}
",
        eps.join(", ")
    )
}

fn post(body: impl Into<Bytes>) -> Request<client::Body> {
    Request::post("/")
        .header("host", "retry.test")
        .body(client::full(body.into()))
        .unwrap()
}

#[tokio::test]
async fn a_service_failing_half_its_requests_looks_healthy_with_retries() {
    // Every first try fails: a budget that pays a retry per request.
    let up = Scripted::start(false, |n| status(if n % 2 == 0 { 503 } else { 200 })).await;
    let proxy = TestProxy::start(&config(
        &[up.addr],
        "{ attempts: 2, retry_on: [5xx], backoff: 1ms }",
        "retry_budget: { ratio: 1.0, min_per_second: 1, ttl: 10s }",
        "",
    ))
    .await;
    let n = 100;
    for i in 0..n {
        let rsp = send(&proxy, post(format!("request {i}"))).await;
        assert_eq!(rsp.status, StatusCode::OK, "request {i}: {}", rsp.text());
        // The retried POST carried its body again.
        assert_eq!(rsp.text(), format!("request {i}"));
    }
    // Every request failed once and was answered by its retry.
    assert_eq!(up.served(), 2 * n);
    let bodies = up.bodies.lock().clone();
    assert_eq!(bodies[0], bodies[1]);
    wait_metric(
        &proxy,
        "istio_requests_total",
        &[("response_code", "200"), ("response_flags", "-")],
        n as f64,
    )
    .await;
}

#[tokio::test]
async fn without_retries_the_same_service_fails_half_the_time() {
    // The control for the test above: same upstream, no retries.
    let up = Scripted::start(false, |n| status(if n % 2 == 0 { 503 } else { 200 })).await;
    let proxy = TestProxy::start(&config(
        &[up.addr],
        "{ attempts: 0, retry_on: [5xx] }",
        "",
        "",
    ))
    .await;
    let mut failed = 0;
    for _ in 0..20 {
        if send(&proxy, post("x")).await.status != StatusCode::OK {
            failed += 1;
        }
    }
    assert_eq!(failed, 10);
    assert_eq!(up.served(), 20);
}

#[tokio::test]
async fn the_budget_bounds_retries_against_a_service_that_always_fails() {
    let up = Scripted::start(false, |_| status(503)).await;
    // 10% of requests plus a reserve of 1/s over 10 s: about 10 + 10 retries
    // for 100 requests, where the policy alone would make 300.
    let proxy = TestProxy::start(&config(
        &[up.addr],
        "{ attempts: 3, retry_on: [5xx], backoff: 1ms }",
        "retry_budget: { ratio: 0.1, min_per_second: 1, ttl: 10s }",
        "",
    ))
    .await;
    let n = 100u64;
    for _ in 0..n {
        assert_eq!(send(&proxy, post("x")).await.status, 503);
    }
    let retries = up.served() - n;
    assert!(
        (15..=25).contains(&retries),
        "{retries} retries for {n} requests"
    );
    // Every answer is the last try's 503, flagged URX (retries ran out or
    // the budget refused one).
    wait_metric(
        &proxy,
        "istio_requests_total",
        &[("response_code", "503"), ("response_flags", "URX")],
        n as f64,
    )
    .await;
}

#[tokio::test]
async fn a_retry_goes_to_another_endpoint() {
    // One endpoint always fails fast (so latency-aware balancing prefers
    // it); the retry must go to the other.
    let bad = Scripted::start(false, |_| status(503)).await;
    let good = Scripted::start(false, |_| status(200)).await;
    let proxy = TestProxy::start(&config(
        &[bad.addr, good.addr],
        "{ attempts: 1, retry_on: [gateway-error], backoff: 1ms }",
        "",
        "",
    ))
    .await;
    for i in 0..50 {
        let rsp = send(&proxy, post("x")).await;
        assert_eq!(rsp.status, StatusCode::OK, "request {i}");
    }
    assert_eq!(good.served(), 50);
}

#[tokio::test]
async fn a_per_try_timeout_cuts_a_slow_try_and_retries() {
    let up = Scripted::start(false, |n| Reply {
        delay: Duration::from_millis(if n == 0 { 5_000 } else { 0 }),
        ..status(200)
    })
    .await;
    let proxy = TestProxy::start(&config(
        &[up.addr],
        "{ attempts: 2, retry_on: [reset], per_try_timeout: 200ms, backoff: 1ms }",
        "",
        "",
    ))
    .await;
    let started = Instant::now();
    let rsp = send(&proxy, post("slow then fast")).await;
    let took = started.elapsed();
    assert_eq!(rsp.status, StatusCode::OK, "{}", rsp.text());
    assert_eq!(rsp.text(), "slow then fast");
    assert!(took >= Duration::from_millis(200), "{took:?}");
    assert!(took < Duration::from_millis(3_000), "{took:?}");
    assert_eq!(up.served(), 2);
}

#[tokio::test]
async fn the_route_timeout_bounds_all_tries_together() {
    let up = Scripted::start(false, |_| Reply {
        delay: Duration::from_millis(300),
        ..status(503)
    })
    .await;
    let yaml = config(
        &[up.addr],
        "{ attempts: 5, retry_on: [5xx], backoff: 1ms }, timeout: 700ms",
        "",
        "",
    );
    let proxy = TestProxy::start(&yaml).await;
    let started = Instant::now();
    let rsp = send(&proxy, post("x")).await;
    let took = started.elapsed();
    assert_eq!(rsp.status, StatusCode::GATEWAY_TIMEOUT, "{}", rsp.text());
    assert!(took < Duration::from_millis(1_500), "{took:?}");
    // 700 ms fits two or three 300 ms tries, not six.
    assert!((2..=3).contains(&up.served()), "{}", up.served());
}

#[tokio::test]
async fn a_body_over_64_kib_is_sent_once() {
    let up = Scripted::start(false, |n| status(if n == 0 { 503 } else { 200 })).await;
    let proxy = TestProxy::start(&config(
        &[up.addr],
        "{ attempts: 2, retry_on: [5xx], backoff: 1ms }",
        "",
        "",
    ))
    .await;
    let big = vec![b'x'; 100 * 1024];
    let rsp = send(&proxy, post(big.clone())).await;
    assert_eq!(rsp.status, 503);
    assert_eq!(up.served(), 1);
    assert_eq!(up.bodies.lock()[0].len(), big.len());
    // Under the limit it is retried.
    let small = vec![b'y'; 60 * 1024];
    let rsp = send(&proxy, post(small.clone())).await;
    assert_eq!(rsp.status, StatusCode::OK);
    assert_eq!(rsp.body.len(), small.len());
}

/// One unary gRPC call to `retry.test` through a proxy retrying
/// `unavailable` once, to an upstream answering by `script`: the
/// `grpc-status` the caller got and how many tries the upstream served.
async fn grpc_call(script: impl Fn(u64) -> Reply + Send + Sync + 'static) -> (String, u64) {
    let up = Scripted::start(true, script).await;
    let proxy = TestProxy::start(&config(
        &[up.addr],
        "{ attempts: 1, retry_on: [unavailable], backoff: 1ms }",
        "",
        "protocol: http2,",
    ))
    .await;
    let mut conn = client::h2(proxy.listener("outbound")).await;
    let req = Request::post("http://retry.test/echo.Echo/Say")
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(client::full(Bytes::from_static(b"\0\0\0\0\0")))
        .unwrap();
    let rsp = client::collect(conn.send_request(req).await.unwrap()).await;
    assert_eq!(rsp.status, StatusCode::OK);
    let grpc_status = rsp
        .headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (grpc_status, up.served())
}

#[tokio::test]
async fn grpc_unavailable_is_retried_by_grpc_status() {
    let got = grpc_call(|n| Reply {
        grpc_status: Some(if n == 0 { 14 } else { 0 }),
        ..status(200)
    })
    .await;
    assert_eq!(got, ("0".to_string(), 2));

    // Not listed: `internal` is not retried.
    let got = grpc_call(|_| Reply {
        grpc_status: Some(13),
        ..status(200)
    })
    .await;
    assert_eq!(got, ("13".to_string(), 1));
}

#[tokio::test]
async fn a_connect_failure_is_retried_on_another_endpoint() {
    let refused = weft_testkit::servers::refused_addr().await;
    let good = Scripted::start(false, |_| status(200)).await;
    let proxy = TestProxy::start(&config(
        &[refused, good.addr],
        "{ attempts: 2, retry_on: [connect-failure], backoff: 1ms }",
        "",
        "",
    ))
    .await;
    for i in 0..20 {
        let rsp = send(&proxy, post("x")).await;
        assert_eq!(rsp.status, StatusCode::OK, "request {i}: {}", rsp.text());
    }
}

#[tokio::test]
async fn max_retries_bounds_the_retries_in_flight_at_once() {
    let up = Scripted::start(false, |_| Reply {
        delay: Duration::from_millis(300),
        ..status(503)
    })
    .await;
    // Without the breaker the 6 requests would make 6 × 3 retries.
    let proxy = TestProxy::start(&config(
        &[up.addr],
        "{ attempts: 3, retry_on: [5xx], backoff: 1ms }",
        "retry_budget: { ratio: 1.0, min_per_second: 100, ttl: 10s }",
        "connection_pool: { max_retries: 1 },",
    ))
    .await;
    let calls = (0..6).map(|_| send(&proxy, post("x")));
    for rsp in futures_util::future::join_all(calls).await {
        assert_eq!(rsp.status, 503);
    }
    let retries = up.served() - 6;
    // One retry at a time: each takes 300 ms, and once the first tries
    // fail together only one of them gets the place; its own retries
    // follow one by one. Far fewer than 18.
    assert!((1..=6).contains(&retries), "{retries} retries");
}
