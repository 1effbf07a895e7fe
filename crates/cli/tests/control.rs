//! The control plane with real processes: `weft control` and `weft-proxy`
//! children, apps behind sidecars, and load through a client sidecar while
//! routes change, the control plane is killed and restarted, and a proxy
//! refuses what it is sent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use http::{Request, StatusCode};
use parking_lot::Mutex;
use weft_testkit::control::ControlProcess;
use weft_testkit::process::{ProxyProcess, workspace_bin};
use weft_testkit::servers::{self, Server};
use weft_testkit::{PATIENCE, client, eventually};

fn weft() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weft"))
}

/// An app and its sidecar (inbound only), labelled `app: <name>`.
struct Backend {
    _app: Server,
    _sidecar: ProxyProcess,
    port: u16,
}

async fn backend(name: &str, control: &ControlProcess) -> Backend {
    let (cp, trust) = (control.grpc, control.bootstrap("default", "default"));
    let app = servers::http_echo(name).await;
    let port = app.addr.port();
    let sidecar = ProxyProcess::spawn(
        &workspace_bin("weft-proxy"),
        &format!(
            "node: {{ workload: {name}, namespace: default, app: {name} }}
admin_address: 127.0.0.1:0
metrics_address: null
health_address: null
listeners:
  - {{ name: inbound, address: 127.0.0.1:0, direction: inbound, target_port: {port} }}
control_plane: {{ address: \"{cp}\", node_id: {name}, {trust} }}
"
        ),
    );
    Backend {
        _app: app,
        _sidecar: sidecar,
        port,
    }
}

/// The client's sidecar (outbound only); `extra` is spliced into its file.
fn client_sidecar(control: &ControlProcess, extra: &str) -> ProxyProcess {
    let (cp, trust) = (control.grpc, control.bootstrap("default", "default"));
    ProxyProcess::spawn(
        &workspace_bin("weft-proxy"),
        &format!(
            "node: {{ workload: client, namespace: default, app: client }}
admin_address: 127.0.0.1:0
metrics_address: null
health_address: null
outbound_policy: registry_only
listeners:
  - {{ name: outbound, address: 127.0.0.1:0, direction: outbound }}
control_plane: {{ address: \"{cp}\", node_id: client, {trust} }}
{extra}"
        ),
    )
}

/// Services `echo` (the name clients use), `echo-a` and `echo-b` (the
/// apps), and a VirtualService sending `echo` to `to`.
fn write_mesh(dir: &Path, a: u16, b: u16) {
    let svc = |name: &str, target: u16, selector: bool| {
        let sel = if selector {
            format!("selector: {{ app: {name} }}, ")
        } else {
            String::new()
        };
        format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{ name: {name} }}\nspec: {{ {sel}ports: [{{ name: http, port: 8080, targetPort: {target} }}] }}\n"
        )
    };
    std::fs::write(
        dir.join("services.yaml"),
        format!(
            "{}---\n{}---\n{}",
            svc("echo", 8080, false),
            svc("echo-a", a, true),
            svc("echo-b", b, true)
        ),
    )
    .unwrap();
    write_route(dir, "echo-a");
}

/// A VirtualService `name` sending `host` to `to`.
fn vs(name: &str, host: &str, to: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{ name: {name} }}
spec:
  hosts: [{host}]
  http:
  - route: [{{ destination: {{ host: {to} }} }}]
"
    )
}

fn write_route(dir: &Path, to: &str) {
    let path = dir.join("route.yaml");
    std::fs::write(&path, vs("echo", "echo", to)).unwrap();
    weft_testkit::touch_later(&path, Duration::from_secs(1));
}

/// Which backend answers a request through `outbound`, or why it failed.
async fn ask(outbound: SocketAddr) -> Result<String, String> {
    let conn = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect(outbound),
    )
    .await
    .map_err(|_| "connect timed out".to_string())?
    .map_err(|e| format!("connect: {e}"))?;
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(conn))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(conn);
    let req = Request::get("/")
        .header("host", "echo:8080")
        .body(client::empty())
        .unwrap();
    let rsp = tokio::time::timeout(Duration::from_secs(5), send.send_request(req))
        .await
        .map_err(|_| "request timed out".to_string())?
        .map_err(|e| format!("request: {e}"))?;
    let got = client::collect(rsp).await;
    if got.status != StatusCode::OK {
        return Err(format!("{}: {}", got.status, got.text()));
    }
    Ok(got.json()["service"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}

/// Requests through `outbound` from 4 tasks until stopped.
struct Load {
    stop: Arc<AtomicBool>,
    answers: Arc<Mutex<Vec<Result<String, String>>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// Starts once a request succeeds (the sidecar has its first config).
    async fn start(outbound: SocketAddr) -> Self {
        eventually("the client sidecar routes", PATIENCE, || async {
            ask(outbound).await.is_ok()
        })
        .await;
        let stop = Arc::new(AtomicBool::new(false));
        let answers = Arc::new(Mutex::new(Vec::new()));
        let tasks = (0..4)
            .map(|_| {
                let (stop, answers) = (stop.clone(), answers.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let a = ask(outbound).await;
                        answers.lock().push(a);
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                })
            })
            .collect();
        Self {
            stop,
            answers,
            tasks,
        }
    }

    fn latest(&self) -> Option<Result<String, String>> {
        self.answers.lock().last().cloned()
    }

    /// Stops and asserts every request succeeded; returns how many.
    async fn finish(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.await.unwrap();
        }
        let answers = self.answers.lock();
        let failed: Vec<&String> = answers.iter().filter_map(|a| a.as_ref().err()).collect();
        assert!(
            failed.is_empty(),
            "{} of {} requests failed, first: {:?}",
            failed.len(),
            answers.len(),
            failed.first()
        );
        assert!(
            answers.len() > 50,
            "only {} requests: too little load to mean anything",
            answers.len()
        );
        answers.len()
    }
}

