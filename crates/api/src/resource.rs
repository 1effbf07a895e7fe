//! A loaded resource: its kind, metadata, typed spec, and where it came
//! from, down to the line of every field.

use std::fmt;
use std::sync::Arc;

use weft_yaml::{FieldPath, Node};

use crate::kinds::{Kind, Spec};
use crate::meta::ObjectMeta;

/// One resource as loaded from a file (or sent to `weft apply`).
#[derive(Debug, Clone)]
pub struct Resource {
    pub kind: Kind,
    pub api_version: String,
    pub meta: ObjectMeta,
    pub spec: Spec,
    pub source: Source,
}

/// Where a resource was written.
#[derive(Debug, Clone)]
pub struct Source {
    pub file: Arc<str>,
    /// The line its document starts on.
    pub line: u64,
    /// The document as written, to map field paths to lines.
    pub tree: Arc<Node>,
}

/// What names a resource: kind, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceKey {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
}

// === impl Resource ===

impl Resource {
    pub fn name(&self) -> &str {
        &self.meta.name
    }

    pub fn namespace(&self) -> &str {
        self.meta.namespace()
    }

    pub fn key(&self) -> ResourceKey {
        ResourceKey {
            kind: self.kind,
            namespace: self.namespace().to_string(),
            name: self.name().to_string(),
        }
    }

    /// The line of `path` (`spec.http[0].route`) in the source, or of its
    /// deepest ancestor that was written.
    pub fn line_of(&self, path: &str) -> u64 {
        self.source.tree.line_of(&FieldPath::parse(path))
    }
}

// === impl ResourceKey ===

/// `VirtualService default/reviews`
impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}
