use std::collections::HashSet;

use http::{Request, StatusCode, Version};
use weft_testkit::client::{self, collect};
use weft_testkit::proxy::TestProxy;
use weft_testkit::servers;

use crate::support::outbound_to;

#[tokio::test]
async fn h2c_prior_knowledge_end_to_end() {
    let echo = servers::http_echo("echo").await;
    let proxy = TestProxy::start(&outbound_to(&[echo.addr], "")).await;
    let rsp = client::get(
        proxy.listener("outbound"),
        Version::HTTP_2,
        "echo.test",
        "/h2",
    )
    .await;
    assert_eq!(rsp.status, StatusCode::OK, "{}", rsp.text());
    let body = rsp.json();
    // `protocol: auto` speaks to the upstream as the client spoke.
    assert_eq!(body["version"], "HTTP/2.0");
    assert_eq!(body["host"], "echo.test");
    assert_eq!(body["path"], "/h2");
}

#[tokio::test]
async fn http2_clients_can_reach_http1_upstreams_and_back() {
    let echo = servers::http_echo("echo").await;
    let proxy = TestProxy::start(&outbound_to(&[echo.addr], "    protocol: http1\n")).await;
    let rsp = client::get(
        proxy.listener("outbound"),
        Version::HTTP_2,
        "echo.test",
        "/",
    )
    .await;
    let body = rsp.json();
    assert_eq!(body["version"], "HTTP/1.1");
    assert_eq!(body["host"], "echo.test", "authority becomes Host");

    let proxy = TestProxy::start(&outbound_to(&[echo.addr], "    protocol: http2\n")).await;
    let rsp = client::get(
        proxy.listener("outbound"),
        Version::HTTP_11,
        "echo.test",
        "/",
    )
    .await;
    let body = rsp.json();
    assert_eq!(body["version"], "HTTP/2.0");
    assert_eq!(body["host"], "echo.test", "Host becomes :authority");
}

#[tokio::test]
async fn http1_clients_are_multiplexed_onto_one_http2_connection() {
    let echo = servers::http_echo("echo").await;
    let proxy = TestProxy::start(&outbound_to(&[echo.addr], "    protocol: http2\n")).await;
    let addr = proxy.listener("outbound");
    let calls = (0..40).map(|_| async move {
        let rsp = client::get(addr, Version::HTTP_11, "echo.test", "/delay/50").await;
        assert_eq!(rsp.status, StatusCode::OK);
        rsp.headers.clone()
    });
    futures_util::future::join_all(calls).await;
    let mut peers = HashSet::new();
    for _ in 0..5 {
        let rsp = client::get(addr, Version::HTTP_11, "echo.test", "/").await;
        peers.insert(rsp.json()["peer"].as_str().unwrap().to_string());
    }
    assert_eq!(peers.len(), 1, "one upstream HTTP/2 connection: {peers:?}");
}

#[tokio::test]
async fn many_concurrent_streams_on_one_client_connection() {
    let echo = servers::http_echo("echo").await;
    let proxy = TestProxy::start(&outbound_to(&[echo.addr], "")).await;
    let tx = client::h2(proxy.listener("outbound")).await;
    let calls = (0..100).map(|i| {
        let mut tx = tx.clone();
        async move {
            let req = Request::post("http://echo.test/echo")
                .body(client::full(format!("stream {i}")))
                .unwrap();
            let rsp = collect(tx.send_request(req).await.unwrap()).await;
            assert_eq!(rsp.text(), format!("stream {i}"));
        }
    });
    futures_util::future::join_all(calls).await;
}

#[tokio::test]
async fn trailers_over_http2() {
    let echo = servers::http_echo("echo").await;
    let proxy = TestProxy::start(&outbound_to(&[echo.addr], "")).await;
    let mut tx = client::h2(proxy.listener("outbound")).await;
    let req = Request::get("http://echo.test/trailers")
        .body(client::empty())
        .unwrap();
    let rsp = collect(tx.send_request(req).await.unwrap()).await;
    assert_eq!(rsp.text(), "body before trailers\n");
    assert_eq!(rsp.trailers.unwrap()["x-trailer"], "done");
}
