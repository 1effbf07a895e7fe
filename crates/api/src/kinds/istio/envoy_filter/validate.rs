//! What makes an EnvoyFilter impossible on its own, after Istio's
//! `ValidateEnvoyFilter` (`pkg/config/validation`), and the warning on
//! every patch weft does not carry out.

use super::super::workload_entry::net;
use super::local_rate_limit::recognize;
use super::*;
use crate::check::{Check, Validate};

/// What a patch weft does not carry out is told.
pub const IGNORED: &str = "weft does not apply EnvoyFilter patches except envoy.filters.http.local_ratelimit: this patch is ignored";

impl Validate for EnvoyFilter {
    fn validate(&self, cx: &mut Check<'_>) {
        if let Some(sel) = &self.workload_selector {
            net::selector(cx, "spec.workloadSelector", "labels", &sel.labels);
            if !self.target_refs.is_empty() {
                cx.error(
                    "envoy-filter",
                    "spec.targetRefs",
                    "only one of `workloadSelector` or `targetRefs` can be set",
                );
            }
        }
        for (i, p) in self.config_patches.iter().enumerate() {
            let path = format!("spec.configPatches[{i}]");
            if check_patch(cx, &path, p) {
                match recognize(p) {
                    Ok(Some(_)) => {}
                    Ok(None) => cx.warn("envoy-filter-ignored", &path, IGNORED),
                    Err(problems) => {
                        for (at, message) in problems {
                            cx.error("local-rate-limit", format!("{path}.{at}"), message);
                        }
                    }
                }
            }
        }
    }
}

/// Istio's checks of one patch; `false` when it cannot be applied.
fn check_patch(cx: &mut Check<'_>, path: &str, p: &EnvoyConfigObjectPatch) -> bool {
    let errors = cx.out.len();
    let Some(patch) = &p.patch else {
        cx.error(
            "envoy-filter",
            path,
            "missing patch; add `patch` with an `operation`",
        );
        return false;
    };
    let apply_to = match p.apply_to {
        None | Some(ApplyTo::Invalid) => {
            cx.error("envoy-filter", format!("{path}.applyTo"), "missing applyTo; say which Envoy object the patch changes (HTTP_FILTER, HTTP_ROUTE, ...)");
            return false;
        }
        Some(a) => a,
    };
    let op = match patch.operation {
        None | Some(PatchOperation::Invalid) => {
            cx.error(
                "envoy-filter",
                format!("{path}.patch.operation"),
                "missing patch operation",
            );
            return false;
        }
        Some(op) => op,
    };
    if op != PatchOperation::Remove && patch.value.is_none() {
        cx.error(
            "envoy-filter",
            format!("{path}.patch.value"),
            "missing patch value for non-remove operation",
        );
    }
    // Istio inserts relative to siblings only in ordered lists: filters of
    // a chain and routes of a virtual host; elsewhere it cannot.
    let ordered = matches!(
        apply_to,
        ApplyTo::NetworkFilter | ApplyTo::HttpFilter | ApplyTo::ListenerFilter | ApplyTo::HttpRoute
    );
    if matches!(
        op,
        PatchOperation::InsertBefore | PatchOperation::InsertAfter | PatchOperation::InsertFirst
    ) && !ordered
    {
        cx.error(
            "envoy-filter",
            format!("{path}.patch.operation"),
            format!("{op:?} applies only to NETWORK_FILTER, HTTP_FILTER, LISTENER_FILTER or HTTP_ROUTE; use ADD or MERGE for {apply_to:?}"),
        );
    }
    if patch
        .filter_class
        .is_some_and(|c| c != FilterClass::Unspecified)
        && apply_to != ApplyTo::HttpFilter
    {
        cx.error(
            "envoy-filter",
            format!("{path}.patch.filterClass"),
            "filterClass applies only to HTTP_FILTER patches",
        );
    }
    if let Some(m) = &p.matches {
        check_match(cx, path, apply_to, m);
    }
    cx.out.len() == errors
}

fn check_match(cx: &mut Check<'_>, path: &str, apply_to: ApplyTo, m: &EnvoyConfigObjectMatch) {
    let path = format!("{path}.match");
    let set = [
        m.listener.is_some(),
        m.route_configuration.is_some(),
        m.cluster.is_some(),
    ]
    .iter()
    .filter(|s| **s)
    .count();
    if set > 1 {
        cx.error(
            "envoy-filter",
            &path,
            "set only one of `listener`, `routeConfiguration` or `cluster`",
        );
    }
    let typed = set > 0;
    match apply_to {
        ApplyTo::Listener
        | ApplyTo::FilterChain
        | ApplyTo::NetworkFilter
        | ApplyTo::HttpFilter
        | ApplyTo::ListenerFilter => {
            if typed && m.listener.is_none() {
                cx.error(
                    "envoy-filter",
                    &path,
                    "applyTo for listener class objects cannot have non listener match",
                );
            }
            let filter = m
                .listener
                .as_ref()
                .and_then(|l| l.filter_chain.as_ref())
                .and_then(|fc| fc.filter.as_ref());
            if let Some(f) = filter {
                let at = format!("{path}.listener.filterChain.filter");
                if matches!(apply_to, ApplyTo::Listener | ApplyTo::FilterChain) {
                    cx.warn(
                        "envoy-filter",
                        &at,
                        format!("filter match has no effect when used with {apply_to:?}"),
                    );
                }
                if f.name.is_empty() {
                    cx.error(
                        "envoy-filter",
                        format!("{at}.name"),
                        "filter match has no name to match on",
                    );
                } else if let Some(sub) = &f.sub_filter {
                    if apply_to != ApplyTo::HttpFilter {
                        cx.error(
                            "envoy-filter",
                            format!("{at}.subFilter"),
                            "subfilter match can be used with applyTo HTTP_FILTER only",
                        );
                    }
                    if f.name != HTTP_CONNECTION_MANAGER
                        && f.name != "envoy.http_connection_manager"
                    {
                        cx.error("envoy-filter", format!("{at}.subFilter"), format!("subfilter match requires filter match with {HTTP_CONNECTION_MANAGER}"));
                    }
                    if sub.name.is_empty() {
                        cx.error(
                            "envoy-filter",
                            format!("{at}.subFilter.name"),
                            "subfilter match has no name to match on",
                        );
                    }
                }
            }
        }
        ApplyTo::RouteConfiguration | ApplyTo::VirtualHost | ApplyTo::HttpRoute => {
            if typed && m.route_configuration.is_none() {
                cx.error("envoy-filter", &path, "applyTo for http route class objects cannot have non route configuration match");
            }
        }
        ApplyTo::Cluster => {
            if typed && m.cluster.is_none() {
                cx.error(
                    "envoy-filter",
                    &path,
                    "applyTo for cluster class objects cannot have non cluster match",
                );
            }
        }
        ApplyTo::ExtensionConfig | ApplyTo::Bootstrap | ApplyTo::Invalid => {}
    }
    if let Some(v) = m.proxy.as_ref().and_then(|p| p.proxy_version.as_deref()) {
        cx.regex(format!("{path}.proxy.proxyVersion"), v);
    }
}
