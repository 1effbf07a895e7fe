//! Per-route metrics (Linkerd ServiceProfile routes): a route with
//! `metrics` counts its requests under its name, classified by its
//! failure statuses; routes without count nothing of their own.

use std::net::SocketAddr;
use std::time::Duration;

use http::StatusCode;
use weft_testkit::proxy::TestProxy;

use crate::scripted::{Reply, Scripted, status};
use crate::support::{get, wait_metric};

fn config(upstream: SocketAddr, books: &str) -> String {
    format!(
        "listeners: [{{ name: outbound, address: 127.0.0.1:0, direction: outbound }}]
services:
  - name: route.test
    ports:
      - port: 80
        routes:
          - {{ name: GET /books, match: [{{ method: GET, path: {{ regex: '/books/[^/]*' }} }}], backends: [{{ cluster: backend }}], {books} }}
          - {{ backends: [{{ cluster: backend }}] }}
clusters:
  - {{ name: backend, endpoints: [{{ address: \"{upstream}\" }}] }}
"
    )
}

fn scrape_sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    weft_testkit::metrics::sum(text, name, labels).unwrap_or(0.0)
}

#[tokio::test]
async fn a_routes_requests_are_counted_under_its_name_and_classified() {
    // 503, 429, 200, 200, and again.
    let up = Scripted::start(false, |n| {
        status(match n % 4 {
            0 => 503,
            1 => 429,
            _ => 200,
        })
    })
    .await;
    // Only 429 fails: the classes said 503 does not.
    let proxy = TestProxy::start(&config(
        up.addr,
        "metrics: { name: GET /books, failures: [{ min: 429, max: 429 }] }",
    ))
    .await;
    for _ in 0..8 {
        get(&proxy, "route.test", "/books/7").await;
    }
    // The default route: counted by Istio's metrics only.
    for _ in 0..4 {
        get(&proxy, "route.test", "/authors/1").await;
    }
    wait_metric(&proxy, "istio_requests_total", &[], 12.0).await;
    let route = ("route", "GET /books");
    wait_metric(
        &proxy,
        "weft_route_requests_total",
        &[
            route,
            ("classification", "failure"),
            ("response_code", "429"),
        ],
        2.0,
    )
    .await;
    let text = weft_testkit::metrics::scrape(proxy.addrs.metrics.unwrap()).await;
    let ok = [route, ("classification", "success")];
    assert_eq!(
        scrape_sum(&text, "weft_route_requests_total", &ok),
        6.0,
        "{text}"
    );
    assert_eq!(
        scrape_sum(
            &text,
            "weft_route_requests_total",
            &[route, ("response_code", "503"), ("service", "route.test")]
        ),
        2.0,
        "{text}"
    );
    // Nothing else has a route series: the default route costs nothing.
    assert_eq!(scrape_sum(&text, "weft_route_requests_total", &[]), 8.0);
    assert_eq!(
        scrape_sum(&text, "weft_route_response_latency_ms_count", &[route]),
        8.0
    );
}

#[tokio::test]
async fn by_default_5xx_fail_and_a_timed_out_request_counts_as_a_504_failure() {
    let up = Scripted::start(false, |n| match n {
        0 => status(500),
        1 => Reply {
            delay: Duration::from_secs(30),
            ..status(200)
        },
        _ => status(200),
    })
    .await;
    let proxy = TestProxy::start(&config(
        up.addr,
        "timeout: 200ms, metrics: { name: GET /books }",
    ))
    .await;
    let codes: Vec<StatusCode> = [
        get(&proxy, "route.test", "/books/1").await.status,
        get(&proxy, "route.test", "/books/2").await.status,
        get(&proxy, "route.test", "/books/3").await.status,
    ]
    .into();
    assert_eq!(
        codes,
        [
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::GATEWAY_TIMEOUT,
            StatusCode::OK
        ]
    );
    let route = ("route", "GET /books");
    wait_metric(&proxy, "weft_route_requests_total", &[route], 3.0).await;
    let text = weft_testkit::metrics::scrape(proxy.addrs.metrics.unwrap()).await;
    for (code, class) in [("500", "failure"), ("504", "failure"), ("200", "success")] {
        assert_eq!(
            scrape_sum(
                &text,
                "weft_route_requests_total",
                &[route, ("response_code", code), ("classification", class)]
            ),
            1.0,
            "{code}: {text}"
        );
    }
}

/// An HTTP/2 upstream answering every call 200 with a body and the gRPC
/// status in trailers, as gRPC servers do: `14` (UNAVAILABLE) for
/// `/echo.Echo/Fail`, `0` (OK) otherwise.
async fn grpc_upstream() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    use http_body_util::BodyExt;
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((sock, _)) = l.accept().await {
            let svc = hyper::service::service_fn(
                |req: http::Request<hyper::body::Incoming>| async move {
                    let code = if req.uri().path() == "/echo.Echo/Fail" {
                        "14"
                    } else {
                        "0"
                    };
                    let mut trailers = http::HeaderMap::new();
                    trailers.insert("grpc-status", code.parse().unwrap());
                    let body = http_body_util::Full::new(bytes::Bytes::from_static(b"\0\0\0\0\0"))
                        .with_trailers(async move { Some(Ok(trailers)) });
                    let rsp = http::Response::builder()
                        .header("content-type", "application/grpc")
                        .body(body)
                        .unwrap();
                    Ok::<_, std::convert::Infallible>(rsp)
                },
            );
            tokio::spawn(
                hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(sock), svc),
            );
        }
    });
    (addr, task)
}

