//! Locality load balancing over real upstreams: endpoints the control
//! plane placed in priority levels (Envoy priorities, Istio locality
//! failover) and locality groups (Istio `distribute`).

use std::net::SocketAddr;

use http::StatusCode;
use weft_testkit::proxy::TestProxy;
use weft_testkit::servers;

use crate::support::{get, outbound_to};
use crate::upstreams::Counting;

/// The `echo` cluster with `extra` settings and endpoints written as
/// `(address, priority, locality, locality weight)`.
fn placed(extra: &str, endpoints: &[(SocketAddr, u32, &str, Option<u32>)]) -> String {
    let eps: String = endpoints
        .iter()
        .map(|(a, p, loc, w)| {
            let weight = w
                .map(|w| format!(", locality_weight: {w}"))
                .unwrap_or_default();
            format!("      - {{ address: \"{a}\", priority: {p}, locality: {loc}{weight} }}\n")
        })
        .collect();
    outbound_to(&[], extra).replace("      []\n", &eps)
}

/// Zone a (priority 0) and zone b (priority 1), two endpoints each.
fn two_zones(extra: &str, a: [SocketAddr; 2], b: [SocketAddr; 2]) -> String {
    placed(
        extra,
        &[
            (a[0], 0, "r/a", None),
            (a[1], 0, "r/a", None),
            (b[0], 1, "r/b", None),
            (b[1], 1, "r/b", None),
        ],
    )
}

fn total(servers: &[&Counting]) -> usize {
    servers.iter().map(|s| s.requests()).sum()
}

#[tokio::test]
async fn traffic_stays_in_the_local_zone_while_it_is_healthy() {
    let (a1, a2) = (Counting::start(200).await, Counting::start(200).await);
    let (b1, b2) = (Counting::start(200).await, Counting::start(200).await);
    for lb in ["p2c_peak_ewma", "round_robin", "random", "least_request"] {
        let proxy = TestProxy::start(&two_zones(
            &format!("    lb: {lb}\n"),
            [a1.addr, a2.addr],
            [b1.addr, b2.addr],
        ))
        .await;
        for _ in 0..40 {
            assert_eq!(get(&proxy, "echo.test", "/").await.status, StatusCode::OK);
        }
    }
    assert_eq!(total(&[&b1, &b2]), 0);
    assert_eq!(total(&[&a1, &a2]), 160);
    // Both zone-a endpoints served.
    assert!(a1.requests() > 0 && a2.requests() > 0);
}

#[tokio::test]
async fn ejected_local_endpoints_fail_over_to_the_next_zone() {
    let (a1, a2) = (Counting::start(500).await, Counting::start(500).await);
    let (b1, b2) = (Counting::start(200).await, Counting::start(200).await);
    let proxy = TestProxy::start(&two_zones(
        "    lb: round_robin
    outlier_detection: { consecutive_5xx: 1, base_ejection_time: 60s, max_ejection_percent: 100 }
",
        [a1.addr, a2.addr],
        [b1.addr, b2.addr],
    ))
    .await;
    let mut ok = 0;
    for _ in 0..60 {
        if get(&proxy, "echo.test", "/").await.status == StatusCode::OK {
            ok += 1;
        }
    }
    // One failure each ejects zone a; zone b serves everything after.
    assert_eq!(total(&[&a1, &a2]), 2);
    assert_eq!(ok, 58);
    assert_eq!(total(&[&b1, &b2]), 58);
}

#[tokio::test]
async fn one_of_two_local_endpoints_ejected_spills_about_30_percent() {
    // Envoy: zone a at 1/2 available has health min(100, 1.4 × 50) = 70,
    // so 30% of the traffic goes to zone b.
    let (good, bad) = (Counting::start(200).await, Counting::start(500).await);
    let (b1, b2) = (Counting::start(200).await, Counting::start(200).await);
    let proxy = TestProxy::start(&two_zones(
        "    lb: round_robin
    outlier_detection: { consecutive_5xx: 1, base_ejection_time: 60s, max_ejection_percent: 100 }
",
        [good.addr, bad.addr],
        [b1.addr, b2.addr],
    ))
    .await;
    for _ in 0..10 {
        get(&proxy, "echo.test", "/").await;
    }
    assert_eq!(bad.requests(), 1);
    // Level loads are recounted at most every 50 ms (`upstream/priority.rs`):
    // let the count see the ejection before measuring, or the first
    // requests (how many depends on the machine's speed) go by the loads
    // from before it.
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    get(&proxy, "echo.test", "/").await;
    let before = (good.requests(), total(&[&b1, &b2]));
    let n = 400;
    for _ in 0..n {
        assert_eq!(get(&proxy, "echo.test", "/").await.status, StatusCode::OK);
    }
    let remote = total(&[&b1, &b2]) - before.1;
    assert_eq!(good.requests() - before.0 + remote, n);
    // Expected 120 of 400 (σ ≈ 9).
    assert!((80..=160).contains(&remote), "{remote} of {n} spilled");
}

#[tokio::test]
async fn refused_local_endpoints_fail_over_to_the_next_zone() {
    let dead = [servers::refused_addr().await, servers::refused_addr().await];
    let (b1, b2) = (Counting::start(200).await, Counting::start(200).await);
    let proxy = TestProxy::start(&two_zones("", dead, [b1.addr, b2.addr])).await;
    let mut failures = 0;
    for _ in 0..40 {
        if get(&proxy, "echo.test", "/").await.status != StatusCode::OK {
            failures += 1;
        }
    }
    // At most one failed request per dead endpoint before it is set aside.
    assert!(failures <= 2, "{failures} failures");
    assert_eq!(total(&[&b1, &b2]), 40 - failures);
}

#[tokio::test]
async fn locality_weights_split_traffic_between_zones() {
    let (a1, a2) = (Counting::start(200).await, Counting::start(200).await);
    let b = Counting::start(200).await;
    let proxy = TestProxy::start(&placed(
        "",
        &[
            (a1.addr, 0, "r/a", Some(75)),
            (a2.addr, 0, "r/a", Some(75)),
            (b.addr, 0, "r/b", Some(25)),
        ],
    ))
    .await;
    let n = 400;
    for _ in 0..n {
        assert_eq!(get(&proxy, "echo.test", "/").await.status, StatusCode::OK);
    }
    // Expected 100 of 400 to zone b (σ ≈ 9), though it is one endpoint
    // of three.
    assert!((60..=140).contains(&b.requests()), "{}", b.requests());
    assert_eq!(total(&[&a1, &a2]) + b.requests(), n);
}
