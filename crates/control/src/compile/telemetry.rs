//! Istio's `Telemetry` resources for one proxy: whether it writes access
//! logs. As Istio scopes them: one in the root namespace without a
//! selector applies mesh-wide, one in the proxy's namespace without a
//! selector to the namespace, one with a selector to the workloads whose
//! labels it matches in its namespace; the most specific one that says
//! anything about access logging decides.

use weft_api::analyze::ROOT_NAMESPACE;
use weft_api::kinds::Spec;

use super::routes::Caller;
use crate::model::Mesh;

/// Whether `caller` writes access logs.
pub fn access_logs(mesh: &Mesh, caller: &Caller) -> bool {
    let mut best: Option<(u8, bool)> = None;
    for r in mesh.resources.iter() {
        let Spec::Telemetry(t) = &r.spec else {
            continue;
        };
        let Some(on) = t.access_logs() else {
            continue;
        };
        let labels = t
            .selector
            .as_ref()
            .map(|s| &s.match_labels)
            .filter(|l| !l.is_empty());
        let ns = r.namespace();
        let level = match labels {
            Some(l)
                if ns == caller.namespace
                    && l.iter().all(|(k, v)| caller.labels.get(k) == Some(v)) =>
            {
                3
            }
            Some(_) => continue,
            None if ns == caller.namespace => 2,
            None if ns == ROOT_NAMESPACE => 1,
            None => continue,
        };
        if best.is_none_or(|(l, _)| level > l) {
            best = Some((level, on));
        }
    }
    best.is_some_and(|(_, on)| on)
}
