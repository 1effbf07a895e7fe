//! `weft demo`: `weft up` on the bundled bookinfo (Istio's platform and
//! gateway files, unchanged, with the local image map and Istio's
//! destination rules), its ingress gateway, and a traffic generator
//! sending a mix of users to the product page through the gateway, as
//! visitors from outside the mesh would.

use std::path::Path;
use std::time::{Duration, Instant};

use weft_local::state::PodState;
use weft_local::up::{self, Up};

use crate::client::DEFAULT_CONTROL;
use crate::up::{DEFAULT_MESH, MeshArgs};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Requests per second from the traffic generator.
    #[arg(long, default_value_t = 10)]
    rate: u32,
    /// Run for this many seconds, print the traffic totals and stop
    /// (exiting non-zero if any request failed). Without it the demo runs
    /// until Ctrl-C.
    #[arg(long)]
    seconds: Option<u64>,
    #[command(flatten)]
    mesh: MeshArgs,
}

/// What the mesh runs: bookinfo, its gateway, and subsets for routing.
const MESH_FILES: [(&str, &str); 4] = [
    (
        "bookinfo.yaml",
        include_str!("../../../samples/bookinfo/bookinfo.yaml"),
    ),
    (
        "local-images.yaml",
        include_str!("../../../samples/bookinfo/local-images.yaml"),
    ),
    (
        "bookinfo-gateway.yaml",
        include_str!("../../../samples/bookinfo/bookinfo-gateway.yaml"),
    ),
    (
        "destination-rule-all.yaml",
        include_str!("../../../samples/bookinfo-networking/destination-rule-all.yaml"),
    ),
];

/// Istio's routing samples, to `weft apply` while the demo runs.
const TRY_FILES: [(&str, &str); 6] = [
    (
        "virtual-service-reviews-test-v2.yaml",
        include_str!("../../../samples/bookinfo-networking/virtual-service-reviews-test-v2.yaml"),
    ),
    (
        "virtual-service-reviews-50-v3.yaml",
        include_str!("../../../samples/bookinfo-networking/virtual-service-reviews-50-v3.yaml"),
    ),
    (
        "virtual-service-ratings-test-abort.yaml",
        include_str!(
            "../../../samples/bookinfo-networking/virtual-service-ratings-test-abort.yaml"
        ),
    ),
    (
        "virtual-service-ratings-test-delay.yaml",
        include_str!(
            "../../../samples/bookinfo-networking/virtual-service-ratings-test-delay.yaml"
        ),
    ),
    (
        "virtual-service-reviews-v1-mirror-v2.yaml",
        include_str!(
            "../../../samples/bookinfo-networking/virtual-service-reviews-v1-mirror-v2.yaml"
        ),
    ),
    (
        "virtual-service-all-v1.yaml",
        include_str!("../../../samples/bookinfo-networking/virtual-service-all-v1.yaml"),
    ),
];

/// How often the traffic generator prints its figures.
const REPORT_EVERY: Duration = Duration::from_secs(5);

type Error = Box<dyn std::error::Error + Send + Sync>;

pub async fn run(args: Args) -> Result<(), Error> {
    let started = Instant::now();
    // Beside the mesh's state directory, and the user's own.
    let files = weft_local::state::dir_for(&args.mesh.mesh).with_extension("demo");
    write_files(&files)?;
    let opts = crate::up::options(vec![files.join("mesh")], &args.mesh);
    let say = |s: &str| eprintln!("{s}");
    let mut mesh = match up::up(&opts, &say).await {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&files);
            return Err(e.into());
        }
    };
    let result = serve(&args, &mut mesh, &files, started.elapsed()).await;
    eprintln!("\nstopping: apps, then sidecars (they drain), then the control plane");
    mesh.stop().await;
    let _ = std::fs::remove_dir_all(&files);
    result
}

fn write_files(dir: &Path) -> Result<(), Error> {
    for (sub, set) in [("mesh", &MESH_FILES[..]), ("try", &TRY_FILES[..])] {
        let d = dir.join(sub);
        std::fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        for (name, text) in set {
            let p = d.join(name);
            std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))?;
        }
    }
    Ok(())
}

