//! `weft up` end to end in explicit mode (no root needed): Istio's bookinfo
//! platform file unchanged plus the sample image map, each workload a real
//! process with a real sidecar and identity under an in-process control
//! plane; live routing with `weft apply`; a clean stop; cleanup after a
//! crash; and bad input refused before anything starts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
const CONFORMANCE: &str = "../../../shared/conformance/istio/bookinfo";

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/bookinfo")
}

/// A `weft up` child with a mesh name of its own.
struct Mesh {
    child: Child,
    name: String,
    stderr: std::sync::Arc<parking_lot::Mutex<String>>,
}

fn mesh_name(tag: &str) -> String {
    format!("{tag}{}", std::process::id() % 100_000)
}

/// A loopback address of this test process's own, for ingress gateways:
/// tests run at once, and each gateway binds its Gateway's port numbers.
fn ingress_address(n: u8) -> String {
    let pid = std::process::id();
    format!("127.{n}.{}.{}", (pid / 250) % 250, 1 + pid % 250)
}

fn up(name: &str, files: &[&Path], extra: &[&str]) -> Mesh {
    for bin in ["weft-proxy", "weft-sample"] {
        let dir = Path::new(WEFT).parent().unwrap();
        assert!(
            dir.join(bin).is_file(),
            "{bin} is not built; run `cargo build --workspace --bins` first (scripts/test.sh does)"
        );
    }
    let mut cmd = Command::new(WEFT);
    cmd.args(["up", "--mesh", name, "--http-address", "127.0.0.1:0"])
        .args(["--grpc-address", "127.0.0.1:0"])
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
            let mut s = sink.lock();
            s.push_str(&line);
            s.push('\n');
        }
    });
    Mesh {
        child,
        name: name.to_string(),
        stderr,
    }
}

impl Mesh {
    /// Reads stdout until the summary table has been printed.
    fn wait_ready(&mut self) -> String {
        let out = self.child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut seen = String::new();
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                seen.push_str(&line);
                seen.push('\n');
                if line.contains("weft get workloads |") {
                    let _ = tx.send(seen.clone());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                let status = self.child.try_wait();
                panic!(
                    "weft up not ready in 30 s ({status:?}):\n{}",
                    self.stderr.lock()
                )
            })
    }

    fn state(&self) -> serde_json::Value {
        let out = weft(&["get", "workloads", "-o", "json", "--mesh", &self.name]);
        serde_json::from_str(&out).unwrap()
    }

    /// Where the pod of `workload` is reached on declared port 9080.
    fn port(&self, workload: &str) -> String {
        let pods = self.state();
        let pod = pods
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["workload"] == workload)
            .unwrap_or_else(|| panic!("no pod of {workload}: {pods}"));
        pod["ports"][0][1].as_str().unwrap().to_string()
    }

    fn api(&self) -> String {
        let dir = state_dir(&self.name);
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("mesh.json")).unwrap()).unwrap();
        v["api"].as_str().unwrap().to_string()
    }

    fn signal(&self, sig: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), sig).unwrap();
    }

    fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "weft up did not exit in {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Mesh {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGINT);
            let _ = self.wait_exit_quietly();
        }
    }
}

impl Mesh {
    fn wait_exit_quietly(&mut self) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        None
    }
}

fn state_dir(mesh: &str) -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        Path::new("/run/weft").join(mesh)
    } else {
        let base = std::env::var_os("XDG_RUNTIME_DIR")
            .map(|d| PathBuf::from(d).join("weft"))
            .unwrap_or_else(|| {
                std::env::temp_dir().join(format!("weft-{}", nix::unistd::geteuid()))
            });
        base.join(mesh)
    }
}

fn weft(args: &[&str]) -> String {
    let out = Command::new(WEFT).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "weft {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// GET over a fresh connection; returns status and body.
fn get(addr: &str, path: &str, cookie: Option<&str>) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: productpage:9080\r\n{cookie}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn reviews_version(page: &str) -> &str {
    for v in ["reviews-v1", "reviews-v2", "reviews-v3"] {
        if page.contains(&format!("<u>{v}-0</u>")) {
            return v;
        }
    }
    panic!("the page names no reviews pod:\n{page}")
}

fn pids(mesh: &str) -> Vec<u32> {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state_dir(mesh).join("mesh.json")).unwrap()).unwrap();
    v["procs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pid"].as_u64().unwrap() as u32)
        .collect()
}

