//! `weft-proxy`: the data plane binary.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use tokio::signal::unix::{SignalKind, signal};
use weft_proto::config::ProxyConfig;
use weft_proxy::Proxy;
use weft_proxy::logging::LogHandle;

/// weft's sidecar and gateway proxy.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Static config file: listeners, services, routes, clusters, endpoints.
    #[arg(long, short)]
    config: PathBuf,

    /// Log filter (RUST_LOG syntax): info, debug, warn,weft_proxy=debug.
    #[arg(long, env = "WEFT_LOG", default_value = "info")]
    log_level: String,

    /// Worker threads. Istio sidecars default to 2.
    #[arg(long, default_value_t = 2)]
    concurrency: usize,

    /// Write the bound addresses (JSON) here once listening; useful when
    /// the config asks for port 0.
    #[arg(long)]
    bound_addresses_file: Option<PathBuf>,

    /// Validate the config and exit.
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    weft_identity::install_crypto_provider();
    let args = Args::parse();
    let config = match ProxyConfig::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if args.check {
        println!("{}: ok", args.config.display());
        return ExitCode::SUCCESS;
    }
    let log = match LogHandle::init(&args.log_level) {
        Ok(l) => Arc::new(l),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = if args.concurrency <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.concurrency)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run(config, log, args));
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    code
}

async fn run(config: ProxyConfig, log: Arc<LogHandle>, args: Args) -> ExitCode {
    let drain_timeout = config.drain_timeout;
    // Before anything says we are up (the bound-addresses file, the ready
    // log line): a SIGTERM that arrives once we are up must drain, not kill
    // the process with the default action or go unnoticed.
    let (mut term, mut int, mut hup) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) {
        (Ok(t), Ok(i), Ok(h)) => (t, i, h),
        _ => {
            tracing::error!("cannot install signal handlers");
            return ExitCode::FAILURE;
        }
    };
    let mut running = match Proxy::start(config, Some(log)).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = &args.bound_addresses_file
        && let Err(e) = write_atomically(path, running.addrs())
    {
        tracing::error!(path = %path.display(), "cannot write bound addresses: {e}");
        return ExitCode::FAILURE;
    }
    tracing::info!(admin = %running.addrs().admin, "weft-proxy ready");

    let why = loop {
        tokio::select! {
            _ = term.recv() => break "SIGTERM",
            _ = int.recv() => break "SIGINT",
            _ = running.drain_requested() => break "admin /drain",
            _ = hup.recv() => reload(&running, &args.config),
        }
    };
    tracing::info!(deadline = %weft_proto::duration::Display(drain_timeout), "{why}: draining; new connections are refused");
    let drained = tokio::select! {
        clean = running.drain(drain_timeout) => clean,
        _ = term.recv() => { tracing::warn!("second signal: exiting now"); false }
        _ = int.recv() => { tracing::warn!("second signal: exiting now"); false }
    };
    if drained {
        tracing::info!("drained; exiting");
    } else {
        tracing::warn!("drain deadline reached; closing remaining connections");
    }
    ExitCode::SUCCESS
}

/// SIGHUP: re-read the config file and apply it; a bad file is reported
/// and changes nothing.
fn reload(running: &weft_proxy::Running, path: &std::path::Path) {
    let config = match ProxyConfig::load(path) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("config reload rejected; the running config stays in force:\n{e}");
            return;
        }
    };
    match running.reload(config) {
        Ok(kept) if kept.is_empty() => tracing::info!(config = %path.display(), "config reloaded"),
        Ok(kept) => tracing::warn!(
            config = %path.display(),
            "config reloaded, except {}: sockets move only on restart",
            kept.join(", ")
        ),
        Err(e) => {
            tracing::error!("config reload rejected; the running config stays in force:\n{e}")
        }
    }
}

fn write_atomically(path: &std::path::Path, addrs: &weft_proxy::BoundAddrs) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(addrs).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, json)?;
    std::fs::rename(&tmp, path)
}
