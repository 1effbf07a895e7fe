//! The programs pods are built with (`ip`, `iptables-restore`, `setpriv`),
//! how they are run, the privileges they need, and running a piece of this
//! process inside a namespace.

use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::net::if_::InterfaceFlags;
use nix::sched::{CloneFlags, setns};

use super::PodError;

/// Where `ip netns add` mounts named namespaces.
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// How long a fresh link may take to come up.
const LINK_UP_LIMIT: Duration = Duration::from_secs(5);

/// The programs, found once per process.
#[derive(Debug)]
pub struct Tools {
    pub ip: PathBuf,
    pub iptables_restore: PathBuf,
    pub setpriv: PathBuf,
}

static TOOLS: OnceLock<Tools> = OnceLock::new();

/// Finds the programs, or names the first one missing and its package.
pub fn tools() -> Result<&'static Tools, PodError> {
    if let Some(t) = TOOLS.get() {
        return Ok(t);
    }
    let found = Tools {
        ip: find("ip", "iproute2")?,
        iptables_restore: find("iptables-restore", "iptables")?,
        setpriv: find("setpriv", "util-linux")?,
    };
    Ok(TOOLS.get_or_init(|| found))
}

/// Capabilities that pods need and this process lacks: CAP_SYS_ADMIN
/// (`ip netns add` unshares and mounts; `ip netns exec` mounts) and
/// CAP_NET_ADMIN (links, addresses, routes, iptables).
pub fn missing_capabilities() -> Vec<&'static str> {
    const NEEDED: [(u32, &str); 2] = [(12, "CAP_NET_ADMIN"), (21, "CAP_SYS_ADMIN")];
    let effective = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(0);
    NEEDED
        .iter()
        .filter(|(bit, _)| effective & (1 << bit) == 0)
        .map(|(_, name)| *name)
        .collect()
}

/// A program that failed: what ran and what it said.
#[derive(Debug)]
pub struct Failed {
    pub command: String,
    pub stderr: String,
}

/// Runs `program args`, feeding it `input`; returns its stdout. Anything
/// but a zero exit is a [`Failed`] carrying its stderr.
pub fn run(program: &Path, args: &[&str], input: Option<&str>) -> Result<String, Failed> {
    let command = format!("{} {}", program.display(), args.join(" "));
    let failed = |stderr: String| Failed {
        command: command.clone(),
        stderr,
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(format!("cannot start it: {e}")))?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        // Inputs are a few kB, well under a pipe's buffer: writing all of
        // it before reading any output cannot deadlock. Dropping `stdin`
        // closes it, which ends the program's input.
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| failed(format!("writing its input: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| failed(format!("waiting for it: {e}")))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    Err(failed(if stderr.is_empty() {
        format!("exited with {}", out.status)
    } else {
        stderr
    }))
}

/// Runs `f` on a new thread that has joined network namespace `netns`
/// (`setns` moves only the calling thread; processes it starts start in
/// the namespace too). The thread ends with `f`.
pub fn in_netns<T, F>(netns: &str, f: F) -> Result<T, PodError>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    let path = Path::new(NETNS_RUN_DIR).join(netns);
    let file = File::open(&path).map_err(|source| PodError::Io {
        step: format!("opening namespace {}", path.display()),
        source,
    })?;
    std::thread::scope(|s| {
        let thread = s.spawn(move || {
            setns(&file, CloneFlags::CLONE_NEWNET).map_err(|e| PodError::Io {
                step: format!("entering namespace {}", path.display()),
                source: e.into(),
            })?;
            drop(file);
            Ok(f())
        });
        // `f` panicking is a bug here: pass it on as it is.
        thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Waits until `link`, in the calling thread's namespace, is operationally
/// up. Until then its queue drops what is sent on it, and as a bridge port
/// it drops what it receives. The kernel brings a veth up at once when the
/// two ends' interface indexes differ, and otherwise in a batch up to a
/// second later (`linkwatch_urgent_event`), which is why the namespaces'
/// links are created in an order that keeps the indexes apart. Costs a
/// netlink dump per poll; the first one normally finds the link up.
pub fn wait_running(link: &str) -> std::io::Result<()> {
    let deadline = Instant::now() + LINK_UP_LIMIT;
    loop {
        let running = nix::ifaddrs::getifaddrs()?
            .any(|a| a.interface_name == link && a.flags.contains(InterfaceFlags::IFF_RUNNING));
        if running {
            return Ok(());
        }
        if Instant::now() > deadline {
            let message = format!("{link} is not up after {LINK_UP_LIMIT:?}");
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, message));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Finds an executable on PATH, or in the sbin directories that a
/// non-login root shell (or sudo's secure_path) may leave off it.
fn find(program: &'static str, package: &'static str) -> Result<PathBuf, PodError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .ok_or(PodError::MissingProgram { program, package })
}
