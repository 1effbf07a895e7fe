//! Linkerd ServiceProfiles end to end (`weft up`, explicit mode): a
//! retryable route hides a service failing one request in five, a route
//! that is not retryable does not, a route timeout cuts a slow path, and
//! the client's sidecar counts requests under the route names.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::local_mesh::{ECHO, FLAKY_20, LocalMesh, http_get, sample_workload};

/// `flaky` failing 20% (spread evenly, with 500s), `slow` (echo, whose
/// `/delay/{ms}` answers late), a `client`, and a profile for each
/// service.
fn files(dir: &Path) -> PathBuf {
    let mesh = dir.join("mesh.yaml");
    let profiles = "apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: { name: flaky.default.svc.cluster.local }
spec:
  routes:
  - name: GET /retried
    condition: { method: GET, pathRegex: /retried }
    isRetryable: true
  - name: GET /plain
    condition: { method: GET, pathRegex: /plain }
---
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: { name: slow.default.svc.cluster.local }
spec:
  routes:
  - name: GET /delay/{ms}
    condition: { method: GET, pathRegex: '/delay/[0-9]+' }
    timeout: 500ms
";
    let text = [
        sample_workload("flaky", FLAKY_20, 9080, true),
        sample_workload("slow", ECHO, 8080, true),
        sample_workload("client", ECHO, 8080, false),
    ]
    .concat()
        + profiles;
    std::fs::write(&mesh, text).unwrap();
    mesh
}

/// How many of `n` calls from the client to `path` on flaky failed.
fn failures(mesh: &LocalMesh, path: &str, n: usize) -> usize {
    (0..n)
        .filter(|_| {
            let rsp = mesh.get_from("client", &format!("http://flaky:9080{path}"), &[]);
            rsp.status != 200
        })
        .count()
}

fn client_metric(mesh: &LocalMesh, labels: &[(&str, &str)]) -> f64 {
    let admin = mesh.pod_field("client", "admin");
    let text = http_get(&admin, "/stats/prometheus", "admin", None).body;
    weft_testkit::metrics::sum(&text, "weft_route_requests_total", labels).unwrap_or(0.0)
}

#[test]
fn service_profile_routes_retry_time_out_and_count_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let mesh = LocalMesh::up("sp", &[files(dir.path())]);

    // Retryable: the budget (20% plus 10 a second) pays for one retry in
    // five; none of the failures reach the client. The profile is loaded
    // at `up`, but wait until the client's sidecar has it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while failures(&mesh, "/retried", 10) != 0 {
        assert!(Instant::now() < deadline, "the retries never took effect");
    }
    assert_eq!(
        failures(&mesh, "/retried", 200),
        0,
        "one request in five fails upstream; a retryable route hides them"
    );

    // Not retryable: a fifth fail.
    let plain = failures(&mesh, "/plain", 50);
    assert!((5..=15).contains(&plain), "{plain} of 50 failed");

    // The route timeout answers 504 long before the app would.
    let started = Instant::now();
    let rsp = mesh.get_from("client", "http://slow:8080/delay/8000", &[]);
    assert_eq!(rsp.status, 504, "{}", rsp.body);
    assert!(started.elapsed() < Duration::from_secs(6));
    let rsp = mesh.get_from("client", "http://slow:8080/delay/1", &[]);
    assert_eq!(rsp.status, 200, "{}", rsp.body);

    // The client's sidecar counts each route under its name.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let retried = client_metric(&mesh, &[("route", "GET /retried")]);
        let plain_failed = client_metric(
            &mesh,
            &[("route", "GET /plain"), ("classification", "failure")],
        );
        let timed_out = client_metric(
            &mesh,
            &[("route", "GET /delay/{ms}"), ("response_code", "504")],
        );
        if retried >= 210.0 && plain_failed == plain as f64 && timed_out == 1.0 {
            assert_eq!(
                client_metric(
                    &mesh,
                    &[("route", "GET /retried"), ("classification", "failure")]
                ),
                0.0
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "route metrics: {retried} retried, {plain_failed} plain failures, {timed_out} timed out"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
