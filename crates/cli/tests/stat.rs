//! Golden metrics end to end (`weft up`, explicit mode): the control plane
//! scrapes every sidecar, and `weft stat`, `weft routes` and `weft edges`
//! show success rate, RPS and latency per workload, service, route and
//! edge, with the caller's identity and whether it came over mTLS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::local_mesh::{ECHO, FLAKY_20, LocalMesh, sample_workload};

/// `flaky` failing one request in five, a `client`, and a profile
/// naming flaky's routes.
fn files(dir: &Path) -> PathBuf {
    let mesh = dir.join("mesh.yaml");
    std::fs::write(
        &mesh,
        format!(
            "{}{}apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {{ name: flaky.default.svc.cluster.local }}
spec:
  routes:
  - name: GET /books
    condition: {{ method: GET, pathRegex: /books }}
",
            sample_workload("flaky", FLAKY_20, 9080, true),
            sample_workload("client", ECHO, 8080, false),
        ) + "---\n"
            + DB,
    )
    .unwrap();
    mesh
}

/// A TCP echo server behind a `tcp` service port.
const DB: &str = "apiVersion: weft.dev/v1alpha1
kind: Workload
metadata: { name: db, labels: { app: db } }
spec:
  command: [weft-sample, echo, --tcp, \"$(WEFT_LISTEN)\"]
  ports: [{ port: 3306 }]
---
apiVersion: v1
kind: Service
metadata: { name: db }
spec:
  selector: { app: db }
  ports: [{ name: tcp, port: 3306 }]
";

/// Sends `n` bytes to db through the client's sidecar (a CONNECT tunnel,
/// as an explicit-mode app opens TCP) and reads them echoed back.
fn tcp_echo(mesh: &LocalMesh, n: usize) -> Result<(), String> {
    use std::io::{Read, Write};
    let proxy = mesh.pod_field("client", "outbound_proxy");
    let mut sock = std::net::TcpStream::connect(&proxy).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    sock.write_all(b"CONNECT db:3306 HTTP/1.1\r\nHost: db:3306\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if sock.read(&mut b).map_err(|e| e.to_string())? == 0 {
            return Err(format!("closed after {:?}", String::from_utf8_lossy(&head)));
        }
        head.push(b[0]);
    }
    if !head.starts_with(b"HTTP/1.1 200") {
        return Err(String::from_utf8_lossy(&head).into_owned());
    }
    sock.write_all(&vec![b'x'; n]).map_err(|e| e.to_string())?;
    sock.shutdown(std::net::Shutdown::Write)
        .map_err(|e| e.to_string())?;
    let mut echoed = Vec::new();
    sock.read_to_end(&mut echoed).map_err(|e| e.to_string())?;
    if echoed.len() != n {
        return Err(format!("{} of {n} bytes echoed", echoed.len()));
    }
    Ok(())
}

fn json(mesh: &LocalMesh, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    serde_json::from_str(&mesh.weft(&all)).unwrap()
}

