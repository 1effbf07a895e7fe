//! Circuit breakers (`connection_pool`): requests over a limit are refused
//! with 503 `UO` while the others go through, the counts return to zero,
//! and connection reuse follows the pool settings.

use std::time::Duration;

use http::{StatusCode, Version};
use weft_proto::config::ProxyConfig;
use weft_testkit::client::{self, Collected};
use weft_testkit::proxy::{TEST_PORTS, TestProxy};
use weft_testkit::{PATIENCE, eventually};

use crate::support::{get, outbound_to, wait_metric};
use crate::upstreams::Counting;

/// Starts `n` concurrent GETs through the proxy, each on its own
/// connection.
fn burst(proxy: &TestProxy, n: usize) -> Vec<tokio::task::JoinHandle<Collected>> {
    let addr = proxy.listener("outbound");
    (0..n)
        .map(|_| tokio::spawn(client::get(addr, Version::HTTP_11, "echo.test", "/")))
        .collect()
}

async fn statuses(calls: Vec<tokio::task::JoinHandle<Collected>>) -> (usize, Vec<Collected>) {
    let mut ok = 0;
    let mut refused = Vec::new();
    for c in calls {
        let rsp = c.await.unwrap();
        match rsp.status {
            StatusCode::OK => ok += 1,
            _ => refused.push(rsp),
        }
    }
    (ok, refused)
}

fn assert_overflow(rsp: &Collected) {
    assert_eq!(
        rsp.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        rsp.text()
    );
    assert!(
        rsp.text().starts_with(
            "upstream connect error or disconnect/reset before headers. reset reason: overflow"
        ),
        "{}",
        rsp.text()
    );
    assert!(rsp.headers.contains_key("weft-proxy-error"));
}

async fn counts_return_to(proxy: &TestProxy, want: (u32, u32, u32, u32)) {
    eventually("circuit breaker counts return", PATIENCE, || async {
        let snap = proxy.state().snapshot();
        snap.clusters["echo"].limits.as_ref().unwrap().counts() == want
    })
    .await;
}

#[tokio::test]
async fn requests_over_max_requests_get_503_uo_and_the_rest_succeed() {
    let up = Counting::held(200).await;
    let proxy = TestProxy::start(&outbound_to(
        &[up.addr],
        "    connection_pool: { max_requests: 2 }\n",
    ))
    .await;
    let calls = burst(&proxy, 4);
    // Two reach the upstream and are held there; the other two are
    // refused without reaching it.
    eventually("two requests upstream", PATIENCE, || async {
        up.requests() == 2
    })
    .await;
    wait_metric(
        &proxy,
        "istio_requests_total",
        &[("response_flags", "UO")],
        2.0,
    )
    .await;
    up.release();
    let (ok, refused) = statuses(calls).await;
    assert_eq!((ok, refused.len()), (2, 2));
    refused.iter().for_each(assert_overflow);
    assert_eq!(up.requests(), 2);

    counts_return_to(&proxy, (0, 0, 0, 0)).await;
    assert_eq!(get(&proxy, "echo.test", "/").await.status, StatusCode::OK);
}

#[tokio::test]
async fn with_one_connection_one_request_waits_pending_and_the_next_overflows() {
    let up = Counting::held(200).await;
    let proxy = TestProxy::start(&outbound_to(
        &[up.addr],
        "    protocol: http1\n    connect_timeout: 20s\n    connection_pool: { max_connections: 1, max_pending_requests: 1 }\n",
    ))
    .await;
    let calls = burst(&proxy, 3);
    // One holds the only connection, one waits for it, one is refused.
    eventually("one request upstream", PATIENCE, || async {
        up.requests() == 1
    })
    .await;
    wait_metric(
        &proxy,
        "istio_requests_total",
        &[("response_flags", "UO")],
        1.0,
    )
    .await;
    counts_return_to(&proxy, (1, 1, 0, 0)).await;
    up.release();
    let (ok, refused) = statuses(calls).await;
    assert_eq!((ok, refused.len()), (2, 1));
    assert_overflow(&refused[0]);
    // The pending request rode the same connection once it was free.
    assert_eq!((up.connections(), up.requests()), (1, 2));
    // The connection stays open, idle: it still counts.
    counts_return_to(&proxy, (1, 0, 0, 0)).await;
    assert_eq!(get(&proxy, "echo.test", "/").await.status, StatusCode::OK);
    assert_eq!(up.connections(), 1);
}

