//! YAML as users write mesh config: multi-document files parsed into trees
//! that remember the line and column of every key and value, and a serde
//! deserializer over those trees.
//!
//! Why not deserialize the text directly: a typed deserializer stops at the
//! first problem. Config pasted from slides tends to carry several slips at
//! once (a `weight` indented into `destination`, a `timeout` in a route
//! entry), and users deserve to see all of them, each with its field path
//! and line. [`de::from_node`] skips and records every unknown field and
//! keeps going; only a value of the wrong type stops a document.

pub mod de;
mod path;
pub mod tree;

pub use de::{Problem, ProblemKind, StructFields, backticked, from_node, struct_fields};
pub use path::{FieldPath, Segment};
pub use tree::{
    Document, Entry, Node, NodeKind, Pos, Scalar, SyntaxError, document_texts, parse_documents,
};