fn alive(pid: u32) -> bool {
    // A zombie is gone as far as anyone using the port is concerned.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

#[test]
fn bookinfo_runs_unchanged_in_explicit_mode_and_routes_live() {
    let name = mesh_name("ux");
    let bookinfo = Path::new(CONFORMANCE).join("platform/bookinfo.yaml");
    let images = samples().join("local-images.yaml");
    let gateway = Path::new(CONFORMANCE).join("networking/bookinfo-gateway.yaml");
    let ingress = ingress_address(90);
    let mut mesh = up(
        &name,
        &[&bookinfo, &images, &gateway],
        &["--mode", "explicit", "--ingress-address", &ingress],
    );
    let summary = mesh.wait_ready();
    assert!(
        summary.contains("6 pods and 1 ingress gateway in explicit mode"),
        "{summary}"
    );
    let front = format!("{ingress}:8080");
    assert!(
        summary.contains(&format!(
            "ingress istio-ingressgateway (gateway port 8080): http://{front}/"
        )),
        "{summary}"
    );
    assert!(
        summary.contains(
            "spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"
        ),
        "{summary}"
    );
    assert!(
        summary.contains("spiffe://cluster.local/ns/default/sa/bookinfo-productpage"),
        "{summary}"
    );

    // The product page renders with details and reviews, every hop
    // through sidecars.
    let productpage = mesh.port("productpage-v1");
    let (status, page) = get(&productpage, "/productpage", None);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Book Details"), "{page}");
    assert!(!page.contains("Error fetching product reviews"), "{page}");
    // And through the ingress gateway, as bookinfo-gateway.yaml routes it
    // (other paths are not routed: 404).
    let (status, page) = get(&front, "/productpage", None);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Book Details"), "{page}");
    assert!(!page.contains("Error fetching product reviews"), "{page}");
    assert_eq!(get(&front, "/details/0", None).0, 404);

    // Services list their instances.
    let services = weft(&["get", "services", "--mesh", &name]);
    for svc in ["details", "ratings", "reviews", "productpage"] {
        assert!(
            services.contains(&format!("{svc}.default.svc.cluster.local")),
            "{services}"
        );
    }
    let reviews = services
        .lines()
        .find(|l| l.starts_with("reviews."))
        .unwrap();
    assert_eq!(reviews.matches("127.0.0.1:").count(), 3, "{reviews}");

    // Live routing: jason to v2, everyone else to v1.
    let apply = |verb: &str, file: &str| {
        let out = Command::new(WEFT)
            .args([verb, "--control", &mesh.api(), "-f"])
            .arg(Path::new(CONFORMANCE).join("networking").join(file))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    apply("apply", "destination-rule-all.yaml");
    apply("apply", "virtual-service-reviews-test-v2.yaml");
    // Before the VirtualService lands, reviews' versions take turns, so
    // one lucky pair proves nothing: five in a row.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut in_a_row = 0;
    loop {
        let (_, jason) = get(&productpage, "/productpage", Some("user=jason"));
        let (_, other) = get(&productpage, "/productpage", None);
        if reviews_version(&jason) == "reviews-v2" && reviews_version(&other) == "reviews-v1" {
            in_a_row += 1;
        } else {
            in_a_row = 0;
        }
        if in_a_row == 5 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "routing did not change:\n{jason}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    for _ in 0..10 {
        let (_, jason) = get(&front, "/productpage", Some("user=jason"));
        assert_eq!(reviews_version(&jason), "reviews-v2");
        assert!(
            jason.contains("<font color=\"black\">★"),
            "v2 shows black stars from ratings:\n{jason}"
        );
    }
    apply("delete", "virtual-service-reviews-test-v2.yaml");

    // Ctrl-C: everything stops, nothing is left.
    let pids = pids(&name);
    assert_eq!(pids.len(), 13, "6 sidecars, 6 apps, a gateway: {pids:?}");
    mesh.signal(Signal::SIGINT);
    let status = mesh.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "{status:?}\n{}", mesh.stderr.lock());
    let left: Vec<u32> = pids.into_iter().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "still running: {left:?}");
    assert!(
        !state_dir(&name).exists(),
        "the state directory is left behind"
    );
}

