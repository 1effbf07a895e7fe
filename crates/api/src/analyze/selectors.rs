//! Selectors that match no workload: a policy that applies to nothing is
//! almost always a label typo.

use std::collections::BTreeMap;

use super::{Index, ROOT_NAMESPACE, finding};
use crate::finding::{Finding, Severity};
use crate::kinds::Spec;
use crate::resource::Resource;

pub(super) fn check(index: &Index<'_>, out: &mut Vec<Finding>) {
    for r in index.resources {
        let (path, labels) = match &r.spec {
            Spec::AuthorizationPolicy(p) => (
                "spec.selector.matchLabels",
                p.selector.as_ref().map(|s| &s.match_labels),
            ),
            Spec::PeerAuthentication(p) => (
                "spec.selector.matchLabels",
                p.selector.as_ref().map(|s| &s.match_labels),
            ),
            Spec::Telemetry(t) => (
                "spec.selector.matchLabels",
                t.selector.as_ref().map(|s| &s.match_labels),
            ),
            Spec::RequestAuthentication(p) => (
                "spec.selector.matchLabels",
                p.selector.as_ref().map(|s| &s.match_labels),
            ),
            // Sidecar and ServiceEntry use networking's `WorkloadSelector`,
            // whose field is `labels`, not `matchLabels`.
            Spec::Sidecar(s) => (
                "spec.workloadSelector.labels",
                s.workload_selector.as_ref().map(|s| &s.labels),
            ),
            Spec::ServiceEntry(s) => (
                "spec.workloadSelector.labels",
                s.workload_selector.as_ref().map(|s| &s.labels),
            ),
            Spec::DestinationRule(d) => (
                "spec.workloadSelector.matchLabels",
                d.workload_selector.as_ref().map(|s| &s.match_labels),
            ),
            Spec::Gateway(g) => ("spec.selector", Some(&g.selector)),
            Spec::Service(s) => ("spec.selector", Some(&s.selector)),
            _ => continue,
        };
        let Some(labels) = labels.filter(|l| !l.is_empty()) else {
            continue;
        };
        if !selects_any(index, r, labels) {
            let what = match r.spec {
                Spec::Service(_) => "this Service has no endpoints",
                _ => "this policy applies to nothing",
            };
            out.push(finding(
                r,
                Severity::Warning,
                "selector-matches-nothing",
                path,
                format!(
                    "no workload in namespace `{}` has labels {}, so {what}; check the labels against the pods' or Workloads' labels",
                    r.namespace(),
                    show(labels)
                ),
            ));
        }
    }
}

fn selects_any(index: &Index<'_>, r: &Resource, labels: &BTreeMap<String, String>) -> bool {
    // Istio: a Gateway selects gateway pods in any namespace; a policy in
    // the root namespace applies mesh-wide.
    let any_ns = r.namespace() == ROOT_NAMESPACE || matches!(r.spec, Spec::Gateway(_));
    // Only workloads carrying the selector's first label can match.
    let Some((k, v)) = labels.iter().next() else {
        return true;
    };
    let Some(candidates) = index.by_label.get(&(k.as_str(), v.as_str())) else {
        return false;
    };
    candidates.iter().any(|&i| {
        let (ns, wl) = index.workloads[i];
        (any_ns || ns == r.namespace()) && labels.iter().all(|(k, v)| wl.get(k) == Some(v))
    })
}

fn show(labels: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("`{}`", pairs.join(","))
}
