//! A real Prometheus (Debian's `prometheus`, installed by
//! scripts/install-test-deps.sh) scrapes a running mesh with the config
//! `weft prometheus-config` prints, finds every proxy through the control
//! plane's HTTP service discovery, and answers `istio_requests_total`
//! back with Istio's labels.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::local_mesh::{ECHO, LocalMesh, http_get, sample_workload};

fn files(dir: &Path) -> PathBuf {
    let mesh = dir.join("mesh.yaml");
    std::fs::write(
        &mesh,
        format!(
            "{}{}",
            sample_workload("web", ECHO, 8080, true),
            sample_workload("client", ECHO, 8080, false),
        ),
    )
    .unwrap();
    mesh
}

struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An HTTP/1.1 body that may be chunked (Go sends large or streamed
/// answers so).
fn dechunk(body: &str) -> String {
    if body.trim_start().starts_with('{') {
        return body.to_string();
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

#[test]
fn prometheus_scrapes_the_mesh_through_the_control_planes_discovery() {
    let bin = which("prometheus").unwrap_or_else(|| {
        panic!("prometheus is not installed: scripts/install-test-deps.sh installs Debian's package (as root)")
    });
    let dir = tempfile::tempdir().unwrap();
    let mesh = LocalMesh::up("prom", &[files(dir.path())]);
    let config = mesh.weft(&["prometheus-config", "--interval", "1s"]);
    let config_file = dir.path().join("prometheus.yml");
    std::fs::write(&config_file, &config).unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let _prometheus = Prometheus(
        Command::new(bin)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    // Traffic from client to web, over mTLS between their sidecars.
    let deadline = Instant::now() + Duration::from_secs(10);
    while mesh.get_from("client", "http://web:8080/", &[]).status != 200 {
        assert!(Instant::now() < deadline, "client never reached web");
    }
    for _ in 0..20 {
        assert_eq!(mesh.get_from("client", "http://web:8080/", &[]).status, 200);
    }

    let query = "/api/v1/query?query=sum%20by%20(source_workload%2Cdestination_workload%2Cconnection_security_policy)(istio_requests_total%7Breporter%3D%22destination%22%2Cdestination_workload%3D%22web%22%7D)";
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rsp = std::panic::catch_unwind(|| http_get(&addr, query, &addr, None));
        if let Ok(rsp) = rsp
            && rsp.status == 200
        {
            let v: serde_json::Value = serde_json::from_str(&dechunk(&rsp.body)).unwrap();
            let result = &v["data"]["result"];
            if let Some(first) = result.as_array().and_then(|r| r.first()) {
                let m = &first["metric"];
                assert_eq!(m["source_workload"], "client", "{v}");
                assert_eq!(m["connection_security_policy"], "mutual_tls", "{v}");
                let n: f64 = first["value"][1].as_str().unwrap().parse().unwrap();
                if n >= 21.0 {
                    break;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never had web's requests; its config:\n{config}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // Every proxy is a target, found through the control plane (and up
    // once Prometheus has scraped it).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let targets = http_get(&addr, "/api/v1/targets?state=active", &addr, None);
        let v: serde_json::Value = serde_json::from_str(&dechunk(&targets.body)).unwrap();
        let up: Vec<&str> = v["data"]["activeTargets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["labels"]["job"] == "weft-proxies" && t["health"] == "up")
            .filter_map(|t| t["labels"]["workload"].as_str())
            .collect();
        if up.contains(&"web") && up.contains(&"client") {
            break;
        }
        assert!(Instant::now() < deadline, "{v:#}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}
