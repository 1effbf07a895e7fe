//! Network-namespace pods: a bridge, one namespace per workload replica
//! with a veth onto the bridge, Istio's capture rules, and `/etc/hosts`.
//!
//! ```text
//!  caller's namespace (the host)    switch `<mesh>`                pod `<mesh>.<pod>`
//!  control plane, ingress gateway                                   app, sidecar (uid 1337)
//!  <mesh>0 198.18.0.1/16 <==veth==> host ─ br0 ─ pod-0-2 <==veth==> eth0 198.18.0.2/16
//!                                              ─ pod-0-3 <==veth==> (the next pod)
//! ```
//!
//! The bridge lives in a namespace of its own rather than in the caller's,
//! so pod-to-pod traffic never crosses the host's firewall. Docker loads
//! `br_netfilter`, which hands every bridged IPv4 frame to iptables'
//! FORWARD chain of the bridge's namespace, and sets the host's FORWARD
//! policy to DROP: a bridge on the host would see pod-to-pod traffic
//! dropped. An ACCEPT rule for the bridge in the host's FORWARD chain would
//! fix that only while it stays first (Docker re-inserts its chains when it
//! restarts) and only for the iptables backend it was written with (rules in
//! iptables-legacy and iptables-nft are evaluated separately and both must
//! accept), and turning `net.bridge.bridge-nf-call-iptables` off in the host
//! namespace would change Docker's own networking. In its own namespace the
//! bridge meets an empty firewall, and the host sees only traffic to and
//! from its gateway address (its INPUT and OUTPUT chains, which Docker
//! leaves open). Nothing is added to the host's iptables, so there is
//! nothing there to clean up either.
//!
//! Service virtual IPs (198.19.0.0/16) are on no interface: a pod's
//! outbound capture rule (nat OUTPUT) redirects a connection to one after
//! the route lookup, which the default route via the gateway satisfies.
//!
//! Everything here needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and runs
//! `ip` (iproute2), `iptables-restore` and `setpriv` (util-linux).

mod capture;
mod error;
mod etc;
mod names;
mod teardown;
mod tools;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

pub use capture::{Capture, PROXY_UID};
pub use error::PodError;
pub use names::MESH_NAME_MAX;

use names::{BRIDGE, POD_LINK, UPLINK};
use teardown::{remove_mesh, remove_netns};
use tools::Tools;

/// The pods' network: 198.18.0.0/16, from RFC 2544's benchmarking block,
/// which no real network routes.
pub const POD_NET: (Ipv4Addr, u8) = (Ipv4Addr::new(198, 18, 0, 0), 16);
/// The host's address on the pods' network, their default gateway.
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

/// A mesh's pods' network: the switch namespace with its bridge, the
/// gateway link into the namespace that created it, and the pods. Removed
/// by [`destroy`](Self::destroy), or on drop, best-effort.
#[derive(Debug)]
pub struct Network {
    mesh: String,
    tools: &'static Tools,
    removed: bool,
}

/// One pod: a network namespace on the mesh's bridge with the capture
/// rules and its own `/etc/hosts`. A cheap handle: cloning it copies names;
/// the namespace goes with its [`Network`].
#[derive(Debug, Clone)]
pub struct Pod {
    name: String,
    netns: String,
    ip: Ipv4Addr,
    hosts: PathBuf,
    tools: &'static Tools,
}

/// Checks that this process may build pods: root's CAP_NET_ADMIN and
/// CAP_SYS_ADMIN, and the programs `ip`, `iptables-restore` and `setpriv`.
/// The error names what is missing and how to get it.
pub fn check_prerequisites() -> Result<(), PodError> {
    let missing = tools::missing_capabilities();
    if !missing.is_empty() {
        return Err(PodError::NotPrivileged {
            missing: missing.join(" and "),
        });
    }
    tools::tools().map(|_| ())
}

/// Removes what an earlier run of mesh `mesh` left behind when it could
/// not clean up (a crash, SIGKILL): its namespaces (`<mesh>` and
/// `<mesh>.*`) after killing the processes still in them, with them its
/// bridge and links, and its `/etc/netns/<mesh>.*` directories. Touches
/// nothing named otherwise. Returns what it removed, one line each.
pub fn cleanup_leftovers(mesh: &str) -> Result<Vec<String>, PodError> {
    names::check_mesh(mesh)?;
    remove_mesh(tools::tools()?, mesh)
}

// === impl Network ===

