//! Test support: real servers on 127.0.0.1:0, HTTP clients, an in-process
//! and an out-of-process proxy harness, metric parsing and patience.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod client;
pub mod control;
pub mod metrics;
pub mod netns;
pub mod otlp;
pub mod process;
pub mod proxy;
pub mod servers;

use std::future::Future;
use std::time::{Duration, Instant};

/// Default patience for [`eventually`]: generous, because CI machines are
/// slow and loaded; the check returns as soon as the condition holds.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Polls `check` until it returns true, panicking with `what` after
/// `patience`.
pub async fn eventually<F, Fut>(what: &str, patience: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + patience;
    loop {
        if check().await {
            return;
        }
        if Instant::now() > deadline {
            panic!("not true after {patience:?}: {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Number of open file descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Sets `path`'s mtime `ahead` of now, so a file watcher sees an edit
/// however coarse its clock.
pub fn touch_later(path: &std::path::Path, ahead: Duration) {
    let later = std::time::SystemTime::now() + ahead;
    let file = std::fs::File::options().write(true).open(path);
    if let Err(e) = file.and_then(|f| f.set_modified(later)) {
        panic!("cannot touch {}: {e}", path.display());
    }
}