/// Prints where to go, then sends traffic until Ctrl-C, a process exits,
/// or `--seconds` are up.
async fn serve(args: &Args, mesh: &mut Up, files: &Path, took: Duration) -> Result<(), Error> {
    let gateway = mesh
        .state
        .pods
        .iter()
        .find(|p| p.role == "gateway")
        .and_then(|g| g.ports.first())
        .map(|(_, addr)| *addr)
        .ok_or("the demo's ingress gateway did not start")?;
    let page = format!("http://{gateway}/productpage");
    print_welcome(args, mesh, &page, &files.join("try"), took);
    let target: http::Uri = page.parse()?;
    let traffic = weft_sample::loadgen::run(
        target,
        args.rate,
        args.seconds.map(Duration::from_secs),
        REPORT_EVERY,
    );
    tokio::select! {
        totals = traffic => {
            println!(
                "\ntraffic in total: {} sent, {} ok, {} failed",
                totals.sent, totals.ok, totals.failed
            );
            if totals.failed > 0 || totals.ok == 0 {
                return Err(format!(
                    "{} of {} requests failed; the pods' logs are under {}",
                    totals.failed,
                    totals.sent,
                    mesh.dir.join("pods").display()
                )
                .into());
            }
            Ok(())
        }
        r = mesh.wait() => Ok(r?),
    }
}

fn print_welcome(args: &Args, mesh: &Up, page: &str, try_dir: &Path, took: Duration) {
    let s = &mesh.state;
    let pods: Vec<&PodState> = s.pods.iter().filter(|p| p.role != "gateway").collect();
    println!(
        "\nweft demo: bookinfo in {} pods, an ingress gateway and a traffic generator ({} requests/s, a mix of users), in {} mode; up in {:.1} s\n",
        pods.len(),
        args.rate,
        s.mode,
        took.as_secs_f64()
    );
    println!("  product page (through the ingress gateway)  {page}");
    if let Some(api) = s.api {
        println!("  dashboard (golden metrics, graph, config)   http://{api}/");
    }
    println!();
    crate::get::print_pods(&s.pods);
    let mesh_flag = match args.mesh.mesh.as_str() {
        DEFAULT_MESH => String::new(),
        other => format!(" --mesh {other}"),
    };
    let control_flag = match s.api {
        Some(api) if api.to_string() != DEFAULT_CONTROL => format!(" --control {api}"),
        _ => String::new(),
    };
    let try_file = |name: &str| try_dir.join(name).display().to_string();
    println!("\nTry next:");
    println!(
        "  weft apply{control_flag} -f {}\n      then sign in as jason on the product page: reviews v2, black stars; everyone else v1",
        try_file("virtual-service-reviews-test-v2.yaml")
    );
    println!(
        "  weft exec{mesh_flag} productpage -- curl -s http://ratings:9080/ratings/0\n      a call from inside a pod, by service name, through its sidecar"
    );
    println!(
        "  weft stat deploy{control_flag}\n      each workload's success rate, requests per second and latency (also: weft stat svc, weft edges)"
    );
    println!(
        "  weft get services{mesh_flag}\n      services, their addresses and the pods behind them (more routing samples in {})",
        try_dir.display()
    );
    match args.seconds {
        Some(n) => println!("\nSending traffic for {n} s."),
        None => println!("\nCtrl-C stops everything."),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_files_load_and_plan_without_errors() {
        let dir = tempfile::tempdir().unwrap();
        write_files(dir.path()).unwrap();
        let set = weft_api::ResourceSet::load_paths(&[dir.path().join("mesh")]);
        assert!(
            !set.has_errors(),
            "{:?}",
            set.errors().map(|f| f.message.clone()).collect::<Vec<_>>()
        );
        let gateways = weft_local::gateway::plan(&set.resources, &[]);
        assert_eq!(gateways.gateways.len(), 1);
        // Each routing sample applies on top of the running set.
        for (name, _) in TRY_FILES {
            let set = weft_api::ResourceSet::load_paths(&[
                dir.path().join("mesh"),
                dir.path().join("try").join(name),
            ]);
            assert!(
                !set.has_errors(),
                "{name}: {:?}",
                set.errors().map(|f| f.message.clone()).collect::<Vec<_>>()
            );
        }
    }
}
