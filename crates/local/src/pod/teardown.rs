//! Removing a mesh's pods and network: by name alone, so that the same
//! code serves `Network::destroy`, its drop, and cleaning up after a run
//! that crashed and left only names behind.

use std::path::Path;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::names::{self, UPLINK};
use super::tools::{self, NETNS_RUN_DIR, Tools};
use super::{PodError, etc};

/// Removes everything named with `mesh`'s name (see
/// [`cleanup_leftovers`](super::cleanup_leftovers)), carrying on past
/// failures; returns what it removed, or the first failure.
pub fn remove_mesh(tools: &Tools, mesh: &str) -> Result<Vec<String>, PodError> {
    let mut removed = Vec::new();
    let mut first_error = None;
    let switch = names::switch_netns(mesh);
    let namespaces = owned(Path::new(NETNS_RUN_DIR), mesh);
    if namespaces.contains(&switch) {
        // Deleting the switch's end removes the pair now, wherever the
        // gateway end is; deleting the namespace would too, but later, as
        // the kernel dismantles it in the background.
        let link = names::gateway_link(mesh);
        match tools::run(&tools.ip, &["-n", &switch, "link", "del", UPLINK], None) {
            Ok(_) => removed.push(format!("link {link}")),
            Err(f) if f.stderr.contains("Cannot find device") => {}
            Err(f) => {
                first_error.get_or_insert(f.during(format!("removing link {link}")));
            }
        }
    }
    // Pods before the switch, so no pod outlives its bridge.
    let (pods, rest): (Vec<_>, Vec<_>) = namespaces.into_iter().partition(|ns| *ns != switch);
    for ns in pods.iter().chain(&rest) {
        match remove_netns(tools, ns) {
            Ok(what) => removed.push(what),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    for ns in owned(Path::new(etc::ETC_NETNS), mesh) {
        let dir = etc::dir(&ns);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => removed.push(dir.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                first_error.get_or_insert(PodError::Io {
                    step: format!("removing {}", dir.display()),
                    source,
                });
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(removed),
    }
}

/// Kills the processes in namespace `netns`, then deletes it. Once its
/// last process is gone, the kernel removes it with its links.
pub fn remove_netns(tools: &Tools, netns: &str) -> Result<String, PodError> {
    let pids = match tools::run(&tools.ip, &["netns", "pids", netns], None) {
        Ok(out) => out,
        // Gone already: someone else removed it.
        Err(f) if f.stderr.contains("No such file") => {
            return Ok(format!("network namespace {netns}"));
        }
        Err(f) => return Err(f.during(format!("listing the processes in namespace {netns}"))),
    };
    let me = std::process::id();
    let mut killed = 0;
    for pid in pids.lines().filter_map(|l| l.trim().parse::<u32>().ok()) {
        // Never this process, whatever the namespace of its main thread.
        if pid == me {
            continue;
        }
        if let Ok(raw) = i32::try_from(pid)
            && kill(Pid::from_raw(raw), Signal::SIGKILL).is_ok()
        {
            killed += 1;
        }
    }
    match tools::run(&tools.ip, &["netns", "del", netns], None) {
        Ok(_) => {}
        Err(f) if f.stderr.contains("No such file") => {}
        Err(f) => return Err(f.during(format!("deleting network namespace {netns}"))),
    }
    Ok(match killed {
        0 => format!("network namespace {netns}"),
        1 => format!("network namespace {netns} (killed the process in it)"),
        n => format!("network namespace {netns} (killed the {n} processes in it)"),
    })
}

/// The entries of `dir` named as `mesh`'s namespaces, sorted.
fn owned(dir: &Path, mesh: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| names::is_owned(mesh, name))
        .collect();
    out.sort();
    out
}
