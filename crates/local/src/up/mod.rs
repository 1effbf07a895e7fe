//! `weft up`: the control plane in this process, then every planned pod
//! (its sidecar first, then its apps), then a wait until every sidecar
//! holds its config. A failure at any step stops whatever had started.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::process::Command;
use weft_api::ResourceSet;
use weft_control::run::{self, Settings};

use crate::gateway::GatewayPlan;
use crate::plan::{Expand, Plan, Workload};
use crate::pod::{self, Network};
use crate::sidecar::{self, Sidecar, Wiring};
use crate::state::{self, MeshState, PodState};
use crate::supervise::{ProcRecord, Procs};

mod gateway;
mod ports;
mod wait;

/// How long a workload certificate lives; renewed at 80%.
const CERT_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long start-up may take before `weft up` gives up.
const START_LIMIT: Duration = Duration::from_secs(30);
/// Service virtual IPs (transparent mode): on no interface, captured.
const VIP_NET: (Ipv4Addr, u8) = (Ipv4Addr::new(198, 19, 0, 0), 16);
/// Pod addresses start here (the bridge is .0.1).
const FIRST_POD_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

/// Which way pods are wired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Transparent when running as root on Linux, else explicit.
    Auto,
    Transparent,
    Explicit,
}

/// What to run and where.
#[derive(Debug, Clone)]
pub struct Options {
    pub files: Vec<PathBuf>,
    /// Names this mesh's state, namespaces and links (`weft`).
    pub mesh: String,
    pub mode: Mode,
    /// The config stream; by default 15012 on the address pods reach.
    pub grpc: Option<SocketAddr>,
    /// The control plane's HTTP API (`weft apply`).
    pub http: SocketAddr,
    /// Where `weft-proxy` and `weft-sample` are.
    pub bin_dir: PathBuf,
    pub trust_domain: String,
    /// Where ingress gateways listen (each on its Gateway's port numbers).
    pub ingress: IpAddr,
    /// How often the control plane scrapes the proxies' metrics.
    pub scrape_interval: std::time::Duration,
    /// Mesh-wide tracing, pushed to every sidecar and gateway.
    pub tracing: Option<weft_proto::config::Tracing>,
}

/// Why the mesh did not come up.
#[derive(Debug, thiserror::Error)]
pub enum UpError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
    #[error(transparent)]
    Claim(#[from] state::ClaimError),
    #[error("transparent mode: {0}")]
    Pod(#[from] pod::PodError),
    #[error(
        "the control plane cannot start: {0}; another `weft up` or `weft control` may hold the port: stop it, or pass --grpc-address / --http-address"
    )]
    Control(#[from] run::StartError),
    #[error("{0}")]
    Start(String),
}

/// A mesh that came up.
pub struct Up {
    pub state: MeshState,
    pub dir: PathBuf,
    control: run::Running,
    procs: Procs,
    network: Option<Network>,
    hosts: Option<tokio::task::JoinHandle<()>>,
}

/// One pod as it is being started.
struct Starting<'a> {
    name: String,
    workload: &'a Workload,
    ip: IpAddr,
    dir: PathBuf,
    pod: Option<pod::Pod>,
    /// Declared port → where the app listens (explicit: a free port).
    ports: Vec<(u16, u16)>,
    /// Explicit mode: the apps' ports, held until the app starts so that
    /// no sidecar's port-0 listener is given one of them meanwhile.
    reserved: Vec<std::net::TcpListener>,
    bound: PathBuf,
}

