//! Istio's bookinfo routing samples, unchanged, each doing what its name
//! promises on a running mesh (`weft up`, explicit mode): user routing,
//! weighted splits measured over many requests, the fault-injection
//! task's delay and abort for jason, and mirroring.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use support::local_mesh::{LocalMesh, conformance, reviews_split, reviews_version, until_in_a_row};

/// [`until_in_a_row`] 5 times.
fn until(what: &str, check: impl FnMut() -> Result<(), String>) {
    until_in_a_row(what, 5, check)
}

fn sample(name: &str) -> std::path::PathBuf {
    conformance(&format!("networking/{name}"))
}

/// Asserts the share of `version` in `seen` is `expect`% within `slack`
/// points (a binomial's 4 standard deviations at the sample sizes used).
fn share(seen: &BTreeMap<String, usize>, version: &str, expect: f64, slack: f64) {
    let total: usize = seen.values().sum();
    let got = *seen.get(version).unwrap_or(&0) as f64 * 100.0 / total as f64;
    assert!(
        (got - expect).abs() <= slack,
        "{version}: {got:.1}% of {total}, expected {expect}% ± {slack}: {seen:?}"
    );
}

#[test]
fn user_routing_and_weighted_splits_do_what_the_samples_say() {
    let mesh = LocalMesh::bookinfo("br");

    // Everyone to v1.
    mesh.apply(&sample("virtual-service-all-v1.yaml"));
    until("all to v1", || {
        let v = reviews_version(&mesh.page(None).body);
        (v == "reviews-v1").then_some(()).ok_or(v.to_string())
    });

    // jason to v2, everyone else to v3.
    mesh.apply(&sample("virtual-service-reviews-jason-v2-v3.yaml"));
    until("jason to v2, others to v3", || {
        let (j, o) = (mesh.page(Some("jason")), mesh.page(Some("alice")));
        match (reviews_version(&j.body), reviews_version(&o.body)) {
            ("reviews-v2", "reviews-v3") => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    for _ in 0..10 {
        assert_eq!(
            reviews_version(&mesh.page(Some("jason")).body),
            "reviews-v2"
        );
        assert_eq!(reviews_version(&mesh.page(None).body), "reviews-v3");
    }

    // Weighted splits, from 400 requests each.
    for (file, a, pa, b) in [
        (
            "virtual-service-reviews-50-v3.yaml",
            "reviews-v1",
            50.0,
            "reviews-v3",
        ),
        (
            "virtual-service-reviews-80-20.yaml",
            "reviews-v1",
            80.0,
            "reviews-v2",
        ),
        (
            "virtual-service-reviews-90-10.yaml",
            "reviews-v1",
            90.0,
            "reviews-v2",
        ),
    ] {
        // From everyone on v1, a split is in force once `b` answers: the
        // old config cannot send anything there.
        mesh.apply(&sample("virtual-service-all-v1.yaml"));
        until_in_a_row("back to v1", 1, || {
            let seen = reviews_split(&mesh, 40);
            (seen.len() == 1 && seen.contains_key("reviews-v1"))
                .then_some(())
                .ok_or(format!("{seen:?}"))
        });
        mesh.apply(&sample(file));
        until_in_a_row(file, 1, || {
            let seen = reviews_split(&mesh, 40);
            seen.contains_key(b)
                .then_some(())
                .ok_or(format!("{seen:?}"))
        });
        let seen = reviews_split(&mesh, 400);
        assert_eq!(seen.len(), 2, "{file}: {seen:?}");
        let slack: f64 = 4.0 * (pa * (100.0 - pa) / 400.0_f64).sqrt();
        share(&seen, a, pa, slack);
        share(&seen, b, 100.0 - pa, slack);
        eprintln!("{file}: {seen:?}");
    }
}

#[test]
fn jason_gets_the_fault_injection_tasks_delay_and_abort() {
    let mesh = LocalMesh::bookinfo("bf");
    mesh.apply(&sample("virtual-service-all-v1.yaml"));
    mesh.apply(&sample("virtual-service-reviews-test-v2.yaml"));
    until("jason to v2", || {
        let v = reviews_version(&mesh.page(Some("jason")).body);
        (v == "reviews-v2").then_some(()).ok_or(v.to_string())
    });

    // ratings aborts jason's requests with 500: reviews v2 shows that
    // ratings is unavailable; everyone else still sees v1, unharmed.
    mesh.apply(&sample("virtual-service-ratings-test-abort.yaml"));
    until_in_a_row("jason's ratings abort", 1, || {
        let page = mesh.page(Some("jason")).body;
        page.contains("Ratings service is currently unavailable")
            .then_some(())
            .ok_or(page)
    });
    let other = mesh.page(None);
    assert_eq!(other.status, 200);
    assert_eq!(reviews_version(&other.body), "reviews-v1");
    assert!(!other.body.contains("currently unavailable"));
    // The abort happened in the calling sidecar: ratings' own app was not
    // reached, so a direct call as jason gets the proxy's 500.
    let direct = mesh.get_from(
        "reviews-v2",
        "http://ratings:9080/ratings/0",
        &[("end-user", "jason")],
    );
    assert_eq!(direct.status, 500, "{}", direct.body);
    assert!(
        direct.body.contains("fault filter abort"),
        "{}",
        direct.body
    );

    // ratings delays jason's requests 7 s: productpage gives up on
    // reviews after its 3 s timeout and says so; the rest are fast.
    mesh.apply(&sample("virtual-service-ratings-test-delay.yaml"));
    until_in_a_row("jason's ratings delay", 1, || {
        let started = Instant::now();
        let page = mesh.page(Some("jason")).body;
        let took = started.elapsed();
        (page.contains("Error fetching product reviews") && took >= Duration::from_secs(3))
            .then_some(())
            .ok_or(format!("{took:?}"))
    });
    let started = Instant::now();
    let other = mesh.page(None);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "others are not delayed"
    );
    assert_eq!(reviews_version(&other.body), "reviews-v1");
    assert!(!other.body.contains("Error fetching product reviews"));
}

/// Requests reviews-v2's sidecar took in, by its own count.
fn v2_arrivals(mesh: &LocalMesh) -> f64 {
    let admin = mesh.pod_field("reviews-v2", "admin");
    let text = support::local_mesh::http_get(&admin, "/stats/prometheus", "admin", None).body;
    weft_testkit::metrics::sum(
        &text,
        "istio_requests_total",
        &[("reporter", "destination")],
    )
    .unwrap_or(0.0)
}

#[test]
fn mirroring_copies_every_request_to_v2_while_v1_answers() {
    let mesh = LocalMesh::bookinfo("bm");
    let dir = tempfile::tempdir().unwrap();
    let vs = dir.path().join("mirror.yaml");
    std::fs::write(
        &vs,
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
  - route: [{ destination: { host: reviews, subset: v1 } }]
    mirror: { host: reviews, subset: v2 }
    mirrorPercentage: { value: 100.0 }
",
    )
    .unwrap();
    mesh.apply(&vs);
    until_in_a_row("all to v1", 10, || {
        let seen = reviews_split(&mesh, 1);
        seen.contains_key("reviews-v1")
            .then_some(())
            .ok_or(format!("{seen:?}"))
    });
    let before = v2_arrivals(&mesh);
    let n = 20;
    let seen = reviews_split(&mesh, n);
    assert_eq!(
        seen.get("reviews-v1"),
        Some(&n),
        "only v1 answers: {seen:?}"
    );
    // Every request was copied to v2, whose answers went nowhere.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let copies = v2_arrivals(&mesh) - before;
        if copies >= n as f64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{copies} of {n} copies reached v2"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
