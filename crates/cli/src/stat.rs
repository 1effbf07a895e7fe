//! `weft stat`, `weft routes` and `weft edges`: the control plane's
//! rolling golden metrics (success rate, requests per second, latency
//! percentiles) as Linkerd viz shows them.

use clap::ValueEnum;
use weft_control::telemetry::{StatKind, StatRow};

use crate::client::{self, DEFAULT_CONTROL, encode};
use crate::table::{self, Format, dash};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// What every command shares.
#[derive(clap::Args, Debug)]
pub struct Common {
    /// Only this namespace (all namespaces when unset).
    #[arg(short, long)]
    namespace: Option<String>,
    /// Output: a table, a wider table, or JSON.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    output: Format,
    /// The time window: 10s, 1m or 10m (or any up to 10m).
    #[arg(short = 't', long, default_value = "1m")]
    window: String,
    /// The control plane's HTTP API.
    #[arg(long, env = "WEFT_CONTROL", default_value = DEFAULT_CONTROL)]
    control: String,
}

#[derive(clap::Args, Debug)]
pub struct StatArgs {
    /// What to show: workloads (`deploy`, `workload`) or services (`svc`).
    #[arg(value_enum)]
    resource: Resource,
    /// Only this one.
    name: Option<String>,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args, Debug)]
pub struct RoutesArgs {
    /// The service whose routes to show (`reviews` or its FQDN).
    service: String,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args, Debug)]
pub struct EdgesArgs {
    /// Only edges to or from this workload.
    workload: Option<String>,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args, Debug)]
pub struct PrometheusArgs {
    /// How often Prometheus scrapes the proxies (and asks the control
    /// plane which there are).
    #[arg(long, default_value = "15s")]
    interval: String,
    /// The control plane's HTTP API, which lists the proxies.
    #[arg(long, env = "WEFT_CONTROL", default_value = DEFAULT_CONTROL)]
    control: String,
}

/// Prints a Prometheus config that scrapes every proxy of the mesh.
pub fn prometheus_config(args: PrometheusArgs) -> Result<(), Error> {
    weft_control::telemetry::Window::parse(&args.interval).map_err(|_| {
        format!(
            "--interval {:?}: write a duration such as 15s or 1m",
            args.interval
        )
    })?;
    print!(
        "{}",
        weft_control::api::prometheus::config(&args.control, &args.interval)
    );
    Ok(())
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Resource {
    #[value(
        alias = "deploy",
        alias = "deployment",
        alias = "workloads",
        alias = "deployments"
    )]
    Workload,
    #[value(alias = "svc", alias = "services")]
    Service,
}

pub async fn stat(args: StatArgs) -> Result<(), Error> {
    let kind = match args.resource {
        Resource::Workload => StatKind::Workload,
        Resource::Service => StatKind::Service,
    };
    let rows = fetch(&args.common, kind, args.name.as_deref()).await?;
    let c = &args.common;
    if c.output == Format::Json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    let wide = c.output == Format::Wide;
    let mut headers = vec!["NAMESPACE", "NAME"];
    if kind == StatKind::Workload {
        headers.push("MESHED");
    }
    headers.extend([
        "SUCCESS",
        "RPS",
        "LATENCY_P50",
        "LATENCY_P95",
        "LATENCY_P99",
    ]);
    if kind == StatKind::Workload {
        headers.push("TCP_CONN");
    }
    if wide {
        headers.extend(["REQUESTS", "READ_BYTES/SEC", "WRITE_BYTES/SEC"]);
    }
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut row = vec![r.namespace_or_dash(), r.name.clone()];
            if kind == StatKind::Workload {
                let n = r.meshed.unwrap_or(0);
                row.push(format!("{n}/{n}"));
            }
            row.extend(figures(r));
            if kind == StatKind::Workload {
                row.push(r.tcp_open.unwrap_or(0).to_string());
            }
            if wide {
                let bytes = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}B/s"));
                row.push(r.requests.to_string());
                row.push(bytes(r.read_bytes_per_sec));
                row.push(bytes(r.write_bytes_per_sec));
            }
            row
        })
        .collect();
    print!("{}", table::render(&headers, &body));
    if rows.is_empty() {
        eprintln!("no traffic seen in the last {}", c.window);
    }
    Ok(())
}

