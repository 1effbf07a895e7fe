//! VirtualService delegation, as Istio merges it (pilot `model/
//! virtualservice.go`, `mergeVirtualServicesIfNeeded`): a root
//! VirtualService's rule with `delegate` is replaced by the delegate's
//! rules, each matching the intersection of the root rule's match and its
//! own, and taking the root rule's rewrite, timeout, retries, fault,
//! mirror, CORS and headers where it sets none. A delegate rule whose
//! match is not within the root's is dropped (a conflict), as is the
//! root rule when its delegate does not exist. Delegates are
//! VirtualServices without hosts; delegation is one level deep.
//!
//! The delegate's destination (and mirror) hosts are qualified in the
//! delegate's namespace, as Istio resolves them.

use std::collections::HashMap;
use std::sync::Arc;

use weft_api::kinds::Spec;
use weft_api::kinds::istio::{HttpMatchRequest, HttpRoute as VsRule, StringMatch, VirtualService};
use weft_api::{Resource, host};

/// Every root VirtualService (one with a `delegate` rule) merged with
/// its delegates, by index into `resources`.
pub fn expand(resources: &[Arc<Resource>]) -> HashMap<usize, VirtualService> {
    let delegates: HashMap<(&str, &str), &VirtualService> = resources
        .iter()
        .filter_map(|r| match &r.spec {
            Spec::VirtualService(vs) if vs.hosts.is_empty() => {
                Some(((r.namespace(), r.name()), vs))
            }
            _ => None,
        })
        .collect();
    let mut out = HashMap::new();
    for (i, r) in resources.iter().enumerate() {
        let Spec::VirtualService(root) = &r.spec else {
            continue;
        };
        if root.hosts.is_empty() || root.http.iter().all(|rule| rule.delegate.is_none()) {
            continue;
        }
        let mut merged = root.clone();
        merged.http = Vec::with_capacity(root.http.len());
        for rule in &root.http {
            let Some(d) = &rule.delegate else {
                merged.http.push(rule.clone());
                continue;
            };
            let ns = d.namespace.as_deref().unwrap_or(r.namespace());
            // A missing delegate drops only this rule (Istio).
            let Some(delegate) = delegates.get(&(ns, d.name.as_str())) else {
                continue;
            };
            for leaf in &delegate.http {
                if leaf.delegate.is_some() {
                    continue;
                }
                if let Some(m) = merge_rule(rule, leaf, ns) {
                    merged.http.push(m);
                }
            }
        }
        out.insert(i, merged);
    }
    out
}

/// The delegate rule `leaf` under `root`, or `None` when their matches
/// conflict.
fn merge_rule(root: &VsRule, leaf: &VsRule, leaf_ns: &str) -> Option<VsRule> {
    let mut out = leaf.clone();
    out.delegate = None;
    out.matches = merge_matches(&root.matches, &leaf.matches)?;
    out.name = match (&root.name, &leaf.name) {
        (Some(r), Some(l)) => Some(format!("{r}-{l}")),
        (r, l) => l.clone().or_else(|| r.clone()),
    };
    macro_rules! inherit {
        ($($field:ident),*) => {$(
            if out.$field.is_none() {
                out.$field = root.$field.clone();
            }
        )*};
    }
    inherit!(
        rewrite,
        timeout,
        retries,
        fault,
        mirror,
        mirror_percent,
        mirror_percentage,
        cors_policy,
        headers
    );
    // Hosts named in the delegate are the delegate's namespace's.
    for rd in &mut out.route {
        rd.destination.host = host::fqdn(&rd.destination.host, leaf_ns);
    }
    if leaf.mirror.is_some()
        && let Some(m) = &mut out.mirror
    {
        m.host = host::fqdn(&m.host, leaf_ns);
    }
    for m in &mut out.mirrors {
        m.destination.host = host::fqdn(&m.destination.host, leaf_ns);
    }
    Some(out)
}

