//! What can go wrong building or removing pods, each failure with what
//! failed and what to do about it.

use super::tools::Failed;

/// Why a pod or the pods' network could not be made or removed.
#[derive(Debug, thiserror::Error)]
pub enum PodError {
    #[error(
        "`{program}` not found (looked on PATH and in /usr/sbin, /sbin): install the {package} package"
    )]
    MissingProgram {
        program: &'static str,
        package: &'static str,
    },
    #[error(
        "network-namespace pods need root: this process lacks {missing}; run as root (e.g. with sudo), or use explicit mode"
    )]
    NotPrivileged { missing: String },
    #[error("{what} {value:?}: {why}")]
    Invalid {
        what: &'static str,
        value: String,
        why: &'static str,
    },
    #[error("{what} already exists: {hint}")]
    Exists { what: String, hint: String },
    #[error("{step}: `{command}` failed: {stderr}")]
    Command {
        step: String,
        command: String,
        stderr: String,
    },
    #[error("{step}: {source}")]
    Io {
        step: String,
        #[source]
        source: std::io::Error,
    },
}

// === impl Failed ===

impl Failed {
    /// The program failed at `step`.
    pub(super) fn during(self, step: String) -> PodError {
        PodError::Command {
            step,
            command: self.command,
            stderr: self.stderr,
        }
    }

    /// `what` already exists (the kernel's EEXIST) with `hint`, or failed
    /// at `step`.
    pub(super) fn exists_or(self, what: String, hint: String, step: String) -> PodError {
        if self.stderr.contains("File exists") {
            PodError::Exists { what, hint }
        } else {
            self.during(step)
        }
    }
}
