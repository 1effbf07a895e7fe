//! VirtualService delegation across resources (Istio's merge in pilot
//! `model/virtualservice.go`): a root rule whose delegate does not exist,
//! or names a VirtualService with `hosts` (not a delegate), is dropped; a
//! delegate no root names routes nothing.

use std::collections::HashSet;

use super::{Index, finding};
use crate::finding::{Finding, Severity};
use crate::kinds::Spec;

pub(super) fn check(index: &Index<'_>, out: &mut Vec<Finding>) {
    let mut delegates = HashSet::new();
    let mut roots_with_hosts = HashSet::new();
    for r in index.resources {
        if let Spec::VirtualService(vs) = &r.spec {
            let key = (r.namespace(), r.name());
            if vs.hosts.is_empty() {
                delegates.insert(key);
            } else {
                roots_with_hosts.insert(key);
            }
        }
    }
    let mut named = HashSet::new();
    for r in index.resources {
        let Spec::VirtualService(vs) = &r.spec else {
            continue;
        };
        if vs.hosts.is_empty() {
            continue;
        }
        for (i, rule) in vs.http.iter().enumerate() {
            let Some(d) = &rule.delegate else {
                continue;
            };
            let ns = d.namespace.as_deref().unwrap_or(r.namespace());
            let key = (ns, d.name.as_str());
            named.insert(key);
            let why = if delegates.contains(&key) {
                continue;
            } else if roots_with_hosts.contains(&key) {
                "has `hosts`, so it is not a delegate (delegates name no hosts); remove its hosts or point at a VirtualService without them"
            } else {
                "does not exist; add it or fix the name and namespace"
            };
            out.push(finding(
                r,
                Severity::Warning,
                "delegate-not-found",
                &format!("spec.http[{i}].delegate"),
                format!(
                    "VirtualService {ns}/{} {why}: this rule is dropped until then",
                    d.name
                ),
            ));
        }
    }
    for r in index.resources {
        let Spec::VirtualService(vs) = &r.spec else {
            continue;
        };
        if vs.hosts.is_empty() && !named.contains(&(r.namespace(), r.name())) {
            out.push(finding(
                r,
                Severity::Warning,
                "unused-delegate",
                "spec",
                "this VirtualService has no hosts, so it only routes as a delegate, and no root VirtualService names it in a `delegate`".to_string(),
            ));
        }
    }
}
