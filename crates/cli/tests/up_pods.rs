//! `weft up` in transparent mode, as root: bookinfo in network-namespace
//! pods with Istio's capture rules. Each test runs its `weft up` inside a
//! namespace of its own (its "host"), so default ports and the gateway
//! address never meet another test's.
//!
//! Needs root, `ip`, `iptables` and `setpriv`
//! (`scripts/install-test-deps.sh`); fails, never skips, without them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use weft_testkit::netns::Netns;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
const CONFORMANCE: &str = "../../../shared/conformance/istio/bookinfo";

struct Host {
    ns: Netns,
    mesh: String,
}

impl Host {
    fn new(tag: &str) -> Self {
        let ns = Netns::new(tag);
        Self {
            ns,
            mesh: format!("{tag}{}", std::process::id() % 10_000),
        }
    }

    /// `weft <args>` run in this host namespace. `nsenter --net` switches
    /// the network namespace only: `ip netns exec` would also give it a
    /// mount namespace of its own, where the pods' namespace mounts would
    /// stay invisible to every other command.
    fn weft(&self, args: &[&str]) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", self.ns.path().display()))
            .arg(WEFT)
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self.weft(args).output().unwrap();
        assert!(
            out.status.success(),
            "weft {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn up(&self, files: &[PathBuf]) -> Child {
        let mut c = self.weft(&["up", "--mode", "transparent", "--mesh", &self.mesh]);
        for f in files {
            c.arg("-f").arg(f);
        }
        c.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// `curl` inside `workload`'s pod, through `weft exec`.
    fn curl_in(&self, workload: &str, url: &str) -> String {
        self.run(&[
            "exec", "--mesh", &self.mesh, workload, "--", "curl", "-s", "-m", "5", url,
        ])
    }

    /// `curl` from the host namespace.
    fn curl(&self, url: &str, extra: &[&str]) -> (bool, String) {
        let out = Command::new("nsenter")
            .arg(format!("--net={}", self.ns.path().display()))
            .args(["curl", "-s", "-m", "5"])
            .args(extra)
            .arg(url)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }
}

fn bookinfo() -> Vec<PathBuf> {
    vec![
        Path::new(CONFORMANCE).join("platform/bookinfo.yaml"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/bookinfo/local-images.yaml"),
    ]
}

/// Waits for the summary on stdout; returns it.
fn wait_ready(child: &mut Child) -> String {
    use std::io::{BufRead, BufReader};
    let out = child.stdout.take().unwrap();
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
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(s) => s,
        Err(_) => {
            let _ = child.kill();
            let out = child.wait_with_output_stderr();
            panic!("weft up not ready in 30 s:\n{out}")
        }
    }
}

trait StderrOf {
    fn wait_with_output_stderr(&mut self) -> String;
}

impl StderrOf for Child {
    fn wait_with_output_stderr(&mut self) -> String {
        use std::io::Read;
        let mut s = String::new();
        if let Some(mut e) = self.stderr.take() {
            let _ = e.read_to_string(&mut s);
        }
        s
    }
}

fn pod_ip(host: &Host, workload: &str) -> String {
    let pods: serde_json::Value =
        serde_json::from_str(&host.run(&["get", "workloads", "-o", "json", "--mesh", &host.mesh]))
            .unwrap();
    pods.as_array()
        .unwrap()
        .iter()
        .find(|p| p["workload"] == workload)
        .unwrap()["ip"]
        .as_str()
        .unwrap()
        .to_string()
}

fn served_by(page: &str) -> &str {
    ["reviews-v1", "reviews-v2", "reviews-v3"]
        .into_iter()
        .find(|v| page.contains(&format!("<u>{v}-0</u>")))
        .unwrap_or_else(|| panic!("the page names no reviews pod:\n{page}"))
}

/// Stops `weft up` if a failed assertion left it running.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.0.id() as i32),
                nix::sys::signal::Signal::SIGINT,
            );
            let _ = self.0.wait();
        }
    }
}

