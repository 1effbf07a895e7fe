//! `weft-alloc-per-request`: heap allocations per proxied HTTP request.
//!
//! Everything runs in this one process: a client, an upstream server and
//! weft-proxy (each proxy on a thread of its own with a current-thread
//! runtime, as `weft-proxy --concurrency 1`). A counting global allocator
//! ([`counting`]) attributes every allocation to the role of the thread
//! that made it, so the proxy's share is read directly. As a cross-check,
//! each scenario is also run with the client calling the upstream
//! directly, and the whole process's count of that run is subtracted from
//! the whole process's count through the proxy.
//!
//! Each scenario starts a fresh proxy, warms it up (connections, pools
//! and caches exist), then counts `--requests` sequential requests on one
//! keep-alive HTTP/1.1 connection. Prints a markdown table.

mod client;
mod counting;
mod proxies;
mod scenarios;
mod upstream;

use std::process::ExitCode;

use clap::Parser;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[global_allocator]
static ALLOC: counting::Counting = counting::Counting;

#[derive(Debug, Parser)]
#[command(about = "Heap allocations per HTTP request proxied by weft-proxy")]
pub struct Args {
    /// Requests counted per scenario.
    #[arg(long, default_value_t = 10_000)]
    requests: u64,
    /// Requests sent first and not counted.
    #[arg(long, default_value_t = 1_000)]
    warmup: u64,
    /// Run only scenarios whose name contains this.
    #[arg(long)]
    only: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    weft_identity::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let result = match runtime {
        Ok(rt) => rt.block_on(scenarios::run(&args)),
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