async fn until_answered_by(load: &Load, who: &str) -> Duration {
    let started = Instant::now();
    eventually(&format!("requests reach {who}"), PATIENCE, || async {
        load.latest() == Some(Ok(who.to_string()))
    })
    .await;
    started.elapsed()
}

struct Mesh {
    dir: tempfile::TempDir,
    control: ControlProcess,
    _a: Backend,
    _b: Backend,
}

impl Mesh {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        std::fs::create_dir(&config).unwrap();
        // Ports first: the services name the apps' ports.
        let control = ControlProcess::spawn(
            weft(),
            &[&config],
            &dir.path().join("state"),
            "127.0.0.1:0".parse().unwrap(),
        );
        let a = backend("echo-a", &control).await;
        let b = backend("echo-b", &control).await;
        write_mesh(&config, a.port, b.port);
        let mesh = Self {
            dir,
            control,
            _a: a,
            _b: b,
        };
        // Both apps are endpoints (their sidecars got certificates and
        // registered) before any test sends traffic.
        eventually("both backends synced", PATIENCE, || async {
            mesh.synced() == 2
        })
        .await;
        mesh
    }

    /// How many proxies hold their current config.
    fn synced(&self) -> usize {
        let out = self.cli(&["proxy-status"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("SYNCED"))
            .count()
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    fn cli(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(weft())
            .args(args)
            .env("WEFT_CONTROL", self.control.http.to_string())
            .output()
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_changes_under_load_fail_no_request() {
    let mesh = Mesh::start().await;
    let client = client_sidecar(&mesh.control, "");
    let load = Load::start(client.listener("outbound")).await;
    until_answered_by(&load, "echo-a").await;

    // An edit of a watched file reaches the proxy in about a second.
    write_route(&mesh.config(), "echo-b");
    let took = until_answered_by(&load, "echo-b").await;
    eprintln!("file edit to traffic moved: {took:?}");
    assert!(
        took < Duration::from_secs(3),
        "the edit took {took:?} to reach the proxy"
    );

    // A broken edit is refused whole; traffic stays where it was, and the
    // API says why.
    let path = mesh.config().join("route.yaml");
    std::fs::write(
        &path,
        vs("echo", "echo", "echo-a")
            .replace("route: [", "route: [{ destination: { host: nowhere } }, "),
    )
    .unwrap();
    weft_testkit::touch_later(&path, Duration::from_secs(2));
    let mesh_ref = &mesh;
    eventually("the edit is refused", PATIENCE, || async {
        let out = mesh_ref.cli(&["proxy-status"]);
        let body = weft_testkit::client::get(
            mesh_ref.control.http,
            http::Version::HTTP_11,
            "control",
            "/api/v1/config",
        )
        .await;
        out.status.success() && body.json()["rejected"]["source"] == "files"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        load.latest(),
        Some(Ok("echo-b".to_string())),
        "the last good route still serves"
    );

    // `weft apply` of a route for another host, then a refused one.
    let route_file = mesh.dir.path().join("other.yaml");
    std::fs::write(&route_file, vs("echo-b", "echo-b", "echo-b")).unwrap();
    let out = mesh.cli(&["apply", "-f", route_file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&route_file, vs("echo-b", "echo-b", "nowhere")).unwrap();
    let out = mesh.cli(&["apply", "-f", route_file.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("other.yaml:7: spec.http[0].route[0].destination.host: no Service or ServiceEntry defines host `nowhere.default.svc.cluster.local`"), "{stderr}");

    let n = load.finish().await;
    eprintln!("{n} requests, none failed");
    // The accepted apply is still on its way to some proxies (STALE until
    // they ACK): every one gets there.
    eventually("every proxy holds the last config", PATIENCE, || async {
        mesh_ref.synced() == 3
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_control_plane_is_not_noticed_by_traffic_and_proxies_resync() {
    let mut mesh = Mesh::start().await;
    let client = client_sidecar(&mesh.control, "");
    let load = Load::start(client.listener("outbound")).await;
    until_answered_by(&load, "echo-a").await;
    // Every proxy registered (and so is kept across the restart).
    eventually("every proxy synced", PATIENCE, || async {
        mesh.synced() == 3
    })
    .await;
    // ...and the endpoints' registrations are on disk: they are written
    // with the next compile, a debounce after a selected proxy connects.
    let kept = mesh.dir.path().join("state/registrations.bin");
    eventually("registrations kept", PATIENCE, || async {
        let bytes = std::fs::read(&kept).unwrap_or_default();
        ["echo-a", "echo-b"]
            .iter()
            .all(|id| bytes.windows(id.len()).any(|w| w == id.as_bytes()))
    })
    .await;

    let grpc = mesh.control.grpc;
    mesh.control.kill();
    // The proxies keep serving their last good config meanwhile.
    tokio::time::sleep(Duration::from_millis(500)).await;
    write_route(&mesh.config(), "echo-b");
    let dir = mesh.dir.path().to_path_buf();
    mesh.control = ControlProcess::spawn(weft(), &[&mesh.config()], &dir.join("state"), grpc);
    let took = until_answered_by(&load, "echo-b").await;
    eprintln!("restart to traffic moved: {took:?}");

    load.finish().await;
    eventually("every proxy resynced", PATIENCE, || async {
        mesh.synced() == 3
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_a_proxy_refuses_is_nacked_and_shown() {
    let mesh = Mesh::start().await;
    // The file claims a cluster the control plane also pushes.
    let _client = client_sidecar(
        &mesh.control,
        "clusters:\n  - { name: \"outbound|8080||echo-a.default.svc.cluster.local\", endpoints: [{ address: 127.0.0.1:1 }] }\n",
    );
    let mesh = &mesh;
    eventually("the client NACKs", PATIENCE, || async {
        let out = mesh.cli(&["proxy-status"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l.starts_with("client") && l.contains("NACKED"))
    })
    .await;
    let out = mesh.cli(&["proxy-status", "-o", "json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let client = status
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "client")
        .unwrap();
    let nack = client["nack"].as_str().unwrap();
    assert!(
        nack.contains("is defined both in the config file and by the control plane"),
        "{nack}"
    );
}

/// `path` through `outbound` to `echo`: the status and the proxy's error
/// header, if any.
async fn fetch(outbound: SocketAddr, path: &str) -> (StatusCode, String) {
    let req = Request::get(path)
        .header("host", "echo:8080")
        .body(client::empty())
        .unwrap();
    let rsp = client::collect(client::h1(outbound).await.send_request(req).await.unwrap()).await;
    let why = rsp
        .headers
        .get("weft-proxy-error")
        .map(|v| v.to_str().unwrap_or_default().to_string())
        .unwrap_or_default();
    (rsp.status, why)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_applied_authorization_policy_is_enforced_by_the_selected_sidecar() {
    let mesh = Mesh::start().await;
    let client = client_sidecar(&mesh.control, "");
    let outbound = client.listener("outbound");
    eventually("routed", PATIENCE, || async { ask(outbound).await.is_ok() }).await;

    let policy = mesh.dir.path().join("policy.yaml");
    std::fs::write(
        &policy,
        "apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: no-private }
spec:
  selector: { matchLabels: { app: echo-a } }
  action: DENY
  rules: [{ to: [{ operation: { paths: ['/private*'] } }] }]
",
    )
    .unwrap();
    let out = mesh.cli(&["apply", "-f", policy.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eventually("the sidecar of echo-a enforces it", PATIENCE, || async {
        fetch(outbound, "/private/x").await
            == (
                StatusCode::FORBIDDEN,
                "RBAC: access denied by default/no-private".into(),
            )
    })
    .await;
    assert_eq!(
        fetch(outbound, "/public").await.0,
        StatusCode::OK,
        "other paths pass"
    );
    let out = mesh.cli(&["proxy-config", "echo-a", "policies"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("default/no-private  DENY"), "{text}");
    assert!(text.starts_with("MTLS: PERMISSIVE"), "{text}");
    // The client reaches echo-a over mTLS, expecting its identity.
    let out = mesh.cli(&["proxy-config", "client", "endpoints"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.contains("echo-a")
                && l.ends_with("spiffe://cluster.local/ns/default/sa/default")),
        "{text}"
    );

    let out = mesh.cli(&["delete", "-f", policy.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eventually("lifted", PATIENCE, || async {
        fetch(outbound, "/private/x").await.0 == StatusCode::OK
    })
    .await;
}
