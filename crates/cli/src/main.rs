//! `weft`: the command-line entry point.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod analyze;
mod apply;
mod check;
mod client;
mod control;
mod demo;
mod exec;
mod get;
mod proxies;
mod stat;
mod table;
mod tap;
mod token;
mod top;
mod tracing_args;
mod up;

/// weft: a service mesh you can run on one machine.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run bookinfo on this machine: six pods with their sidecars, an
    /// ingress gateway and a traffic generator, until Ctrl-C.
    Demo(demo::Args),
    /// Run every workload in the files as local processes, each with its
    /// own sidecar and identity, under an in-process control plane.
    Up(up::Args),
    /// What a running `weft up` runs: workloads or services.
    Get(get::Args),
    /// Run a command inside a workload's pod, as `kubectl exec` does.
    Exec(exec::Args),
    /// Check mesh config (Istio, Gateway API, SMI, Linkerd, Kubernetes and
    /// weft resources) for errors before applying it.
    Analyze(analyze::Args),
    /// Run the control plane: load and watch config, compile each proxy's
    /// view, and push it over the config stream.
    Control(control::Args),
    /// Send resources to a running control plane (checked with everything
    /// in force; an invalid set is refused whole).
    Apply(apply::Args),
    /// Remove resources sent with `weft apply`.
    Delete(apply::Args),
    /// Connected proxies and whether each holds its current config.
    ProxyStatus(proxies::StatusArgs),
    /// What one proxy holds: listeners, routes, clusters or endpoints.
    ProxyConfig(proxies::ConfigArgs),
    /// Issue a single-use bootstrap token that lets a proxy get the
    /// certificate of one workload identity.
    Token(token::Args),
    /// Golden metrics of workloads or services: meshed proxies, success
    /// rate, requests per second and latency percentiles.
    Stat(stat::StatArgs),
    /// Per-route golden metrics of a service (ServiceProfile routes).
    Routes(stat::RoutesArgs),
    /// Who calls whom: source → destination workloads, their identities,
    /// and whether the traffic is mTLS.
    Edges(stat::EdgesArgs),
    /// Print a Prometheus config that scrapes every proxy of the mesh
    /// (the control plane lists them as Prometheus HTTP SD targets).
    PrometheusConfig(stat::PrometheusArgs),
    /// Health checks of a running mesh: control plane, CA, config in
    /// force, proxy sync and workload certificates.
    Check(check::Args),
    /// A live stream of one workload's requests: direction, source and
    /// destination, method, path, status, latency and mTLS (needs the
    /// control plane's tap token).
    Tap(tap::Args),
    /// The paths a workload serves or calls right now, by count, with
    /// best, worst and last latency and success rate (from a tap).
    Top(top::Args),
}

fn main() -> ExitCode {
    weft_identity::install_crypto_provider();
    match Cli::parse().command {
        Command::Analyze(args) => analyze::run(args),
        Command::Demo(args) => block_on(demo::run(args)),
        Command::Up(args) => {
            init_logging_quiet();
            block_on(up::run(args))
        }
        Command::Get(args) => block_on(get::run(args)),
        Command::Exec(args) => match exec::run(args) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Control(args) => {
            init_logging();
            block_on(control::run(args))
        }
        Command::Apply(args) => block_on(apply::run(args, false)),
        Command::Delete(args) => block_on(apply::run(args, true)),
        Command::ProxyStatus(args) => block_on(proxies::status(args)),
        Command::ProxyConfig(args) => block_on(proxies::config(args)),
        Command::Token(args) => block_on(token::run(args)),
        Command::Stat(args) => block_on(stat::stat(args)),
        Command::Routes(args) => block_on(stat::routes(args)),
        Command::Edges(args) => block_on(stat::edges(args)),
        Command::Tap(args) => block_on(tap::run(args)),
        Command::Top(args) => block_on(top::run(args)),
        Command::Check(args) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match rt {
                Ok(rt) => rt.block_on(check::run(args)),
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::PrometheusConfig(args) => match stat::prometheus_config(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Logs to stderr; `WEFT_LOG` or `RUST_LOG` set the filter (`info` by default).
fn init_logging() {
    let filter = std::env::var("WEFT_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .try_init();
}

/// Logs warnings and errors only, unless `WEFT_LOG` or `RUST_LOG` says
/// otherwise: `weft up` prints its own progress.
fn init_logging_quiet() {
    if std::env::var_os("WEFT_LOG").is_none() && std::env::var_os("RUST_LOG").is_none() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
            .with_writer(std::io::stderr)
            .try_init();
    } else {
        init_logging();
    }
}

/// Runs an async command on a two-thread runtime and turns its error into
/// a message and an exit code.
fn block_on<E: std::fmt::Display>(
    command: impl std::future::Future<Output = Result<(), E>>,
) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
