//! Where resources come from. The store asks every source for its texts
//! and validates them together; a source only reads.
//!
//! Files are one source today; a Kubernetes source (watching the API
//! server) is another behind the same interface: it offers each object as
//! a named text (JSON is YAML), so it is loaded, checked and reported like
//! a file. Resources sent with `weft apply` are kept by the store itself,
//! because the store, not a source, decides when they change.

use weft_api::Finding;

/// A watched origin of resources.
pub trait Source: Send {
    /// What findings and the status call it (`files`, `kubernetes`).
    fn name(&self) -> &'static str;

    /// Reads what changed since the last call; returns whether anything
    /// did. Cheap when nothing changed: it is called several times a
    /// second.
    fn poll(&mut self) -> bool;

    /// The texts as last read (`latest`), or as last accepted, as
    /// (name for findings, text).
    fn texts(&self, latest: bool) -> Vec<(String, String)>;

    /// The texts last read are now in force.
    fn accept(&mut self);

    /// Names of the texts in force (for the status).
    fn names(&self) -> Vec<String>;

    /// Problems reading (an unreadable file), judged with the candidate.
    fn errors(&self) -> Vec<Finding>;
}