/// Starts the mesh of `opts`; `say` reports progress.
pub async fn up(opts: &Options, say: &dyn Fn(&str)) -> Result<Up, UpError> {
    let set = ResourceSet::load_paths(&opts.files);
    if set.has_errors() {
        return Err(UpError::Config(findings(&set)));
    }
    let plan = Plan::from_resources(&set.resources, &opts.bin_dir)?;
    let gateways = crate::gateway::plan(&set.resources, &plan.workloads);
    for note in &gateways.notes {
        say(note);
    }
    let proxy_bin =
        crate::plan::find_program("weft-proxy", &opts.bin_dir).map_err(UpError::Start)?;
    let transparent = match opts.mode {
        Mode::Explicit => false,
        Mode::Transparent => {
            pod::check_prerequisites()?;
            true
        }
        Mode::Auto => pod::check_prerequisites().is_ok(),
    };
    let dir = state::dir_for(&opts.mesh);
    for what in state::claim(&opts.mesh, &dir)? {
        say(&format!("cleaned up after an earlier run: {what}"));
    }
    if transparent {
        for what in pod::cleanup_leftovers(&opts.mesh)? {
            say(&format!("cleaned up after an earlier run: {what}"));
        }
    }
    // Pods reach the control plane on the bridge's address, so the
    // network comes first.
    let network = match transparent {
        true => Some(Network::create(&opts.mesh)?),
        false => None,
    };
    let grpc_ip = network.as_ref().map(|n| IpAddr::V4(n.gateway()));
    let control = match start_control(opts, &dir, grpc_ip).await {
        Ok(c) => c,
        Err(e) => {
            if let Some(n) = network {
                let _ = n.destroy();
            }
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
    };
    let mut up = Up {
        state: MeshState {
            mesh: opts.mesh.clone(),
            mode: if transparent {
                "transparent"
            } else {
                "explicit"
            }
            .into(),
            owner: own_record(),
            ..MeshState::default()
        },
        dir: dir.clone(),
        control,
        procs: Procs::default(),
        network,
        hosts: None,
    };
    match up
        .start(&plan, &gateways.gateways, opts, &proxy_bin, say)
        .await
    {
        Ok(()) => Ok(up),
        Err(e) => {
            up.stop().await;
            Err(e)
        }
    }
}

/// Starts the control plane; its config stream listens on `grpc_ip` (the
/// bridge's address, for pods) or loopback.
async fn start_control(
    opts: &Options,
    dir: &Path,
    grpc_ip: Option<IpAddr>,
) -> Result<run::Running, UpError> {
    let transparent = grpc_ip.is_some();
    let grpc = opts.grpc.unwrap_or_else(|| {
        SocketAddr::new(grpc_ip.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)), 15012)
    });
    let running = run::start(Settings {
        files: opts.files.clone(),
        state_dir: None,
        grpc,
        http: opts.http,
        trust_domain: opts.trust_domain.clone(),
        cacerts: None,
        ca_dir: dir.join("ca"),
        workload_cert_ttl: CERT_TTL,
        scrape_interval: opts.scrape_interval,
        tracing: opts.tracing.clone(),
    })
    .await?;
    if let Some(r) = &running.store.status().rejected {
        let text = r
            .findings
            .iter()
            .filter(|f| f.is_error())
            .map(|f| format!("{}:{}: {}", f.file, f.line.unwrap_or(0), f.message))
            .collect::<Vec<_>>()
            .join("\n");
        running.stop().await;
        return Err(UpError::Config(text));
    }
    if transparent {
        running
            .compiler
            .set_vip_pool(weft_control::model::VipPool::new(VIP_NET.0, VIP_NET.1));
        running.compiler.rebuild();
    }
    Ok(running)
}

// === impl Up ===

