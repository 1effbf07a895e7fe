//! weft's resource model: the kinds users write (Kubernetes, Istio, Gateway
//! API, SMI, Linkerd and weft's own), loaded from YAML with errors that name
//! the file, the line, the field and the fix, and validated.
//!
//! ```no_run
//! let set = weft_api::ResourceSet::load_paths(&["samples/bookinfo"]);
//! for finding in &set.findings {
//!     eprintln!("{}: {finding}", finding.severity);
//! }
//! ```

pub mod analyze;
pub mod check;
pub mod finding;
pub mod host;
pub mod kinds;
pub mod load;
pub mod meta;
pub mod protocol;
pub mod resource;
pub mod types;

pub use finding::{Finding, Severity};
pub use kinds::{Kind, Spec};
pub use load::ResourceSet;
pub use resource::{Resource, ResourceKey};
