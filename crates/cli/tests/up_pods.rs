//! `weft up` in transparent mode, as root: bookinfo in network-namespace
//! pods with Istio's capture rules. Each test runs its `weft up` inside a
//! namespace of its own (its "host"), so default ports and the gateway
//! address never meet another test's.
//!
//! Needs root, `ip`, `iptables`, `setpriv`, `nsenter` and `tcpdump`
//! (`scripts/install-test-deps.sh`); fails, never skips, without them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use weft_local::pod::GATEWAY;
use weft_local::sidecar::METRICS_PORT;
use weft_testkit::metrics;
use weft_testkit::netns::Netns;

use support::pcap::{self, Capture};

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
    fn curl_in(&self, workload: &str, url: &str, extra: &[&str]) -> String {
        let mut args = vec![
            "exec", "--mesh", &self.mesh, workload, "--", "curl", "-sS", "-m", "5",
        ];
        args.extend_from_slice(extra);
        args.push(url);
        self.run(&args)
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

/// Istio's bookinfo, the image map, and its ingress in Gateway API terms
/// (the demo's test covers Istio's Gateway).
fn bookinfo() -> Vec<PathBuf> {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples");
    vec![
        Path::new(CONFORMANCE).join("platform/bookinfo.yaml"),
        samples.join("bookinfo/local-images.yaml"),
        samples.join("gateway-api/bookinfo-gateway.yaml"),
    ]
}

/// The Gateway API gateway's address: its listener's port 80, bound as
/// numbered since the test runs as root.
const INGRESS: &str = "http://127.0.0.1:80";

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

/// A pod, as `weft get workloads` shows it.
struct Pod {
    ip: IpAddr,
    identity: String,
}

/// The mesh's pods, by workload.
fn pods(host: &Host) -> BTreeMap<String, Pod> {
    let pods: serde_json::Value =
        serde_json::from_str(&host.run(&["get", "workloads", "-o", "json", "--mesh", &host.mesh]))
            .unwrap();
    pods.as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let pod = Pod {
                ip: p["ip"].as_str().unwrap().parse().unwrap(),
                identity: p["identity"].as_str().unwrap().to_string(),
            };
            (p["workload"].as_str().unwrap().to_string(), pod)
        })
        .collect()
}

/// Checks the bridge's capture of the product page's calls: that it holds
/// productpage's connections to details and to reviews, that every
/// connection between pods opens with mesh mTLS, and that none of the
/// plaintext those calls carry crossed the bridge.
fn assert_pods_speak_mtls(pcap: &[u8], pods: &BTreeMap<String, Pod>) {
    let connections = pcap::connections(&pcap::segments(pcap));
    let workload = |addr: &SocketAddr| {
        pods.iter()
            .find(|(_, p)| p.ip == addr.ip())
            .map(|(w, _)| w.as_str())
    };
    // The filter left the host out; anything else would be no pod's.
    for (client, server) in connections.keys() {
        assert!(
            workload(client).is_some() && workload(server).is_some(),
            "{client} -> {server} is not between two pods"
        );
    }
    // So that the checks below cannot pass on an empty capture: the page's
    // calls to details and to reviews crossed the bridge, both ways.
    let shown: Vec<String> = connections
        .iter()
        .map(|((c, s), st)| {
            format!(
                "{c} -> {s}: {} bytes, {} back",
                st.to_server.len(),
                st.to_client.len()
            )
        })
        .collect();
    for to in ["details-", "reviews-"] {
        assert!(
            connections.iter().any(|((c, s), st)| {
                workload(c) == Some("productpage-v1")
                    && workload(s).is_some_and(|w| w.starts_with(to))
                    && s.port() == 9080
                    && !st.to_server.is_empty()
                    && !st.to_client.is_empty()
            }),
            "no productpage -> {to}* connection on the bridge: {shown:#?}"
        );
    }
    // Whether the sidecars speak HTTP/1.1 or HTTP/2 in the clear: HPACK may
    // hide a request line, but not the HTTP/2 preface, nor details' body.
    pcap::assert_mesh_tls(
        pcap,
        &connections,
        &[
            b"GET /details",
            b"GET /reviews",
            b"William Shakespeare",
            b"HTTP/1.1",
            b"PRI * HTTP/2.0",
        ],
    );
}

