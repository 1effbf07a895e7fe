//! Child processes of a local mesh: started in order, stopped in reverse
//! with SIGTERM (so sidecars drain), and killed if `weft` itself dies.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

/// Where a child's binary was expected but not found.
#[derive(Debug, thiserror::Error)]
#[error(
    "{name} not found in {dir}; build every binary first with `cargo build --release` (or set WEFT_BIN_DIR)"
)]
pub struct MissingBinary {
    name: String,
    dir: String,
}

/// Where weft's binaries are: `$WEFT_BIN_DIR`, else beside `weft`.
pub fn bin_dir() -> PathBuf {
    std::env::var_os("WEFT_BIN_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::current_exe()
                .ok()?
                .parent()
                .map(Path::to_path_buf)
        })
        .unwrap_or_default()
}

/// Finds a sibling binary of `weft` (or in `$WEFT_BIN_DIR`).
pub fn binary(name: &str) -> Result<PathBuf, MissingBinary> {
    let dir = bin_dir();
    let path = dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(MissingBinary {
            name: name.to_string(),
            dir: dir.display().to_string(),
        })
    }
}

/// A set of running children.
#[derive(Default)]
pub struct Procs {
    children: Vec<(String, Child)>,
}

impl Procs {
    /// Starts `bin args...`, named `name` in messages. Stdout is shown only
    /// when `show_stdout`; stderr always is.
    pub fn spawn(
        &mut self,
        name: &str,
        bin: &Path,
        args: &[String],
        show_stdout: bool,
    ) -> std::io::Result<()> {
        let child = Command::new(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(if show_stdout {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("starting {name} ({}): {e}", bin.display()),
                )
            })?;
        self.children.push((name.to_string(), child));
        Ok(())
    }

    /// Waits until any child exits; returns its name and status.
    pub async fn any_exit(&mut self) -> (String, std::process::ExitStatus) {
        loop {
            for (name, child) in &mut self.children {
                if let Ok(Some(status)) = child.try_wait() {
                    return (name.clone(), status);
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for the named child to exit.
    pub async fn wait(&mut self, name: &str) -> Option<std::process::ExitStatus> {
        let (_, child) = self.children.iter_mut().find(|(n, _)| n == name)?;
        child.wait().await.ok()
    }

    /// SIGTERM to every child, newest first, then SIGKILL after `grace`.
    pub async fn stop(mut self, grace: Duration) {
        while let Some((name, mut child)) = self.children.pop() {
            if let Ok(Some(_)) = child.try_wait() {
                continue;
            }
            if let Some(pid) = child.id() {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
            }
            if tokio::time::timeout(grace, child.wait()).await.is_err() {
                eprintln!("{name} did not stop within {grace:?}; killing it");
                let _ = child.kill().await;
            }
        }
    }
}