#[test]
fn a_crashed_mesh_is_cleaned_up_by_the_next_up_and_a_running_one_is_not_taken() {
    let name = mesh_name("uc");
    let w = tempfile::tempdir().unwrap();
    let file = w.path().join("echo.yaml");
    std::fs::write(
        &file,
        "apiVersion: weft.dev/v1alpha1
kind: Workload
metadata: { name: echo, labels: { app: echo } }
spec:
  command: [weft-sample, echo, --http, \"$(WEFT_LISTEN)\"]
  ports: [{ port: 8080 }]
---
apiVersion: v1
kind: Service
metadata: { name: echo }
spec: { selector: { app: echo }, ports: [{ name: http, port: 8080 }] }
",
    )
    .unwrap();
    let mut first = up(&name, &[&file], &["--mode", "explicit"]);
    first.wait_ready();
    let old = pids(&name);

    // A second `weft up` of the same mesh is refused while the first runs.
    let out = Command::new(WEFT)
        .args(["up", "--mode", "explicit", "--mesh", &name, "-f"])
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!("mesh `{name}` is already running")),
        "{err}"
    );
    assert!(
        old.iter().all(|p| alive(*p)),
        "the refused run disturbed the first"
    );

    // SIGKILL: the children outlive it; the next run stops them.
    first.signal(Signal::SIGKILL);
    first.wait_exit(Duration::from_secs(5));
    let mut second = up(&name, &[&file], &["--mode", "explicit"]);
    second.wait_ready();
    assert!(
        second
            .stderr
            .lock()
            .contains("cleaned up after an earlier run: process echo-0/sidecar"),
        "{}",
        second.stderr.lock()
    );
    let left: Vec<&u32> = old.iter().filter(|p| alive(**p)).collect();
    assert!(left.is_empty(), "left from the crashed run: {left:?}");
}

/// Runs `weft up` expecting it to refuse; returns its stderr. Nothing may
/// be left running or on disk.
fn refused(name: &str, files: &[&Path], extra: &[&str]) -> String {
    let mut cmd = Command::new(WEFT);
    cmd.args(["up", "--mode", "explicit", "--mesh", name])
        .args([
            "--http-address",
            "127.0.0.1:0",
            "--grpc-address",
            "127.0.0.1:0",
        ])
        .args(extra);
    for f in files {
        cmd.arg("-f").arg(f);
    }
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "weft up accepted it:\n{err}");
    assert!(
        !state_dir(name).exists(),
        "a half-started mesh is left: {err}"
    );
    err
}

#[test]
fn bad_input_is_refused_with_the_file_and_the_fix_and_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let good = "apiVersion: weft.dev/v1alpha1
kind: Workload
metadata: { name: echo, labels: { app: echo } }
spec:
  command: [weft-sample, echo, --http, \"$(WEFT_LISTEN)\"]
  ports: [{ port: 8080 }]
";
    // A command that does not exist.
    let f = write(
        "ghost.yaml",
        &good.replace("weft-sample, echo", "no-such-weft-app"),
    );
    let err = refused(&mesh_name("ub1"), &[&f], &[]);
    assert!(
        err.contains(
            "ghost.yaml:5: Workload default/echo: the command `no-such-weft-app` was not found"
        ),
        "{err}"
    );
    assert!(err.contains("install it, or give its full path"), "{err}");

    // Two workloads with one name.
    let a = write("a.yaml", good);
    let b = write("b.yaml", good);
    let err = refused(&mesh_name("ub2"), &[&a, &b], &[]);
    assert!(
        err.contains("b.yaml:3: Workload default/echo is defined twice; the other is at")
            && err.contains("a.yaml:1; rename one or delete it"),
        "{err}"
    );

    // A YAML syntax error.
    let f = write(
        "broken.yaml",
        "apiVersion: weft.dev/v1alpha1\nkind: Workload\nmetadata: { name: echo\n",
    );
    let err = refused(&mesh_name("ub3"), &[&f], &[]);
    assert!(err.contains("broken.yaml:"), "{err}");

    // A port already in use (the control plane's API).
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let f = write("ok.yaml", good);
    let mut cmd_err = {
        let name = mesh_name("ub4");
        let mut cmd = Command::new(WEFT);
        cmd.args([
            "up",
            "--mode",
            "explicit",
            "--mesh",
            &name,
            "--http-address",
            &addr,
        ])
        .args(["--grpc-address", "127.0.0.1:0", "-f"])
        .arg(&f);
        let out = cmd.output().unwrap();
        assert!(!out.status.success());
        assert!(!state_dir(&name).exists());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    cmd_err.retain(|c| c != '\r');
    assert!(cmd_err.contains(&addr), "{cmd_err}");
    assert!(cmd_err.contains("--http-address"), "{cmd_err}");

    // A gateway port already in use: found after the control plane and
    // the sidecars started, which are stopped again.
    let ingress = ingress_address(91);
    let _taken = std::net::TcpListener::bind(format!("{ingress}:8080")).unwrap();
    let gw = write(
        "gw.yaml",
        "apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: front }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 8080, name: http, protocol: HTTP }, hosts: ['*'] }]
",
    );
    let err = refused(
        &mesh_name("ub5"),
        &[&f, &gw],
        &["--ingress-address", &ingress],
    );
    assert!(
        err.contains(&format!(
            "the ingress gateway istio-ingressgateway cannot listen on {ingress}:8080 for gateway port 8080 of default/front"
        )) && err.contains("--ingress-address"),
        "{err}"
    );
}