impl Network {
    /// Creates mesh `mesh`'s network: namespace `<mesh>` holding bridge
    /// `br0`, linked to the caller's namespace by veth `<mesh>0`, which has
    /// the gateway address 198.18.0.1/16 and is up. `mesh` is 1 to 10 of
    /// `[a-z0-9-]`; every namespace and directory the mesh owns is named
    /// with it, so leftovers can be found by name. Fails if the caller's
    /// namespace already has an address in 198.18.0.0/16 (another mesh in
    /// transparent mode): pods of two meshes would share one subnet.
    pub fn create(mesh: &str) -> Result<Network, PodError> {
        names::check_mesh(mesh)?;
        let tools = tools::tools()?;
        let (net, prefix) = POD_NET;
        let taken = tools::run(
            &tools.ip,
            &["-o", "-4", "addr", "show", "to", &format!("{net}/{prefix}")],
            None,
        )
        .map_err(|f| f.during(format!("checking that {net}/{prefix} is free")))?;
        if let Some(line) = taken.lines().next() {
            return Err(PodError::Exists {
                what: format!("an address in {net}/{prefix}"),
                hint: format!(
                    "{} (another mesh in transparent mode?); pods of two meshes cannot share the subnet: stop the other mesh",
                    line.split_whitespace()
                        .take(4)
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            });
        }
        let switch = names::switch_netns(mesh);
        tools::run(&tools.ip, &["netns", "add", &switch], None).map_err(|f| {
            f.exists_or(
                format!("network namespace {switch}"),
                format!(
                    "another `weft up --mesh {mesh}` is running, or a crashed one left it: stop the other, or remove it with `ip netns del {switch}` (`weft up` removes its own mesh's leftovers when it starts)"
                ),
                format!("creating network namespace {switch}"),
            )
        })?;
        // From here on, dropping `network` removes whatever was made.
        let network = Network {
            mesh: mesh.to_string(),
            tools,
            removed: false,
        };
        // The bridge comes first and takes index 2 of the switch's links,
        // so the gateway link's switch end gets 3: see `wait_running`.
        tools::run(
            &tools.ip,
            &["-n", &switch, "link", "add", BRIDGE, "up", "type", "bridge"],
            None,
        )
        .map_err(|f| f.during(format!("creating the bridge in namespace {switch}")))?;
        let link = names::gateway_link(mesh);
        let host_side = format!(
            "link add {link} type veth peer name {UPLINK} netns {switch}\n\
             addr add {GATEWAY}/{prefix} dev {link}\n\
             link set {link} up\n"
        );
        tools::run(&tools.ip, &["-batch", "-"], Some(&host_side)).map_err(|f| {
            f.exists_or(
                format!("link {link}"),
                format!("rename or remove it (`ip link del {link}`), or choose another mesh name"),
                format!("creating link {link}, the pods' gateway"),
            )
        })?;
        // A port joining a bridge that is down never starts forwarding;
        // br0 is up already.
        tools::run(
            &tools.ip,
            &["-n", &switch, "link", "set", UPLINK, "master", BRIDGE, "up"],
            None,
        )
        .map_err(|f| {
            f.during(format!(
                "attaching {UPLINK} to the bridge in namespace {switch}"
            ))
        })?;
        network.skip_bridge_netfilter();
        // Both ends of the gateway link must be up before the first frame:
        // the host's first ARP request for a pod would be lost, and the
        // connection that wanted it would wait a second for a resend.
        tools::in_netns(&switch, || tools::wait_running(UPLINK))?.map_err(|source| {
            PodError::Io {
                step: format!("waiting for {UPLINK} in namespace {switch} to come up"),
                source,
            }
        })?;
        // The caller's thread is in the caller's namespace, by definition.
        tools::wait_running(&link).map_err(|source| PodError::Io {
            step: format!("waiting for link {link} to come up"),
            source,
        })?;
        Ok(network)
    }

    /// The mesh's name.
    pub fn mesh(&self) -> &str {
        &self.mesh
    }

    /// 198.18.0.1, the caller's side of the network: the pods' default
    /// gateway, and where the control plane and the ingress gateway listen
    /// for pods.
    pub fn gateway(&self) -> Ipv4Addr {
        GATEWAY
    }

    /// The link with the gateway address in the caller's namespace.
    pub fn gateway_link(&self) -> String {
        names::gateway_link(&self.mesh)
    }

    /// Creates pod `pod` at `ip` (in 198.18.0.0/16, not the gateway):
    /// namespace `<mesh>.<pod>` with `lo` up, `eth0` with `ip`/16 on a veth
    /// whose other end is a port of the bridge, a default route via the
    /// gateway, `capture`'s rules, and in `/etc/netns/<mesh>.<pod>/` a
    /// `hosts` with localhost and the pod's own name and a `resolv.conf`
    /// that makes lookups the hosts file cannot answer fail at once. Takes
    /// 20 to 40 ms on two cores (four short program runs); on failure,
    /// nothing of the pod is left.
    pub fn add_pod(&self, pod: &str, ip: Ipv4Addr, capture: &Capture) -> Result<Pod, PodError> {
        names::check_pod(&self.mesh, pod)?;
        check_pod_ip(ip)?;
        let netns = names::pod_netns(&self.mesh, pod);
        tools::run(&self.tools.ip, &["netns", "add", &netns], None).map_err(|f| {
            f.exists_or(
                format!("network namespace {netns}"),
                format!("mesh {} already has a pod named {pod}", self.mesh),
                format!("creating network namespace {netns}"),
            )
        })?;
        let pod = Pod {
            name: pod.to_string(),
            hosts: etc::dir(&netns).join("hosts"),
            netns,
            ip,
            tools: self.tools,
        };
        match self.wire(&pod, capture) {
            Ok(()) => Ok(pod),
            Err(e) => {
                let port = names::pod_port(ip);
                let switch = names::switch_netns(&self.mesh);
                // Only a port this call made: `File exists` means the
                // address is another pod's.
                if !matches!(e, PodError::Exists { .. }) {
                    let _ =
                        tools::run(&self.tools.ip, &["-n", &switch, "link", "del", &port], None);
                }
                let _ = remove_netns(self.tools, &pod.netns);
                let _ = std::fs::remove_dir_all(etc::dir(&pod.netns));
                Err(e)
            }
        }
    }

    /// Removes every pod (killing the processes still in it), the bridge,
    /// the gateway link and the pods' `/etc/netns` directories: everything
    /// named with the mesh's name. Idempotent.
    pub fn destroy(mut self) -> Result<(), PodError> {
        self.removed = true;
        remove_mesh(self.tools, &self.mesh).map(|_| ())
    }

    /// Everything of the pod after its namespace exists.
    fn wire(&self, pod: &Pod, capture: &Capture) -> Result<(), PodError> {
        let ip = pod.ip;
        let netns = &pod.netns;
        // `ip netns exec` bind-mounts what it finds here from the first
        // command on.
        let dir = etc::dir(netns);
        std::fs::create_dir_all(&dir).map_err(|source| PodError::Io {
            step: format!("creating {}", dir.display()),
            source,
        })?;
        pod.set_hosts(&[]).map_err(|source| PodError::Io {
            step: format!("writing {}", pod.hosts.display()),
            source,
        })?;
        // Without an /etc/resolv.conf to cover, glibc already asks
        // 127.0.0.1, and `ip netns exec` would warn it has nothing to
        // bind-mount over.
        let resolv = dir.join("resolv.conf");
        if Path::new("/etc/resolv.conf").exists() {
            std::fs::write(&resolv, etc::RESOLV_CONF).map_err(|source| PodError::Io {
                step: format!("writing {}", resolv.display()),
                source,
            })?;
        }
        let switch = names::switch_netns(&self.mesh);
        let port = names::pod_port(ip);
        tools::run(
            &self.tools.ip,
            &[
                "-n", &switch, "link", "add", &port, "up", "master", BRIDGE, "type", "veth",
                "peer", "name", POD_LINK, "netns", netns,
            ],
            None,
        )
        .map_err(|f| {
            f.exists_or(
                format!("pod address {ip}"),
                format!(
                    "another pod of mesh {} has it: give each pod its own",
                    self.mesh
                ),
                format!("linking pod {} to the bridge", pod.name),
            )
        })?;
        let prefix = POD_NET.1;
        let inside = format!(
            "link set lo up\n\
             addr add {ip}/{prefix} dev {POD_LINK}\n\
             link set {POD_LINK} up\n\
             route add default via {GATEWAY}\n"
        );
        tools::run(&self.tools.ip, &["-n", netns, "-batch", "-"], Some(&inside))
            .map_err(|f| f.during(format!("configuring {POD_LINK} of pod {}", pod.name)))?;
        // One `iptables-restore` for all the rules, run from a thread inside
        // the namespace: cheaper than `ip netns exec`, which also sets up a
        // mount namespace.
        let rules = capture.restore_input();
        tools::in_netns(netns, || {
            tools::run(&self.tools.iptables_restore, &["-w"], Some(&rules)).map_err(|f| {
                f.during(format!("installing the capture rules in pod {}", pod.name))
            })?;
            tools::wait_running(POD_LINK).map_err(|source| PodError::Io {
                step: format!("waiting for {POD_LINK} of pod {} to come up", pod.name),
                source,
            })
        })??;
        tools::in_netns(&switch, || tools::wait_running(&port))?.map_err(|source| PodError::Io {
            step: format!(
                "waiting for the bridge port {port} of pod {} to come up",
                pod.name
            ),
            source,
        })
    }

    /// Keeps bridged frames away from iptables in the switch namespace,
    /// where `br_netfilter` (if loaded) would otherwise pass each one
    /// through the (empty) FORWARD chain and conntrack for nothing. The
    /// setting is per namespace since Linux 5.3; older kernels show it only
    /// in the initial namespace, and there is then nothing to change.
    /// Best-effort: with it on, traffic still flows.
    fn skip_bridge_netfilter(&self) {
        let switch = names::switch_netns(&self.mesh);
        let result = tools::in_netns(&switch, || {
            for family in ["iptables", "ip6tables", "arptables"] {
                let path = format!("/proc/sys/net/bridge/bridge-nf-call-{family}");
                if Path::new(&path).exists() {
                    std::fs::write(&path, "0")?;
                }
            }
            Ok::<_, std::io::Error>(())
        });
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!(netns = %switch, "bridge-nf-call-iptables stays on: {e}"),
            Err(e) => tracing::debug!(netns = %switch, "bridge-nf-call-iptables stays on: {e}"),
        }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        if let Err(e) = remove_mesh(self.tools, &self.mesh) {
            tracing::warn!(mesh = %self.mesh, "removing the pods' network: {e}");
        }
    }
}

