//! Semantic checks on one resource: each kind says what is impossible in
//! itself (weights that do not add up, a regex that does not compile), and
//! the finding lands on the line of the field it is about.

use std::sync::Arc;

use weft_yaml::{FieldPath, Node};

use crate::finding::{Finding, Severity};

/// What a kind implements to check itself, alone. Checks across resources
/// (a host no service has) belong to `analyze`.
pub trait Validate {
    fn validate(&self, cx: &mut Check<'_>);
}

/// Collects findings about one resource, turning field paths into lines.
pub struct Check<'a> {
    pub(crate) file: &'a Arc<str>,
    pub(crate) tree: &'a Node,
    pub(crate) resource: &'a str,
    pub(crate) out: &'a mut Vec<Finding>,
}

// === impl Check ===

impl Check<'_> {
    /// The resource cannot be applied as written. `path` is the field
    /// (`spec.http[0].route`); `message` says what is wrong and the fix.
    pub fn error(&mut self, code: &'static str, path: impl AsRef<str>, message: impl Into<String>) {
        self.push(Severity::Error, code, path.as_ref(), message.into());
    }

    /// Applies, but is probably not what the author meant.
    pub fn warn(&mut self, code: &'static str, path: impl AsRef<str>, message: impl Into<String>) {
        self.push(Severity::Warning, code, path.as_ref(), message.into());
    }

    fn push(&mut self, severity: Severity, code: &'static str, path: &str, message: String) {
        let line = self.tree.line_of(&FieldPath::parse(path));
        self.out.push(Finding {
            severity,
            code: code.into(),
            file: self.file.clone(),
            line: Some(line),
            resource: Some(self.resource.to_string()),
            path: Some(path.to_string()),
            message,
        });
    }

    /// Checks that `pattern` compiles as the regex engines of the mesh
    /// read it (RE2 syntax, which Rust's `regex` shares).
    pub fn regex(&mut self, path: impl AsRef<str>, pattern: &str) {
        if let Err(e) = regex::Regex::new(pattern) {
            let why = match e {
                // The crate's message ends with `error: <what>`.
                regex::Error::Syntax(s) => {
                    let last = s.lines().last().unwrap_or_default();
                    last.strip_prefix("error: ").unwrap_or(last).to_string()
                }
                regex::Error::CompiledTooBig(_) => "it compiles to more than 10 MB".to_string(),
                other => other.to_string(),
            };
            self.error(
                "regex",
                path,
                format!("regex {pattern:?} does not compile: {why}; use RE2 syntax (no look-around or back-references)"),
            );
        }
    }

    /// Checks a percentage is within 0..=100.
    pub fn percentage(&mut self, path: impl AsRef<str>, value: f64) {
        if !(0.0..=100.0).contains(&value) {
            self.error(
                "percentage",
                path,
                format!("{value} is not a percentage; use a value from 0 to 100"),
            );
        }
    }
}