/// A GRPCRoute rule's calls (Linkerd counts route rules) fail by the gRPC
/// status in their trailers, though every one is an HTTP 200.
#[tokio::test]
async fn grpc_calls_fail_by_the_status_in_their_trailers() {
    let (upstream, _task) = grpc_upstream().await;
    let proxy = TestProxy::start(&format!(
        "listeners: [{{ name: outbound, address: 127.0.0.1:0, direction: outbound }}]
services:
  - name: grpc.test
    ports:
      - port: 50051
        protocol: grpc
        routes:
          - {{ name: default/echo/0, match: [{{ path: {{ prefix: /echo.Echo/ }} }}], backends: [{{ cluster: grpc }}], metrics: {{ name: default/echo/0 }} }}
clusters:
  - {{ name: grpc, protocol: http2, endpoints: [{{ address: \"{upstream}\" }}] }}
"
    ))
    .await;
    let mut conn = weft_testkit::client::h2(proxy.listener("outbound")).await;
    for (path, want) in [
        ("/echo.Echo/Unary", "0"),
        ("/echo.Echo/Fail", "14"),
        ("/echo.Echo/Unary", "0"),
    ] {
        let req = http::Request::post(format!("http://grpc.test:50051{path}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(weft_testkit::client::full(&b"\0\0\0\0\0"[..]))
            .unwrap();
        let rsp = weft_testkit::client::collect(conn.send_request(req).await.unwrap()).await;
        assert_eq!(rsp.status, StatusCode::OK);
        let status = rsp.trailers.as_ref().and_then(|t| t.get("grpc-status"));
        assert_eq!(status.map(|v| v.to_str().unwrap()), Some(want), "{path}");
    }
    let route = ("route", "default/echo/0");
    wait_metric(&proxy, "weft_route_requests_total", &[route], 3.0).await;
    let text = weft_testkit::metrics::scrape(proxy.addrs.metrics.unwrap()).await;
    for (class, n) in [("success", 2.0), ("failure", 1.0)] {
        assert_eq!(
            scrape_sum(
                &text,
                "weft_route_requests_total",
                &[route, ("response_code", "200"), ("classification", class)]
            ),
            n,
            "{class}: {text}"
        );
    }
}