// === impl Pod ===

impl Pod {
    /// The pod's name, as given to [`Network::add_pod`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The pod's network namespace (`<mesh>.<pod>`), for `ip netns exec`.
    pub fn netns(&self) -> &str {
        &self.netns
    }

    /// The pod's address on `eth0`.
    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    /// Rewrites the pod's `/etc/hosts` (`/etc/netns/<ns>/hosts`) to hold
    /// localhost, the pod's own name, and `entries`. In place, never by
    /// rename: `ip netns exec` bind-mounts the file over `/etc/hosts`, and a
    /// bind mount follows the inode, so running processes see the rewrite.
    pub fn set_hosts(&self, entries: &[(IpAddr, Vec<String>)]) -> std::io::Result<()> {
        let text = etc::render(&self.name, self.ip, entries)?;
        etc::write_in_place(&self.hosts, &text)
    }

    /// A command that runs `program args` inside the pod, where it sees the
    /// pod's `/etc/hosts`: `ip netns exec <ns> program args`, or with
    /// `as_user = Some((uid, gid))`, `ip netns exec <ns> setpriv --reuid uid
    /// --regid gid --clear-groups -- program args` (the sidecar must run as
    /// [`PROXY_UID`]: the capture rules know its connections by owner).
    /// Both `ip` and `setpriv` exec the next program, so the child's pid is
    /// the program's. The caller sets stdio, environment and kill_on_drop.
    pub fn command(
        &self,
        program: &Path,
        args: &[String],
        as_user: Option<(u32, u32)>,
    ) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(&self.tools.ip);
        cmd.args(["netns", "exec", &self.netns]);
        if let Some((uid, gid)) = as_user {
            cmd.arg(&self.tools.setpriv).args([
                "--reuid",
                &uid.to_string(),
                "--regid",
                &gid.to_string(),
                "--clear-groups",
                "--",
            ]);
        }
        cmd.arg(program).args(args);
        cmd
    }
}

/// A pod address must be a host address in 198.18.0.0/16 other than the
/// gateway's.
fn check_pod_ip(ip: Ipv4Addr) -> Result<(), PodError> {
    let (net, prefix) = POD_NET;
    let mask = u32::MAX << (32 - prefix);
    let host = u32::from(ip) & !mask;
    let why = if u32::from(ip) & mask != u32::from(net) {
        Some("pods' addresses are in 198.18.0.0/16")
    } else if ip == GATEWAY {
        Some("198.18.0.1 is the gateway's")
    } else if host == 0 || host == !mask {
        Some("the network's and the broadcast address are no host's")
    } else {
        None
    };
    match why {
        Some(why) => Err(PodError::Invalid {
            what: "pod address",
            value: ip.to_string(),
            why,
        }),
        None => Ok(()),
    }
}
