//! Outlier detection: an endpoint that keeps failing stops getting traffic,
//! comes back after its ejection time (longer on each repeat), and
//! `max_ejection_percent` keeps some failing endpoints in service.

use std::time::{Duration, Instant};

use http::StatusCode;
use weft_testkit::proxy::TestProxy;

use crate::support::{get, outbound_to, wait_metric};
use crate::upstreams::Counting;

/// Sends requests (20 ms apart) until `done`, giving up after 20 s.
async fn until(proxy: &TestProxy, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "never: {what}");
        get(proxy, "echo.test", "/").await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_failing_endpoint_is_ejected_and_comes_back_later_each_time() {
    let good = Counting::start(200).await;
    let bad = Counting::start(500).await;
    let proxy = TestProxy::start(&outbound_to(
        &[good.addr, bad.addr],
        "    lb: round_robin
    outlier_detection: { consecutive_5xx: 3, interval: 1s, base_ejection_time: 1s, max_ejection_percent: 100 }
",
    ))
    .await;

    until(&proxy, "three failures", || bad.requests() == 3).await;
    let ejected = Instant::now();
    // Everything now goes to the good endpoint.
    for _ in 0..10 {
        assert_eq!(get(&proxy, "echo.test", "/").await.status, StatusCode::OK);
    }
    assert_eq!(bad.requests(), 3);
    let enforced = "envoy_cluster_outlier_detection_ejections_enforced_total";
    wait_metric(&proxy, enforced, &[("cluster_name", "echo")], 1.0).await;

    until(&proxy, "back in service", || bad.requests() > 3).await;
    let first = ejected.elapsed();
    until(&proxy, "three more failures", || bad.requests() == 6).await;
    let ejected = Instant::now();
    until(&proxy, "back again", || bad.requests() > 6).await;
    let second = ejected.elapsed();
    // base_ejection_time, then twice it (rounded up to an interval tick).
    assert!(first >= Duration::from_millis(900), "{first:?}");
    assert!(second >= Duration::from_millis(1900), "{second:?}");
    wait_metric(&proxy, enforced, &[("cluster_name", "echo")], 2.0).await;
}

#[tokio::test]
async fn max_ejection_percent_keeps_one_of_three_failing_endpoints_in_service() {
    let good = Counting::start(200).await;
    let bad = [
        Counting::start(500).await,
        Counting::start(500).await,
        Counting::start(500).await,
    ];
    let proxy = TestProxy::start(&outbound_to(
        &[good.addr, bad[0].addr, bad[1].addr, bad[2].addr],
        "    lb: round_robin
    outlier_detection: { consecutive_5xx: 1, base_ejection_time: 60s, max_ejection_percent: 50 }
",
    ))
    .await;
    for _ in 0..20 {
        get(&proxy, "echo.test", "/").await;
    }
    // Half of four may be out: two failing endpoints are, one is not.
    let before: Vec<usize> = bad.iter().map(|b| b.requests()).collect();
    let good_before = good.requests();
    for _ in 0..20 {
        get(&proxy, "echo.test", "/").await;
    }
    let serving = bad
        .iter()
        .zip(&before)
        .filter(|(b, n)| b.requests() > **n)
        .count();
    assert_eq!(serving, 1, "{before:?}");
    assert!(good.requests() > good_before);
    let labels = [("cluster_name", "echo")];
    wait_metric(
        &proxy,
        "envoy_cluster_outlier_detection_ejections_active",
        &labels,
        2.0,
    )
    .await;
}
