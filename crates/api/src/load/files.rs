//! Which files a path means: itself, or the config files under a directory.

use std::path::{Path, PathBuf};

use crate::finding::{Finding, Severity};

const EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

/// Expands `path` into files, in a stable order. A directory is walked
/// recursively for config files (hidden entries skipped); a path that does
/// not exist is reported.
pub(super) fn expand(path: &Path, findings: &mut Vec<Finding>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if path.is_dir() {
        walk(path, &mut out, findings);
        out.sort();
    } else if path.exists() {
        out.push(path.to_path_buf());
    } else {
        findings.push(Finding::new(
            Severity::Error,
            "read",
            path.display().to_string().into(),
            "no such file or directory".into(),
        ));
    }
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, findings: &mut Vec<Finding>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            findings.push(Finding::new(
                Severity::Error,
                "read",
                dir.display().to_string().into(),
                format!("cannot read the directory: {e}"),
            ));
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if hidden {
            continue;
        }
        if path.is_dir() {
            walk(&path, out, findings);
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e))
        {
            out.push(path);
        }
    }
}
