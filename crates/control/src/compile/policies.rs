//! The authorization policies that apply to one workload, in the proxy's
//! form.
//!
//! Istio's scoping: a policy in the root namespace applies mesh-wide, one
//! elsewhere to its own namespace; with a `selector`, only to workloads
//! carrying its labels. Policies with `targetRef(s)` attach to gateways and
//! waypoints, not sidecars, and are not applied here (loading warns).

use weft_api::Resource;
use weft_api::analyze::ROOT_NAMESPACE;
use weft_api::kinds::Spec;
use weft_api::kinds::istio::{self, AuthorizationPolicy};
use weft_proto::config;

use super::routes::Caller;
use crate::model::Mesh;

/// Every policy that applies to `caller`, by name. `serviceAccounts` are
/// principals in the mesh's trust domain.
pub fn for_caller(mesh: &Mesh, caller: &Caller) -> Vec<config::AuthorizationPolicy> {
    let mut out: Vec<config::AuthorizationPolicy> = mesh
        .resources
        .iter()
        .filter_map(|r| match &r.spec {
            Spec::AuthorizationPolicy(p) if applies(r.namespace(), p, caller) => {
                Some(convert(r, p, &mesh.trust_domain))
            }
            _ => None,
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn applies(ns: &str, p: &AuthorizationPolicy, caller: &Caller) -> bool {
    if p.target_ref.is_some() || !p.target_refs.is_empty() {
        return false;
    }
    if ns != ROOT_NAMESPACE && ns != caller.namespace {
        return false;
    }
    p.selector.as_ref().is_none_or(|s| {
        s.match_labels
            .iter()
            .all(|(k, v)| caller.labels.get(k) == Some(v))
    })
}

fn convert(r: &Resource, p: &AuthorizationPolicy, td: &str) -> config::AuthorizationPolicy {
    let ns = r.namespace();
    config::AuthorizationPolicy {
        name: format!("{ns}/{}", r.name()),
        action: match p.action {
            istio::Action::Allow => config::Action::Allow,
            istio::Action::Deny => config::Action::Deny,
            istio::Action::Audit => config::Action::Audit,
            // External authorization is not implemented: deny what it would
            // have been asked about, rather than let it through unchecked.
            istio::Action::Custom => config::Action::Deny,
        },
        rules: p
            .rules
            .iter()
            .map(|rule| config::Rule {
                from: rule
                    .from
                    .iter()
                    .map(|f| source(ns, &f.source, td))
                    .collect(),
                to: rule.to.iter().map(|t| operation(&t.operation)).collect(),
                when: rule
                    .when
                    .iter()
                    .map(|c| config::Condition {
                        key: c.key.clone(),
                        values: c.values.clone(),
                        not_values: c.not_values.clone(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn source(ns: &str, s: &istio::Source, td: &str) -> config::Source {
    // `serviceAccounts` (`ns/sa`, or `sa` in the policy's namespace) are
    // principals in the mesh's trust domain.
    let accounts = |list: &[String]| -> Vec<String> {
        list.iter()
            .map(|a| {
                let (sa_ns, sa) = a.split_once('/').unwrap_or((ns, a.as_str()));
                format!("{td}/ns/{sa_ns}/sa/{sa}")
            })
            .collect()
    };
    let mut principals = s.principals.clone();
    principals.extend(accounts(&s.service_accounts));
    let mut not_principals = s.not_principals.clone();
    not_principals.extend(accounts(&s.not_service_accounts));
    config::Source {
        principals,
        not_principals,
        request_principals: s.request_principals.clone(),
        not_request_principals: s.not_request_principals.clone(),
        namespaces: s.namespaces.clone(),
        not_namespaces: s.not_namespaces.clone(),
        ip_blocks: s.ip_blocks.clone(),
        not_ip_blocks: s.not_ip_blocks.clone(),
        remote_ip_blocks: s.remote_ip_blocks.clone(),
        not_remote_ip_blocks: s.not_remote_ip_blocks.clone(),
    }
}

fn operation(o: &istio::Operation) -> config::Operation {
    let ports = |list: &[String]| list.iter().filter_map(|p| p.parse().ok()).collect();
    config::Operation {
        hosts: o.hosts.clone(),
        not_hosts: o.not_hosts.clone(),
        ports: ports(&o.ports),
        not_ports: ports(&o.not_ports),
        methods: o.methods.clone(),
        not_methods: o.not_methods.clone(),
        paths: o.paths.clone(),
        not_paths: o.not_paths.clone(),
    }
}
