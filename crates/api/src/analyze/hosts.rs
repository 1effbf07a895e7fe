//! Destinations, subsets and host claims.

use std::collections::HashMap;

use super::{Index, finding};
use crate::finding::{Finding, Severity};
use crate::host;
use crate::kinds::Spec;
use crate::kinds::istio::{Destination, VirtualService};
use crate::resource::Resource;

pub(super) fn check(index: &Index<'_>, out: &mut Vec<Finding>) {
    // (gateway, host) -> the VirtualService that claimed it first.
    let mut claims: HashMap<(String, String), &Resource> = HashMap::new();
    for r in index.resources {
        match &r.spec {
            Spec::VirtualService(vs) => {
                for (path, dest) in destinations(vs) {
                    destination(index, r, &path, dest, out);
                }
                gateways_and_claims(index, r, vs, &mut claims, out);
            }
            Spec::DestinationRule(dr) => {
                let fq = host::fqdn(&dr.host, r.namespace());
                if !fq.starts_with('*') && !index.has_service(&fq) {
                    out.push(finding(
                        r,
                        Severity::Warning,
                        "host-not-found",
                        "spec.host",
                        format!("no Service or ServiceEntry defines host `{fq}`, so this DestinationRule applies to nothing; check the name or add the service"),
                    ));
                }
            }
            _ => {}
        }
    }
}

/// Every destination of a VirtualService, with its field path.
fn destinations(vs: &VirtualService) -> Vec<(String, &Destination)> {
    let mut out = Vec::new();
    for (i, rule) in vs.http.iter().enumerate() {
        for (j, rd) in rule.route.iter().enumerate() {
            out.push((
                format!("spec.http[{i}].route[{j}].destination"),
                &rd.destination,
            ));
        }
        if let Some(m) = &rule.mirror {
            out.push((format!("spec.http[{i}].mirror"), m));
        }
        for (j, m) in rule.mirrors.iter().enumerate() {
            out.push((
                format!("spec.http[{i}].mirrors[{j}].destination"),
                &m.destination,
            ));
        }
    }
    for (i, rule) in vs.tls.iter().enumerate() {
        for (j, rd) in rule.route.iter().enumerate() {
            out.push((
                format!("spec.tls[{i}].route[{j}].destination"),
                &rd.destination,
            ));
        }
    }
    for (i, rule) in vs.tcp.iter().enumerate() {
        for (j, rd) in rule.route.iter().enumerate() {
            out.push((
                format!("spec.tcp[{i}].route[{j}].destination"),
                &rd.destination,
            ));
        }
    }
    out
}

fn destination(
    index: &Index<'_>,
    r: &Resource,
    path: &str,
    dest: &Destination,
    out: &mut Vec<Finding>,
) {
    if dest.host.is_empty() {
        return; // reported by validation
    }
    let fq = host::fqdn(&dest.host, r.namespace());
    if !fq.starts_with('*') && !index.has_service(&fq) {
        let hint = if dest.host.contains('.')
            && !dest.host.ends_with(host::CLUSTER_DOMAIN)
            && dest.host.split('.').count() <= 3
        {
            format!(
                "; Istio reads a host with a dot as fully qualified: write `{}` or the short name",
                shorten(&dest.host)
            )
        } else {
            "; check the name, or add the Service or ServiceEntry".to_string()
        };
        out.push(finding(
            r,
            Severity::Error,
            "host-not-found",
            &format!("{path}.host"),
            format!("no Service or ServiceEntry defines host `{fq}`{hint}"),
        ));
        return;
    }
    let Some(subset) = &dest.subset else {
        return;
    };
    // The rules for this exact host, then wildcard ones that cover it.
    let rules: Vec<&Resource> = index
        .destination_rules
        .get(&fq)
        .into_iter()
        .flatten()
        .copied()
        .chain(
            index
                .destination_rules
                .iter()
                .filter(|(h, _)| h.starts_with('*') && host::matches(h, &fq))
                .flat_map(|(_, rs)| rs.iter().copied()),
        )
        .collect();
    let defined: Vec<&str> = rules
        .iter()
        .filter_map(|dr| match &dr.spec {
            Spec::DestinationRule(d) => Some(d.subsets.iter().map(|s| s.name.as_str())),
            _ => None,
        })
        .flatten()
        .collect();
    if defined.contains(&subset.as_str()) {
        return;
    }
    let message = match rules.first() {
        None => format!(
            "subset `{subset}` of `{fq}` is not defined: no DestinationRule has host `{fq}`; add one that defines subset `{subset}`"
        ),
        Some(dr) => format!(
            "subset `{subset}` is not defined by {} ({}:{}); it defines {}",
            dr.key(),
            dr.source.file,
            dr.line_of("spec.subsets"),
            if defined.is_empty() {
                "no subsets".to_string()
            } else {
                weft_yaml::backticked(&defined)
            }
        ),
    };
    out.push(finding(
        r,
        Severity::Error,
        "subset-not-found",
        &format!("{path}.subset"),
        message,
    ));
}

/// `reviews.prod` → `reviews.prod.svc.cluster.local`.
fn shorten(host: &str) -> String {
    let parts: Vec<&str> = host.split('.').collect();
    match parts.as_slice() {
        [name, ns] => host::service_fqdn(name, ns),
        [name, ns, "svc"] => host::service_fqdn(name, ns),
        _ => host.to_string(),
    }
}

fn gateways_and_claims<'a>(
    index: &Index<'_>,
    r: &'a Resource,
    vs: &VirtualService,
    claims: &mut HashMap<(String, String), &'a Resource>,
    out: &mut Vec<Finding>,
) {
    let ns = r.namespace();
    let mut gateways: Vec<String> = Vec::new();
    for (i, g) in vs.gateways.iter().enumerate() {
        if g == "mesh" {
            gateways.push("mesh".into());
            continue;
        }
        let full = if g.contains('/') {
            g.clone()
        } else {
            format!("{ns}/{g}")
        };
        if !index.gateways.contains(&full) {
            out.push(finding(
                r,
                Severity::Error,
                "gateway-not-found",
                &format!("spec.gateways[{i}]"),
                format!("no Gateway `{full}`; define it, fix the name, or write `namespace/name` for a Gateway in another namespace"),
            ));
        }
        gateways.push(full);
    }
    if gateways.is_empty() {
        gateways.push("mesh".into());
    }
    for (i, h) in vs.hosts.iter().enumerate() {
        let fq = host::fqdn(h, ns);
        for g in &gateways {
            let key = (g.clone(), fq.clone());
            match claims.get(&key) {
                Some(first) if first.key() != r.key() => out.push(finding(
                    r,
                    Severity::Error,
                    "conflicting-hosts",
                    &format!("spec.hosts[{i}]"),
                    format!(
                        "host `{fq}` is already claimed{} by {} ({}:{}); one host takes one VirtualService: merge their rules into one, or delete one",
                        if g == "mesh" { String::new() } else { format!(" on gateway {g}") },
                        first.key(),
                        first.source.file,
                        first.line_of("spec.hosts"),
                    ),
                )),
                Some(_) => {}
                None => {
                    claims.insert(key, r);
                }
            }
        }
    }
}
