use http::StatusCode;
use weft_testkit::client;
use weft_testkit::proxy::TestProxy;
use weft_testkit::servers;

use crate::support::{get, one_route, outbound_to, wait_metric};

const HEADER: &str = "weft-proxy-error";

fn reason(rsp: &client::Collected) -> String {
    rsp.headers
        .get(HEADER)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn connect_failure_is_503_uf() {
    let dead = servers::refused_addr().await;
    let proxy = TestProxy::start(&outbound_to(&[dead], "")).await;
    let rsp = get(&proxy, "echo.test", "/").await;
    assert_eq!(rsp.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        reason(&rsp).starts_with(&format!("upstream connect failure: {dead}")),
        "{rsp:?}"
    );
    assert_eq!(rsp.text().trim(), reason(&rsp), "body repeats the reason");
    wait_metric(
        &proxy,
        "istio_requests_total",
        &[("response_code", "503"), ("response_flags", "UF")],
        1.0,
    )
    .await;
}

#[tokio::test]
async fn no_route_is_404_nr() {
    let echo = servers::http_echo("echo").await;
    let yaml = outbound_to(&[echo.addr], "") + "outbound_policy: registry_only\n";
    let proxy = TestProxy::start(&yaml).await;
    let rsp = get(&proxy, "unknown.example", "/").await;
    assert_eq!(rsp.status, StatusCode::NOT_FOUND);
    assert_eq!(reason(&rsp), "no route to unknown.example");
    wait_metric(
        &proxy,
        "istio_requests_total",
        &[("response_code", "404"), ("response_flags", "NR")],
        1.0,
    )
    .await;
}

#[tokio::test]
async fn no_matching_route_is_404_nr() {
    let echo = servers::http_echo("echo").await;
    let yaml = one_route(
        "api.test",
        "{ match: [{ path: { prefix: /v1/ } }], backends: [{ cluster: backend }] }",
        echo.addr,
    );
    let proxy = TestProxy::start(&yaml).await;
    let ok = get(&proxy, "api.test", "/v1/x").await;
    assert_eq!(ok.status, StatusCode::OK);
    let rsp = get(&proxy, "api.test", "/v2/x").await;
    assert_eq!(rsp.status, StatusCode::NOT_FOUND);
    assert!(
        reason(&rsp).starts_with("no route to api.test:80 /v2/x"),
        "{rsp:?}"
    );
}

#[tokio::test]
async fn upstream_timeout_is_504_ut() {
    let echo = servers::http_echo("echo").await;
    let yaml = one_route(
        "slow.test",
        "{ backends: [{ cluster: backend }], timeout: 200ms }",
        echo.addr,
    );
    let proxy = TestProxy::start(&yaml).await;
    let started = std::time::Instant::now();
    let rsp = get(&proxy, "slow.test", "/delay/3000").await;
    assert_eq!(rsp.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        reason(&rsp),
        "upstream request timeout: no response within 200ms"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    wait_metric(
        &proxy,
        "istio_requests_total",
        &[("response_code", "504"), ("response_flags", "UT")],
        1.0,
    )
    .await;
}

#[tokio::test]
async fn no_endpoints_is_503_uh() {
    let proxy = TestProxy::start(&outbound_to(&[], "")).await;
    let rsp = get(&proxy, "echo.test", "/").await;
    assert_eq!(rsp.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reason(&rsp), "no healthy endpoint in cluster echo");
    wait_metric(
        &proxy,
        "istio_requests_total",
        &[("response_code", "503"), ("response_flags", "UH")],
        1.0,
    )
    .await;
}

#[tokio::test]
async fn a_failed_only_endpoint_is_set_aside_then_uh() {
    let dead = servers::refused_addr().await;
    let proxy = TestProxy::start(&outbound_to(&[dead], "")).await;
    let first = get(&proxy, "echo.test", "/").await;
    assert!(
        reason(&first).starts_with("upstream connect failure"),
        "{first:?}"
    );
    // Set aside with backoff: the next request does not even try it.
    let second = get(&proxy, "echo.test", "/").await;
    assert_eq!(second.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reason(&second), "no healthy endpoint in cluster echo");
}

#[tokio::test]
async fn connect_timeout_is_503_uf() {
    let hole = servers::blackhole();
    let proxy = TestProxy::start(&outbound_to(&[hole.addr], "    connect_timeout: 300ms\n")).await;
    let started = std::time::Instant::now();
    let rsp = get(&proxy, "echo.test", "/").await;
    assert_eq!(rsp.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        reason(&rsp),
        format!(
            "upstream connect timeout: {} did not accept within 300ms",
            hole.addr
        )
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    wait_metric(
        &proxy,
        "istio_requests_total",
        &[("response_flags", "UF")],
        1.0,
    )
    .await;
}
