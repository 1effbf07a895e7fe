//! Mesh routing without VirtualServices, on a running mesh (`weft up`,
//! explicit mode): bookinfo with one Service per reviews version, an
//! HTTPRoute attached to the `reviews` Service (GAMMA) sending `/reviews`
//! to v2 (and nothing else anywhere), then an SMI TrafficSplit sharing reviews 90/10 between v1 and
//! v2, measured over 400 requests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::PathBuf;

use support::local_mesh::{LocalMesh, reviews_split, reviews_version, until_in_a_row};

/// A Service per reviews version, selecting its pods by `version`.
const VERSIONS: &str = "
apiVersion: v1
kind: Service
metadata: { name: reviews-v1 }
spec: { selector: { app: reviews, version: v1 }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: reviews-v2 }
spec: { selector: { app: reviews, version: v2 }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: reviews-v3 }
spec: { selector: { app: reviews, version: v3 }, ports: [{ name: http, port: 9080 }] }
";

const ALL_TO_V2: &str = "
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: reviews }
spec:
  parentRefs: [{ group: '', kind: Service, name: reviews, port: 9080 }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /reviews } }]
    backendRefs: [{ name: reviews-v2, port: 9080 }]
";

const SPLIT_90_10: &str = "
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: { name: reviews }
spec:
  service: reviews
  backends:
  - { service: reviews-v1, weight: 90 }
  - { service: reviews-v2, weight: 10 }
";

/// `yaml` in a file of the test's own.
fn file(tag: &str, name: &str, yaml: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("weft-gamma-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, yaml).unwrap();
    path
}

#[test]
fn an_http_route_on_the_service_then_a_traffic_split_route_reviews() {
    let mesh = LocalMesh::bookinfo("gm");
    let tag = &mesh.name;
    mesh.apply(&file(tag, "versions.yaml", VERSIONS));

    // The HTTPRoute sends every request for reviews to v2: black stars
    // only, whoever asks.
    let route = file(tag, "route.yaml", ALL_TO_V2);
    mesh.apply(&route);
    until_in_a_row("all to reviews-v2", 10, || {
        let page = mesh.page(None).body;
        match reviews_version(&page) {
            "reviews-v2" => Ok(()),
            other => Err(other.to_string()),
        }
    });
    for user in [None, Some("jason")] {
        let page = mesh.page(user).body;
        assert_eq!(reviews_version(&page), "reviews-v2");
        assert!(page.contains("<font color=\"black\">"), "{page}");
        assert!(!page.contains("<font color=\"red\">"), "{page}");
    }
    let seen = reviews_split(&mesh, 40);
    assert_eq!(seen.keys().collect::<Vec<_>>(), ["reviews-v2"], "{seen:?}");

    // `weft routes` counts the HTTPRoute's rule by name (the control
    // plane scrapes every second in tests).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let rows: Vec<serde_json::Value> =
            serde_json::from_str(&mesh.weft(&["routes", "reviews", "-o", "json"])).unwrap();
        if rows
            .iter()
            .any(|r| r["name"] == "default/reviews/0" && r["requests"].as_u64().unwrap_or(0) >= 40)
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{rows:#?}");
        std::thread::sleep(std::time::Duration::from_millis(300));
    }

    // With a route attached only the routes apply: a path no rule
    // matches finds no route.
    let other = mesh.get_from("productpage-v1", "http://reviews:9080/health", &[]);
    assert_eq!(other.status, 404, "{}", other.body);

    // The split replaces the route; it is in force once v1 answers (the
    // route cannot send anything there) and v3 does not (as without
    // either).
    mesh.delete(&route);
    mesh.apply(&file(tag, "split.yaml", SPLIT_90_10));
    until_in_a_row("the split", 1, || {
        let seen = reviews_split(&mesh, 40);
        (seen.contains_key("reviews-v1") && !seen.contains_key("reviews-v3"))
            .then_some(())
            .ok_or(format!("{seen:?}"))
    });
    let seen = reviews_split(&mesh, 400);
    assert_eq!(
        seen.keys().collect::<Vec<_>>(),
        ["reviews-v1", "reviews-v2"],
        "{seen:?}"
    );
    // 4 standard deviations of a binomial at 90% over 400 requests: ±6.
    let v1 = seen["reviews-v1"] as f64 * 100.0 / 400.0;
    let slack = 4.0 * (90.0_f64 * 10.0 / 400.0).sqrt();
    assert!(
        (v1 - 90.0).abs() <= slack,
        "reviews-v1: {v1:.1}%, expected 90 ± {slack}: {seen:?}"
    );
    eprintln!("split: {seen:?}");
}