fn stop(child: &mut Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(
                status.success(),
                "{status:?}: {}",
                child.wait_with_output_stderr()
            );
            return;
        }
        assert!(Instant::now() < deadline, "weft up did not stop in 20 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn bookinfo_in_pods_routes_by_user_refuses_bypass_and_leaves_nothing() {
    weft_testkit::netns::require();
    let host = Host::new("upt");
    let mut child = Running(host.up(&bookinfo()));
    let child = &mut child.0;
    let summary = wait_ready(child);
    assert!(summary.contains("6 pods in transparent mode"), "{summary}");

    // The product page renders; its calls went by service name through
    // the pods' /etc/hosts and sidecars.
    let productpage = format!(
        "http://{}:9080/productpage",
        pod_ip(&host, "productpage-v1")
    );
    let (ok, page) = host.curl(&productpage, &[]);
    assert!(ok && page.contains("Book Details"), "{page}");
    assert!(!page.contains("Error fetching product reviews"), "{page}");

    // Inside a pod, `weft exec` sees the mesh's names.
    let out = host.curl_in("productpage", "http://details:9080/details/0");
    assert!(out.contains("William Shakespeare"), "{out}");

    // jason sees reviews v2 once the sample VirtualService is applied.
    let net = Path::new(CONFORMANCE).join("networking");
    for f in [
        "destination-rule-all.yaml",
        "virtual-service-reviews-test-v2.yaml",
    ] {
        host.run(&["apply", "-f", net.join(f).to_str().unwrap()]);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, jason) = host.curl(&productpage, &["-b", "user=jason"]);
        let (_, other) = host.curl(&productpage, &[]);
        if served_by(&jason) == "reviews-v2" && served_by(&other) == "reviews-v1" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "jason is not routed to v2:\n{jason}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    for _ in 0..5 {
        let (_, jason) = host.curl(&productpage, &["-b", "user=jason"]);
        assert_eq!(served_by(&jason), "reviews-v2");
    }
    // Nothing gets around the sidecars: with STRICT mTLS, the host
    // (outside the mesh) is refused at details' pod IP, while productpage,
    // whose own connections its sidecar captures, still reaches it.
    let strict = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        strict.path(),
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: { name: default, namespace: default }\nspec: { mtls: { mode: STRICT } }\n",
    )
    .unwrap();
    host.run(&["apply", "-f", strict.path().to_str().unwrap()]);
    let details = format!("http://{}:9080/details/0", pod_ip(&host, "details-v1"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while host.curl(&details, &[]).0 {
        assert!(Instant::now() < deadline, "STRICT did not refuse plaintext");
        std::thread::sleep(Duration::from_millis(100));
    }
    // By name, through its sidecar, productpage still reaches details.
    let out = host.curl_in("productpage", "http://details:9080/details/0");
    assert!(out.contains("William Shakespeare"), "under STRICT: {out}");

    // Ctrl-C: no process, namespace, hosts directory or state is left.
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(Path::new("/run/weft").join(&host.mesh).join("mesh.json")).unwrap(),
    )
    .unwrap();
    let pids: Vec<u64> = state["procs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pid"].as_u64().unwrap())
        .collect();
    stop(child);
    for pid in pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "pid {pid} left running"
        );
    }
    let netns = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let prefix = format!("{}.", host.mesh);
    assert!(
        !netns
            .iter()
            .any(|n| *n == host.mesh || n.starts_with(&prefix)),
        "namespaces left: {netns:?}"
    );
    let etc = std::fs::read_dir("/etc/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    assert!(
        !etc.iter().any(|n| n.starts_with(&prefix)),
        "/etc/netns left: {etc:?}"
    );
    assert!(!Path::new("/run/weft").join(&host.mesh).exists());
    let links = host.ns.ip(&["-o", "link"]);
    assert_eq!(
        links.lines().count(),
        1,
        "links left in the host namespace: {links}"
    );
}
