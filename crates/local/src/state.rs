//! A running mesh's state directory: who runs it (so a second `weft up`
//! refuses, and one after a crash cleans up), each pod's files and logs,
//! and `mesh.json`, which `weft get` and `weft exec` read.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::supervise::{self, ProcRecord};

/// What `weft get` and `weft exec` need to know about a running mesh.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MeshState {
    pub mesh: String,
    /// `transparent` or `explicit`.
    pub mode: String,
    /// The `weft up` process, with its start time.
    pub owner: Option<ProcRecord>,
    /// The control plane's HTTP API (`weft apply`, `weft proxy-status`).
    pub api: Option<SocketAddr>,
    pub grpc: Option<SocketAddr>,
    pub pods: Vec<PodState>,
    /// Every process, including gateways, in start order.
    pub procs: Vec<ProcRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PodState {
    pub name: String,
    pub workload: String,
    pub namespace: String,
    pub labels: std::collections::BTreeMap<String, String>,
    pub identity: String,
    /// The pod IP (transparent) or 127.0.0.1 (explicit).
    pub ip: IpAddr,
    /// Transparent mode: the network namespace the pod's processes run in.
    pub netns: Option<String>,
    /// Explicit mode: the sidecar's HTTP proxy the pod's apps call through.
    pub outbound_proxy: Option<SocketAddr>,
    /// Declared port → where peers reach it (the sidecar's listener in
    /// explicit mode, the pod IP and port in transparent mode).
    pub ports: Vec<(u16, SocketAddr)>,
    /// The sidecar's admin endpoint (reachable from the host in explicit
    /// mode only).
    pub admin: Option<SocketAddr>,
    pub dir: PathBuf,
    /// `gateway` for ingress gateways, else `sidecar`.
    pub role: String,
}

/// Where mesh `mesh` keeps its state: `/run/weft/<mesh>` for root,
/// `$XDG_RUNTIME_DIR/weft/<mesh>` (else the temp dir) for other users.
pub fn dir_for(mesh: &str) -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        return Path::new("/run/weft").join(mesh);
    }
    std::env::var_os("XDG_RUNTIME_DIR")
        .map(|d| PathBuf::from(d).join("weft"))
        .unwrap_or_else(|| std::env::temp_dir().join(format!("weft-{}", nix::unistd::geteuid())))
        .join(mesh)
}

/// Why a mesh's state directory cannot be claimed.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error(
        "mesh `{mesh}` is already running (weft up, pid {pid}); stop it (Ctrl-C in its terminal, or `kill {pid}`) or name another with --mesh"
    )]
    Running { mesh: String, pid: u32 },
    #[error("state directory {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Reads a mesh's state file.
pub fn read(dir: &Path) -> std::io::Result<MeshState> {
    let path = dir.join("mesh.json");
    let text = std::fs::read(&path).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!(
                "no running mesh found ({}: {e}); start one with `weft up -f <files>` or `weft demo`",
                path.display()
            ),
        )
    })?;
    serde_json::from_slice(&text).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })
}

/// Writes the state file atomically (readers never see half of it).
pub fn write(dir: &Path, state: &MeshState) -> std::io::Result<()> {
    let tmp = dir.join("mesh.json.tmp");
    let text = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, dir.join("mesh.json"))
}

/// Whether the mesh's recorded owner still runs.
pub fn owner_alive(state: &MeshState) -> Option<u32> {
    let owner = state.owner.as_ref()?;
    (supervise::start_time(owner.pid) == Some(owner.start_time)).then_some(owner.pid)
}

/// Takes `dir` for a new run of `mesh`: refuses while another `weft up`
/// runs it; otherwise stops every process a crashed run left and empties
/// the directory. Returns what was cleaned up, for a log line.
pub fn claim(mesh: &str, dir: &Path) -> Result<Vec<String>, ClaimError> {
    let io = |source| ClaimError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut cleaned = Vec::new();
    if let Ok(old) = read(dir) {
        if let Some(pid) = owner_alive(&old) {
            return Err(ClaimError::Running {
                mesh: mesh.to_string(),
                pid,
            });
        }
        for p in old.procs.iter().rev() {
            if supervise::kill_recorded(p) {
                cleaned.push(format!("process {} (pid {})", p.name, p.pid));
            }
        }
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io)?;
    }
    std::fs::create_dir_all(dir).map_err(io)?;
    Ok(cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_owner_blocks_a_second_run_and_a_dead_one_is_cleaned_up() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("m");
        assert!(claim("m", &dir).unwrap().is_empty());

        // This test process stands for a running `weft up`.
        let me = std::process::id();
        let mut state = MeshState {
            mesh: "m".into(),
            owner: Some(ProcRecord {
                name: "weft up".into(),
                pid: me,
                start_time: supervise::start_time(me).unwrap(),
                log: PathBuf::new(),
            }),
            ..MeshState::default()
        };
        write(&dir, &state).unwrap();
        let err = claim("m", &dir).unwrap_err().to_string();
        assert!(
            err.contains(&format!("mesh `m` is already running (weft up, pid {me})")),
            "{err}"
        );

        // A crashed owner (same pid, other start time) left a process.
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        state.owner.as_mut().unwrap().start_time += 1;
        state.procs.push(ProcRecord {
            name: "app".into(),
            pid,
            start_time: supervise::start_time(pid).unwrap(),
            log: PathBuf::new(),
        });
        std::fs::write(dir.join("leftover.log"), "x").unwrap();
        write(&dir, &state).unwrap();
        let cleaned = claim("m", &dir).unwrap();
        assert_eq!(cleaned, [format!("process app (pid {pid})")]);
        assert!(!child.wait().unwrap().success());
        assert!(!dir.join("leftover.log").exists());
        assert!(read(&dir).is_err());
    }
}
