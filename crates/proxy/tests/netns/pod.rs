//! A pod: a network namespace with Istio's capture rules and the real
//! `weft-proxy` as its sidecar, wired by a veth pair to a second namespace
//! that stands for the network outside the pod (other pods, the internet).
//!
//! ```text
//!  pod ns                                          net ns
//!  app, test clients   eth0 198.18.0.2/24 <==veth==> eth0 198.18.0.1/24
//!  weft-proxy (uid 1337)  default via 198.18.0.1          + 198.18.1.1/32
//! ```

use std::ffi::OsStr;
use std::future::Future;
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use weft_testkit::PATIENCE;
use weft_testkit::netns::Netns;
use weft_testkit::process::ProxyProcess;

/// The pod's address on its `eth0`.
pub const POD_IP: &str = "198.18.0.2";
/// An address outside the pod, on the network namespace.
pub const EXTERNAL_IP: &str = "198.18.1.1";
/// Where the sidecar serves Prometheus metrics, inside the pod.
pub const METRICS: &str = "127.0.0.1:15090";

/// The uid and gid the sidecar runs as, as Istio's `istio-proxy` user.
const PROXY_UID: u32 = 1337;

/// Istio's istio-init rules for a sidecar capturing all inbound and
/// outbound TCP (`istio-iptables -p 15001 -z 15006 -u 1337 -g 1337 -i '*'
/// -b '*'`), in `iptables-save` form, nat table.
const CAPTURE_RULES: &[&str] = &[
    "-N ISTIO_INBOUND",
    "-N ISTIO_REDIRECT",
    "-N ISTIO_IN_REDIRECT",
    "-N ISTIO_OUTPUT",
    "-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001",
    "-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006",
    // Inbound: everything but the sidecar's own ports goes to 15006.
    "-A PREROUTING -p tcp -j ISTIO_INBOUND",
    "-A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN",
    "-A ISTIO_INBOUND -p tcp --dport 15090 -j RETURN",
    "-A ISTIO_INBOUND -p tcp --dport 15021 -j RETURN",
    "-A ISTIO_INBOUND -p tcp --dport 15020 -j RETURN",
    "-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT",
    // Outbound: the sidecar's own connections (matched by owner) and
    // loopback traffic are left alone; everything else goes to 15001.
    "-A OUTPUT -p tcp -j ISTIO_OUTPUT",
    "-A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN",
    "-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT",
    "-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN",
    "-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN",
    "-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT",
    "-A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN",
    "-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN",
    "-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN",
    "-A ISTIO_OUTPUT -j ISTIO_REDIRECT",
];

pub struct Pod {
    pub ns: Netns,
    /// The network outside the pod.
    pub net: Netns,
}

/// A sidecar process; dropping it kills it. Hold it in a local declared
/// after the [`Pod`], so it is gone before its namespace is deleted.
pub struct Sidecar {
    _proxy: ProxyProcess,
    /// A copy of the binary the proxy user can execute, when the build's
    /// own is out of its reach.
    _bin: Option<tempfile::TempDir>,
}

// === impl Pod ===

impl Pod {
    pub fn new(prefix: &str) -> Self {
        let mut ns = Netns::new(prefix);
        let net = Netns::new(&format!("{prefix}-net"));
        ns.veth(
            "eth0",
            &format!("{POD_IP}/24"),
            &net,
            "eth0",
            "198.18.0.1/24",
        );
        ns.ip(&["route", "add", "default", "via", "198.18.0.1"]);
        net.add_address("eth0", &format!("{EXTERNAL_IP}/32"));
        for rule in CAPTURE_RULES {
            let mut args = vec!["-t", "nat"];
            args.extend(rule.split_whitespace());
            ns.iptables(&args);
        }
        Self { ns, net }
    }

    /// Starts `weft-proxy` with `yaml` inside the pod, as uid and gid 1337,
    /// and waits until it listens.
    pub fn sidecar(&self, yaml: &str) -> Sidecar {
        let (bin, copy) = proxy_binary();
        // Spawned from a thread inside the namespace, the child starts there.
        let proxy = self
            .ns
            .enter(|| ProxyProcess::spawn_with(&bin, yaml, run_as_proxy_user));
        let status = std::fs::read_to_string(format!("/proc/{}/status", proxy.pid())).unwrap();
        assert!(
            status.contains(&format!("\nUid:\t{PROXY_UID}\t")),
            "the sidecar must run as uid {PROXY_UID}:\n{status}"
        );
        Sidecar {
            _proxy: proxy,
            _bin: copy,
        }
    }

    /// Runs a test body inside the pod (see [`Netns::run`]). Bounded in
    /// time: a connection the rules fail to capture can hang (SYNs to an
    /// address nobody answers) rather than fail.
    pub fn run<F, Fut>(&self, body: F) -> Fut::Output
    where
        F: FnOnce() -> Fut + Send,
        Fut: Future,
        Fut::Output: Send,
    {
        let limit = 3 * PATIENCE;
        self.ns.run(|| async move {
            tokio::time::timeout(limit, body())
                .await
                .unwrap_or_else(|_| {
                    panic!("not done after {limit:?}: did a connection hang uncaptured?")
                })
        })
    }
}

/// Runs the proxy as uid and gid 1337, as Istio runs Envoy: that is what
/// the capture rules' `-m owner --uid-owner 1337 -j RETURN` (and its gid
/// twin) recognise, so the proxy's own upstream connections are not
/// redirected back into it.
///
/// `ProxyProcess` writes the config into a fresh temp dir, which is 0700
/// and root's, and asks the proxy to write its bound-addresses file there;
/// the proxy user could do neither. Hand the directory to that user and make
/// the config readable whatever the umask.
fn run_as_proxy_user(cmd: &mut Command) -> &mut Command {
    let args: Vec<&OsStr> = cmd.get_args().collect();
    for pair in args.windows(2) {
        let path = Path::new(pair[1]);
        if pair[0] == "--config" {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        if pair[0] == "--config" || pair[0] == "--bound-addresses-file" {
            let dir = path.parent().unwrap();
            chown(dir, Some(PROXY_UID), Some(PROXY_UID)).unwrap();
        }
    }
    // std also drops root's supplementary groups when it sets the uid.
    cmd.uid(PROXY_UID).gid(PROXY_UID)
}

/// The proxy binary cargo built for this test, or a link to it (else a
/// copy) in a world-readable temp dir when uid 1337 cannot reach the
/// original (a target dir under a 0700 home, say).
fn proxy_binary() -> (PathBuf, Option<tempfile::TempDir>) {
    let built = PathBuf::from(env!("CARGO_BIN_EXE_weft-proxy"));
    if others_can_execute(&built) {
        return (built, None);
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = dir.path().join("weft-proxy");
    // A hard link when the file itself is executable by all: nothing is
    // written, so no other thread's fork can hold a write handle on it
    // when we exec it (ETXTBSY).
    let linked = built.metadata().unwrap().permissions().mode() & 0o001 != 0
        && std::fs::hard_link(&built, &copy).is_ok();
    if !linked {
        std::fs::copy(&built, &copy).unwrap();
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    (copy, Some(dir))
}

/// Whether any user may run `bin`: it and every directory above it are
/// executable by "others".
fn others_can_execute(bin: &Path) -> bool {
    bin.ancestors().all(|p| {
        p.as_os_str().is_empty()
            || p.metadata()
                .is_ok_and(|m| m.permissions().mode() & 0o001 != 0)
    })
}
