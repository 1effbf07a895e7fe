//! `run`: connect the simulated proxies, wait for every full state, make
//! the two changes by editing watched files, and measure each stream's
//! time to receive it, the bytes, and the control plane's RSS and CPU.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{Semaphore, mpsc, watch};

use crate::change::{ChangeReport, Patience, change, refused};
use crate::collect::{Collector, Waited};
use crate::mesh::{self, Layout, Moved, Route};
use crate::procstat::{self, PhaseUse};
use crate::stats::{self, Latency, Spread};
use crate::{api, stream};

/// How often connecting reports progress on stderr.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The config stream.
    #[arg(long, default_value = "127.0.0.1:15012")]
    grpc: String,
    /// The HTTP API: refusals are read from it, and proxy status at the end.
    #[arg(long, default_value = "127.0.0.1:15014")]
    http: String,
    /// Simulated proxy streams.
    #[arg(long, default_value_t = 1000)]
    proxies: usize,
    /// The directory the control plane watches, as `gen` wrote it (with
    /// the same layout flags).
    #[arg(long)]
    dir: PathBuf,
    #[command(flatten)]
    layout: Layout,
    /// The control plane's process id, for RSS and CPU.
    #[arg(long)]
    pid: Option<u32>,
    /// Streams waiting for their first full state at once: a rolling start
    /// rather than every proxy at the same instant.
    #[arg(long, default_value_t = 100)]
    connect_parallel: usize,
    /// Seconds with no response that count as settled.
    #[arg(long, default_value_t = 2.0)]
    settle_secs: f64,
    /// How long to wait for every stream, after connecting or a change.
    #[arg(long, default_value_t = 600.0)]
    timeout_secs: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    proxies: usize,
    services: u32,
    endpoints: u32,
    files: u32,
    connect_parallel: usize,
    resources_in_force: serde_json::Value,
    connect: Connect,
    changes: Vec<ChangeReport>,
    control_plane: Vec<PhaseUse>,
    tool: Vec<PhaseUse>,
    proxy_status: serde_json::Value,
}

#[derive(Debug, Serialize)]
struct Connect {
    /// From the first stream's start to the last full state.
    seconds: f64,
    /// Each stream's time from its start to its full state.
    latency: Option<Latency>,
    bytes: Option<Spread>,
    resources: Option<Spread>,
    /// Responses beyond the full state before the first change.
    later_responses: usize,
}

