//! Route conditions on the authority, the query string and the path
//! regardless of case, through a real proxy to real upstreams: each route
//! goes to its own echo server, which names itself.

use std::net::SocketAddr;

use http::StatusCode;
use weft_testkit::proxy::TestProxy;
use weft_testkit::{client, servers};

use crate::support::send;

fn config(routes: &[(&str, SocketAddr)]) -> String {
    let mut yaml = String::from(
        "listeners: [{ name: outbound, address: 127.0.0.1:0, direction: outbound, destination: \"match.test:80\" }]
services:
  - name: match.test
    ports:
      - port: 80
        protocol: http
        routes:
",
    );
    for (i, (m, _)) in routes.iter().enumerate() {
        yaml += &format!("          - {{ match: [{m}], backends: [{{ cluster: c{i} }}] }}\n");
    }
    yaml += "          - { backends: [{ cluster: fallback }] }\nclusters:\n";
    for (i, (_, addr)) in routes.iter().enumerate() {
        yaml += &format!("  - {{ name: c{i}, endpoints: [{{ address: \"{addr}\" }}] }}\n");
    }
    yaml
}

#[tokio::test]
async fn authority_query_and_case_insensitive_conditions_pick_routes() {
    let admin = servers::http_echo("admin").await;
    let v2 = servers::http_echo("v2").await;
    let debug = servers::http_echo("debug").await;
    let login = servers::http_echo("login").await;
    let fallback = servers::http_echo("fallback").await;
    let yaml = config(&[
        ("{ authority: { exact: admin.test } }", admin.addr),
        ("{ query: [{ name: v, value: { exact: \"2\" } }] }", v2.addr),
        (
            "{ query: [{ name: debug, value: { present: true } }] }",
            debug.addr,
        ),
        (
            "{ path: { prefix: /Login }, path_ignore_case: true }",
            login.addr,
        ),
    ]) + &format!(
        "  - {{ name: fallback, endpoints: [{{ address: \"{}\" }}] }}\n",
        fallback.addr
    );
    let proxy = TestProxy::start(&yaml).await;

    // (Host, request target, the upstream that answers)
    let cases = [
        ("admin.test", "/", "admin"),
        // The authority as sent, port included.
        ("admin.test:80", "/", "fallback"),
        ("ADMIN.test", "/", "fallback"),
        ("match.test", "/x?v=2", "v2"),
        ("match.test", "/x?a=1&v=2", "v2"),
        ("match.test", "/x?v=20", "fallback"),
        // Envoy matches the raw value: %32 is not "2".
        ("match.test", "/x?v=%32", "fallback"),
        ("match.test", "/x?debug", "debug"),
        ("match.test", "/x?debug=0", "debug"),
        ("match.test", "/x?nodebug=1", "fallback"),
        ("match.test", "/LOGIN/x", "login"),
        ("match.test", "/login", "login"),
        ("match.test", "/logout", "fallback"),
    ];
    for (host, target, want) in cases {
        let req = http::Request::get(target)
            .header("host", host)
            .body(client::empty())
            .unwrap();
        let rsp = send(&proxy, req).await;
        assert_eq!(rsp.status, StatusCode::OK, "{host}{target}");
        assert_eq!(rsp.json()["service"], want, "{host}{target}");
    }
}

#[tokio::test]
async fn method_patterns_and_the_scheme_pick_routes() {
    let secure = servers::http_echo("secure").await;
    let reads = servers::http_echo("reads").await;
    let writes = servers::http_echo("writes").await;
    let deletes = servers::http_echo("deletes").await;
    let fallback = servers::http_echo("fallback").await;
    let yaml = config(&[
        ("{ scheme: { exact: https } }", secure.addr),
        ("{ method: { regex: \"GET|HEAD\" } }", reads.addr),
        ("{ method: { prefix: P } }", writes.addr),
        ("{ method: DELETE }", deletes.addr),
    ]) + &format!(
        "  - {{ name: fallback, endpoints: [{{ address: \"{}\" }}] }}\n",
        fallback.addr
    );
    let proxy = TestProxy::start(&yaml).await;
    // A plaintext HTTP/1.1 request's scheme is `http`.
    let cases = [
        ("GET", "reads"),
        // The regex is anchored: GETX is not GET.
        ("GETX", "fallback"),
        ("POST", "writes"),
        ("PATCH", "writes"),
        ("DELETE", "deletes"),
        ("OPTIONS", "fallback"),
    ];
    for (method, want) in cases {
        let req = http::Request::builder()
            .method(method)
            .uri("/x")
            .header("host", "match.test")
            .body(client::empty())
            .unwrap();
        let rsp = send(&proxy, req).await;
        assert_eq!(rsp.status, StatusCode::OK, "{method}");
        assert_eq!(rsp.json()["service"], want, "{method}");
    }
    // HTTP/2 carries `:scheme`: https as the client wrote it.
    let mut h2 = client::h2(proxy.listener("outbound")).await;
    for (scheme, want) in [("https", "secure"), ("http", "reads")] {
        let req = http::Request::get(format!("{scheme}://match.test/x"))
            .body(client::empty())
            .unwrap();
        let rsp = client::collect(h2.send_request(req).await.unwrap()).await;
        assert_eq!(rsp.json()["service"], want, "{scheme}");
    }
}
