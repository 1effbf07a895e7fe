//! Running the real `weft-proxy` binary as a child process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

pub struct ProxyProcess {
    child: Child,
    /// Parsed `--bound-addresses-file`.
    pub addrs: serde_json::Value,
    _dir: tempfile::TempDir,
}

impl ProxyProcess {
    /// Starts `bin` with `yaml` as its config, waiting until it listens.
    pub fn spawn(bin: &Path, yaml: &str) -> Self {
        Self::spawn_with(bin, yaml, |c| c)
    }

    /// As [`spawn`](Self::spawn), letting the caller adjust the command
    /// (user, network namespace, ...).
    pub fn spawn_with(
        bin: &Path,
        yaml: &str,
        adjust: impl FnOnce(&mut Command) -> &mut Command,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("proxy.yaml");
        let bound = dir.path().join("bound.json");
        std::fs::write(&config, yaml).unwrap();
        let mut cmd = Command::new(bin);
        cmd.arg("--config")
            .arg(&config)
            .arg("--bound-addresses-file")
            .arg(&bound)
            .arg("--log-level")
            .arg("info")
            .stdin(Stdio::null());
        adjust(&mut cmd);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let deadline = Instant::now() + crate::PATIENCE;
        let addrs = loop {
            if let Ok(text) = std::fs::read_to_string(&bound) {
                break serde_json::from_str(&text).unwrap();
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("weft-proxy exited early with {status}");
            }
            assert!(
                Instant::now() < deadline,
                "weft-proxy did not start listening"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Self {
            child,
            addrs,
            _dir: dir,
        }
    }

    pub fn listener(&self, name: &str) -> std::net::SocketAddr {
        self.addrs["listeners"][name]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    pub fn admin(&self) -> std::net::SocketAddr {
        self.addrs["admin"].as_str().unwrap().parse().unwrap()
    }

    /// The Prometheus address; panics when the config turned it off.
    pub fn metrics(&self) -> std::net::SocketAddr {
        self.addrs["metrics"].as_str().unwrap().parse().unwrap()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, sig: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), sig).unwrap();
    }

    /// Waits for exit up to `timeout`.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Open file descriptors of the child.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Resident memory of the child (`VmRSS`), in bytes; `None` once it
    /// has exited.
    pub fn rss_bytes(&self) -> Option<u64> {
        rss_bytes(self.child.id())
    }

    /// The most resident memory the child has ever had (`VmHWM`), in bytes.
    pub fn peak_rss_bytes(&self) -> Option<u64> {
        status_bytes(self.child.id(), "VmHWM:")
    }
}

/// Resident memory (`VmRSS` in `/proc/<pid>/status`) of a process, in
/// bytes; `None` when it is gone.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    status_bytes(pid, "VmRSS:")
}

/// A `kB` field of `/proc/<pid>/status`, in bytes.
fn status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(kib * 1024)
}

/// Raises this process's soft open-file limit to at least `want` (children
/// inherit it), panicking with a clear message when the hard limit is lower.
pub fn raise_nofile_limit(want: u64) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    if soft >= want {
        return;
    }
    assert!(
        hard >= want,
        "this test needs {want} open files but the hard limit (ulimit -Hn) is {hard}; raise it"
    );
    setrlimit(Resource::RLIMIT_NOFILE, want, hard).unwrap();
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Path of a workspace binary built by cargo for this test run.
pub fn workspace_bin(name: &str) -> PathBuf {
    // Integration tests run from target/<profile>/deps.
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).unwrap();
    dir.join(name)
}