impl Up {
    async fn start(
        &mut self,
        plan: &Plan,
        gateways: &[GatewayPlan],
        opts: &Options,
        proxy_bin: &Path,
        say: &dyn Fn(&str),
    ) -> Result<(), UpError> {
        let started = Instant::now();
        self.state.api = Some(self.control.bound.http);
        let control = self.control.bound.grpc;
        self.state.grpc = Some(control);

        let mut pods = Vec::new();
        let mut next_ip = u32::from(FIRST_POD_IP);
        for w in &plan.workloads {
            for i in 0..w.replicas {
                let name = w.pod_name(i);
                let pod_dir = self.dir.join("pods").join(&name);
                std::fs::create_dir_all(&pod_dir).map_err(|e| io_err(&pod_dir, e))?;
                let mut reserved = Vec::new();
                let (ip, pod, ports) = match &self.network {
                    Some(net) => {
                        let ip = Ipv4Addr::from(next_ip);
                        next_ip += 1;
                        let pod = net.add_pod(&name, ip, &pod::Capture::default())?;
                        let ports = w.ports.iter().map(|p| (p.port, p.port)).collect();
                        (IpAddr::V4(ip), Some(pod), ports)
                    }
                    None => {
                        let mut ports = Vec::new();
                        for p in &w.ports {
                            let l = ports::reserve_app_port()?;
                            ports.push((
                                p.port,
                                l.local_addr()
                                    .map_err(|e| UpError::Start(e.to_string()))?
                                    .port(),
                            ));
                            reserved.push(l);
                        }
                        (IpAddr::V4(Ipv4Addr::LOCALHOST), None, ports)
                    }
                };
                let bound = pod_dir.join("sidecar.bound.json");
                pods.push(Starting {
                    name,
                    workload: w,
                    ip,
                    dir: pod_dir,
                    pod,
                    ports,
                    reserved,
                    bound,
                });
            }
        }
        let gateway_bin = proxy_bin;
        let proxy_bin = match &self.network {
            Some(_) => crate::proxy_user::proxy_binary(proxy_bin, &self.dir.join("bin"))
                .map_err(|e| io_err(proxy_bin, e))?,
            None => proxy_bin.to_path_buf(),
        };
        let proxy_bin = proxy_bin.as_path();
        // Every sidecar first (they take longest), then the apps.
        for p in &pods {
            self.start_sidecar(p, control, proxy_bin)?;
        }
        let deadline = started + START_LIMIT;
        // Gateways run on the host as this user, from the binary as found.
        let gateway_states = self
            .start_gateways(gateways, opts.ingress, gateway_bin, deadline)
            .await?;
        // Every proxy has bound its listeners before any app port is let
        // go, so none of their port-0 listeners can land on one.
        let mut bounds = Vec::new();
        for p in &pods {
            let what = format!("the sidecar of {}", p.name);
            let log = p.dir.join("sidecar.log");
            bounds.push(self.wait_bound(&what, &p.bound, &log, deadline).await?);
        }
        let mut states = Vec::new();
        for (p, bound) in pods.iter_mut().zip(&bounds) {
            p.reserved.clear();
            let proxy = bound_addr(bound, "/listeners/outbound").filter(|_| p.pod.is_none());
            self.start_apps(p, proxy)?;
            states.push(self.pod_state(p, bound));
        }
        let proxies = states.len() + gateway_states.len();
        states.extend(gateway_states);
        self.state.pods = states;
        self.state.procs = self.procs.records();
        state::write(&self.dir, &self.state).map_err(|e| io_err(&self.dir, e))?;
        if let Some(_net) = &self.network {
            self.hosts = Some(crate::hosts::keep_fresh(
                self.control.compiler.clone(),
                pods.iter()
                    .filter_map(|p| p.pod.clone().map(|pod| (pod, p.workload.namespace.clone())))
                    .collect(),
            ));
        }
        let and_gateways = match gateways.len() {
            0 => String::new(),
            1 => " and 1 gateway".to_string(),
            n => format!(" and {n} gateways"),
        };
        say(&format!(
            "{} pods{and_gateways} started in {} mode; waiting for every proxy to hold its config",
            pods.len(),
            self.state.mode
        ));
        self.wait_synced(proxies, deadline).await
    }

    fn start_sidecar(
        &mut self,
        p: &Starting<'_>,
        control: SocketAddr,
        bin: &Path,
    ) -> Result<(), UpError> {
        let w = p.workload;
        let id = weft_identity::SpiffeId::new(
            self.control.authority.ca.trust_domain(),
            &w.namespace,
            &w.service_account,
        )
        .map_err(|e| UpError::Start(format!("{}: {e}", w.origin.what)))?;
        let token = self
            .control
            .authority
            .tokens
            .issue(id, Duration::from_secs(600));
        let token_file = p.dir.join("token");
        std::fs::write(&token_file, token).map_err(|e| io_err(&token_file, e))?;
        let sidecar = Sidecar {
            pod: &p.name,
            workload: w,
            ip: p.ip,
            wiring: match &p.pod {
                Some(_) => Wiring::Transparent,
                None => Wiring::Explicit {
                    app_ports: p.ports.clone(),
                },
            },
            control,
            // The proxy user cannot open the CA's directory: a copy.
            ca_bundle: match &p.pod {
                Some(_) => p.dir.join("ca.pem"),
                None => self.control.trust_bundle.clone(),
            },
            token_file,
        };
        let config = p.dir.join("sidecar.yaml");
        let text = serde_json::to_string_pretty(&sidecar.config())
            .map_err(|e| UpError::Start(format!("sidecar config for {}: {e}", p.name)))?;
        std::fs::write(&config, text).map_err(|e| io_err(&config, e))?;
        let args = vec![
            "--config".to_string(),
            config.display().to_string(),
            "--bound-addresses-file".to_string(),
            p.bound.display().to_string(),
            "--log-level".to_string(),
            "info".to_string(),
        ];
        let cmd = match &p.pod {
            Some(pod) => {
                crate::proxy_user::share_pod_dir(&p.dir, &self.control.trust_bundle)
                    .map_err(|e| io_err(&p.dir, e))?;
                pod.command(bin, &args, Some((pod::PROXY_UID, pod::PROXY_UID)))
            }
            None => {
                let mut c = Command::new(bin);
                c.args(&args);
                c
            }
        };
        self.procs
            .spawn(
                &format!("{}/sidecar", p.name),
                cmd,
                &p.dir.join("sidecar.log"),
            )
            .map_err(|e| UpError::Start(e.to_string()))?;
        Ok(())
    }

