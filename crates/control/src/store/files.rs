//! Watched files: what was last read, and what was last accepted.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::SystemTime;

use weft_api::{Finding, Severity};

use super::source::Source;

/// Changes when a file does: its size and modification time (nanosecond
/// precision on the filesystems we run on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    len: u64,
    modified: Option<SystemTime>,
}

pub(super) struct Files {
    paths: Vec<PathBuf>,
    latest: BTreeMap<PathBuf, (Fingerprint, String)>,
    /// Changes seen once and not yet read: what each file looked like at
    /// the last poll (`None`: gone).
    pending: BTreeMap<PathBuf, Option<Fingerprint>>,
    /// Whether the first read happened; it takes files as they are.
    started: bool,
    good: BTreeMap<PathBuf, String>,
    errors: Vec<Finding>,
}

// === impl Files ===

impl Files {
    pub(super) fn new(paths: Vec<PathBuf>) -> Self {
        Self {
            paths,
            latest: BTreeMap::new(),
            pending: BTreeMap::new(),
            started: false,
            good: BTreeMap::new(),
            errors: Vec::new(),
        }
    }

    /// Re-reads files that changed, appeared or went away; returns whether
    /// anything did. Cost: one `stat` per file, a read per changed file.
    ///
    /// A change is read only once the file holds still for one poll: an
    /// editor or `echo >` truncates before it writes, and a file judged
    /// in between would put an empty or half config in force (a valid one,
    /// so nothing would refuse it).
    fn refresh(&mut self) -> bool {
        let (files, mut errors) = weft_api::load::config_files(&self.paths);
        let mut changed = errors != self.errors;
        let mut next = BTreeMap::new();
        let mut pending = BTreeMap::new();
        for file in files {
            let meta = match std::fs::metadata(&file) {
                Ok(m) => m,
                Err(e) => {
                    errors.push(read_error(&file, &e));
                    changed = true;
                    continue;
                }
            };
            let print = Fingerprint {
                len: meta.len(),
                modified: meta.modified().ok(),
            };
            let old = self.latest.remove(&file);
            if let Some((was, text)) = old {
                if was == print {
                    next.insert(file, (was, text));
                    continue;
                }
                if self.is_moving(&file, Some(print)) {
                    pending.insert(file.clone(), Some(print));
                    next.insert(file, (was, text));
                    continue;
                }
            } else if self.is_moving(&file, Some(print)) {
                pending.insert(file, Some(print));
                continue;
            }
            changed = true;
            match std::fs::read_to_string(&file) {
                Ok(text) => {
                    next.insert(file, (print, text));
                }
                Err(e) => errors.push(read_error(&file, &e)),
            }
        }
        // What is left went away; an editor that deletes and rewrites
        // comes back within a poll.
        for (file, entry) in std::mem::take(&mut self.latest) {
            if self.is_moving(&file, None) {
                pending.insert(file.clone(), None);
                next.insert(file, entry);
            } else {
                changed = true;
            }
        }
        self.latest = next;
        self.pending = pending;
        self.errors = errors;
        self.started = true;
        changed
    }

    /// Whether `file` looks different now (`now`) than at the last poll.
    fn is_moving(&self, file: &PathBuf, now: Option<Fingerprint>) -> bool {
        self.started && self.pending.get(file) != Some(&now)
    }
}

impl Source for Files {
    fn name(&self) -> &'static str {
        "files"
    }

    fn poll(&mut self) -> bool {
        self.refresh()
    }

    fn texts(&self, latest: bool) -> Vec<(String, String)> {
        if latest {
            self.latest
                .iter()
                .map(|(p, (_, t))| (p.display().to_string(), t.clone()))
                .collect()
        } else {
            self.good
                .iter()
                .map(|(p, t)| (p.display().to_string(), t.clone()))
                .collect()
        }
    }

    fn accept(&mut self) {
        self.good = self
            .latest
            .iter()
            .map(|(p, (_, t))| (p.clone(), t.clone()))
            .collect();
    }

    fn names(&self) -> Vec<String> {
        self.good.keys().map(|p| p.display().to_string()).collect()
    }

    fn errors(&self) -> Vec<Finding> {
        self.errors.clone()
    }
}

fn read_error(file: &std::path::Path, e: &std::io::Error) -> Finding {
    Finding::new(
        Severity::Error,
        "read",
        file.display().to_string().into(),
        format!("cannot read the file: {e}"),
    )
}
