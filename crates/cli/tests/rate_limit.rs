//! Local rate limiting end to end (`weft up`, explicit mode): the
//! EnvoyFilter from Istio's "Enabling Rate Limits using Envoy" task,
//! applied unchanged to a workload, limits what reaches it; deleting it
//! lifts the limit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::local_mesh::LocalMesh;

/// `server` (an echo app behind Service `server`), a `client` to call it
/// from, and the Istio task's EnvoyFilter selecting `server`: 4 tokens a
/// minute.
fn files(dir: &Path) -> (PathBuf, PathBuf) {
    let mesh = dir.join("mesh.yaml");
    std::fs::write(
        &mesh,
        "apiVersion: weft.dev/v1alpha1
kind: Workload
metadata: { name: server, labels: { app: server } }
spec:
  command: [weft-sample, echo, --http, \"$(WEFT_LISTEN)\"]
  ports: [{ port: 9080 }]
---
apiVersion: v1
kind: Service
metadata: { name: server }
spec:
  selector: { app: server }
  ports: [{ name: http, port: 9080 }]
---
apiVersion: weft.dev/v1alpha1
kind: Workload
metadata: { name: client, labels: { app: client } }
spec:
  command: [weft-sample, echo, --http, \"$(WEFT_LISTEN)\"]
  ports: [{ port: 8080 }]
",
    )
    .unwrap();
    let filter = dir.join("ratelimit.yaml");
    std::fs::write(
        &filter,
        r#"apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata:
  name: filter-local-ratelimit-svc
  namespace: istio-system
spec:
  workloadSelector:
    labels:
      app: server
  configPatches:
    - applyTo: HTTP_FILTER
      match:
        context: SIDECAR_INBOUND
        listener:
          filterChain:
            filter:
              name: "envoy.filters.network.http_connection_manager"
      patch:
        operation: INSERT_BEFORE
        value:
          name: envoy.filters.http.local_ratelimit
          typed_config:
            "@type": type.googleapis.com/udpa.type.v1.TypedStruct
            type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
            value:
              stat_prefix: http_local_rate_limiter
              token_bucket:
                max_tokens: 4
                tokens_per_fill: 4
                fill_interval: 60s
              filter_enabled:
                runtime_key: local_rate_limit_enabled
                default_value:
                  numerator: 100
                  denominator: HUNDRED
              filter_enforced:
                runtime_key: local_rate_limit_enforced
                default_value:
                  numerator: 100
                  denominator: HUNDRED
              response_headers_to_add:
                - append: false
                  header:
                    key: x-local-rate-limit
                    value: 'true'
"#,
    )
    .unwrap();
    (mesh, filter)
}

/// Statuses of `n` calls from the client to the server.
fn statuses(mesh: &LocalMesh, n: usize) -> Vec<(u16, String)> {
    (0..n)
        .map(|_| {
            let rsp = mesh.get_from("client", "http://server:9080/", &[]);
            (rsp.status, rsp.body)
        })
        .collect()
}

#[test]
fn the_istio_task_envoy_filter_limits_a_workload_until_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let (files, filter) = files(dir.path());
    let mesh = LocalMesh::up("rl", &[files]);
    assert!(
        statuses(&mesh, 10).iter().all(|(s, _)| *s == 200),
        "no limit before the EnvoyFilter"
    );
    mesh.apply(&filter);
    // The push takes a moment: wait for the first refusal.
    let deadline = Instant::now() + Duration::from_secs(15);
    while !statuses(&mesh, 1).iter().any(|(s, _)| *s == 429) {
        assert!(Instant::now() < deadline, "the limit never took effect");
    }
    // The bucket is empty now; it gains 4 tokens a minute at most.
    let after = statuses(&mesh, 20);
    let limited = after
        .iter()
        .filter(|(s, body)| *s == 429 && body.contains("local_rate_limited"))
        .count();
    assert!(limited >= 16, "{after:?}");

    mesh.delete(&filter);
    let deadline = Instant::now() + Duration::from_secs(15);
    while !statuses(&mesh, 10).iter().all(|(s, _)| *s == 200) {
        assert!(
            Instant::now() < deadline,
            "the limit outlived its EnvoyFilter"
        );
    }
}
