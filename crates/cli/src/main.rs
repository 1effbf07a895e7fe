//! `weft`: the command-line entry point.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod analyze;
mod demo;
mod procs;

/// weft: a service mesh you can run on one machine.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a small mesh on this machine: two services, each with its own
    /// weft-proxy sidecar, and a traffic generator.
    Demo(demo::Args),
    /// Check mesh config (Istio, Gateway API, SMI, Linkerd, Kubernetes and
    /// weft resources) for errors before applying it.
    Analyze(analyze::Args),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Analyze(args) => analyze::run(args),
        Command::Demo(args) => block_on(demo::run(args)),
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
