//! Reading a [`ProxyConfig`] from YAML, with errors that name the file, the
//! line, the field and the fix.

use std::fmt;
use std::path::Path;

use super::{LineIndex, ProxyConfig};

/// Why a config could not be loaded. Nothing running is touched by it.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{file}: cannot read the file: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// The YAML does not parse, or does not fit the schema (unknown or
    /// mistyped field). The message carries the line and column.
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    /// The YAML fits the schema but means something impossible.
    #[error("{}", Invalid(.file, .errors))]
    Invalid {
        file: String,
        errors: Vec<ConfigError>,
    },
}

/// One semantic problem in a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Field path such as `services[0].ports[1].cluster`.
    pub path: String,
    /// What is wrong and how to fix it.
    pub message: String,
    /// 1-based line in the source file, when known.
    pub line: Option<u64>,
}

struct Invalid<'a>(&'a str, &'a [ConfigError]);

// === impl ProxyConfig ===

impl ProxyConfig {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
            file: file.clone(),
            source,
        })?;
        Self::from_yaml(&file, &text)
    }

    /// Parses and validates YAML; `file` names the source in errors.
    pub fn from_yaml(file: &str, text: &str) -> Result<Self, LoadError> {
        let config: ProxyConfig = serde_saphyr::from_str(text).map_err(|e| LoadError::Parse {
            file: file.to_string(),
            message: e.render_with_options(serde_saphyr::render_options! {
                source_name: Some(file),
            }),
        })?;
        let mut errors = config.validate();
        if errors.is_empty() {
            return Ok(config);
        }
        let index = LineIndex::parse(text);
        for e in &mut errors {
            e.line = index.line_of(&e.path);
        }
        Err(LoadError::Invalid {
            file: file.to_string(),
            errors,
        })
    }
}

// === impl ConfigError ===

impl ConfigError {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
            line: None,
        }
    }
}

impl fmt::Display for Invalid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (file, errors) = (self.0, self.1);
        for (i, e) in errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            match e.line {
                Some(line) => write!(f, "{file}:{line}: {}: {}", e.path, e.message)?,
                None => write!(f, "{file}: {}: {}", e.path, e.message)?,
            }
        }
        Ok(())
    }
}
