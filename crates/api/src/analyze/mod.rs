//! `weft analyze`: checks across resources, as `istioctl analyze` makes
//! them. Loading already reported what is wrong inside each resource; this
//! reports what is wrong between them (a destination no service backs, a
//! subset no DestinationRule defines, two VirtualServices claiming a host,
//! a VirtualService and a TrafficSplit or mesh route routing one service,
//! a delegate that does not exist).
//!
//! Cost: one pass to index the set, then one pass per check; lookups are
//! hash-map hits except wildcard ServiceEntry hosts, which are scanned.

mod delegates;
mod hosts;
mod mesh_routes;
mod ports;
mod selectors;
mod telemetry;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use crate::finding::{Finding, Severity};
use crate::host;
use crate::kinds::Spec;
use crate::load::ResourceSet;
use crate::resource::Resource;

/// Istio's root namespace: a policy there applies mesh-wide.
pub const ROOT_NAMESPACE: &str = "istio-system";

/// Cross-resource findings for `set` (loading findings not included).
pub fn analyze(set: &ResourceSet) -> Vec<Finding> {
    analyze_with(set, &Environment::default())
}

/// A running workload the resources do not describe (a proxy connected to
/// the control plane): its namespace and labels.
pub type Workload = (String, BTreeMap<String, String>);

/// What the control plane knows beyond the resources: `weft analyze`
/// reading files alone knows none of it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Environment<'a> {
    /// Connected workloads, so selectors that match only what is running
    /// are not reported.
    pub running: &'a [Workload],
    /// Whether proxies have a collector to send spans to
    /// (`--tracing-otlp-endpoint`); `None`: unknown.
    pub tracing_collector: Option<bool>,
}

/// As [`analyze`], in the control plane's `env`.
pub fn analyze_with(set: &ResourceSet, env: &Environment<'_>) -> Vec<Finding> {
    let mut index = Index::build(&set.resources);
    index
        .workloads
        .extend(env.running.iter().map(|(ns, labels)| (ns.as_str(), labels)));
    index.index_labels();
    let mut out = Vec::new();
    hosts::check(&index, &mut out);
    delegates::check(&index, &mut out);
    mesh_routes::check(&index, &mut out);
    selectors::check(&index, &mut out);
    ports::check(&index, &mut out);
    telemetry::check(&index, env.tracing_collector, &mut out);
    crate::finding::sort(&mut out);
    out
}

/// What the checks look things up in.
pub(crate) struct Index<'a> {
    pub resources: &'a [Arc<Resource>],
    /// Service FQDNs: Kubernetes Services and non-wildcard ServiceEntry hosts.
    pub services: HashSet<String>,
    /// Wildcard ServiceEntry hosts (`*.example.com`).
    pub wildcard_services: Vec<String>,
    /// DestinationRules by the FQDN of their host.
    pub destination_rules: HashMap<String, Vec<&'a Resource>>,
    /// Istio Gateways as `namespace/name`.
    pub gateways: HashSet<String>,
    /// Labels of every workload (pod, Deployment template, weft Workload,
    /// WorkloadEntry), by namespace.
    pub workloads: Vec<(&'a str, &'a BTreeMap<String, String>)>,
    /// (label key, value) → indexes into `workloads`: a selector is checked
    /// against the workloads carrying its first label, not all of them.
    pub by_label: HashMap<(&'a str, &'a str), Vec<usize>>,
}

// === impl Index ===

impl<'a> Index<'a> {
    fn build(resources: &'a [Arc<Resource>]) -> Self {
        let mut index = Index {
            resources,
            services: HashSet::new(),
            wildcard_services: Vec::new(),
            destination_rules: HashMap::new(),
            gateways: HashSet::new(),
            workloads: Vec::new(),
            by_label: HashMap::new(),
        };
        for r in resources {
            let ns = r.namespace();
            match &r.spec {
                Spec::Service(_) => {
                    index.services.insert(host::service_fqdn(r.name(), ns));
                }
                Spec::ServiceEntry(se) => {
                    for h in &se.hosts {
                        let fq = host::fqdn(h, ns);
                        if fq.starts_with('*') {
                            index.wildcard_services.push(fq);
                        } else {
                            index.services.insert(fq);
                        }
                    }
                }
                Spec::DestinationRule(dr) => {
                    index
                        .destination_rules
                        .entry(host::fqdn(&dr.host, ns))
                        .or_default()
                        .push(&**r);
                }
                Spec::Gateway(_) => {
                    index.gateways.insert(format!("{ns}/{}", r.name()));
                }
                Spec::Pod(_) | Spec::Workload(_) => index.workloads.push((ns, &r.meta.labels)),
                Spec::Deployment(d) => index.workloads.push((ns, &d.template.metadata.labels)),
                Spec::WorkloadEntry(we) => index.workloads.push((ns, &we.labels)),
                _ => {}
            }
        }
        index
    }

    fn index_labels(&mut self) {
        let mut by_label: HashMap<(&'a str, &'a str), Vec<usize>> = HashMap::new();
        for (i, (_, labels)) in self.workloads.iter().enumerate() {
            for (k, v) in labels.iter() {
                by_label
                    .entry((k.as_str(), v.as_str()))
                    .or_default()
                    .push(i);
            }
        }
        self.by_label = by_label;
    }

    /// Whether some service backs `fqdn`.
    pub fn has_service(&self, fqdn: &str) -> bool {
        self.services.contains(fqdn)
            || self
                .wildcard_services
                .iter()
                .any(|w| host::matches(w, fqdn))
    }
}

/// A finding about `r` at `path`, on that field's line.
pub(crate) fn finding(
    r: &Resource,
    severity: Severity,
    code: &'static str,
    path: &str,
    message: String,
) -> Finding {
    Finding {
        severity,
        code: code.into(),
        file: r.source.file.clone(),
        line: Some(r.line_of(path)),
        resource: Some(r.key().to_string()),
        path: Some(path.to_string()),
        message,
    }
}

#[cfg(test)]
mod tests;
