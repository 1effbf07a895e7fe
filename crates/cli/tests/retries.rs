//! Retries end to end (`weft up`, explicit mode): a VirtualService's
//! `retries` turn a service failing one request in five into one that
//! never fails, and the retry budget keeps a service that always fails
//! from getting more than a fifth more load.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::time::Instant;

use support::local_mesh::{LocalMesh, http_get};

/// `flaky` failing `fail_percent`% (spread evenly, with 500s), a `client` to call it
/// from, and a VirtualService retrying 5xx three times.
fn files(dir: &Path, fail_percent: u8) -> (PathBuf, PathBuf) {
    let mesh = dir.join("mesh.yaml");
    std::fs::write(
        &mesh,
        format!(
            "apiVersion: weft.dev/v1alpha1
kind: Workload
metadata: {{ name: flaky, labels: {{ app: flaky }} }}
spec:
  command: [weft-sample, flaky, --listen, \"$(WEFT_LISTEN)\", --fail-percent, \"{fail_percent}\", --status, \"500\"]
  ports: [{{ port: 9080 }}]
---
apiVersion: v1
kind: Service
metadata: {{ name: flaky }}
spec:
  selector: {{ app: flaky }}
  ports: [{{ name: http, port: 9080 }}]
---
apiVersion: weft.dev/v1alpha1
kind: Workload
metadata: {{ name: client, labels: {{ app: client }} }}
spec:
  command: [weft-sample, echo, --http, \"$(WEFT_LISTEN)\"]
  ports: [{{ port: 8080 }}]
"
        ),
    )
    .unwrap();
    let vs = dir.join("retries.yaml");
    std::fs::write(
        &vs,
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: flaky }
spec:
  hosts: [flaky]
  http:
  - retries: { attempts: 3, retryOn: 5xx }
    route: [{ destination: { host: flaky } }]
",
    )
    .unwrap();
    (mesh, vs)
}

/// How many of `n` calls from the client to flaky failed.
fn failures(mesh: &LocalMesh, n: usize) -> usize {
    (0..n)
        .filter(|_| {
            let rsp = mesh.get_from("client", "http://flaky:9080/", &[]);
            rsp.status != 200
        })
        .count()
}

/// Requests flaky's sidecar took in (its own count, by Prometheus).
fn arrivals(mesh: &LocalMesh) -> f64 {
    let admin = mesh.pod_field("flaky", "admin");
    let text = http_get(&admin, "/stats/prometheus", "admin", None).body;
    weft_testkit::metrics::sum(
        &text,
        "istio_requests_total",
        &[("reporter", "destination")],
    )
    .unwrap_or(0.0)
}

#[test]
fn retries_hide_a_flaky_service_and_stop_when_it_only_fails() {
    let dir = tempfile::tempdir().unwrap();
    // One request in five fails upstream: its retries (40 for 200
    // requests) fit the default budget (20% of requests plus 10 a second).
    let (files_flaky, vs) = files(dir.path(), 20);
    let mesh = LocalMesh::up("rt", &[files_flaky]);
    mesh.apply(&vs);
    // Without retries no ten calls in a row succeed: wait for the route.
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    while failures(&mesh, 10) != 0 {
        assert!(Instant::now() < deadline, "the retries never took effect");
    }
    assert_eq!(
        failures(&mesh, 200),
        0,
        "one request in five fails upstream; with 3 retries none may reach the client"
    );
    // Without the VirtualService only Istio's default policy is left, and
    // it does not retry a 500: a fifth fail.
    mesh.delete(&vs);
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let failed = failures(&mesh, 50);
        if (5..=15).contains(&failed) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{failed} of 50 failed without retries"
        );
    }
    drop(mesh);

    // Always failing: every request still fails, and the budget (20% of
    // the requests plus 10 a second) holds the extra load far below the
    // 3 retries each would otherwise add.
    let dir = tempfile::tempdir().unwrap();
    let (files_all, vs) = files(dir.path(), 100);
    let mesh = LocalMesh::up("rb", &[files_all, vs]);
    // Retries are there from the start (the file is loaded at `up`).
    let started = Instant::now();
    let n = 300;
    assert_eq!(failures(&mesh, n), n);
    let secs = started.elapsed().as_secs_f64();
    let got = arrivals(&mesh);
    let bound = n as f64 * 1.2 + 10.0 * (secs + 10.0);
    eprintln!(
        "{n} requests in {secs:.1} s reached flaky {got} times (bound {bound:.0}, unbounded {})",
        n * 4
    );
    assert!(got >= n as f64, "{got}: every request reaches flaky once");
    assert!(
        got <= bound,
        "{got} tries for {n} requests: the budget did not hold"
    );
}
