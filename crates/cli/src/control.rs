//! `weft control`: run the control plane in the foreground.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use weft_control::run::{self, Settings};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files or directories of resources to load and watch.
    #[arg(short = 'f', long = "filename", value_name = "PATH")]
    files: Vec<PathBuf>,
    /// Where resources sent with `weft apply` are kept across restarts.
    #[arg(long, env = "WEFT_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// Do not keep applied resources on disk.
    #[arg(long, conflicts_with = "state_dir")]
    ephemeral: bool,
    /// The config stream proxies connect to.
    #[arg(long, default_value = "127.0.0.1:15012")]
    grpc_address: SocketAddr,
    /// The HTTP API (`weft apply`, `weft proxy-status`).
    #[arg(long, default_value = "127.0.0.1:15014")]
    http_address: SocketAddr,
    /// Write the addresses actually bound (for port 0) to this file as JSON.
    #[arg(long)]
    bound_addresses_file: Option<PathBuf>,
    /// The SPIFFE trust domain of every identity the CA issues.
    #[arg(long, default_value = weft_identity::DEFAULT_TRUST_DOMAIN)]
    trust_domain: String,
    /// A plug-in root CA laid out as Istio's `cacerts` (ca-cert.pem,
    /// ca-key.pem, root-cert.pem, cert-chain.pem). Without it a self-signed
    /// root is created under the state directory and kept.
    #[arg(long, env = "WEFT_CACERTS", value_name = "DIR")]
    cacerts: Option<PathBuf>,
    /// The longest workload certificate the CA signs.
    #[arg(long, default_value = "24h", value_parser = parse_duration)]
    workload_cert_ttl: Duration,
    /// How often every connected proxy's metrics are scraped for the
    /// golden metrics (`weft stat`, the dashboard).
    #[arg(long, default_value = "5s", env = "WEFT_SCRAPE_INTERVAL", value_parser = parse_duration)]
    scrape_interval: Duration,
    #[command(flatten)]
    tracing: crate::tracing_args::TracingArgs,
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    weft_proto::duration::parse(s).map_err(|e| e.to_string())
}

type Error = Box<dyn std::error::Error + Send + Sync>;

pub async fn run(args: Args) -> Result<(), Error> {
    let state_dir = if args.ephemeral {
        None
    } else {
        Some(args.state_dir.unwrap_or_else(default_state_dir))
    };
    // An ephemeral control plane's self-signed root lives as long as it
    // does; proxies still need its file to trust it.
    let (ca_dir, _ephemeral_ca) = match &state_dir {
        Some(dir) => (dir.join("ca"), None),
        None => {
            let tmp = tempfile::Builder::new().prefix("weft-ca-").tempdir()?;
            (tmp.path().join("ca"), Some(tmp))
        }
    };
    let running = run::start(Settings {
        files: args.files,
        state_dir,
        grpc: args.grpc_address,
        http: args.http_address,
        trust_domain: args.trust_domain,
        cacerts: args.cacerts,
        ca_dir,
        workload_cert_ttl: args.workload_cert_ttl,
        scrape_interval: args.scrape_interval,
        tracing: args.tracing.config(),
    })
    .await?;
    if let Some(path) = &args.bound_addresses_file {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&running.bound)?)?;
        std::fs::rename(&tmp, path)?;
    }
    eprintln!(
        "weft control: config stream and CA on {} (TLS), API and dashboard on http://{}\ntrust bundle for proxies (control_plane.ca_bundle): {}\ntap token (weft tap --token-file): {}",
        running.bound.grpc,
        running.bound.http,
        running.trust_bundle.display(),
        running.tap_token_file.display()
    );
    let status = running.store.status();
    if let Some(r) = &status.rejected {
        eprintln!(
            "the files were refused ({} errors); `weft analyze` them; serving nothing until they are fixed",
            r.findings.iter().filter(|f| f.is_error()).count()
        );
    }
    wait_for_signal().await;
    eprintln!("stopping: proxies keep their last config");
    running.stop().await;
    Ok(())
}

/// `$XDG_STATE_HOME/weft/control`, else `~/.local/state/weft/control`.
fn default_state_dir() -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from(".weft"));
    base.join("weft/control")
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
