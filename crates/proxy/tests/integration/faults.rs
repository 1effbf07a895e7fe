//! Fault injection on a route, as Envoy's fault filter does it for an
//! Istio VirtualService `fault`: delays outside the route timeout, aborts
//! that never reach the upstream, gRPC aborts, and the `DI` / `FI`
//! response flags in `istio_requests_total`.

use std::time::{Duration, Instant};

use http::{Request, StatusCode, Version};
use weft_testkit::proxy::TestProxy;
use weft_testkit::{client, metrics, servers};

use crate::support::{Untouched, get, one_route, wait_metric};

#[tokio::test]
async fn a_full_delay_holds_every_request_and_is_not_part_of_the_route_timeout() {
    let echo = servers::http_echo("echo").await;
    let yaml = one_route(
        "slow.test",
        "{ backends: [{ cluster: backend }], timeout: 250ms, fault: { delay: { fixed: 400ms, percent: 100 } } }",
        echo.addr,
    );
    let proxy = TestProxy::start(&yaml).await;

    // The delay (400ms) outlasts the route timeout (250ms), yet a fast
    // upstream answers: the timeout starts after the delay.
    let started = Instant::now();
    let rsp = get(&proxy, "slow.test", "/").await;
    let took = started.elapsed();
    assert_eq!(rsp.status, StatusCode::OK, "{}", rsp.text());
    assert!(took >= Duration::from_millis(400), "{took:?}");

    // A slow upstream still times out, after the delay plus the timeout.
    let started = Instant::now();
    let rsp = get(&proxy, "slow.test", "/delay/2000").await;
    let took = started.elapsed();
    assert_eq!(rsp.status, StatusCode::GATEWAY_TIMEOUT);
    assert!(took >= Duration::from_millis(650), "{took:?}");
    assert!(took < Duration::from_millis(1900), "{took:?}");

    wait_metric(
        &proxy,
        "istio_requests_total",
        &[("response_code", "200"), ("response_flags", "DI")],
        1.0,
    )
    .await;
    // Envoy lists UT before DI.
    wait_metric(
        &proxy,
        "istio_requests_total",
        &[("response_code", "504"), ("response_flags", "UT,DI")],
        1.0,
    )
    .await;
}

#[tokio::test]
async fn a_half_delay_holds_about_half_the_requests() {
    let echo = servers::http_echo("echo").await;
    let yaml = one_route(
        "half.test",
        "{ backends: [{ cluster: backend }], fault: { delay: { fixed: 1ms, percent: 50 } } }",
        echo.addr,
    );
    let proxy = TestProxy::start(&yaml).await;
    let mut conn = client::h1(proxy.listener("outbound")).await;
    let n = 200;
    for _ in 0..n {
        let req = Request::get("/")
            .header("host", "half.test")
            .body(client::empty())
            .unwrap();
        let rsp = client::collect(conn.send_request(req).await.unwrap()).await;
        assert_eq!(rsp.status, StatusCode::OK);
    }
    wait_metric(
        &proxy,
        "istio_requests_total",
        &[("response_code", "200")],
        n as f64,
    )
    .await;
    let m = proxy.metrics().await;
    let delayed =
        metrics::sum(&m, "istio_requests_total", &[("response_flags", "DI")]).unwrap_or(0.0);
    let plain = metrics::sum(&m, "istio_requests_total", &[("response_flags", "-")]).unwrap_or(0.0);
    assert_eq!(delayed + plain, n as f64);
    // Binomial(200, 0.5): 60 to 140 is more than 5 standard deviations.
    assert!(
        (60.0..=140.0).contains(&delayed),
        "{delayed} of {n} delayed"
    );
}

#[tokio::test]
async fn a_full_abort_answers_every_request_and_never_reaches_the_upstream() {
    let upstream = Untouched::start().await;
    let yaml = one_route(
        "abort.test",
        "{ backends: [{ cluster: backend }], fault: { abort: { status: { http: 503 }, percent: 100 } } }",
        upstream.addr,
    );
    let proxy = TestProxy::start(&yaml).await;
    for _ in 0..3 {
        let rsp = get(&proxy, "abort.test", "/any").await;
        assert_eq!(rsp.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(rsp.text(), "fault filter abort");
        assert_eq!(rsp.headers["content-type"], "text/plain");
        assert!(
            rsp.headers.get("weft-proxy-error").is_none(),
            "not a proxy failure"
        );
    }
    wait_metric(
        &proxy,
        "istio_requests_total",
        &[("response_code", "503"), ("response_flags", "FI")],
        3.0,
    )
    .await;
    assert_eq!(upstream.connections(), 0, "the upstream saw a connection");
}

#[tokio::test]
async fn a_delayed_then_aborted_request_has_both_flags() {
    let upstream = Untouched::start().await;
    let yaml = one_route(
        "both.test",
        "{ backends: [{ cluster: backend }], fault: { delay: { fixed: 50ms, percent: 100 }, abort: { status: { http: 500 }, percent: 100 } } }",
        upstream.addr,
    );
    let proxy = TestProxy::start(&yaml).await;
    let started = Instant::now();
    let rsp = get(&proxy, "both.test", "/").await;
    assert_eq!(rsp.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(started.elapsed() >= Duration::from_millis(50));
    wait_metric(
        &proxy,
        "istio_requests_total",
        &[("response_code", "500"), ("response_flags", "DI,FI")],
        1.0,
    )
    .await;
    assert_eq!(upstream.connections(), 0);
}

#[tokio::test]
async fn a_grpc_abort_is_a_trailers_only_grpc_status() {
    let upstream = Untouched::start().await;
    let yaml = one_route(
        "grpc.test",
        "{ backends: [{ cluster: backend }], fault: { abort: { status: { grpc: 14 }, percent: 100 } } }",
        upstream.addr,
    );
    let proxy = TestProxy::start(&yaml).await;
    let mut conn = client::h2(proxy.listener("outbound")).await;
    let req = Request::post("http://grpc.test/echo.Echo/Say")
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(client::empty())
        .unwrap();
    let rsp = client::collect(conn.send_request(req).await.unwrap()).await;
    assert_eq!(rsp.status, StatusCode::OK);
    assert_eq!(rsp.headers["grpc-status"], "14");
    assert_eq!(rsp.headers["grpc-message"], "fault filter abort");
    assert_eq!(rsp.headers["content-type"], "application/grpc");
    assert!(rsp.body.is_empty(), "trailers-only: {:?}", rsp.body);
    wait_metric(
        &proxy,
        "istio_requests_total",
        &[
            ("request_protocol", "grpc"),
            ("response_code", "200"),
            ("grpc_response_status", "14"),
            ("response_flags", "FI"),
        ],
        1.0,
    )
    .await;

    // A client that does not speak gRPC gets Envoy's local reply: the
    // abort's HTTP status (200) with the text.
    let rsp = client::get(
        proxy.listener("outbound"),
        Version::HTTP_11,
        "grpc.test",
        "/",
    )
    .await;
    assert_eq!(rsp.status, StatusCode::OK);
    assert_eq!(rsp.text(), "fault filter abort");
    assert_eq!(upstream.connections(), 0);
}