/// Each of the leaf's match blocks must fall within some root block;
/// every (root, leaf) pair that does becomes one block.
fn merge_matches(
    root: &[HttpMatchRequest],
    leaf: &[HttpMatchRequest],
) -> Option<Vec<HttpMatchRequest>> {
    if root.is_empty() {
        return Some(leaf.to_vec());
    }
    if leaf.is_empty() {
        return Some(root.to_vec());
    }
    let mut out = Vec::new();
    for l in leaf {
        let before = out.len();
        for r in root {
            if !conflicts(r, l) {
                out.push(merge_match(r, l));
            }
        }
        if out.len() == before {
            return None;
        }
    }
    Some(out)
}

fn merge_match(root: &HttpMatchRequest, leaf: &HttpMatchRequest) -> HttpMatchRequest {
    let mut out = leaf.clone();
    out.name = match (&root.name, &leaf.name) {
        (Some(r), Some(l)) => Some(format!("{r}-{l}")),
        (r, l) => l.clone().or_else(|| r.clone()),
    };
    for (mine, theirs) in [
        (&mut out.uri, &root.uri),
        (&mut out.scheme, &root.scheme),
        (&mut out.method, &root.method),
        (&mut out.authority, &root.authority),
    ] {
        if mine.is_none() {
            *mine = theirs.clone();
        }
    }
    for (mine, theirs, own) in [
        (&mut out.headers, &root.headers, &leaf.headers),
        (
            &mut out.without_headers,
            &root.without_headers,
            &leaf.without_headers,
        ),
        (
            &mut out.query_params,
            &root.query_params,
            &leaf.query_params,
        ),
    ] {
        *mine = theirs.clone();
        mine.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    if out.port.is_none() {
        out.port = root.port;
    }
    out
}

/// Istio's `hasConflict`: the leaf's block is not within the root's.
fn conflicts(root: &HttpMatchRequest, leaf: &HttpMatchRequest) -> bool {
    let pairs = [
        (&root.uri, &leaf.uri),
        (&root.scheme, &leaf.scheme),
        (&root.method, &leaf.method),
        (&root.authority, &leaf.authority),
    ];
    if pairs
        .iter()
        .any(|(r, l)| string_conflict(r.as_ref(), l.as_ref()))
    {
        return true;
    }
    let keyed = [
        (&root.headers, &leaf.headers),
        // Istio compares withoutHeaders against the root's headers.
        (&root.headers, &leaf.without_headers),
        (&root.query_params, &leaf.query_params),
    ];
    for (r, l) in keyed {
        if l.iter().any(|(k, v)| string_conflict(r.get(k), Some(v))) {
            return true;
        }
    }
    root.ignore_uri_case != leaf.ignore_uri_case
        || matches!((root.port, leaf.port), (Some(a), Some(b)) if a > 0 && b > 0 && a != b)
}

/// Istio's `stringMatchConflict`: regexes always conflict; an exact root
/// takes only the same exact; a prefix root takes prefixes and exacts
/// that start with it.
fn string_conflict(root: Option<&StringMatch>, leaf: Option<&StringMatch>) -> bool {
    let (Some(root), Some(leaf)) = (root, leaf) else {
        return false;
    };
    if root.regex.is_some() || leaf.regex.is_some() {
        return true;
    }
    if let Some(exact) = root.exact.as_deref().filter(|e| !e.is_empty()) {
        return leaf.prefix.as_deref().is_some_and(|p| !p.is_empty())
            || leaf.exact.as_deref() != Some(exact);
    }
    if let Some(prefix) = root.prefix.as_deref().filter(|p| !p.is_empty()) {
        if let Some(p) = leaf.prefix.as_deref().filter(|p| !p.is_empty()) {
            return !p.starts_with(prefix);
        }
        if let Some(e) = leaf.exact.as_deref().filter(|e| !e.is_empty()) {
            return !e.starts_with(prefix);
        }
    }
    true
}

#[cfg(test)]
mod tests;
