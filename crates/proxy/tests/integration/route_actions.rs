//! What a route does besides choosing a backend, through a real proxy to
//! real upstreams: direct responses, redirects, path and authority
//! rewrites, and header edits (the backend's, then the route's).

use http::{Request, StatusCode, Version};
use weft_testkit::proxy::TestProxy;
use weft_testkit::{client, servers};

use crate::support::{Untouched, send, service_routes, wait_metric};

fn get(host: &str, path: &str) -> Request<client::Body> {
    Request::get(path)
        .header("host", host)
        .body(client::empty())
        .unwrap()
}

#[tokio::test]
async fn direct_responses_answer_without_a_backend() {
    let upstream = Untouched::start().await;
    let yaml = service_routes(
        "direct.test:80",
        &[
            "{ match: [{ path: { prefix: /text } }], direct_response: { status: 200, body: { text: hello } }, headers: { response: { set: [[x-answered-by, route]] } } }",
            "{ match: [{ path: { prefix: /bytes } }], direct_response: { status: 503, body: { base64: \"AP8=\" } } }",
            "{ match: [{ path: { prefix: /empty } }], direct_response: { status: 204 } }",
            "{ backends: [{ cluster: backend }] }",
        ],
        upstream.addr,
    );
    let proxy = TestProxy::start(&yaml).await;

    let rsp = send(&proxy, get("direct.test", "/text/x")).await;
    assert_eq!(rsp.status, StatusCode::OK);
    assert_eq!(rsp.text(), "hello");
    assert_eq!(rsp.headers["content-type"], "text/plain");
    assert_eq!(rsp.headers["x-answered-by"], "route");

    let rsp = send(&proxy, get("direct.test", "/bytes")).await;
    assert_eq!(rsp.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(&rsp.body[..], &[0x00, 0xff]);
    assert!(rsp.headers.get("weft-proxy-error").is_none());

    let rsp = send(&proxy, get("direct.test", "/empty")).await;
    assert_eq!(rsp.status, StatusCode::NO_CONTENT);
    assert!(rsp.body.is_empty());
    assert!(rsp.headers.get("content-type").is_none());

    wait_metric(
        &proxy,
        "istio_requests_total",
        &[("response_code", "503"), ("response_flags", "-")],
        1.0,
    )
    .await;
    assert_eq!(upstream.connections(), 0);
}

#[tokio::test]
async fn redirects_build_the_location_from_the_request() {
    let upstream = Untouched::start().await;
    let redirect = |prefix: &str, redirect: &str| {
        format!("{{ match: [{{ path: {{ prefix: {prefix} }} }}], redirect: {redirect} }}")
    };
    let routes = [
        redirect("/path", "{ path: /new }"),
        redirect("/query", "{ path: \"/new?from=redirect\" }"),
        redirect("/authority", "{ authority: other.test }"),
        redirect("/number", "{ port: { number: 8443 } }"),
        redirect("/from-request", "{ port: from_request }"),
        redirect("/scheme", "{ scheme: https }"),
        redirect("/found", "{ path: /f, status: 302 }"),
        redirect(
            "/edited",
            "{ path: /e }, headers: { response: { add: [[x-note, moved]] } }",
        ),
    ];
    let routes: Vec<&str> = routes.iter().map(String::as_str).collect();
    let proxy = TestProxy::start(&service_routes("shop.test:9080", &routes, upstream.addr)).await;

    // (Host, request target, status, location)
    let cases = [
        ("shop.test", "/path/x?q=1", 301, "http://shop.test/new?q=1"),
        ("shop.test", "/path", 301, "http://shop.test/new"),
        (
            "shop.test",
            "/query?q=1",
            301,
            "http://shop.test/new?from=redirect",
        ),
        // The authority as written: the request's port does not follow.
        (
            "shop.test:8080",
            "/authority?q",
            301,
            "http://other.test/authority?q",
        ),
        (
            "shop.test:8080",
            "/number",
            301,
            "http://shop.test:8443/number",
        ),
        // The port the route serves: the service port.
        (
            "shop.test",
            "/from-request",
            301,
            "http://shop.test:9080/from-request",
        ),
        // A new scheme drops the old one's default port, keeps another.
        ("shop.test:80", "/scheme", 301, "https://shop.test/scheme"),
        (
            "shop.test:8080",
            "/scheme",
            301,
            "https://shop.test:8080/scheme",
        ),
        ("shop.test", "/found", 302, "http://shop.test/f"),
    ];
    for (host, target, status, location) in cases {
        let rsp = send(&proxy, get(host, target)).await;
        assert_eq!(rsp.status.as_u16(), status, "{host}{target}");
        assert_eq!(rsp.headers["location"], location, "{host}{target}");
        assert!(rsp.body.is_empty());
    }
    let rsp = send(&proxy, get("shop.test", "/edited")).await;
    assert_eq!(rsp.headers["x-note"], "moved", "route response edits apply");

    // HTTP/2: the authority and scheme come from the pseudo-headers.
    let rsp = client::get(
        proxy.listener("outbound"),
        Version::HTTP_2,
        "h2.test:81",
        "/path?v=2",
    )
    .await;
    assert_eq!(rsp.headers["location"], "http://h2.test:81/new?v=2");
    assert_eq!(upstream.connections(), 0);
}

#[tokio::test]
async fn uri_rewrites_replace_what_the_match_matched_and_keep_the_query() {
    let echo = servers::http_echo("echo").await;
    let yaml = service_routes(
        "rewrite.test:80",
        &[
            "{ match: [{ path: { prefix: /api } }], rewrite: { uri: /v2 }, backends: [{ cluster: backend }] }",
            "{ match: [{ path: { exact: /old } }], rewrite: { uri: /new }, backends: [{ cluster: backend }] }",
            "{ match: [{ path: { regex: \"/svc/[^/]+/.*\" } }], rewrite: { uri_regex: { pattern: \"^/svc/([^/]+)/(.*)$\", substitution: \"/\\\\2/by-\\\\1\" } }, backends: [{ cluster: backend }] }",
            "{ match: [{ path: { prefix: /LOUD }, path_ignore_case: true }], rewrite: { uri: /quiet }, backends: [{ cluster: backend }] }",
            "{ match: [{ path: { prefix: /host } }], rewrite: { authority: \"internal.test:7000\" }, backends: [{ cluster: backend }] }",
            "{ backends: [{ cluster: backend }] }",
        ],
        echo.addr,
    );
    let proxy = TestProxy::start(&yaml).await;
    // (request target, path and query the upstream sees)
    let cases = [
        ("/api/x?q=1", "/v2/x", Some("q=1")),
        ("/api", "/v2", None),
        ("/old?a=b", "/new", Some("a=b")),
        ("/svc/users/list?page=2", "/list/by-users", Some("page=2")),
        // The matched prefix is replaced as the request spelled it.
        ("/loud/x", "/quiet/x", None),
        ("/untouched?x", "/untouched", Some("x")),
    ];
    for (target, path, query) in cases {
        let seen = send(&proxy, get("rewrite.test", target)).await.json();
        assert_eq!(seen["path"], path, "{target}");
        assert_eq!(seen["query"].as_str(), query, "{target}");
    }

    // The authority rewrite is the Host the upstream sees, whichever
    // version the client spoke.
    for version in [Version::HTTP_11, Version::HTTP_2] {
        let rsp = client::get(
            proxy.listener("outbound"),
            version,
            "rewrite.test",
            "/host/x",
        )
        .await;
        let seen = rsp.json();
        assert_eq!(seen["host"], "internal.test:7000", "{version:?}");
        assert_eq!(seen["path"], "/host/x");
    }
}

#[tokio::test]
async fn header_edits_apply_the_backends_then_the_routes() {
    let echo = servers::http_echo("echo").await;
    let route = "{ backends: [{ cluster: backend, headers: {
            request: { set: [[x-who, backend], [x-backend-only, yes]], add: [[x-list, from-backend]], remove: [x-drop-for-backend] },
            response: { set: [[x-resp, backend]], add: [[x-resp-list, b]], remove: [x-nothing] } } }],
        headers: {
            request: { set: [[x-who, route]], add: [[x-list, from-route]], remove: [x-drop-for-route, x-backend-only] },
            response: { set: [[x-resp, route]], add: [[x-resp-list, r]], remove: [content-type] } } }";
    let yaml = service_routes("edit.test:80", &[&route.replace('\n', " ")], echo.addr);
    let proxy = TestProxy::start(&yaml).await;
    let req = Request::get("/")
        .header("host", "edit.test")
        .header("x-drop-for-backend", "1")
        .header("x-drop-for-route", "1")
        .header("x-who", "client")
        .body(client::empty())
        .unwrap();
    let rsp = send(&proxy, req).await;
    let seen = rsp.json();
    let headers = &seen["headers"];
    // Both set x-who; the route's comes last and wins.
    assert_eq!(headers["x-who"], "route");
    assert!(headers.get("x-drop-for-backend").is_none(), "{headers}");
    assert!(headers.get("x-drop-for-route").is_none(), "{headers}");
    // The route's remove runs after the backend's set.
    assert!(headers.get("x-backend-only").is_none(), "{headers}");
    // The echo reports a header's last value: the route's add came last.
    assert_eq!(headers["x-list"], "from-route");

    let values = |name: &str| -> Vec<String> {
        rsp.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(values("x-resp"), ["route"]);
    assert_eq!(values("x-resp-list"), ["b", "r"]);
    assert!(
        rsp.headers.get("content-type").is_none(),
        "the route removed it"
    );
}
