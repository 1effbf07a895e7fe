//! CORS on a route (Istio `corsPolicy`, as Envoy's CORS filter does it):
//! preflights from an allowed origin never reach the app; other requests
//! from it get `access-control-*` headers on the app's response.

use http::{Method, Request, StatusCode};
use weft_testkit::proxy::TestProxy;
use weft_testkit::{client, servers};

use crate::support::{Untouched, send, service_routes};

const POLICY: &str = r#"cors: { allow_origins: [{ exact: "https://shop.example" }], allow_methods: [GET, PUT], allow_headers: [x-token], expose_headers: [x-trace], max_age: 1h, allow_credentials: true }"#;

fn request(method: Method, origin: Option<&str>, preflight: bool) -> Request<client::Body> {
    let mut b = Request::builder()
        .method(method)
        .uri("/")
        .header("host", "api.test");
    if let Some(o) = origin {
        b = b.header("origin", o);
    }
    if preflight {
        b = b.header("access-control-request-method", "PUT");
    }
    b.body(client::empty()).unwrap()
}

#[tokio::test]
async fn an_allowed_preflight_is_answered_by_the_proxy() {
    let app = Untouched::start().await;
    let route = format!("{{ backends: [{{ cluster: backend }}], {POLICY} }}");
    let proxy = TestProxy::start(&service_routes("api.test:80", &[&route], app.addr)).await;

    let rsp = send(
        &proxy,
        request(Method::OPTIONS, Some("https://shop.example"), true),
    )
    .await;
    assert_eq!(rsp.status, StatusCode::OK);
    let h = &rsp.headers;
    assert_eq!(h["access-control-allow-origin"], "https://shop.example");
    assert_eq!(h["access-control-allow-methods"], "GET,PUT");
    assert_eq!(h["access-control-allow-headers"], "x-token");
    assert_eq!(h["access-control-max-age"], "3600");
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert_eq!(app.connections(), 0, "a preflight never reaches the app");
}

#[tokio::test]
async fn requests_from_an_allowed_origin_get_cors_headers_others_do_not() {
    let echo = servers::http_echo("api").await;
    let route = format!("{{ backends: [{{ cluster: backend }}], {POLICY} }}");
    let proxy = TestProxy::start(&service_routes("api.test:80", &[&route], echo.addr)).await;

    let rsp = send(
        &proxy,
        request(Method::GET, Some("https://shop.example"), false),
    )
    .await;
    assert_eq!(rsp.status, StatusCode::OK);
    assert_eq!(
        rsp.headers["access-control-allow-origin"],
        "https://shop.example"
    );
    assert_eq!(rsp.headers["access-control-expose-headers"], "x-trace");
    assert_eq!(rsp.headers["access-control-allow-credentials"], "true");
    assert!(!rsp.headers.contains_key("access-control-allow-methods"));

    // Another origin, or none: the app's answer untouched.
    for origin in [Some("https://evil.example"), None] {
        let rsp = send(&proxy, request(Method::GET, origin, false)).await;
        assert_eq!(rsp.status, StatusCode::OK);
        assert!(
            !rsp.headers.contains_key("access-control-allow-origin"),
            "{origin:?}"
        );
    }
    // A preflight from another origin goes to the app (FORWARD): the echo
    // app answers OPTIONS itself.
    let rsp = send(
        &proxy,
        request(Method::OPTIONS, Some("https://evil.example"), true),
    )
    .await;
    assert!(!rsp.headers.contains_key("access-control-allow-origin"));
    assert!(rsp.text().contains("OPTIONS"), "{}", rsp.text());
}

#[tokio::test]
async fn an_ignored_preflight_is_answered_without_cors_headers() {
    let app = Untouched::start().await;
    let route = r#"{ backends: [{ cluster: backend }], cors: { allow_origins: [{ prefix: "https://shop." }], forward_unmatched_preflights: false } }"#;
    let proxy = TestProxy::start(&service_routes("api.test:80", &[route], app.addr)).await;
    let rsp = send(
        &proxy,
        request(Method::OPTIONS, Some("https://evil.example"), true),
    )
    .await;
    assert_eq!(rsp.status, StatusCode::OK);
    assert!(!rsp.headers.contains_key("access-control-allow-origin"));
    assert_eq!(app.connections(), 0);
}
