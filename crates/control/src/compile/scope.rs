//! Which services a proxy sees: Istio's `Sidecar` egress scoping.
//!
//! Istio picks one Sidecar per workload: one in the workload's namespace
//! whose `workloadSelector` matches it, else the namespace's Sidecar
//! without a selector, else the root namespace's; with none, a proxy sees
//! every service.

use std::sync::Arc;

use weft_api::Resource;
use weft_api::analyze::ROOT_NAMESPACE;
use weft_api::host;
use weft_api::kinds::Spec;
use weft_api::kinds::istio::Sidecar;

use super::routes::Caller;
use crate::model::ServiceModel;

/// The services one proxy may reach.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    /// `None`: every service. Otherwise `(namespace, host)` patterns from
    /// the Sidecar's egress hosts.
    hosts: Option<Vec<(Namespace, String)>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Namespace {
    Any,
    Exactly(String),
    /// `~/`: no namespace (Istio's way to say "nothing from here").
    Nowhere,
}

// === impl Scope ===

impl Scope {
    pub fn everything() -> Self {
        Self { hosts: None }
    }

    /// The scope the Sidecar in force for `caller` gives.
    pub fn for_caller(resources: &[Arc<Resource>], caller: &Caller) -> Self {
        let sidecars = || {
            resources.iter().filter_map(|r| match &r.spec {
                Spec::Sidecar(s) => Some((r.namespace(), s)),
                _ => None,
            })
        };
        let selected = sidecars().find(|(ns, s)| {
            *ns == caller.namespace
                && s.workload_selector.as_ref().is_some_and(|sel| {
                    !sel.labels.is_empty()
                        && sel
                            .labels
                            .iter()
                            .all(|(k, v)| caller.labels.get(k) == Some(v))
                })
        });
        let in_force = selected
            .or_else(|| sidecars().find(|(ns, s)| *ns == caller.namespace && unselective(s)))
            .or_else(|| sidecars().find(|(ns, s)| *ns == ROOT_NAMESPACE && unselective(s)));
        match in_force {
            Some((_, s)) if !s.egress.is_empty() => Self::from_egress(s, &caller.namespace),
            _ => Self::everything(),
        }
    }

    fn from_egress(sidecar: &Sidecar, caller_ns: &str) -> Self {
        let hosts = sidecar
            .egress
            .iter()
            .flat_map(|l| &l.hosts)
            .filter_map(|h| {
                let (ns, name) = h.split_once('/')?;
                let ns = match ns {
                    "*" => Namespace::Any,
                    "." => Namespace::Exactly(caller_ns.to_string()),
                    "~" => Namespace::Nowhere,
                    other => Namespace::Exactly(other.to_string()),
                };
                Some((ns, name.to_string()))
            })
            .collect();
        Self { hosts: Some(hosts) }
    }

    pub fn sees(&self, svc: &ServiceModel) -> bool {
        let Some(hosts) = &self.hosts else {
            return true;
        };
        hosts.iter().any(|(ns, pattern)| {
            let ns_ok = match ns {
                Namespace::Any => true,
                Namespace::Exactly(n) => *n == svc.namespace,
                Namespace::Nowhere => false,
            };
            ns_ok
                && (host::matches(pattern, &svc.fqdn)
                    || svc.short_name.as_deref() == Some(pattern.as_str()))
        })
    }
}

fn unselective(s: &Sidecar) -> bool {
    s.workload_selector
        .as_ref()
        .is_none_or(|sel| sel.labels.is_empty())
}
