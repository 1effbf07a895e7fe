use std::collections::HashMap;

use http::{StatusCode, Version};
use weft_testkit::client;
use weft_testkit::proxy::TestProxy;
use weft_testkit::servers;

use crate::support::{get, outbound_to};

async fn spread(proxy: &TestProxy, n: usize) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for _ in 0..n {
        let rsp = get(proxy, "echo.test", "/").await;
        assert_eq!(rsp.status, StatusCode::OK, "{}", rsp.text());
        *seen
            .entry(rsp.json()["service"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    seen
}

#[tokio::test]
async fn round_robin_spreads_evenly() {
    let a = servers::http_echo("a").await;
    let b = servers::http_echo("b").await;
    let c = servers::http_echo("c").await;
    let proxy = TestProxy::start(&outbound_to(
        &[a.addr, b.addr, c.addr],
        "    lb: round_robin\n",
    ))
    .await;
    let seen = spread(&proxy, 30).await;
    assert_eq!(
        seen.values().copied().collect::<Vec<_>>(),
        vec![10, 10, 10],
        "{seen:?}"
    );
}

#[tokio::test]
async fn every_policy_spreads_concurrent_load() {
    for lb in ["p2c_peak_ewma", "random", "least_request"] {
        let a = servers::http_echo("a").await;
        let b = servers::http_echo("b").await;
        let proxy =
            TestProxy::start(&outbound_to(&[a.addr, b.addr], &format!("    lb: {lb}\n"))).await;
        let addr = proxy.listener("outbound");
        // Load-aware policies spread by requests in flight, so send waves of
        // concurrent slow requests.
        let mut seen: HashMap<String, usize> = HashMap::new();
        for _ in 0..3 {
            let wave =
                (0..10).map(|_| client::get(addr, Version::HTTP_11, "echo.test", "/delay/30"));
            for rsp in futures_util::future::join_all(wave).await {
                let who = rsp.text().split(':').next().unwrap().to_string();
                *seen.entry(who).or_default() += 1;
            }
        }
        assert_eq!(seen.len(), 2, "{lb}: {seen:?}");
        assert!(seen.values().all(|n| *n >= 5), "{lb}: {seen:?}");
    }
}

#[tokio::test]
async fn a_dead_endpoint_costs_at_most_one_failure() {
    let dead = servers::refused_addr().await;
    let live = servers::http_echo("live").await;
    for lb in ["p2c_peak_ewma", "round_robin", "random", "least_request"] {
        let proxy =
            TestProxy::start(&outbound_to(&[dead, live.addr], &format!("    lb: {lb}\n"))).await;
        let mut failures = 0;
        for _ in 0..30 {
            let rsp = get(&proxy, "echo.test", "/").await;
            if rsp.status != StatusCode::OK {
                failures += 1;
            }
        }
        assert!(failures <= 1, "{lb}: {failures} failures");
    }
}
