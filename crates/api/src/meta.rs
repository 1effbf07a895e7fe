//! The parts every resource shares: `apiVersion`, `kind` and `metadata`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::IgnoredAny;

/// Kubernetes object metadata, as far as a mesh uses it.
///
/// The fields the API server writes (`uid`, `resourceVersion`,
/// `managedFields`, ...) are accepted so that `kubectl get -o yaml` output
/// loads, and ignored: they carry no meaning for the mesh. Anything else is
/// a typo and reported as one.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
// Private fields are accepted so real manifests load, and ignored: they
// mean nothing to the mesh.
#[allow(dead_code)]
pub struct ObjectMeta {
    #[serde(default)]
    pub name: String,
    pub generate_name: Option<String>,
    pub namespace: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    uid: Option<IgnoredAny>,
    resource_version: Option<IgnoredAny>,
    generation: Option<IgnoredAny>,
    creation_timestamp: Option<IgnoredAny>,
    deletion_timestamp: Option<IgnoredAny>,
    deletion_grace_period_seconds: Option<IgnoredAny>,
    owner_references: Option<IgnoredAny>,
    finalizers: Option<IgnoredAny>,
    managed_fields: Option<IgnoredAny>,
    self_link: Option<IgnoredAny>,
}

/// The usual shape of a resource: type, metadata, a spec and a status that
/// controllers write (read and ignored).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
// Private fields are accepted so real manifests load, and ignored: they
// mean nothing to the mesh.
#[allow(dead_code)]
pub struct Object<S> {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: S,
    status: Option<IgnoredAny>,
}

/// The namespace resources without one belong to.
pub const DEFAULT_NAMESPACE: &str = "default";

// === impl ObjectMeta ===

impl ObjectMeta {
    /// The namespace, `default` when the resource names none (as
    /// `kubectl apply` without `-n` would place it).
    pub fn namespace(&self) -> &str {
        self.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE)
    }
}