/// Polls `args` until a row satisfies `ok` (the scrape runs every second).
fn row_where(
    mesh: &LocalMesh,
    args: &[&str],
    ok: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rows = json(mesh, args);
        if let Some(r) = rows.iter().find(|r| ok(r)) {
            return r.clone();
        }
        assert!(
            Instant::now() < deadline,
            "weft {args:?} never showed it: {rows:#?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn stat_routes_and_edges_show_the_golden_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let mesh = LocalMesh::up("stat", &[files(dir.path())]);
    // Wait for the client's sidecar to know flaky, then send 100 requests
    // to the profile's route (a fifth fail) and 20 that match no route.
    let deadline = Instant::now() + Duration::from_secs(10);
    while mesh
        .get_from("client", "http://flaky:9080/other", &[])
        .status
        == 503
        && Instant::now() < deadline
    {}
    let mut failed = 0;
    for _ in 0..100 {
        if mesh
            .get_from("client", "http://flaky:9080/books", &[])
            .status
            != 200
        {
            failed += 1;
        }
    }
    for _ in 0..20 {
        mesh.get_from("client", "http://flaky:9080/other", &[]);
    }
    assert!((5..=35).contains(&failed), "{failed} of 100 failed");

    // Workloads: flaky received them, as its own sidecar counted.
    let flaky = row_where(&mesh, &["stat", "deploy"], |r| {
        r["name"] == "flaky" && r["requests"].as_u64().unwrap_or(0) >= 120
    });
    assert_eq!(flaky["namespace"], "default");
    assert_eq!(flaky["meshed"], 1);
    let sr = flaky["success_rate"].as_f64().unwrap();
    assert!((0.6..0.97).contains(&sr), "success rate {sr}");
    assert!(flaky["rps"].as_f64().unwrap() > 0.0);
    let (p50, p99) = (
        flaky["p50_ms"].as_f64().unwrap(),
        flaky["p99_ms"].as_f64().unwrap(),
    );
    assert!(p50 > 0.0 && p50 <= p99, "p50 {p50} p99 {p99}");
    // The client, meshed and not called, is listed too.
    let rows = json(&mesh, &["stat", "deploy", "client"]);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["meshed"], 1);

    // Services: as the callers' sidecars counted.
    let svc = row_where(&mesh, &["stat", "svc", "flaky", "-n", "default"], |r| {
        r["requests"].as_u64().unwrap_or(0) >= 120
    });
    assert_eq!(svc["name"], "flaky.default.svc.cluster.local");

    // Routes: the profile's route by name, its failures its own.
    let books = row_where(&mesh, &["routes", "flaky"], |r| {
        r["name"] == "GET /books" && r["requests"].as_u64().unwrap_or(0) >= 100
    });
    let want = (100 - failed) as f64 / 100.0;
    assert!(
        (books["success_rate"].as_f64().unwrap() - want).abs() < 1e-9,
        "{books:#?} (want {want})"
    );

    // Edges: client → flaky, over mTLS, with the client's identity.
    let edge = row_where(&mesh, &["edges", "flaky"], |r| r["name"] == "flaky");
    assert_eq!(edge["source"], "default/client");
    assert_eq!(edge["secured"], true);
    assert_eq!(
        edge["source_identity"],
        "spiffe://cluster.local/ns/default/sa/default"
    );

    // The tables people read.
    let table = mesh.weft(&["stat", "deploy", "-n", "default"]);
    assert!(table.starts_with("NAMESPACE"), "{table}");
    assert!(
        table.contains("MESHED") && table.contains("LATENCY_P99"),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.contains("flaky") && l.contains("1/1") && l.contains('%')),
        "{table}"
    );
    // TCP: bytes read and written per second, with -o wide.
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Err(e) = tcp_echo(&mesh, 100_000) {
        assert!(Instant::now() < deadline, "no TCP echo from db: {e}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let db = row_where(&mesh, &["stat", "deploy", "db"], |r| {
        r["read_bytes_per_sec"].as_f64().unwrap_or(0.0) > 0.0
            && r["write_bytes_per_sec"].as_f64().unwrap_or(0.0) > 0.0
    });
    assert_eq!(db["requests"], 0, "{db:#?}");
    let wide = mesh.weft(&["stat", "deploy", "db", "-o", "wide"]);
    assert!(wide.contains("READ_BYTES/SEC  WRITE_BYTES/SEC"), "{wide}");
    assert!(
        wide.lines().nth(1).is_some_and(|l| l.contains("B/s")),
        "{wide}"
    );
    let edges = mesh.weft(&["edges", "flaky", "-o", "wide"]);
    assert!(
        edges
            .lines()
            .any(|l| l.contains("client") && l.contains('√')),
        "{edges}"
    );
    // `weft check`: all well, every proxy synced, its certificate current.
    let check = mesh.weft(&["check"]);
    for want in [
        "√ the control plane answers",
        "√ the CA's signing certificate is valid",
        "√ every proxy holds its current config: 3 synced",
        "√ workload certificates are valid: 3 current",
        "Status check results are √",
    ] {
        assert!(check.contains(want), "{want:?} missing from:\n{check}");
    }
    let checks: Vec<serde_json::Value> =
        serde_json::from_str(&mesh.weft(&["check", "-o", "json"])).unwrap();
    assert!(checks.iter().all(|c| c["outcome"] == "ok"), "{checks:?}");
    // A refused change (an edit to a watched file) fails the check,
    // saying why and what to do; the config before it stays in force.
    let file = dir.path().join("mesh.yaml");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: bad }\nspec: { hosts: [flaky] }\n");
    std::fs::write(&file, text).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["check", "--control", &mesh.api()])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            assert!(text.contains("× the last change was accepted"), "{text}");
            assert!(text.contains("no routes"), "{text}");
            assert!(text.contains("see: fix the files"), "{text}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the refusal never showed:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // A bad window is refused with what to write.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["stat", "deploy", "-t", "2h", "--control", &mesh.api()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("10s, 1m or 10m"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