pub async fn run(args: Args) -> Result<(), String> {
    args.layout.check()?;
    let moved = Moved {
        service: args.layout.services / 2,
        endpoint: 0,
        address: args.layout.spare_address(0),
    };
    let services_file = args.layout.file_of(&args.dir, moved.service);
    let on_disk = std::fs::read_to_string(&services_file)
        .map_err(|e| format!("cannot read {}: {e}", services_file.display()))?;
    if on_disk != args.layout.services_file(moved.service, None) {
        return Err(format!(
            "{} is not what `gen` writes with these layout flags: pass the same --services, --endpoints-per-service and --files",
            services_file.display()
        ));
    }
    let config = api::get(&args.http, "/api/v1/config").await?;
    refused(&config)?;
    let resources_in_force = config["resources"].clone();

    let (stop, stopped) = watch::channel(false);
    let cp = args
        .pid
        .map(|p| tokio::spawn(procstat::sample_until(p.to_string(), stopped.clone())));
    let me = tokio::spawn(procstat::sample_until("self".into(), stopped));
    let timeout = Duration::from_secs_f64(args.timeout_secs);
    let quiet = Duration::from_secs_f64(args.settle_secs);
    let mut marks = Vec::new();

    // Connect, a bounded number of full states in flight at a time.
    let start = Instant::now();
    let (tx, rx) = mpsc::unbounded_channel();
    let mut c = Collector::new(rx, args.proxies);
    let permits = Arc::new(Semaphore::new(args.connect_parallel.max(1)));
    let (grpc, proxies) = (args.grpc.clone(), args.proxies);
    tokio::spawn(async move {
        for i in 0..proxies {
            // The semaphore is never closed.
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            tokio::spawn(stream::run(i, grpc.clone(), tx.clone(), permit));
        }
    });
    eprintln!("connecting {} streams to {}", args.proxies, args.grpc);
    let full = |s: &crate::collect::StreamLog| s.responses.iter().any(|r| r.full_state);
    let deadline = start + timeout;
    let waited = loop {
        let tick = (Instant::now() + PROGRESS_EVERY).min(deadline);
        let waited = c
            .wait_until(tick, |streams| {
                streams.iter().all(|s| s.ended.is_some() || full(s))
            })
            .await;
        if waited == Waited::Done || Instant::now() >= deadline {
            break waited;
        }
        // Progress, so that a run stopped for memory says how far it got.
        let rss = args
            .pid
            .and_then(|p| procstat::sample(&p.to_string()).ok())
            .map_or(0, |s| s.rss_kb / 1024);
        eprintln!(
            "connect: {} of {} streams hold their full state after {:.0} s; control plane RSS {rss} MB",
            c.streams.iter().filter(|s| full(s)).count(),
            args.proxies,
            start.elapsed().as_secs_f64()
        );
    };
    let connected = Instant::now();
    let acked = c.streams.iter().filter(|s| full(s)).count();
    if waited == Waited::TimedOut || acked < args.proxies {
        return Err(format!(
            "only {acked} of {} streams received their full state within {timeout:?}",
            args.proxies
        ));
    }
    eprintln!(
        "all {acked} streams hold their full state after {:.1} s",
        connected.duration_since(start).as_secs_f64()
    );
    marks.push(("connect".to_string(), start, connected));
    // Settled: no response for `quiet`, then `quiet` more to see the
    // control plane at rest.
    c.settle(quiet, connected + timeout).await;
    tokio::time::sleep(quiet).await;
    marks.push(("idle".to_string(), connected, Instant::now()));
    let connect = Connect {
        seconds: connected.duration_since(start).as_secs_f64(),
        latency: stats::latency(
            c.streams
                .iter()
                .filter_map(|s| {
                    let first = s.responses.iter().find(|r| r.full_state)?;
                    Some(first.at.duration_since(s.started?))
                })
                .collect(),
        ),
        bytes: first_states(&c, |r| r.bytes as u64),
        resources: first_states(&c, |r| r.resources as u64),
        later_responses: c
            .streams
            .iter()
            .map(|s| s.responses.len().saturating_sub(1))
            .sum(),
    };
    let patience = Patience {
        http: args.http.clone(),
        timeout,
        quiet,
    };
    let mut changes = Vec::new();
    let what = format!(
        "WorkloadEntry {}/{}-{} moves to {}",
        mesh::NAMESPACE,
        mesh::service_name(moved.service),
        moved.endpoint,
        moved.address
    );
    let text = args.layout.services_file(moved.service, Some(moved));
    let report = change(&mut c, &patience, "endpoint", what, &services_file, &text).await?;
    changes.push(report);
    let route_file = args.dir.join(mesh::ROUTE_FILE);
    let what = format!(
        "VirtualService {}/{} gains a header-matched rule to {}",
        mesh::NAMESPACE,
        mesh::service_name(0),
        mesh::service_name(1)
    );
    let report = change(
        &mut c,
        &patience,
        "route",
        what,
        &route_file,
        &mesh::route(Route::Changed),
    )
    .await?;
    changes.push(report);
    for r in &changes {
        marks.push((format!("change-{}", r.name), r.window.0, r.window.1));
    }
    marks.push(("whole run".to_string(), start, Instant::now()));

    let proxy_status = match api::get(&args.http, "/api/v1/proxies").await {
        Ok(serde_json::Value::Array(list)) => {
            let count = |state: &str| list.iter().filter(|p| p["state"] == state).count();
            serde_json::json!({
                "proxies": list.len(),
                "synced": count("synced"),
                "stale": count("stale"),
                "nacked": count("nacked"),
            })
        }
        Ok(other) => serde_json::json!({ "unexpected": other }),
        Err(e) => serde_json::json!({ "error": e }),
    };
    stop.send_replace(true);
    let cp_samples = match cp {
        Some(h) => h.await.unwrap_or_default(),
        None => Vec::new(),
    };
    let my_samples = me.await.unwrap_or_default();
    let report = Report {
        proxies: args.proxies,
        services: args.layout.services,
        endpoints: args.layout.endpoints(),
        files: args.layout.files,
        connect_parallel: args.connect_parallel,
        resources_in_force,
        connect,
        changes,
        control_plane: procstat::phases(&cp_samples, &marks),
        tool: procstat::phases(&my_samples, &marks),
        proxy_status,
    };
    let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    println!("{json}");
    Ok(())
}

fn first_states(c: &Collector, f: impl Fn(&stream::Received) -> u64) -> Option<Spread> {
    stats::spread(
        c.streams
            .iter()
            .filter_map(|s| s.responses.iter().find(|r| r.full_state).map(&f))
            .collect(),
    )
}
