//! PeerAuthentication, resolved for one workload as Istio does: a policy
//! selecting the workload in its namespace, else the namespace's policy
//! without a selector, else the mesh's (the root namespace's without a
//! selector). An UNSET mode inherits from the next level up; nothing set
//! anywhere is PERMISSIVE. Port-level modes come from the workload's
//! policy only, and an UNSET one inherits the workload's mode.
//!
//! Two policies at one level: the first loaded wins (Istio takes the
//! oldest; files have no creation time).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use weft_api::Resource;
use weft_api::analyze::ROOT_NAMESPACE;
use weft_api::kinds::Spec;
use weft_api::kinds::istio::{MutualTlsMode, PeerAuthentication};
use weft_proto::config::{self, MtlsMode};

/// The PeerAuthentications of a mesh, by where they apply.
#[derive(Debug, Default)]
pub struct PeerAuthIndex {
    mesh: Option<Arc<Resource>>,
    /// Namespace → its namespace-wide policy.
    namespaces: HashMap<String, Arc<Resource>>,
    /// Policies with a selector, in load order.
    selected: Vec<Arc<Resource>>,
}

// === impl PeerAuthIndex ===

impl PeerAuthIndex {
    pub fn build(resources: &[Arc<Resource>]) -> Self {
        let mut index = Self::default();
        for r in resources {
            let Spec::PeerAuthentication(pa) = &r.spec else {
                continue;
            };
            if pa.selector.is_some() {
                index.selected.push(r.clone());
            } else if r.namespace() == ROOT_NAMESPACE {
                index.mesh.get_or_insert_with(|| r.clone());
            } else {
                index
                    .namespaces
                    .entry(r.namespace().to_string())
                    .or_insert_with(|| r.clone());
            }
        }
        index
    }

    /// What a workload in `namespace` with `labels` accepts.
    pub fn for_workload(
        &self,
        namespace: &str,
        labels: &BTreeMap<String, String>,
    ) -> config::PeerAuthentication {
        let workload = self.selected.iter().find_map(|r| {
            let pa = spec(r)?;
            let selects = r.namespace() == namespace
                && pa
                    .selector
                    .as_ref()
                    .is_some_and(|s| s.match_labels.iter().all(|(k, v)| labels.get(k) == Some(v)));
            selects.then_some(pa)
        });
        let levels = [
            workload,
            self.namespaces.get(namespace).and_then(|r| spec(r)),
            self.mesh.as_deref().and_then(spec),
        ];
        let mode = levels
            .iter()
            .flatten()
            .find_map(|pa| resolved(pa.mtls.and_then(|m| m.mode)))
            .unwrap_or_default();
        let ports = workload
            .map(|pa| {
                pa.port_level()
                    .map(|(port, m)| (port, resolved(m.mode).unwrap_or(mode)))
                    .collect()
            })
            .unwrap_or_default();
        config::PeerAuthentication { mode, ports }
    }
}

fn spec(r: &Resource) -> Option<&PeerAuthentication> {
    match &r.spec {
        Spec::PeerAuthentication(pa) => Some(pa),
        _ => None,
    }
}

/// A set mode; `None` for UNSET (inherit).
fn resolved(mode: Option<MutualTlsMode>) -> Option<MtlsMode> {
    match mode? {
        MutualTlsMode::Unset => None,
        MutualTlsMode::Disable => Some(MtlsMode::Disable),
        MutualTlsMode::Permissive => Some(MtlsMode::Permissive),
        MutualTlsMode::Strict => Some(MtlsMode::Strict),
    }
}
