//! Network namespaces for end-to-end tests: each test builds its own
//! "pods" (namespaces with their own loopback, interfaces, routes and
//! iptables rules), so transparent interception runs against real kernel
//! rules without touching the host or other tests.
//!
//! Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and the `ip` and `iptables`
//! tools; [`require`] checks and panics naming what is missing: a test that
//! cannot run fails, it never skips. Addresses come from 198.18.0.0/15
//! (RFC 2544's benchmarking block), which no real network routes.

use std::fs::File;
use std::future::Future;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::sched::{CloneFlags, setns};

/// Where `ip netns add` mounts named namespaces.
const NETNS_DIR: &str = "/run/netns";

static TOOLS: OnceLock<Tools> = OnceLock::new();
static NEXT: AtomicU32 = AtomicU32::new(0);

/// The programs the helpers run, found once per process.
#[derive(Debug)]
pub struct Tools {
    pub ip: PathBuf,
    pub iptables: PathBuf,
}

/// A named network namespace, deleted (with the veth pairs it created) on
/// drop. Kill any process running inside it first: a namespace outlives
/// its name while a process still uses it.
#[derive(Debug)]
pub struct Netns {
    name: String,
    links: Vec<String>,
}

/// Checks that this process can create network namespaces and that `ip`
/// and `iptables` are installed; panics with what is missing and how to
/// get it.
pub fn require() -> &'static Tools {
    TOOLS.get_or_init(|| {
        let missing = missing_capabilities();
        assert!(
            missing.is_empty(),
            "this test needs root (CAP_NET_ADMIN) to create network namespaces: \
             missing {}; run it as root (e.g. `sudo -E cargo test`)",
            missing.join(", ")
        );
        let ip = find_tool("ip").unwrap_or_else(|| {
            panic!("ip not found: run scripts/install-test-deps.sh (installs iproute2)")
        });
        let iptables = find_tool("iptables")
            .unwrap_or_else(|| panic!("iptables not found: run scripts/install-test-deps.sh"));
        Tools { ip, iptables }
    })
}

/// Whether `ip` lies in 198.18.0.0/15, the block tests may use.
pub fn is_test_net(ip: Ipv4Addr) -> bool {
    let [a, b, _, _] = ip.octets();
    a == 198 && b & 0xfe == 18
}

// === impl Netns ===

impl Netns {
    /// Creates `weft-<prefix>-<pid>-<counter>` with `lo` up. Namespaces left
    /// behind by an earlier, killed run of the same prefix are removed first.
    pub fn new(prefix: &str) -> Self {
        assert!(
            prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-'),
            "namespace prefix {prefix:?}: use letters, digits and '-'"
        );
        let tools = require();
        sweep_stale(tools, prefix);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("weft-{prefix}-{}-{n}", std::process::id());
        run(&tools.ip, &["netns", "add", &name]);
        // From here on, Drop deletes it even if a later step panics.
        let ns = Self {
            name,
            links: Vec::new(),
        };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace's bind mount, as `setns` and `ip netns exec` use it.
    pub fn path(&self) -> PathBuf {
        Path::new(NETNS_DIR).join(&self.name)
    }

    /// Runs `ip -n <ns> <args>`; returns stdout, panics with stderr.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        run(&require().ip, &full)
    }

    /// Runs `program args` inside the namespace (`ip netns exec`); returns
    /// stdout, panics with stderr.
    pub fn exec(&self, program: &Path, args: &[&str]) -> String {
        let program = program.to_string_lossy();
        let mut full = vec!["netns", "exec", self.name.as_str(), &program];
        full.extend_from_slice(args);
        run(&require().ip, &full)
    }

    /// Runs `iptables -w <args>` inside the namespace. `-w` waits for the
    /// xtables lock, which the legacy backend shares across namespaces.
    pub fn iptables(&self, args: &[&str]) -> String {
        let mut full = vec!["-w"];
        full.extend_from_slice(args);
        self.exec(&require().iptables, &full)
    }

    /// Adds `cidr` (e.g. `198.18.1.1/32`) to interface `dev`.
    pub fn add_address(&self, dev: &str, cidr: &str) {
        check_test_net(cidr);
        self.ip(&["addr", "add", cidr, "dev", dev]);
    }

    /// Connects this namespace to `peer` with a veth pair: `name` here with
    /// address `cidr`, `peer_name` there with `peer_cidr` (both in
    /// 198.18.0.0/15, e.g. `/24` or `/30`). Returns once both ends are up.
    pub fn veth(&mut self, name: &str, cidr: &str, peer: &Netns, peer_name: &str, peer_cidr: &str) {
        check_test_net(cidr);
        check_test_net(peer_cidr);
        // Both ends are created directly in their namespaces, so the names
        // never meet the host's (or another test's) interfaces.
        self.ip(&[
            "link", "add", name, "type", "veth", "peer", "name", peer_name, "netns", &peer.name,
        ]);
        self.links.push(name.to_string());
        for (ns, dev, addr) in [(&*self, name, cidr), (peer, peer_name, peer_cidr)] {
            ns.add_address(dev, addr);
            ns.ip(&["link", "set", dev, "up"]);
        }
        self.wait_up(name);
        peer.wait_up(peer_name);
    }

