//! `weft exec <workload> -- <command>`: run a command as one of a
//! workload's processes would, as `kubectl exec` does: inside its pod's
//! network namespace with its `/etc/hosts` (transparent mode), or with its
//! sidecar as the HTTP proxy (explicit mode).

use std::process::ExitCode;

use weft_local::state::{self, PodState};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A pod (`productpage-v1-0`), a workload (`productpage-v1`, its first
    /// pod) or an `app` label (`productpage`).
    target: String,
    /// The command and its arguments (after `--`).
    #[arg(last = true, required = true)]
    command: Vec<String>,
    #[arg(long, default_value = crate::up::DEFAULT_MESH)]
    mesh: String,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

pub fn run(args: Args) -> Result<ExitCode, Error> {
    let mesh = state::read(&state::dir_for(&args.mesh))?;
    let pod = find(&mesh.pods, &args.target)?;
    let (program, rest) = args
        .command
        .split_first()
        .ok_or("give the command to run after `--`")?;
    let mut cmd = match &pod.netns {
        Some(ns) => {
            let mut c = std::process::Command::new("ip");
            c.args(["netns", "exec", ns, program]).args(rest);
            c
        }
        None => {
            let mut c = std::process::Command::new(program);
            c.args(rest);
            if let Some(p) = pod.outbound_proxy {
                c.env("http_proxy", format!("http://{p}"))
                    .env("HTTP_PROXY", format!("http://{p}"));
            }
            c
        }
    };
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {program} in {}: {e}", pod.name))?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

fn find<'a>(pods: &'a [PodState], target: &str) -> Result<&'a PodState, String> {
    pods.iter()
        .find(|p| p.name == target)
        .or_else(|| pods.iter().find(|p| p.workload == target))
        .or_else(|| {
            pods.iter()
                .find(|p| p.labels.get("app").map(String::as_str) == Some(target))
        })
        .ok_or_else(|| {
            let names: Vec<&str> = pods.iter().map(|p| p.name.as_str()).collect();
            format!(
                "no pod, workload or app named {target:?} runs; `weft get workloads` lists them ({})",
                names.join(", ")
            )
        })
}