/// Sends `n` requests one after another, letting each connection go back
/// to the pool in between.
async fn one_by_one(proxy: &TestProxy, n: usize) {
    for _ in 0..n {
        assert_eq!(get(proxy, "echo.test", "/").await.status, StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn max_requests_per_connection_one_opens_a_connection_per_request() {
    let up = Counting::start(200).await;
    let proxy = TestProxy::start(&outbound_to(
        &[up.addr],
        "    protocol: http1\n    connection_pool: { max_requests_per_connection: 1 }\n",
    ))
    .await;
    one_by_one(&proxy, 3).await;
    assert_eq!(up.connections(), 3);

    // Without it the connection is reused.
    let up = Counting::start(200).await;
    let proxy = TestProxy::start(&outbound_to(&[up.addr], "    protocol: http1\n")).await;
    one_by_one(&proxy, 3).await;
    assert_eq!(up.connections(), 1);
}

#[tokio::test]
async fn an_http2_connection_is_replaced_after_max_requests_per_connection() {
    let up = Counting::start(200).await;
    let proxy = TestProxy::start(&outbound_to(
        &[up.addr],
        "    protocol: http2\n    connection_pool: { max_requests_per_connection: 2 }\n",
    ))
    .await;
    one_by_one(&proxy, 4).await;
    assert_eq!((up.requests(), up.connections()), (4, 2));
}

#[tokio::test]
async fn an_idle_connection_past_idle_timeout_is_not_reused() {
    let up = Counting::start(200).await;
    let proxy = TestProxy::start(&outbound_to(
        &[up.addr],
        "    protocol: http1\n    connection_pool: { idle_timeout: 200ms }\n",
    ))
    .await;
    one_by_one(&proxy, 1).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    one_by_one(&proxy, 1).await;
    assert_eq!(up.connections(), 2);
}

#[tokio::test]
async fn unchanged_limits_keep_their_counts_across_a_config_push() {
    let up = Counting::held(200).await;
    let yaml = |timeout: &str| {
        outbound_to(
            &[up.addr],
            &format!(
                "    connect_timeout: {timeout}\n    connection_pool: {{ max_requests: 1 }}\n"
            ),
        )
    };
    let proxy = TestProxy::start(&yaml("1s")).await;
    let held = burst(&proxy, 1);
    eventually("one request upstream", PATIENCE, || async {
        up.requests() == 1
    })
    .await;
    let config =
        |y: &str| ProxyConfig::from_yaml("push.yaml", &format!("{TEST_PORTS}{y}")).unwrap();
    // Another connect timeout, same limits: the request in flight still
    // counts, so the next one overflows.
    proxy.state().update(config(&yaml("2s"))).unwrap();
    let rsp = get(&proxy, "echo.test", "/").await;
    assert_overflow(&rsp);
    up.release();
    let (ok, _) = statuses(held).await;
    assert_eq!(ok, 1);
    counts_return_to(&proxy, (0, 0, 0, 0)).await;
    assert_eq!(get(&proxy, "echo.test", "/").await.status, StatusCode::OK);
}

#[tokio::test]
async fn cancelled_requests_give_their_places_back() {
    let up = Counting::held(200).await;
    let proxy = TestProxy::start(&outbound_to(
        &[up.addr],
        "    protocol: http1\n    connect_timeout: 20s\n    connection_pool: { max_connections: 1, max_pending_requests: 1, max_requests: 2 }\n",
    ))
    .await;
    let first = burst(&proxy, 1);
    eventually("one request upstream", PATIENCE, || async {
        up.requests() == 1
    })
    .await;
    let second = burst(&proxy, 1);
    // One on the connection, one pending, both admitted.
    counts_return_to(&proxy, (1, 1, 2, 0)).await;
    // The clients go away: every place comes back, the connection's too
    // (its request was abandoned mid-flight, so it is closed).
    for call in first.into_iter().chain(second) {
        call.abort();
    }
    counts_return_to(&proxy, (0, 0, 0, 0)).await;
    up.release();
    assert_eq!(get(&proxy, "echo.test", "/").await.status, StatusCode::OK);
}
