//! `weft up` in explicit mode as a test fixture: Istio's bookinfo with its
//! ingress gateway, on a loopback address and mesh name of the test's own;
//! requests through the gateway (as a browser) or through a pod's sidecar
//! (as that pod's app); `weft apply` / `weft delete`; Ctrl-C on drop.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

pub const WEFT: &str = env!("CARGO_BIN_EXE_weft");

/// Istio's bookinfo files, unchanged.
pub fn conformance(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/istio/bookinfo")
        .join(rel)
}

pub fn samples(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../samples")
        .join(rel)
}

pub struct LocalMesh {
    child: Child,
    pub name: String,
    pub state: serde_json::Value,
    stderr: std::sync::Arc<parking_lot::Mutex<String>>,
}

/// A response, as far as the tests look.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl LocalMesh {
    /// Bookinfo, its image map, its gateway, and `destination-rule-all`.
    pub fn bookinfo(tag: &str) -> Self {
        Self::up(
            tag,
            &[
                conformance("platform/bookinfo.yaml"),
                samples("bookinfo/local-images.yaml"),
                conformance("networking/bookinfo-gateway.yaml"),
                conformance("networking/destination-rule-all.yaml"),
            ],
        )
    }

    pub fn up(tag: &str, files: &[PathBuf]) -> Self {
        Self::up_with(tag, files, &[])
    }

    /// [`up`](Self::up) with more `weft up` flags.
    pub fn up_with(tag: &str, files: &[PathBuf], extra: &[&str]) -> Self {
        let bin = Path::new(WEFT).parent().unwrap();
        for b in ["weft-proxy", "weft-sample"] {
            assert!(
                bin.join(b).is_file(),
                "{b} is not built; run `cargo build --workspace --bins` first (scripts/test.sh does)"
            );
        }
        // Tests may share a process (cargo test) or not (nextest): the
        // pid and a count keep names and addresses apart either way.
        static STARTED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let pid = std::process::id();
        let name = format!("{tag}{}", pid % 100_000);
        let ingress = format!(
            "127.{}.{}.{}",
            90 + n % 10,
            (pid / 250) % 250,
            1 + pid % 250
        );
        let mut cmd = Command::new(WEFT);
        cmd.args(["up", "--mode", "explicit", "--mesh", &name])
            .args([
                "--http-address",
                "127.0.0.1:0",
                "--grpc-address",
                "127.0.0.1:0",
            ])
            .args(["--ingress-address", &ingress])
            // Golden metrics within a second or two of the traffic.
            .args(["--scrape-interval", "1s"])
            .args(extra);
        for f in files {
            cmd.arg("-f").arg(f);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = std::sync::Arc::new(parking_lot::Mutex::new(String::new()));
        let (pipe, sink) = (child.stderr.take().unwrap(), stderr.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                sink.lock().push_str(&format!("{line}\n"));
            }
        });
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if line.contains("weft get workloads |") {
                    let _ = tx.send(());
                }
            }
        });
        let mut mesh = Self {
            child,
            name,
            state: serde_json::Value::Null,
            stderr,
        };
        if rx.recv_timeout(Duration::from_secs(30)).is_err() {
            panic!("weft up not ready in 30 s:\n{}", mesh.stderr.lock());
        }
        mesh.state = serde_json::from_str(&mesh.weft(&["get", "workloads", "-o", "json"])).unwrap();
        mesh
    }

    /// `weft <args> --mesh <this>` (or `--control <api>` for config
    /// commands); its stdout.
    pub fn weft(&self, args: &[&str]) -> String {
        let mut cmd = Command::new(WEFT);
        cmd.args(args);
        match args.first() {
            Some(
                &"apply" | &"delete" | &"stat" | &"routes" | &"edges" | &"prometheus-config"
                | &"check",
            ) => cmd.args(["--control", &self.api()]),
            _ => cmd.args(["--mesh", &self.name]),
        };
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "weft {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn apply(&self, file: &Path) {
        self.weft(&["apply", "-f", file.to_str().unwrap()]);
    }

    pub fn delete(&self, file: &Path) {
        self.weft(&["delete", "-f", file.to_str().unwrap()]);
    }

    pub fn api(&self) -> String {
        let dir = self.state_dir();
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("mesh.json")).unwrap()).unwrap();
        v["api"].as_str().unwrap().to_string()
    }

    fn state_dir(&self) -> PathBuf {
        weft_local::state::dir_for(&self.name)
    }

    fn pod(&self, workload: &str) -> &serde_json::Value {
        self.state
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["workload"] == workload)
            .unwrap_or_else(|| panic!("no pod of {workload}: {}", self.state))
    }

    /// A string field of `workload`'s pod in `weft get workloads -o json`
    /// (`admin`, `outbound_proxy`, `ip`).
    pub fn pod_field(&self, workload: &str, field: &str) -> String {
        self.pod(workload)[field]
            .as_str()
            .unwrap_or_else(|| panic!("{workload} has no {field}"))
            .to_string()
    }

    /// The product page through the ingress gateway, signed in as `user`.
    pub fn page(&self, user: Option<&str>) -> Reply {
        let gateway = self.pod("istio-ingressgateway")["ports"][0][1]
            .as_str()
            .unwrap()
            .to_string();
        let cookie = user.map(|u| format!("user={u}"));
        http_get(&gateway, "/productpage", "bookinfo", cookie.as_deref())
    }

    /// `GET url` as `workload`'s app sends it: through its sidecar's HTTP
    /// proxy.
    pub fn get_from(&self, workload: &str, url: &str, headers: &[(&str, &str)]) -> Reply {
        let proxy = self.pod(workload)["outbound_proxy"]
            .as_str()
            .unwrap()
            .to_string();
        let host = url
            .strip_prefix("http://")
            .and_then(|r| r.split('/').next())
            .unwrap();
        let mut extra = String::new();
        for (k, v) in headers {
            extra.push_str(&format!("{k}: {v}\r\n"));
        }
        exchange(
            &proxy,
            &format!("GET {url} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n"),
        )
    }
}

