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
    good: BTreeMap<PathBuf, String>,
    errors: Vec<Finding>,
}

// === impl Files ===

impl Files {
    pub(super) fn new(paths: Vec<PathBuf>) -> Self {
        Self {
            paths,
            latest: BTreeMap::new(),
            good: BTreeMap::new(),
            errors: Vec::new(),
        }
    }

    /// Re-reads files that changed, appeared or went away; returns whether
    /// anything did. Cost: one `stat` per file, a read per changed file.
    fn refresh(&mut self) -> bool {
        let (files, mut errors) = weft_api::load::config_files(&self.paths);
        let mut changed = files.len() != self.latest.len() || errors != self.errors;
        let mut next = BTreeMap::new();
        for file in files {
            let meta = match std::fs::metadata(&file) {
                Ok(m) => m,
                Err(e) => {
                    errors.push(read_error(&file, &e));
                    continue;
                }
            };
            let print = Fingerprint {
                len: meta.len(),
                modified: meta.modified().ok(),
            };
            match self.latest.remove(&file) {
                Some((old, text)) if old == print => {
                    next.insert(file, (print, text));
                }
                _ => {
                    changed = true;
                    match std::fs::read_to_string(&file) {
                        Ok(text) => {
                            next.insert(file, (print, text));
                        }
                        Err(e) => errors.push(read_error(&file, &e)),
                    }
                }
            }
        }
        changed |= !self.latest.is_empty();
        self.latest = next;
        self.errors = errors;
        changed
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
