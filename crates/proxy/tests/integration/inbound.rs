use http::{StatusCode, Version};
use weft_testkit::client;
use weft_testkit::proxy::TestProxy;
use weft_testkit::servers;

use crate::support::wait_metric;

fn server_sidecar(app_port: u16) -> String {
    format!(
        "node: {{ workload: echo-v1, namespace: test, app: echo, version: v1, service_account: echo }}
listeners:
  - {{ name: inbound, address: 127.0.0.1:0, direction: inbound, target_port: {app_port} }}
inbound:
  - {{ port: {app_port}, service: echo.test.svc.cluster.local }}
"
    )
}

#[tokio::test]
async fn inbound_requests_reach_the_local_app_and_report_as_destination() {
    let app = servers::http_echo("echo").await;
    let proxy = TestProxy::start(&server_sidecar(app.addr.port())).await;
    let rsp = client::get(
        proxy.listener("inbound"),
        Version::HTTP_11,
        "echo.test",
        "/in",
    )
    .await;
    assert_eq!(rsp.status, StatusCode::OK);
    assert_eq!(rsp.json()["path"], "/in");
    let labels = [
        ("reporter", "destination"),
        ("destination_workload", "echo-v1"),
        (
            "destination_principal",
            "spiffe://cluster.local/ns/test/sa/echo",
        ),
        ("destination_service", "echo.test.svc.cluster.local"),
        ("connection_security_policy", "none"),
    ];
    wait_metric(&proxy, "istio_requests_total", &labels, 1.0).await;
}

/// `weft up`'s explicit mode: services name port 9080, the app listens
/// wherever it was told to; `app_address` joins the two, for a declared
/// port and for passthrough alike.
#[tokio::test]
async fn app_address_sends_a_declared_port_to_where_the_app_listens() {
    let app = servers::http_echo("echo").await;
    for inbound in [
        "inbound:\n  - { port: 9080, service: echo.test.svc.cluster.local }\n",
        "",
    ] {
        let proxy = TestProxy::start(&format!(
            "node: {{ workload: echo-v1, namespace: test, app: echo }}
listeners:
  - {{ name: inbound, address: 127.0.0.1:0, direction: inbound, target_port: 9080, app_address: \"{}\" }}
{inbound}",
            app.addr
        ))
        .await;
        let rsp = client::get(
            proxy.listener("inbound"),
            Version::HTTP_11,
            "echo.test",
            "/remapped",
        )
        .await;
        assert_eq!(rsp.status, StatusCode::OK, "{inbound:?}");
        assert_eq!(rsp.json()["path"], "/remapped");
    }
}

#[tokio::test]
async fn two_proxies_carry_http1_over_one_http2_connection() {
    let app = servers::http_echo("echo").await;
    let server = TestProxy::start(&server_sidecar(app.addr.port())).await;
    let client_side = format!(
        "node: {{ workload: client-v1, namespace: test }}
listeners: [{{ name: outbound, address: 127.0.0.1:0, direction: outbound }}]
services:
  - name: echo.test.svc.cluster.local
    hosts: [echo.test]
    ports: [{{ port: 80, cluster: echo }}]
clusters:
  - name: echo
    protocol: http2
    endpoints:
      - address: \"{}\"
        workload: {{ workload: echo-v1, namespace: test, app: echo }}
",
        server.listener("inbound")
    );
    let proxy = TestProxy::start(&client_side).await;
    for i in 0..5 {
        let rsp = client::get(
            proxy.listener("outbound"),
            Version::HTTP_11,
            "echo.test",
            &format!("/hop/{i}"),
        )
        .await;
        assert_eq!(rsp.status, StatusCode::OK);
        let body = rsp.json();
        // The app sees HTTP/1.1 again, with its Host intact.
        assert_eq!(
            (body["version"].as_str(), body["host"].as_str()),
            (Some("HTTP/1.1"), Some("echo.test"))
        );
    }
    let source = [
        ("reporter", "source"),
        ("source_workload", "client-v1"),
        ("destination_workload", "echo-v1"),
    ];
    wait_metric(&proxy, "istio_requests_total", &source, 5.0).await;
    wait_metric(
        &server,
        "istio_requests_total",
        &[("reporter", "destination")],
        5.0,
    )
    .await;
}
