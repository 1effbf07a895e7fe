//! `weft demo`: two services on this machine, each behind its own
//! weft-proxy sidecar, with a traffic generator in front.
//!
//! ```text
//! loadgen -> [frontend sidecar: inbound] -> frontend app
//!            frontend app -> [frontend sidecar: outbound] ==HTTP/2==> [backend sidecar: inbound] -> backend app
//! ```
//!
//! Apps reach each other by service name through their sidecar (explicit
//! mode: no root needed).

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::procs::{Procs, binary};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Requests per second from the traffic generator.
    #[arg(long, default_value_t = 10)]
    rate: u32,
    /// Run for this many seconds, print a summary and exit (non-zero if any
    /// request failed). Without it the demo runs until Ctrl-C.
    #[arg(long)]
    seconds: Option<u64>,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

pub async fn run(args: Args) -> Result<(), Error> {
    let proxy = binary("weft-proxy")?;
    let sample = binary("weft-sample")?;
    let dir = std::env::temp_dir().join(format!("weft-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut procs = Procs::default();
    let result = start_and_wait(&args, &proxy, &sample, &dir, &mut procs).await;
    procs.stop(Duration::from_secs(6)).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn start_and_wait(
    args: &Args,
    proxy: &Path,
    sample: &Path,
    dir: &Path,
    procs: &mut Procs,
) -> Result<(), Error> {
    let backend_port = free_port()?;
    let frontend_port = free_port()?;

    procs.spawn(
        "backend",
        sample,
        &strings(&[
            "echo",
            "--name",
            "backend-v1",
            "--http",
            &format!("127.0.0.1:{backend_port}"),
        ]),
        false,
    )?;
    let backend_sidecar = start_sidecar(
        procs,
        proxy,
        dir,
        "backend-sidecar",
        &backend_sidecar(backend_port),
    )
    .await?;
    let backend_inbound = addr(&backend_sidecar, "/listeners/inbound")?;

    let frontend_sidecar = start_sidecar(
        procs,
        proxy,
        dir,
        "frontend-sidecar",
        &frontend_sidecar(frontend_port, backend_inbound),
    )
    .await?;
    let outbound = addr(&frontend_sidecar, "/listeners/outbound")?;
    let inbound = addr(&frontend_sidecar, "/listeners/inbound")?;
    procs.spawn(
        "frontend",
        sample,
        &strings(&[
            "frontend",
            "--name",
            "frontend-v1",
            "--listen",
            &format!("127.0.0.1:{frontend_port}"),
            "--backend",
            "http://backend:9080/",
            "--proxy",
            &outbound.to_string(),
        ]),
        false,
    )?;
    wait_listening(format!("127.0.0.1:{frontend_port}").parse()?).await?;
    wait_listening(format!("127.0.0.1:{backend_port}").parse()?).await?;

    let mut loadgen = strings(&[
        "loadgen",
        "--target",
        &format!("http://{inbound}/"),
        "--rate",
        &args.rate.to_string(),
    ]);
    if let Some(s) = args.seconds {
        loadgen.extend(strings(&["--seconds", &s.to_string()]));
    }
    procs.spawn("loadgen", sample, &loadgen, true)?;

    let metrics = |v: &serde_json::Value| {
        v.pointer("/metrics")
            .and_then(|m| m.as_str())
            .unwrap_or("-")
            .to_string()
    };
    let admin = |v: &serde_json::Value| {
        v.pointer("/admin")
            .and_then(|m| m.as_str())
            .unwrap_or("-")
            .to_string()
    };
    println!(
        "\nweft demo: two services, each with a weft-proxy sidecar\n\n  \
         loadgen -> frontend sidecar {inbound} -> frontend app -> frontend sidecar {outbound} ==HTTP/2==> backend sidecar {backend_inbound} -> backend app\n\n  \
         try:\n    curl http://{inbound}/\n    curl http://{}/config_dump\n    curl -s http://{}/stats/prometheus | grep istio_requests_total\n    curl -s http://{}/stats/prometheus | grep istio_requests_total\n",
        admin(&frontend_sidecar),
        metrics(&frontend_sidecar),
        metrics(&backend_sidecar),
    );

    if args.seconds.is_some() {
        let status = procs.wait("loadgen").await;
        print_summary(&frontend_sidecar, "frontend sidecar").await;
        print_summary(&backend_sidecar, "backend sidecar").await;
        return match status {
            Some(s) if s.success() => Ok(()),
            other => Err(format!("traffic generator reported failures ({other:?})").into()),
        };
    }
    println!("  Ctrl-C stops everything.\n");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => { println!("\nstopping: sidecars drain, then exit"); Ok(()) }
        (name, status) = procs.any_exit() => Err(format!("{name} exited unexpectedly ({status})").into()),
    }
}

fn backend_sidecar(app_port: u16) -> String {
    format!(
        "node: {{ workload: backend-v1, namespace: demo, app: backend, version: v1, service_account: backend }}
admin_address: 127.0.0.1:0
metrics_address: 127.0.0.1:0
health_address: null
drain_timeout: 3s
listeners:
  - {{ name: inbound, address: 127.0.0.1:0, direction: inbound, target_port: {app_port} }}
inbound:
  - {{ port: {app_port}, protocol: http, service: backend.demo.svc.cluster.local }}
"
    )
}

fn frontend_sidecar(app_port: u16, backend: SocketAddr) -> String {
    format!(
        "node: {{ workload: frontend-v1, namespace: demo, app: frontend, version: v1, service_account: frontend }}
admin_address: 127.0.0.1:0
metrics_address: 127.0.0.1:0
health_address: null
drain_timeout: 3s
listeners:
  - {{ name: outbound, address: 127.0.0.1:0, direction: outbound }}
  - {{ name: inbound, address: 127.0.0.1:0, direction: inbound, target_port: {app_port} }}
services:
  - name: backend.demo.svc.cluster.local
    hosts: [backend, backend.demo]
    ports:
      - {{ port: 9080, protocol: http, cluster: backend }}
clusters:
  - name: backend
    protocol: http2
    endpoints:
      - address: \"{backend}\"
        workload: {{ workload: backend-v1, namespace: demo, app: backend, version: v1, service_account: backend }}
inbound:
  - {{ port: {app_port}, protocol: http, service: frontend.demo.svc.cluster.local }}
"
    )
}

/// Starts a sidecar and returns its bound addresses.
async fn start_sidecar(
    procs: &mut Procs,
    bin: &Path,
    dir: &Path,
    name: &str,
    config: &str,
) -> Result<serde_json::Value, Error> {
    let cfg = dir.join(format!("{name}.yaml"));
    let bound = dir.join(format!("{name}.bound.json"));
    std::fs::write(&cfg, config)?;
    let args = [
        "--config".to_string(),
        cfg.display().to_string(),
        "--bound-addresses-file".to_string(),
        bound.display().to_string(),
        "--log-level".to_string(),
        "warn".to_string(),
    ];
    procs.spawn(name, bin, &args, false)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(text) = std::fs::read_to_string(&bound) {
            return Ok(serde_json::from_str(&text)?);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{name} did not start within 10s (config: {})",
                cfg.display()
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn print_summary(bound: &serde_json::Value, who: &str) {
    let Ok(addr) = addr(bound, "/metrics") else {
        return;
    };
    let Ok(text) = fetch_metrics(addr).await else {
        return;
    };
    let (mut ok, mut total) = (0.0, 0.0);
    for line in text
        .lines()
        .filter(|l| l.starts_with("istio_requests_total{"))
    {
        let value: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        total += value;
        if line.contains("response_code=\"200\"") {
            ok += value;
        }
    }
    println!("{who}: istio_requests_total {total} ({ok} with response_code 200)");
}

async fn fetch_metrics(addr: SocketAddr) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(b"GET /stats/prometheus HTTP/1.1\r\nHost: metrics\r\nConnection: close\r\n\r\n")
        .await?;
    let mut out = String::new();
    s.read_to_string(&mut out).await?;
    Ok(out)
}

fn addr(bound: &serde_json::Value, pointer: &str) -> Result<SocketAddr, Error> {
    let s = bound
        .pointer(pointer)
        .and_then(|v| v.as_str())
        .ok_or_else(|| format!("sidecar did not report {pointer}"))?;
    Ok(s.parse()?)
}

async fn wait_listening(addr: SocketAddr) -> Result<(), Error> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        if Instant::now() > deadline {
            return Err(format!("nothing listening on {addr} after 10s").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// A free loopback port for an app (apps take a fixed address).
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn strings(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| s.to_string()).collect()
}
