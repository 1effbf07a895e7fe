//! `weft proxy-status` and `weft proxy-config`: what the control plane
//! knows about connected proxies, and what one of them holds.

use clap::ValueEnum;
use weft_control::api::ProxyConfigDump;
use weft_control::server::ProxyStatus;
use weft_proto::config::{PathMatch, RouteMatch, StringMatch};

use crate::client::{self, DEFAULT_CONTROL};
use crate::table;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    output: Format,
    /// The control plane's HTTP API.
    #[arg(long, env = "WEFT_CONTROL", default_value = DEFAULT_CONTROL)]
    control: String,
}

#[derive(clap::Args, Debug)]
pub struct ConfigArgs {
    /// The proxy: its node id, or its workload name (`reviews-v1`).
    proxy: String,
    /// What to show.
    #[arg(value_enum)]
    what: What,
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    output: Format,
    #[arg(long, env = "WEFT_CONTROL", default_value = DEFAULT_CONTROL)]
    control: String,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Table,
    Json,
    Yaml,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum What {
    Listeners,
    Routes,
    Clusters,
    Endpoints,
    /// Authorization policies enforced on its inbound traffic.
    Policies,
    /// Everything, as the proxy holds it.
    All,
}

pub async fn status(args: StatusArgs) -> Result<(), Error> {
    let proxies: Vec<ProxyStatus> = client::get_json(&args.control, "/api/v1/proxies").await?;
    let rows: Vec<Vec<String>> = proxies
        .iter()
        .map(|p| {
            vec![
                p.id.clone(),
                p.workload.clone(),
                p.namespace.clone(),
                format!("{:?}", p.state).to_uppercase(),
                p.acked_version.clone().unwrap_or_else(|| "-".into()),
                p.resources.to_string(),
                p.nack.clone().unwrap_or_default(),
            ]
        })
        .collect();
    match args.output {
        Format::Table => print!(
            "{}",
            table::render(
                &[
                    "PROXY",
                    "WORKLOAD",
                    "NAMESPACE",
                    "STATUS",
                    "VERSION",
                    "RESOURCES",
                    "NACK"
                ],
                &rows
            )
        ),
        Format::Json => println!("{}", serde_json::to_string_pretty(&proxies)?),
        Format::Yaml => print!("{}", serde_saphyr::to_string(&proxies)?),
    }
    Ok(())
}

pub async fn config(args: ConfigArgs) -> Result<(), Error> {
    let dump: ProxyConfigDump = client::get_json(
        &args.control,
        &format!("/api/v1/proxies/{}/config", args.proxy),
    )
    .await?;
    let value = match args.what {
        What::Listeners => serde_json::to_value(&dump.listeners)?,
        What::Routes => serde_json::to_value(&dump.services)?,
        What::Clusters | What::Endpoints => serde_json::to_value(&dump.clusters)?,
        What::Policies => serde_json::json!({
            "peer_authentication": dump.peer_authentication,
            "authorization": dump.policies,
        }),
        What::All => serde_json::to_value(&dump)?,
    };
    match args.output {
        Format::Json => println!("{}", serde_json::to_string_pretty(&value)?),
        Format::Yaml => print!("{}", serde_saphyr::to_string(&value)?),
        Format::Table => print!("{}", render(&dump, args.what)),
    }
    Ok(())
}

fn render(dump: &ProxyConfigDump, what: What) -> String {
    match what {
        What::Listeners => table::render(
            &["NAME", "ADDRESS", "DIRECTION", "INTERCEPTION", "PROTOCOL"],
            &dump
                .listeners
                .iter()
                .map(|l| {
                    vec![
                        l.name.clone(),
                        l.address.clone(),
                        l.direction.clone(),
                        l.interception.clone(),
                        l.protocol.clone(),
                    ]
                })
                .chain(dump.inbound.iter().map(|p| {
                    vec![
                        format!("inbound|{}", p.port),
                        p.target_addr().to_string(),
                        "inbound".into(),
                        "-".into(),
                        format!("{:?}", p.protocol).to_lowercase(),
                    ]
                }))
                .collect::<Vec<_>>(),
        ),
        What::Routes => {
            let mut rows = Vec::new();
            for s in &dump.services {
                for p in &s.ports {
                    if p.routes.is_empty() {
                        let to = p
                            .cluster
                            .clone()
                            .unwrap_or_else(|| "(no route: 404)".into());
                        rows.push(vec![
                            format!("{}:{}", s.name, p.port),
                            "*".into(),
                            to,
                            "-".into(),
                        ]);
                    }
                    for r in &p.routes {
                        let backends: Vec<String> = r
                            .backends
                            .iter()
                            .map(|b| format!("{} ({})", b.cluster, b.weight))
                            .collect();
                        rows.push(vec![
                            format!("{}:{}", s.name, p.port),
                            matches(&r.matches),
                            backends.join(", "),
                            r.timeout.map_or_else(|| "-".into(), |t| format!("{t:?}")),
                        ]);
                    }
                }
            }
            table::render(&["SERVICE", "MATCH", "BACKENDS", "TIMEOUT"], &rows)
        }
        What::Clusters => table::render(
            &["CLUSTER", "PROTOCOL", "LB", "TLS", "ENDPOINTS"],
            &dump
                .clusters
                .iter()
                .map(|c| {
                    vec![
                        c.name.clone(),
                        format!("{:?}", c.protocol).to_lowercase(),
                        format!("{:?}", c.lb).to_lowercase(),
                        c.tls.as_ref().map_or_else(
                            || "auto".into(),
                            |t| format!("{:?}", t.mode).to_lowercase(),
                        ),
                        c.endpoints.len().to_string(),
                    ]
                })
                .collect::<Vec<_>>(),
        ),
        What::Endpoints => table::render(
            &["ENDPOINT", "CLUSTER", "WORKLOAD", "IDENTITY"],
            &dump
                .clusters
                .iter()
                .flat_map(|c| {
                    c.endpoints.iter().map(|e| {
                        let w = e.workload.as_ref();
                        vec![
                            e.address.to_string(),
                            c.name.clone(),
                            w.and_then(|w| {
                                Some(format!(
                                    "{}.{}",
                                    w.workload.as_deref()?,
                                    w.namespace.as_deref().unwrap_or("default")
                                ))
                            })
                            .unwrap_or_else(|| "-".into()),
                            e.identity.clone().unwrap_or_else(|| "- (plaintext)".into()),
                        ]
                    })
                })
                .collect::<Vec<_>>(),
        ),
        What::Policies => {
            let pa = dump.peer_authentication.clone().unwrap_or_default();
            let mut out = format!("mTLS: {:?}", pa.mode).to_uppercase();
            for (port, mode) in &pa.ports {
                out.push_str(&format!(", port {port}: {mode:?}").to_uppercase());
            }
            out.push('\n');
            out + &table::render(
                &["POLICY", "ACTION", "RULES"],
                &dump
                    .policies
                    .iter()
                    .map(|p| {
                        vec![
                            p.name.clone(),
                            format!("{:?}", p.action).to_uppercase(),
                            p.rules.len().to_string(),
                        ]
                    })
                    .collect::<Vec<_>>(),
            )
        }
        What::All => serde_json::to_string_pretty(dump).unwrap_or_default() + "\n",
    }
}

/// `path prefix /api, header end-user=jason` or `*`.
fn matches(ms: &[RouteMatch]) -> String {
    if ms.is_empty() {
        return "*".into();
    }
    let one = |m: &RouteMatch| {
        let mut parts = Vec::new();
        match &m.path {
            Some(PathMatch::Exact(p)) => parts.push(format!("path={p}")),
            Some(PathMatch::Prefix(p)) => parts.push(format!("path^={p}")),
            Some(PathMatch::Regex(p)) => parts.push(format!("path~={p}")),
            None => {}
        }
        let cond = |name: &str, value: &StringMatch| match value {
            StringMatch::Exact(v) => format!("{name}={v}"),
            StringMatch::Prefix(v) => format!("{name}^={v}"),
            StringMatch::Regex(v) => format!("{name}~={v}"),
            StringMatch::Present(true) => format!("has {name}"),
            StringMatch::Present(false) => format!("no {name}"),
        };
        if let Some(method) = &m.method {
            parts.push(cond("method", method));
        }
        if let Some(scheme) = &m.scheme {
            parts.push(cond("scheme", scheme));
        }
        for h in &m.headers {
            parts.push(cond(&h.name, &h.value));
        }
        if parts.is_empty() {
            "*".to_string()
        } else {
            parts.join(" ")
        }
    };
    ms.iter().map(one).collect::<Vec<_>>().join(" | ")
}
