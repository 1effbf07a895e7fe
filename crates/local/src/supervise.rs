//! The mesh's child processes: started in order with their output in log
//! files, stopped in reverse with SIGTERM (so sidecars drain) and then
//! SIGKILL, and recorded (pid and start time) so the next `weft up` can
//! stop what a crashed one left running without ever signalling a process
//! that merely reused a pid.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use tokio::process::{Child, Command};

/// A started process, as the state file keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcRecord {
    pub name: String,
    pub pid: u32,
    /// Clock ticks after boot (`/proc/<pid>/stat` field 22): with the pid,
    /// it names one process for good.
    pub start_time: u64,
    pub log: PathBuf,
}

/// The running children, oldest first.
#[derive(Default)]
pub struct Procs {
    children: Vec<(ProcRecord, Child)>,
}

impl Procs {
    /// Starts `cmd` as `name`, its stdout and stderr appended to `log`.
    pub fn spawn(
        &mut self,
        name: &str,
        mut cmd: Command,
        log: &Path,
    ) -> std::io::Result<&ProcRecord> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| {
                std::io::Error::new(e.kind(), format!("log file {}: {e}", log.display()))
            })?;
        let err = out.try_clone()?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .map_err(|e| std::io::Error::new(e.kind(), format!("starting {name}: {e}")))?;
        let pid = child.id().unwrap_or_default();
        let record = ProcRecord {
            name: name.to_string(),
            pid,
            start_time: start_time(pid).unwrap_or_default(),
            log: log.to_path_buf(),
        };
        self.children.push((record, child));
        Ok(&self.children[self.children.len() - 1].0)
    }

    pub fn records(&self) -> Vec<ProcRecord> {
        self.children.iter().map(|(r, _)| r.clone()).collect()
    }

    /// The first child found exited, with its status.
    pub fn exited(&mut self) -> Option<(ProcRecord, ExitStatus)> {
        self.children
            .iter_mut()
            .find_map(|(r, c)| match c.try_wait() {
                Ok(Some(status)) => Some((r.clone(), status)),
                _ => None,
            })
    }

    /// Waits until any child exits.
    pub async fn any_exit(&mut self) -> (ProcRecord, ExitStatus) {
        loop {
            if let Some(done) = self.exited() {
                return done;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGTERM to every child `which` selects, all at once, then SIGKILL
    /// to any still running after `grace`. Returns once all have exited.
    pub async fn stop_where(&mut self, grace: Duration, which: impl Fn(&ProcRecord) -> bool) {
        let (mut stopping, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.children)
            .into_iter()
            .partition(|(r, _)| which(r));
        self.children = keep;
        for (r, child) in &mut stopping {
            if let Ok(None) = child.try_wait() {
                let _ = kill(Pid::from_raw(r.pid as i32), Signal::SIGTERM);
            }
        }
        let deadline = tokio::time::Instant::now() + grace;
        for (r, child) in &mut stopping {
            if tokio::time::timeout_at(deadline, child.wait())
                .await
                .is_err()
            {
                tracing::warn!(process = %r.name, "did not stop within {grace:?}; killing it");
                let _ = child.kill().await;
            }
        }
    }

    /// Stops every child (see [`stop_where`](Self::stop_where)).
    pub async fn stop(&mut self, grace: Duration) {
        self.stop_where(grace, |_| true).await;
    }
}

/// Kills a process an earlier run recorded, if it is still that process.
/// Returns whether one was killed.
pub fn kill_recorded(r: &ProcRecord) -> bool {
    if r.pid == 0 || start_time(r.pid) != Some(r.start_time) {
        return false;
    }
    kill(Pid::from_raw(r.pid as i32), Signal::SIGKILL).is_ok()
}

/// A process's start time in clock ticks after boot, if it exists.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses; the
    // fields after it start past the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    // `rest` starts at field 3 (state); start time is field 22.
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The last `lines` lines of a log file, for an error message.
pub fn tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_times_name_a_process() {
        let me = std::process::id();
        let t = start_time(me).unwrap();
        assert!(t > 0);
        assert_eq!(start_time(me), Some(t));
        // A record whose start time does not match is someone else.
        let stale = ProcRecord {
            name: "x".into(),
            pid: me,
            start_time: t + 1,
            log: PathBuf::new(),
        };
        assert!(!kill_recorded(&stale));
    }

    #[tokio::test]
    async fn children_log_to_files_and_stop_on_sigterm() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sleeper.log");
        let mut procs = Procs::default();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo started; exec sleep 30"]);
        let pid = procs.spawn("sleeper", cmd, &log).unwrap().pid;
        for _ in 0..100 {
            if tail(&log, 1) == "started" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(tail(&log, 1), "started");
        assert!(procs.exited().is_none());
        procs.stop(Duration::from_secs(5)).await;
        assert!(start_time(pid).is_none(), "pid {pid} still runs");
    }
}