    fn start_apps(&mut self, p: &Starting<'_>, proxy: Option<SocketAddr>) -> Result<(), UpError> {
        let w = p.workload;
        let bind = match p.pod {
            Some(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            None => IpAddr::V4(Ipv4Addr::LOCALHOST),
        };
        for c in &w.containers {
            let mut vars = Expand::default();
            for (k, v) in sidecar::pod_env(&p.name, w, p.ip, bind, &p.ports, proxy) {
                vars.set(&k, &v);
            }
            for (k, v) in &c.env {
                vars.set(k, v);
            }
            let args: Vec<String> = c.args.iter().map(|a| vars.expand(a)).collect();
            let mut cmd = match &p.pod {
                Some(pod) => pod.command(&c.program, &args, None),
                None => {
                    let mut cmd = Command::new(&c.program);
                    cmd.args(&args);
                    cmd
                }
            };
            // Like a container, an app sees only its own variables (and a
            // PATH to find programs by).
            cmd.env_clear();
            if let Some(path) = std::env::var_os("PATH") {
                cmd.env("PATH", path);
            }
            cmd.envs(vars.vars().iter().map(|(k, v)| (k, v)));
            if let Some(d) = &c.working_dir {
                cmd.current_dir(d);
            }
            let log = p.dir.join(format!("{}.log", c.name));
            self.procs
                .spawn(&format!("{}/{}", p.name, c.name), cmd, &log)
                .map_err(|e| {
                    UpError::Start(format!(
                        "{} ({}:{}): {e}",
                        w.origin.what, w.origin.file, w.origin.line
                    ))
                })?;
        }
        Ok(())
    }

    fn pod_state(&self, p: &Starting<'_>, bound: &serde_json::Value) -> PodState {
        let w = p.workload;
        let ports = p
            .ports
            .iter()
            .map(|(declared, _)| {
                let reach = match &p.pod {
                    Some(_) => Some(SocketAddr::new(p.ip, *declared)),
                    None => bound_addr(bound, &format!("/listeners/inbound-{declared}")),
                };
                (
                    *declared,
                    reach.unwrap_or_else(|| SocketAddr::new(p.ip, *declared)),
                )
            })
            .collect();
        PodState {
            name: p.name.clone(),
            workload: w.name.clone(),
            namespace: w.namespace.clone(),
            labels: w.labels.clone(),
            identity: format!(
                "spiffe://{}/ns/{}/sa/{}",
                self.control.authority.ca.trust_domain(),
                w.namespace,
                w.service_account
            ),
            ip: p.ip,
            netns: p.pod.as_ref().map(|pod| pod.netns().to_string()),
            outbound_proxy: bound_addr(bound, "/listeners/outbound").filter(|_| p.pod.is_none()),
            ports,
            admin: bound_addr(bound, "/admin").filter(|_| p.pod.is_none()),
            dir: p.dir.clone(),
            role: "sidecar".into(),
        }
    }

    /// The control plane, for in-process callers (tests, the demo).
    pub fn control(&self) -> &run::Running {
        &self.control
    }

    /// Stops apps, then sidecars (they drain), then the control plane,
    /// and removes the pods and the state directory.
    pub async fn stop(mut self) {
        if let Some(h) = self.hosts.take() {
            h.abort();
        }
        // Apps first, all at once, while their sidecars still carry their
        // last requests; then the sidecars, which drain.
        self.procs
            .stop_where(Duration::from_secs(5), |r| !r.name.ends_with("/sidecar"))
            .await;
        self.procs.stop(Duration::from_secs(5)).await;
        self.control.stop().await;
        if let Some(net) = self.network.take()
            && let Err(e) = net.destroy()
        {
            tracing::warn!("removing the pods' network: {e}");
        }
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), "removing the state directory: {e}");
        }
    }
}

fn bound_addr(bound: &serde_json::Value, pointer: &str) -> Option<SocketAddr> {
    bound.pointer(pointer)?.as_str()?.parse().ok()
}

fn own_record() -> Option<ProcRecord> {
    let pid = std::process::id();
    Some(ProcRecord {
        name: "weft up".into(),
        pid,
        start_time: crate::supervise::start_time(pid)?,
        log: PathBuf::new(),
    })
}

fn io_err(path: &Path, e: std::io::Error) -> UpError {
    UpError::Start(format!("{}: {e}", path.display()))
}

fn findings(set: &ResourceSet) -> String {
    set.errors()
        .map(|f| match (f.line, &f.resource) {
            (Some(l), Some(r)) => format!("{}:{l}: {r}: {}", f.file, f.message),
            (Some(l), None) => format!("{}:{l}: {}", f.file, f.message),
            _ => format!("{}: {}", f.file, f.message),
        })
        .collect::<Vec<_>>()
        .join("\n")
}
