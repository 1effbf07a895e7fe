//! `weft get workloads|services`: what a running `weft up` runs, with
//! addresses and identities.

use weft_control::api::ServiceInfo;
use weft_local::state::{self, PodState};

use crate::client;
use crate::table::render;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// `workloads` (alias `pods`) or `services` (alias `svc`).
    #[arg(value_enum)]
    what: What,
    /// The mesh, as `weft up --mesh` named it.
    #[arg(long, default_value = crate::up::DEFAULT_MESH)]
    mesh: String,
    /// Print JSON instead of a table.
    #[arg(short, long, value_enum, default_value_t = Output::Table)]
    output: Output,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum What {
    #[value(alias = "pods", alias = "workload", alias = "pod")]
    Workloads,
    #[value(alias = "svc", alias = "service")]
    Services,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Output {
    Table,
    Json,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

pub async fn run(args: Args) -> Result<(), Error> {
    let mesh = state::read(&state::dir_for(&args.mesh))?;
    match args.what {
        What::Workloads => match args.output {
            Output::Json => println!("{}", serde_json::to_string_pretty(&mesh.pods)?),
            Output::Table => print_pods(&mesh.pods),
        },
        What::Services => {
            let api = mesh
                .api
                .ok_or("the mesh's state names no control plane API")?
                .to_string();
            let list: Vec<ServiceInfo> = client::get_json(&api, "/api/v1/services").await?;
            match args.output {
                Output::Json => println!("{}", serde_json::to_string_pretty(&list)?),
                Output::Table => {
                    let rows: Vec<Vec<String>> = list
                        .iter()
                        .map(|s| {
                            vec![
                                s.name.clone(),
                                s.addresses.join(","),
                                s.ports.join(","),
                                if s.endpoints.is_empty() {
                                    "<none>".into()
                                } else {
                                    s.endpoints.join(",")
                                },
                            ]
                        })
                        .collect();
                    print!(
                        "{}",
                        render(&["NAME", "ADDRESS", "PORTS", "ENDPOINTS"], &rows)
                    );
                }
            }
        }
    }
    Ok(())
}

/// The pods table `weft up` and `weft get workloads` print.
pub fn print_pods(pods: &[PodState]) {
    let rows: Vec<Vec<String>> = pods
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                p.namespace.clone(),
                p.ip.to_string(),
                p.ports
                    .iter()
                    .map(|(port, reach)| {
                        if reach.ip() == p.ip && reach.port() == *port {
                            port.to_string()
                        } else {
                            format!("{port}→{reach}")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                p.identity.clone(),
            ]
        })
        .collect();
    print!(
        "{}",
        render(&["NAME", "NAMESPACE", "IP", "PORTS", "IDENTITY"], &rows)
    );
}