impl Drop for LocalMesh {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGINT);
            let _ = self.child.wait();
        }
    }
}

/// `GET path` to `addr` with `Host: host`, on a fresh connection.
pub fn http_get(addr: &str, path: &str, host: &str, cookie: Option<&str>) -> Reply {
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    exchange(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{cookie}Connection: close\r\n\r\n"),
    )
}

fn exchange(addr: &str, request: &str) -> Reply {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Reply { status, body }
}

/// Which reviews pod the page names.
pub fn reviews_version(page: &str) -> &'static str {
    ["reviews-v1", "reviews-v2", "reviews-v3"]
        .into_iter()
        .find(|v| page.contains(&format!("<u>{v}-0</u>")))
        .unwrap_or("none")
}

/// How many of `n` requests from productpage's app each reviews pod
/// answered (`reviews-v1`, ...).
pub fn reviews_split(mesh: &LocalMesh, n: usize) -> std::collections::BTreeMap<String, usize> {
    let mut seen = std::collections::BTreeMap::new();
    for _ in 0..n {
        let r = mesh.get_from("productpage-v1", "http://reviews:9080/reviews/0", &[]);
        assert_eq!(r.status, 200, "{}", r.body);
        let pod = r
            .body
            .split("\"podname\":\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or("none")
            .trim_end_matches("-0")
            .to_string();
        *seen.entry(pod).or_insert(0) += 1;
    }
    seen
}

/// Polls `check` until it holds `times` times in a row, for up to 15 s
/// (config takes a moment to reach the proxies; before it does, versions
/// take turns, so one lucky answer proves nothing).
pub fn until_in_a_row(what: &str, times: u32, mut check: impl FnMut() -> Result<(), String>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut in_a_row = 0;
    loop {
        match check() {
            Ok(()) => {
                in_a_row += 1;
                if in_a_row == times {
                    return;
                }
            }
            Err(e) if std::time::Instant::now() > deadline => panic!("{what}: {e}"),
            Err(_) => {
                in_a_row = 0;
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    }
}

/// A weft `Workload` named (and labelled `app:`) `name`, running
/// `weft-sample <args>` (a YAML flow list's items, with `$(WEFT_LISTEN)`
/// where the app listens) on `port`, with a Service of the same name in
/// front of it when `service`: one document set for a test's mesh file.
pub fn sample_workload(name: &str, args: &str, port: u16, service: bool) -> String {
    let mut out = format!(
        "apiVersion: weft.dev/v1alpha1
kind: Workload
metadata: {{ name: {name}, labels: {{ app: {name} }} }}
spec:
  command: [weft-sample, {args}]
  ports: [{{ port: {port} }}]
---
"
    );
    if service {
        out += &format!(
            "apiVersion: v1
kind: Service
metadata: {{ name: {name} }}
spec:
  selector: {{ app: {name} }}
  ports: [{{ name: http, port: {port} }}]
---
"
        );
    }
    out
}

/// The app args of `weft-sample flaky` failing `percent` of requests with
/// 500, and of `weft-sample echo`.
pub const FLAKY_20: &str =
    "flaky, --listen, \"$(WEFT_LISTEN)\", --fail-percent, \"20\", --status, \"500\"";
pub const ECHO: &str = "echo, --http, \"$(WEFT_LISTEN)\"";