pub async fn routes(args: RoutesArgs) -> Result<(), Error> {
    let rows = fetch(&args.common, StatKind::Route, Some(&args.service)).await?;
    if args.common.output == Format::Json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    let wide = args.common.output == Format::Wide;
    let mut headers = vec![
        "ROUTE",
        "SERVICE",
        "SUCCESS",
        "RPS",
        "LATENCY_P50",
        "LATENCY_P95",
        "LATENCY_P99",
    ];
    if wide {
        headers.push("REQUESTS");
    }
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut row = vec![r.name.clone(), r.service.clone().unwrap_or_default()];
            row.extend(figures(r));
            if wide {
                row.push(r.requests.to_string());
            }
            row
        })
        .collect();
    print!("{}", table::render(&headers, &body));
    if rows.is_empty() {
        eprintln!(
            "no route traffic for {} in the last {} (routes are counted for ServiceProfile routes and HTTPRoute and GRPCRoute rules attached to the service)",
            args.service, args.common.window
        );
    }
    Ok(())
}

pub async fn edges(args: EdgesArgs) -> Result<(), Error> {
    let rows = fetch(&args.common, StatKind::Edge, args.workload.as_deref()).await?;
    if args.common.output == Format::Json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    let wide = args.common.output == Format::Wide;
    let mut headers = vec!["SRC", "DST", "SRC_NS", "DST_NS", "SECURED"];
    if wide {
        headers.extend(["CLIENT_ID", "SUCCESS", "RPS"]);
    }
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let (src_ns, src) = r
                .source
                .as_deref()
                .and_then(|s| s.split_once('/'))
                .unwrap_or(("", ""));
            let mut row = vec![
                dash(src),
                r.name.clone(),
                dash(src_ns),
                r.namespace_or_dash(),
                if r.secured == Some(true) { "√" } else { "×" }.to_string(),
            ];
            if wide {
                row.push(r.source_identity.clone().unwrap_or_else(|| "-".into()));
                row.push(percent(r.success_rate));
                row.push(format!("{:.1}", r.rps));
            }
            row
        })
        .collect();
    print!("{}", table::render(&headers, &body));
    Ok(())
}

async fn fetch(c: &Common, kind: StatKind, name: Option<&str>) -> Result<Vec<StatRow>, Error> {
    let kind = match kind {
        StatKind::Workload => "workload",
        StatKind::Service => "service",
        StatKind::Route => "route",
        StatKind::Edge => "edge",
    };
    let mut path = format!("/api/v1/stat?kind={kind}&window={}", encode(&c.window));
    if let Some(ns) = &c.namespace {
        path += &format!("&namespace={}", encode(ns));
    }
    if let Some(n) = name {
        path += &format!("&name={}", encode(n));
    }
    Ok(client::get_json(&c.control, &path).await?)
}

/// SUCCESS, RPS and the three latencies, as Linkerd prints them.
fn figures(r: &StatRow) -> [String; 5] {
    let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{}ms", v.round() as u64));
    [
        percent(r.success_rate),
        if r.requests == 0 {
            "-".to_string()
        } else {
            format!("{:.1}rps", r.rps)
        },
        ms(r.p50_ms),
        ms(r.p95_ms),
        ms(r.p99_ms),
    ]
}

fn percent(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{:.2}%", v * 100.0))
}

trait NamespaceOrDash {
    fn namespace_or_dash(&self) -> String;
}

impl NamespaceOrDash for StatRow {
    fn namespace_or_dash(&self) -> String {
        dash(&self.namespace)
    }
}
