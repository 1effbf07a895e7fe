//! What loading, validation and analysis say about a set of resources: each
//! finding names the file, the line, the field path and the fix.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The resource set cannot be applied as written.
    Error,
    /// It applies, but something is probably not what the author meant, or
    /// weft does not act on it yet.
    Warning,
    /// Worth knowing: a resource of another product that weft ignores.
    Info,
}

/// One thing found wrong (or worth saying) about a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    /// A stable short name for the check (`unknown-field`, `weights-sum`),
    /// for scripts that filter `weft analyze -o json`.
    pub code: Cow<'static, str>,
    pub file: Arc<str>,
    /// 1-based; `None` when the finding is about a whole file.
    pub line: Option<u64>,
    /// `Kind namespace/name`, when the finding is about one resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The field path within the resource, such as `spec.http[0].route`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

// === impl Finding ===

impl Finding {
    pub fn new(severity: Severity, code: &'static str, file: Arc<str>, message: String) -> Self {
        Self {
            severity,
            code: Cow::Borrowed(code),
            file,
            line: None,
            resource: None,
            path: None,
            message,
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// `reviews.yaml:14: spec.http[0].route[1].weight: weights sum to 90, must sum to 100`
impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(path) = &self.path {
            write!(f, ": {path}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        })
    }
}

/// Sorts findings the way a reader wants them: by file, line, then
/// severity.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (&a.file, a.line, a.severity, &a.path, &a.message)
            .cmp(&(&b.file, b.line, b.severity, &b.path, &b.message))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_as_file_line_path_message() {
        let mut f = Finding::new(
            Severity::Error,
            "weights-sum",
            "reviews.yaml".into(),
            "weights sum to 90, must sum to 100".into(),
        );
        f.line = Some(14);
        f.path = Some("spec.http[0].route[1].weight".into());
        assert_eq!(
            f.to_string(),
            "reviews.yaml:14: spec.http[0].route[1].weight: weights sum to 90, must sum to 100"
        );
    }
}
