//! Inbound authorization with real sockets: HTTP requests are answered 403
//! (RBAC) naming the policy, TCP connections are closed, and both are
//! counted.

use http::{Request, StatusCode, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use weft_testkit::client;
use weft_testkit::proxy::TestProxy;
use weft_testkit::servers;

use crate::support::wait_metric;

fn sidecar(app_port: u16, protocol: &str, policies: &str) -> String {
    format!(
        "node: {{ workload: details-v1, namespace: default, app: details }}
listeners:
  - {{ name: inbound, address: 127.0.0.1:0, direction: inbound, target_port: {app_port} }}
inbound:
  - {{ port: {app_port}, protocol: {protocol}, service: details.default.svc.cluster.local }}
authorization:
{policies}"
    )
}

#[tokio::test]
async fn http_requests_a_policy_refuses_get_403_naming_it() {
    let app = servers::http_echo("details").await;
    let proxy = TestProxy::start(&sidecar(
        app.addr.port(),
        "http",
        "  - name: default/readonly
    action: allow
    rules: [{ to: [{ methods: [GET, HEAD] }] }]
  - name: default/no-admin
    action: deny
    rules: [{ to: [{ paths: ['/admin*'] }] }]
",
    ))
    .await;
    let inbound = proxy.listener("inbound");
    let get = client::get(inbound, Version::HTTP_11, "details", "/details/0").await;
    assert_eq!(get.status, StatusCode::OK);

    let admin = client::get(inbound, Version::HTTP_11, "details", "/admin/x").await;
    assert_eq!(admin.status, StatusCode::FORBIDDEN);
    assert_eq!(
        admin.headers["weft-proxy-error"],
        "RBAC: access denied by default/no-admin"
    );

    let req = Request::post("/details/0")
        .header("host", "details")
        .body(client::empty())
        .unwrap();
    let post = client::collect(client::h1(inbound).await.send_request(req).await.unwrap()).await;
    assert_eq!(post.status, StatusCode::FORBIDDEN);
    assert!(
        post.text().contains("(no ALLOW policy matched)"),
        "{}",
        post.text()
    );

    wait_metric(
        &proxy,
        "istio_requests_total",
        &[("response_code", "403"), ("response_flags", "RBAC")],
        2.0,
    )
    .await;
    wait_metric(
        &proxy,
        "weft_authorization_denied_total",
        &[("policy", "default/no-admin"), ("protocol", "http")],
        1.0,
    )
    .await;
}

#[tokio::test]
async fn tcp_connections_a_policy_refuses_are_closed() {
    let app = servers::tcp_echo().await;
    let port = app.addr.port();
    // Only the local network may connect; the test client is 127.0.0.1.
    let allowed = TestProxy::start(&sidecar(
        port,
        "tcp",
        "  - { name: default/local-only, action: allow, rules: [{ from: [{ ip_blocks: [127.0.0.0/8] }] }] }\n",
    ))
    .await;
    let mut sock = TcpStream::connect(allowed.listener("inbound"))
        .await
        .unwrap();
    sock.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    sock.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");

    // A DENY rule with an HTTP-only field denies all TCP (fail closed).
    let refused = TestProxy::start(&sidecar(
        port,
        "tcp",
        "  - { name: default/no-delete, action: deny, rules: [{ to: [{ methods: [DELETE] }] }] }\n",
    ))
    .await;
    let mut sock = TcpStream::connect(refused.listener("inbound"))
        .await
        .unwrap();
    let _ = sock.write_all(b"ping").await;
    let mut out = Vec::new();
    let n = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        sock.read_to_end(&mut out),
    )
    .await
    .unwrap();
    assert!(
        n.is_err() || out.is_empty(),
        "the connection must close unanswered, got {out:?}"
    );
    wait_metric(
        &refused,
        "weft_authorization_denied_total",
        &[("policy", "default/no-delete"), ("protocol", "tcp")],
        1.0,
    )
    .await;
}