    /// Runs `f` on a new OS thread inside this namespace and returns its
    /// result; a panic in `f` is resumed here. `setns` moves only that
    /// thread: sockets it creates belong to this namespace for good (use
    /// them from any thread afterwards), and processes it spawns start here.
    pub fn enter<T, F>(&self, f: F) -> T
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        let path = self.path();
        let ns = File::open(&path)
            .unwrap_or_else(|e| panic!("cannot open namespace {}: {e}", path.display()));
        std::thread::scope(|s| {
            let thread = std::thread::Builder::new()
                .name(self.name.clone())
                .spawn_scoped(s, move || {
                    setns(&ns, CloneFlags::CLONE_NEWNET)
                        .unwrap_or_else(|e| panic!("setns into {}: {e}", path.display()));
                    drop(ns);
                    f()
                })
                .expect("spawn namespace thread");
            thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// Runs the future `f` builds on a current-thread tokio runtime inside
    /// this namespace (see [`enter`](Self::enter)). Tasks it spawns end with
    /// it.
    pub fn run<F, Fut>(&self, f: F) -> Fut::Output
    where
        F: FnOnce() -> Fut + Send,
        Fut: Future,
        Fut::Output: Send,
    {
        self.enter(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            rt.block_on(f())
        })
    }

    /// A non-blocking listener bound to `addr` inside this namespace; turn
    /// it into a tokio listener on any runtime.
    pub fn listen(&self, addr: &str) -> std::net::TcpListener {
        self.enter(|| {
            let l = std::net::TcpListener::bind(addr)
                .unwrap_or_else(|e| panic!("bind {addr} in {}: {e}", self.name));
            l.set_nonblocking(true).expect("set_nonblocking");
            l
        })
    }

    /// An unconnected IPv4 TCP socket inside this namespace: connections
    /// made with it leave from here, whichever runtime drives them.
    pub fn tcp_socket(&self) -> tokio::net::TcpSocket {
        self.enter(|| tokio::net::TcpSocket::new_v4().expect("socket"))
    }

    /// Waits until the kernel reports `dev` operationally up: until then a
    /// fresh veth may still drop packets and cost a test a SYN retransmit.
    fn wait_up(&self, dev: &str) {
        let deadline = Instant::now() + crate::PATIENCE;
        loop {
            let link = self.ip(&["-o", "link", "show", "dev", dev]);
            if link.contains("state UP") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{dev} in {} not up: {link}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let Some(tools) = TOOLS.get() else { return };
        for link in &self.links {
            // Deleting one end removes the pair, even if the peer's
            // namespace is still alive.
            let _ = Command::new(&tools.ip)
                .args(["-n", &self.name, "link", "del", link])
                .output();
        }
        match Command::new(&tools.ip)
            .args(["netns", "del", &self.name])
            .output()
        {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "warning: ip netns del {}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(e) => eprintln!("warning: ip netns del {}: {e}", self.name),
        }
    }
}

/// Runs a tool, returning stdout; panics with its stderr when it fails.
fn run(program: &Path, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    assert!(
        out.status.success(),
        "`{} {}` failed ({}): {}",
        program.display(),
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Capabilities `ip netns add` (CAP_SYS_ADMIN: unshare and mount) and
/// interface and iptables changes (CAP_NET_ADMIN) need but we lack.
fn missing_capabilities() -> Vec<&'static str> {
    const NEEDED: [(u32, &str); 2] = [(12, "CAP_NET_ADMIN"), (21, "CAP_SYS_ADMIN")];
    let effective = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(0);
    NEEDED
        .iter()
        .filter(|(bit, _)| effective & (1 << bit) == 0)
        .map(|(_, name)| *name)
        .collect()
}

/// Finds an executable on PATH, or in the sbin directories a non-login
/// root shell may leave off it.
fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Deletes `weft-<prefix>-<pid>-<n>` namespaces whose process is gone (a
/// run that was killed before its Drop ran). Only this prefix: other tests'
/// and other tools' namespaces are never touched.
fn sweep_stale(tools: &Tools, prefix: &str) {
    let Ok(dir) = std::fs::read_dir(NETNS_DIR) else {
        return;
    };
    let head = format!("weft-{prefix}-");
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((pid, n)) = name.strip_prefix(&head).and_then(|r| r.split_once('-')) else {
            continue;
        };
        let (Ok(pid), Ok(_)) = (pid.parse::<u32>(), n.parse::<u32>()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new(&tools.ip)
                .args(["netns", "del", &name])
                .output();
        }
    }
}

fn check_test_net(cidr: &str) {
    let ip: Ipv4Addr = cidr
        .split('/')
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("not an IPv4 address/prefix: {cidr}"));
    assert!(
        is_test_net(ip),
        "{cidr} is outside 198.18.0.0/15, the block tests may use"
    );
}