/// The requests details' sidecar took in over mTLS from `principal`, by
/// its Prometheus counter (the metrics port is outside the capture rules,
/// so the host reads it at the pod's address).
fn mtls_requests_to_details(host: &Host, details: IpAddr, principal: &str) -> f64 {
    let url = format!(
        "http://{}/stats/prometheus",
        SocketAddr::new(details, METRICS_PORT)
    );
    let (ok, text) = host.curl(&url, &[]);
    assert!(ok, "cannot scrape {url}");
    metrics::sum(
        &text,
        "istio_requests_total",
        &[
            ("reporter", "destination"),
            ("source_principal", principal),
            ("connection_security_policy", "mutual_tls"),
        ],
    )
    .unwrap_or(0.0)
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
    let tcpdump = pcap::tcpdump_bin();
    let host = Host::new("upt");
    let mut child = Running(host.up(&bookinfo()));
    let child = &mut child.0;
    let summary = wait_ready(child);
    assert!(
        summary.contains("6 pods and 1 ingress gateway in transparent mode"),
        "{summary}"
    );
    assert!(
        summary.contains(&format!(
            "ingress bookinfo-gateway-istio (gateway port 80): {INGRESS}/"
        )),
        "{summary}"
    );
    let pods = pods(&host);

    // Everything between pods crosses the bridge in the switch namespace,
    // named after the mesh. tcpdump puts br0 in promiscuous mode, so the
    // bridge hands it every frame it forwards, not only those for itself.
    // Started before any pod calls another, it sees each connection from
    // its SYN. The host (the gateway address) is outside the mesh and talks
    // plaintext to productpage by design: the filter leaves it out.
    let capture = Capture::start(
        &Path::new("/run/netns").join(&host.mesh),
        &tcpdump,
        "br0",
        &format!("ip and tcp and not host {GATEWAY}"),
    );

    // The product page renders; its calls went by service name through
    // the pods' /etc/hosts and sidecars.
    let productpage = format!("http://{}:9080/productpage", pods["productpage-v1"].ip);
    let (ok, page) = host.curl(&productpage, &[]);
    assert!(ok && page.contains("Book Details"), "{page}");
    assert!(!page.contains("Error fetching product reviews"), "{page}");
    // And through the ingress gateway, as the HTTPRoute routes it.
    let (ok, page) = host.curl(&format!("{INGRESS}/productpage"), &[]);
    assert!(ok && page.contains("Book Details"), "{page}");
    assert!(!page.contains("Error fetching product reviews"), "{page}");

    // Inside a pod, `weft exec` sees the mesh's names.
    let out = host.curl_in("productpage", "http://details:9080/details/0", &[]);
    assert!(out.contains("William Shakespeare"), "{out}");

    // On the wire between pods, all of it was mTLS.
    assert_pods_speak_mtls(&capture.stop(), &pods);

    // jason sees reviews v2 once the sample VirtualService is applied.
    let net = Path::new(CONFORMANCE).join("networking");
    for f in [
        "destination-rule-all.yaml",
        "virtual-service-reviews-test-v2.yaml",
    ] {
        host.run(&["apply", "-f", net.join(f).to_str().unwrap()]);
    }
    // Before the VirtualService lands, reviews' versions take turns, so
    // one lucky pair proves nothing: five in a row.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut in_a_row = 0;
    loop {
        let (_, jason) = host.curl(&productpage, &["-b", "user=jason"]);
        let (_, other) = host.curl(&productpage, &[]);
        if served_by(&jason) == "reviews-v2" && served_by(&other) == "reviews-v1" {
            in_a_row += 1;
        } else {
            in_a_row = 0;
        }
        if in_a_row == 5 {
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
    let details_ip = pods["details-v1"].ip;
    let details = format!("http://{details_ip}:9080/details/0");
    let deadline = Instant::now() + Duration::from_secs(10);
    while host.curl(&details, &[]).0 {
        assert!(Instant::now() < deadline, "STRICT did not refuse plaintext");
        std::thread::sleep(Duration::from_millis(100));
    }
    // productpage's app dials details' pod address itself: no service
    // address, no hosts entry. Its sidecar captures the connection, routes
    // the request by its Host header to the details service and originates
    // mTLS; had the connection left the pod as the app made it, STRICT
    // would refuse it as it refuses the host's, Host header or not.
    // (Without the header a pod address is no service's, and the sidecar
    // passes the request through as it is, in plaintext, as Istio's
    // PassthroughCluster does: STRICT refuses that too.)
    let principal = &pods["productpage-v1"].identity;
    let before = mtls_requests_to_details(&host, details_ip, principal);
    let host_header = ["-H", "host: details:9080"];
    let out = host.curl_in("productpage", &details, &host_header);
    assert!(out.contains("William Shakespeare"), "by pod address: {out}");
    assert!(!host.curl(&details, &host_header).0, "the host got through");
    // details' sidecar took it in over mTLS from productpage's identity.
    // Polled: the sidecar counts a request once its response has ended,
    // which may be just after curl has read it all.
    let deadline = Instant::now() + Duration::from_secs(5);
    while mtls_requests_to_details(&host, details_ip, principal) <= before {
        assert!(
            Instant::now() < deadline,
            "details' sidecar counted no mTLS request from {principal}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // By name, through its sidecar, productpage still reaches details.
    let out = host.curl_in("productpage", "http://details:9080/details/0", &[]);
    assert!(out.contains("William Shakespeare"), "under STRICT: {out}");
    // And the ingress gateway, a meshed caller with an identity of its
    // own, still reaches productpage: its hop into the mesh is mTLS.
    let (ok, page) = host.curl(&format!("{INGRESS}/productpage"), &["-b", "user=jason"]);
    assert!(ok && page.contains("Book Details"), "under STRICT: {page}");
    assert_eq!(served_by(&page), "reviews-v2");

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
