use http::{Request, StatusCode, Version};
use weft_testkit::client::{self, collect, full};
use weft_testkit::proxy::TestProxy;
use weft_testkit::servers;

use crate::support::outbound_to;

#[tokio::test]
async fn routes_by_host_header_to_the_service() {
    let echo = servers::http_echo("echo-a").await;
    let proxy = TestProxy::start(&outbound_to(&[echo.addr], "")).await;

    let rsp = client::get(
        proxy.listener("outbound"),
        Version::HTTP_11,
        "echo.test",
        "/hello?x=1",
    )
    .await;
    assert_eq!(rsp.status, StatusCode::OK, "{}", rsp.text());
    let body = rsp.json();
    assert_eq!(body["service"], "echo-a");
    assert_eq!(body["path"], "/hello");
    assert_eq!(body["query"], "x=1");
    assert_eq!(body["host"], "echo.test");
}

#[tokio::test]
async fn posts_a_body_and_gets_it_back() {
    let echo = servers::http_echo("echo").await;
    let proxy = TestProxy::start(&outbound_to(&[echo.addr], "")).await;
    let mut tx = client::h1(proxy.listener("outbound")).await;
    let req = Request::post("/echo")
        .header("host", "echo.test")
        .body(full("ping"))
        .unwrap();
    let rsp = collect(tx.send_request(req).await.unwrap()).await;
    assert_eq!(rsp.status, StatusCode::OK);
    assert_eq!(rsp.text(), "ping");
}
