//! `weft-control-load`: the control-plane benchmark's load tool.
//!
//! `gen` writes a mesh of Services and WorkloadEntries for `weft control
//! -f`; `run` connects simulated proxies to that control plane, changes one
//! endpoint and then one route by editing the watched files, and prints
//! what it measured as JSON. `bench/control_bench.py` drives both.

mod api;
mod change;
mod collect;
mod mesh;
mod procstat;
mod run;
mod stats;
mod stream;
mod wire;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(about = "Load tool for weft's control-plane benchmark")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Write the mesh's YAML files into a directory.
    Gen {
        /// Where to write (created if missing).
        #[arg(long)]
        dir: PathBuf,
        #[command(flatten)]
        layout: mesh::Layout,
    },
    /// Drive simulated proxies against a running `weft control` that
    /// watches a directory `gen` wrote; prints JSON.
    Run(run::Args),
}

#[tokio::main]
async fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Gen { dir, layout } => layout.write_all(&dir).map(|()| {
            eprintln!(
                "wrote {} services and {} endpoints into {}",
                layout.services,
                layout.endpoints(),
                dir.display()
            );
        }),
        Command::Run(args) => run::run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("weft-control-load: {e}");
            ExitCode::FAILURE
        }
    }
}
