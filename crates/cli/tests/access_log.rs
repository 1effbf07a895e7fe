//! Access logs turned on by Istio's `Telemetry` (the mesh-default example
//! from Istio's docs, applied to a running `weft up` bookinfo): each
//! sidecar writes one JSON line per request to its output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use support::local_mesh::LocalMesh;

const MESH_DEFAULT: &str = "apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  accessLogging:
  - providers: [{ name: envoy }]
";

#[test]
fn a_mesh_default_telemetry_turns_on_every_sidecars_access_log() {
    let mesh = LocalMesh::bookinfo("alog");
    let dir = std::path::PathBuf::from(mesh.pod_field("details-v1", "dir"));
    let log = dir.join("sidecar.log");
    let lines = || -> Vec<serde_json::Value> {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("{\"start_time\""))
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    assert_eq!(mesh.page(None).status, 200);
    assert!(lines().is_empty(), "access logs are off by default");

    let file = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    std::fs::write(file.path(), MESH_DEFAULT).unwrap();
    mesh.apply(file.path());
    let deadline = Instant::now() + Duration::from_secs(20);
    let line = loop {
        assert_eq!(mesh.page(None).status, 200);
        if let Some(l) = lines().into_iter().find(|l| l["path"] == "/details/0") {
            break l;
        }
        assert!(
            Instant::now() < deadline,
            "no access log line in {}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    // details' inbound side: the caller's identity, over mTLS.
    assert_eq!(line["method"], "GET");
    assert_eq!(line["response_code"], 200);
    assert_eq!(line["source_workload"], "productpage-v1");
    assert_eq!(
        line["source_principal"],
        "spiffe://cluster.local/ns/default/sa/bookinfo-productpage"
    );
    assert_eq!(line["destination_workload"], "details-v1");

    // Deleted: off again, once the push reaches the sidecar.
    mesh.delete(file.path());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let before = lines().len();
        for _ in 0..5 {
            assert_eq!(mesh.page(None).status, 200);
        }
        // The writer flushes each batch at once; give it a moment.
        std::thread::sleep(Duration::from_millis(300));
        if lines().len() == before {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "access logs stayed on after the delete"
        );
    }
}
