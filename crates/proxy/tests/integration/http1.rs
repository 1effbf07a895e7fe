use std::collections::HashSet;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use weft_testkit::client::{self, collect, full};
use weft_testkit::proxy::TestProxy;
use weft_testkit::servers;

use crate::support::{get, outbound_to, raw_exchange, read_until};

#[tokio::test]
async fn routes_by_host_header_to_the_service() {
    let echo = servers::http_echo("echo-a").await;
    let proxy = TestProxy::start(&outbound_to(&[echo.addr], "")).await;

    let rsp = get(&proxy, "echo.test", "/hello?x=1").await;
    assert_eq!(rsp.status, StatusCode::OK, "{}", rsp.text());
    let body = rsp.json();
    assert_eq!(body["service"], "echo-a");
    assert_eq!(body["path"], "/hello");
    assert_eq!(body["query"], "x=1");
    assert_eq!(body["host"], "echo.test");
    assert_eq!(body["version"], "HTTP/1.1");
}

#[tokio::test]
async fn absolute_form_requests_are_proxied_like_an_http_proxy() {
    let echo = servers::http_echo("echo").await;
    let proxy = TestProxy::start(&outbound_to(&[echo.addr], "")).await;
    let rsp = raw_exchange(
        proxy.listener("outbound"),
        b"GET http://echo.test/abs HTTP/1.1\r\nHost: echo.test\r\nConnection: close\r\n\r\n",
        "\"path\"",
    )
    .await;
    assert!(rsp.starts_with("HTTP/1.1 200"), "{rsp}");
    assert!(rsp.contains("\"path\":\"/abs\""), "{rsp}");
}

#[tokio::test]
async fn fixed_and_chunked_bodies_pass_intact() {
    let echo = servers::http_echo("echo").await;
    let proxy = TestProxy::start(&outbound_to(&[echo.addr], "")).await;
    let mut tx = client::h1(proxy.listener("outbound")).await;

    let req = Request::post("/echo")
        .header("host", "echo.test")
        .body(full("ping"))
        .unwrap();
    let rsp = collect(tx.send_request(req).await.unwrap()).await;
    assert_eq!((rsp.status, rsp.text().as_str()), (StatusCode::OK, "ping"));

    // No Content-Length: the body goes out chunked.
    let chunks: Vec<Result<Frame<Bytes>, client::BoxError>> = (0..50)
        .map(|i| Ok(Frame::data(Bytes::from(format!("chunk-{i};")))))
        .collect();
    let body = StreamBody::new(futures_util::stream::iter(chunks)).boxed();
    let req = Request::post("/echo")
        .header("host", "echo.test")
        .body(body)
        .unwrap();
    let rsp = collect(tx.send_request(req).await.unwrap()).await;
    let want: String = (0..50).map(|i| format!("chunk-{i};")).collect();
    assert_eq!(rsp.text(), want);
}

#[tokio::test]
async fn expect_100_continue_gets_a_continue_then_the_response() {
    let echo = servers::http_echo("echo").await;
    let proxy = TestProxy::start(&outbound_to(&[echo.addr], "")).await;
    let mut sock = TcpStream::connect(proxy.listener("outbound"))
        .await
        .unwrap();
    sock.write_all(b"POST /sink HTTP/1.1\r\nHost: echo.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        .await
        .unwrap();
    let interim = read_until(&mut sock, "\r\n\r\n").await;
    assert!(interim.starts_with("HTTP/1.1 100 Continue"), "{interim}");
    sock.write_all(b"hello").await.unwrap();
    let rsp = read_until(&mut sock, "sum=").await;
    assert!(rsp.starts_with("HTTP/1.1 200"), "{rsp}");
    assert!(rsp.contains("bytes=5"), "{rsp}");
}

#[tokio::test]
async fn trailers_pass_both_ways_when_asked_for() {
    let echo = servers::http_echo("echo").await;
    let proxy = TestProxy::start(&outbound_to(&[echo.addr], "")).await;
    let mut tx = client::h1(proxy.listener("outbound")).await;

    let req = Request::get("/trailers")
        .header("host", "echo.test")
        .header("te", "trailers")
        .body(client::empty())
        .unwrap();
    let rsp = collect(tx.send_request(req).await.unwrap()).await;
    assert_eq!(
        rsp.trailers
            .as_ref()
            .and_then(|t| t.get("x-trailer"))
            .unwrap(),
        "done"
    );

    let mut trailers = HeaderMap::new();
    trailers.insert("x-checksum", HeaderValue::from_static("abc"));
    let frames: Vec<Result<Frame<Bytes>, client::BoxError>> = vec![
        Ok(Frame::data(Bytes::from_static(b"data"))),
        Ok(Frame::trailers(trailers)),
    ];
    let body = StreamBody::new(futures_util::stream::iter(frames)).boxed();
    let req = Request::post("/echo")
        .header("host", "echo.test")
        .header("te", "trailers")
        .header("trailer", "x-checksum")
        .body(body)
        .unwrap();
    let rsp = collect(tx.send_request(req).await.unwrap()).await;
    assert_eq!(rsp.text(), "data");
    assert_eq!(
        rsp.trailers
            .as_ref()
            .and_then(|t| t.get("x-checksum"))
            .unwrap(),
        "abc"
    );
}

#[tokio::test]
async fn upgrades_switch_to_a_raw_tunnel() {
    let echo = servers::http_echo("echo").await;
    let proxy = TestProxy::start(&outbound_to(&[echo.addr], "")).await;
    let mut sock = TcpStream::connect(proxy.listener("outbound"))
        .await
        .unwrap();
    sock.write_all(
        b"GET /upgrade HTTP/1.1\r\nHost: echo.test\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n",
    )
    .await
    .unwrap();
    let head = read_until(&mut sock, "\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("upgrade: echo"),
        "{head}"
    );
    sock.write_all(b"websocket-ish frames").await.unwrap();
    let echoed = read_until(&mut sock, "frames").await;
    assert_eq!(echoed, "websocket-ish frames");
}

#[tokio::test]
async fn keep_alive_connections_to_the_upstream_are_reused() {
    let echo = servers::http_echo("echo").await;
    let proxy = TestProxy::start(&outbound_to(&[echo.addr], "")).await;
    let mut peers = HashSet::new();
    for _ in 0..20 {
        // A new client connection each time: reuse must come from the pool.
        let rsp = get(&proxy, "echo.test", "/").await;
        peers.insert(rsp.json()["peer"].as_str().unwrap().to_string());
    }
    assert!(peers.len() <= 2, "upstream connections: {peers:?}");
}

#[tokio::test]
async fn hop_by_hop_headers_stop_at_the_proxy() {
    let echo = servers::http_echo("echo").await;
    let proxy = TestProxy::start(&outbound_to(&[echo.addr], "")).await;
    let mut tx = client::h1(proxy.listener("outbound")).await;
    let req = Request::get("/")
        .header("host", "echo.test")
        .header("connection", "x-private")
        .header("x-private", "secret")
        .header("proxy-authorization", "Basic Zm9vOmJhcg==")
        .header("x-end-to-end", "kept")
        .body(client::empty())
        .unwrap();
    let rsp = collect(tx.send_request(req).await.unwrap()).await;
    let headers = &rsp.json()["headers"];
    assert_eq!(headers["x-end-to-end"], "kept");
    assert!(headers.get("x-private").is_none(), "{headers}");
    assert!(headers.get("proxy-authorization").is_none(), "{headers}");
}
