//! `weft up -f <files>`: run every workload in the files as a local
//! process with its own sidecar, under an in-process control plane, until
//! Ctrl-C.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use weft_local::up::{self, Mode, Options, Up};

use crate::client::DEFAULT_CONTROL;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files or directories of resources: workloads (weft `Workload`, or
    /// Kubernetes Deployments with `LocalImage` mappings), services and
    /// mesh config.
    #[arg(short = 'f', long = "filename", value_name = "PATH", required = true)]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub mesh: MeshArgs,
}

/// How and where a local mesh runs (`weft up`, `weft demo`).
#[derive(clap::Args, Debug)]
pub struct MeshArgs {
    /// How pods are wired: `transparent` (network namespaces and iptables;
    /// needs root on Linux), `explicit` (loopback; apps call through
    /// their sidecar's HTTP proxy), or `auto` (transparent when possible).
    #[arg(long, value_enum, default_value_t = ModeArg::Auto)]
    pub mode: ModeArg,
    /// Names the mesh's state directory, network namespaces and bridge.
    #[arg(long, default_value = DEFAULT_MESH, value_parser = parse_mesh_name)]
    pub mesh: String,
    /// The control plane's HTTP API (`weft apply`, `weft get`).
    #[arg(long, default_value = DEFAULT_CONTROL)]
    pub http_address: SocketAddr,
    /// The config stream sidecars connect to (default: port 15012 on the
    /// pods' bridge, or on loopback in explicit mode).
    #[arg(long)]
    pub grpc_address: Option<SocketAddr>,
    /// Where ingress gateways listen, each on its Gateway's port numbers
    /// (ports under 1024 move up by 8000 without root: 80 → 8080).
    #[arg(long, default_value = "127.0.0.1")]
    pub ingress_address: IpAddr,
    /// How often the control plane scrapes the proxies' metrics for the
    /// golden metrics (`weft stat`, the dashboard).
    #[arg(long, default_value = "5s", env = "WEFT_SCRAPE_INTERVAL", value_parser = crate::control::parse_duration)]
    pub scrape_interval: std::time::Duration,
    #[command(flatten)]
    pub tracing: crate::tracing_args::TracingArgs,
}

/// The mesh `weft get` and `weft exec` look for by default.
pub const DEFAULT_MESH: &str = "weft";

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ModeArg {
    Auto,
    Transparent,
    Explicit,
}

/// A mesh name: short, as it prefixes interface and namespace names.
fn parse_mesh_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 10
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-');
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?}: use 1 to 10 lower-case letters, digits and '-' (it prefixes network namespace and interface names)"
        ))
    }
}

type Error = Box<dyn std::error::Error + Send + Sync>;

pub fn options(files: Vec<PathBuf>, args: &MeshArgs) -> Options {
    Options {
        files,
        mesh: args.mesh.clone(),
        mode: match args.mode {
            ModeArg::Auto => Mode::Auto,
            ModeArg::Transparent => Mode::Transparent,
            ModeArg::Explicit => Mode::Explicit,
        },
        grpc: args.grpc_address,
        http: args.http_address,
        bin_dir: bin_dir(),
        trust_domain: weft_identity::DEFAULT_TRUST_DOMAIN.to_string(),
        ingress: args.ingress_address,
        scrape_interval: args.scrape_interval,
        tracing: args.tracing.config(),
    }
}

pub async fn run(args: Args) -> Result<(), Error> {
    let opts = options(args.files, &args.mesh);
    let say = |s: &str| eprintln!("{s}");
    let mut mesh = up::up(&opts, &say).await?;
    print_summary(&mesh);
    eprintln!("\nCtrl-C stops everything.");
    let result = mesh.wait().await;
    eprintln!("\nstopping: apps, then sidecars (they drain), then the control plane");
    mesh.stop().await;
    Ok(result?)
}

/// The pods table and where to go next.
pub fn print_summary(mesh: &Up) {
    let s = &mesh.state;
    let gateways = s.pods.iter().filter(|p| p.role == "gateway").count();
    let and_gateways = match gateways {
        0 => String::new(),
        1 => " and 1 ingress gateway".to_string(),
        n => format!(" and {n} ingress gateways"),
    };
    println!(
        "\nweft up: {} pods{and_gateways} in {} mode; dashboard and API on http://{}/",
        s.pods.len() - gateways,
        s.mode,
        s.api.map(|a| a.to_string()).unwrap_or_default()
    );
    crate::get::print_pods(&s.pods);
    for g in s.pods.iter().filter(|p| p.role == "gateway") {
        for (port, addr) in &g.ports {
            println!("  ingress {} (gateway port {port}): http://{addr}/", g.name);
        }
    }
    println!(
        "\n  logs and sidecar configs: {}\n  weft get workloads | weft get services | weft exec <workload> -- <command> | weft apply -f <file>",
        mesh.dir.join("pods").display()
    );
}

/// Where weft's binaries are (`weft-proxy`, `weft-sample`):
/// `$WEFT_BIN_DIR`, else beside `weft`.
pub fn bin_dir() -> PathBuf {
    std::env::var_os("WEFT_BIN_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::current_exe()
                .ok()?
                .parent()
                .map(std::path::Path::to_path_buf)
        })
        .unwrap_or_default()
}
