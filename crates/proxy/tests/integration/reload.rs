//! Config changes applied to a running proxy.

use std::time::Duration;

use http::StatusCode;
use weft_proto::config::ProxyConfig;
use weft_testkit::proxy::{TEST_PORTS, TestProxy};
use weft_testkit::servers;

use crate::support::{get, outbound_to};

fn config(yaml: &str) -> ProxyConfig {
    ProxyConfig::from_yaml("reload.yaml", &format!("{TEST_PORTS}{yaml}")).unwrap()
}

#[tokio::test]
async fn a_new_config_moves_traffic_without_dropping_connections() {
    let a = servers::http_echo("a").await;
    let b = servers::http_echo("b").await;
    let proxy = TestProxy::start(&outbound_to(&[a.addr], "")).await;
    let addr = proxy.listener("outbound");
    assert_eq!(get(&proxy, "echo.test", "/").await.json()["service"], "a");

    // A slow request in flight across the change completes.
    let slow = tokio::spawn(weft_testkit::client::get(
        addr,
        http::Version::HTTP_11,
        "echo.test",
        "/delay/300",
    ));
    tokio::time::sleep(Duration::from_millis(50)).await;
    proxy
        .state()
        .update(config(&outbound_to(&[b.addr], "")))
        .unwrap();
    assert_eq!(get(&proxy, "echo.test", "/").await.json()["service"], "b");
    assert_eq!(slow.await.unwrap().status, StatusCode::OK);
}

#[tokio::test]
async fn a_bad_config_is_rejected_and_the_old_one_keeps_serving() {
    let a = servers::http_echo("a").await;
    let proxy = TestProxy::start(&outbound_to(&[a.addr], "")).await;
    let mut bad = config(&outbound_to(&[a.addr], ""));
    bad.services[0].ports[0].cluster = Some("nope".into());
    let err = proxy.state().update(bad).unwrap_err().to_string();
    assert!(
        err.contains("services[0].ports[0].cluster: no cluster named \"nope\""),
        "{err}"
    );
    assert_eq!(get(&proxy, "echo.test", "/").await.json()["service"], "a");
}
