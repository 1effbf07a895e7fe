//! Waiting for what `weft up` started: sidecars binding, every proxy
//! holding its config, and then a signal or a child's exit.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{START_LIMIT, Up, UpError};
use crate::supervise::ProcRecord;

impl Up {
    /// Waits for a proxy's bound-addresses file (`what`: "the sidecar of
    /// details-v1-0"); a proxy that exits first fails the start with the
    /// end of its log.
    pub(super) async fn wait_bound(
        &mut self,
        what: &str,
        bound: &Path,
        log: &Path,
        deadline: Instant,
    ) -> Result<serde_json::Value, UpError> {
        loop {
            if let Ok(text) = std::fs::read_to_string(bound)
                && let Ok(v) = serde_json::from_str(&text)
            {
                return Ok(v);
            }
            self.check_children()?;
            if Instant::now() > deadline {
                return Err(UpError::Start(format!(
                    "{what} did not start within {START_LIMIT:?}; its log: {}",
                    log.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Fails if any child has exited, naming it with its log's last lines.
    pub(super) fn check_children(&mut self) -> Result<(), UpError> {
        match self.procs.exited() {
            Some((r, status)) => Err(exited(&r, status)),
            None => Ok(()),
        }
    }

    /// Waits until `n` sidecars are connected and each ACKed what it was
    /// sent, and no new generation has been built for a moment.
    pub(super) async fn wait_synced(&mut self, n: usize, deadline: Instant) -> Result<(), UpError> {
        use weft_control::server::SyncState;
        let mut quiet_since: Option<(Instant, u64)> = None;
        loop {
            self.check_children()?;
            let list = self.control.registry.list();
            let synced = list.len() >= n && list.iter().all(|p| p.state == SyncState::Synced);
            let generation = self.control.compiler.current().number;
            if synced {
                match quiet_since {
                    Some((t, g))
                        if g == generation && t.elapsed() >= Duration::from_millis(300) =>
                    {
                        return Ok(());
                    }
                    Some((_, g)) if g == generation => {}
                    _ => quiet_since = Some((Instant::now(), generation)),
                }
            } else {
                quiet_since = None;
            }
            if Instant::now() > deadline {
                let waiting: Vec<String> = list
                    .iter()
                    .filter(|p| p.state != SyncState::Synced)
                    .map(|p| p.id.clone())
                    .collect();
                return Err(UpError::Start(format!(
                    "not every sidecar holds its config after {START_LIMIT:?} ({} of {n} connected; waiting for: {}); see the logs under {}",
                    list.len(),
                    waiting.join(", "),
                    self.dir.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Runs until Ctrl-C or SIGTERM (`Ok`), or until a process exits
    /// (`Err` naming it).
    pub async fn wait(&mut self) -> Result<(), UpError> {
        use tokio::signal::unix::{SignalKind, signal};
        let (mut term, mut int) = match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(t), Ok(i)) => (t, i),
            _ => return Err(UpError::Start("cannot listen for signals".into())),
        };
        tokio::select! {
            _ = term.recv() => Ok(()),
            _ = int.recv() => Ok(()),
            (r, status) = self.procs.any_exit() => Err(exited(&r, status)),
        }
    }
}

pub(super) fn exited(r: &ProcRecord, status: std::process::ExitStatus) -> UpError {
    UpError::Start(format!(
        "{} exited ({status}); the end of its log ({}):\n{}",
        r.name,
        r.log.display(),
        crate::supervise::tail(&r.log, 10)
    ))
}
