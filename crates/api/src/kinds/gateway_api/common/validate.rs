//! Checks the Gateway API kinds share, following the CRDs' validation
//! markers and CEL rules (kubernetes-sigs/gateway-api `apis/v1/*_types.go`)
//! and the upstream validation package (`apis/v1/validation`).

mod rules;

use std::collections::{HashMap, HashSet};

pub(crate) use rules::*;

use super::*;
use crate::check::Check;
use crate::kinds::gateway_api::syntax;

/// Largest weight a backendRef may carry (`BackendRef.Weight` Maximum).
pub(crate) const MAX_WEIGHT: i32 = 1_000_000;

/// A backend reference as every kind spells it, borrowed for checking.
pub(crate) struct Backend<'a> {
    pub group: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub name: &'a str,
    pub namespace: Option<&'a str>,
    pub port: Option<i32>,
    pub weight: Option<i32>,
}

/// Reports a list longer than the CRD's `MaxItems`; `fix` says what to do.
pub(crate) fn max_items(cx: &mut Check<'_>, path: &str, len: usize, max: usize, fix: &str) {
    if len > max {
        cx.error(
            "too-many",
            path,
            format!("{len} entries, more than the {max} the CRD allows; {fix}"),
        );
    }
}

/// Reports `value` when `rule` (one of [`syntax`]'s) rejects it.
pub(crate) fn well_formed(
    cx: &mut Check<'_>,
    code: &'static str,
    path: &str,
    what: &str,
    value: &str,
    rule: fn(&str) -> Option<String>,
) {
    if let Some(why) = rule(value) {
        cx.error(
            code,
            path,
            format!("{value:?} is not a valid {what}: {why}"),
        );
    }
}

/// A port number: 1 to 65535.
pub(crate) fn port(cx: &mut Check<'_>, path: &str, port: i32) {
    if !(1..=65535).contains(&port) {
        cx.error(
            "port",
            path,
            format!("{port} is not a port; use 1 to 65535"),
        );
    }
}

/// A route's `hostnames`: at most 16 DNS names, each possibly a `*.`
/// wildcard, with no IPs and no ports.
pub(crate) fn hostnames(cx: &mut Check<'_>, hostnames: &[String]) {
    max_items(
        cx,
        "spec.hostnames",
        hostnames.len(),
        16,
        "use a wildcard such as `*.example.com` or split the route",
    );
    let mut seen = HashSet::new();
    for (i, h) in hostnames.iter().enumerate() {
        let path = format!("spec.hostnames[{i}]");
        if let Some(why) = syntax::hostname(h, true) {
            cx.error(
                "hostname",
                &path,
                format!("{h:?} is not a valid hostname: {why}"),
            );
        } else if !seen.insert(h.as_str()) {
            cx.warn(
                "duplicate",
                &path,
                format!("hostname `{h}` is listed twice; remove one"),
            );
        }
    }
}

/// A parent by group, kind, namespace and name.
type ParentKey<'a> = (&'a str, &'a str, &'a str, &'a str);

/// `CommonRouteSpec.parentRefs`: at most 32, each well formed, and two
/// references to one parent told apart by `sectionName` or `port`.
pub(crate) fn parent_refs(cx: &mut Check<'_>, refs: &[ParentReference]) {
    max_items(cx, "spec.parentRefs", refs.len(), 32, "split the route");
    // Each parent, by (group, kind, namespace, name), with the
    // (index, sectionName, port) of every reference to it so far.
    let mut parents: HashMap<ParentKey<'_>, Vec<(usize, &str, i32)>> = HashMap::new();
    for (i, r) in refs.iter().enumerate() {
        let path = format!("spec.parentRefs[{i}]");
        parent_ref(cx, &path, r);
        let key = (
            r.group(),
            r.kind(),
            r.namespace.as_deref().unwrap_or(""),
            r.name.as_str(),
        );
        let section = r.section_name.as_deref().unwrap_or("");
        let port = r.port.unwrap_or(0);
        let earlier = parents.entry(key).or_default();
        let what = format!("{} `{}`", r.kind(), r.name);
        let unqualified = |s: &str, p: i32| s.is_empty() && p == 0;
        if let Some((j, ..)) = earlier
            .iter()
            .find(|(_, s, p)| unqualified(s, *p) || unqualified(section, port))
        {
            cx.error(
                "parent-refs",
                &path,
                format!("{what} is also referenced by parentRefs[{j}]; when a route names one parent twice, give each reference a distinct `sectionName` (or `port`)"),
            );
        } else if let Some((j, ..)) = earlier.iter().find(|(_, s, p)| *s == section && *p == port) {
            cx.error(
                "parent-refs",
                &path,
                format!("{what} is already referenced by parentRefs[{j}] with the same sectionName and port; remove the duplicate"),
            );
        }
        earlier.push((i, section, port));
    }
}

fn parent_ref(cx: &mut Check<'_>, path: &str, r: &ParentReference) {
    well_formed(
        cx,
        "name",
        &format!("{path}.name"),
        "object name",
        &r.name,
        syntax::object_name,
    );
    if let Some(g) = &r.group {
        well_formed(
            cx,
            "name",
            &format!("{path}.group"),
            "API group",
            g,
            syntax::group,
        );
    }
    if let Some(k) = &r.kind {
        well_formed(cx, "name", &format!("{path}.kind"), "kind", k, syntax::kind);
        // The group defaults to Gateway API's even for `kind: Service`:
        // `gateway.networking.k8s.io/Service` does not exist, so the route
        // would attach to nothing.
        if k == "Service" && r.group.is_none() {
            cx.warn(
                "parent-group",
                format!("{path}.kind"),
                "`kind: Service` without `group` means gateway.networking.k8s.io/Service, which does not exist; add `group: \"\"` to attach to a Kubernetes Service (a mesh route)",
            );
        }
    }
    if let Some(ns) = &r.namespace {
        well_formed(
            cx,
            "name",
            &format!("{path}.namespace"),
            "namespace",
            ns,
            syntax::dns_label,
        );
    }
    if let Some(s) = &r.section_name {
        well_formed(
            cx,
            "name",
            &format!("{path}.sectionName"),
            "section name",
            s,
            syntax::subdomain,
        );
    }
    if let Some(p) = r.port {
        port(cx, &format!("{path}.port"), p);
    }
}

/// Rule `name`s: valid section names, unique within the route.
pub(crate) fn rule_names<'a>(cx: &mut Check<'_>, names: impl Iterator<Item = Option<&'a String>>) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, name) in names.enumerate() {
        let Some(name) = name else { continue };
        let path = format!("spec.rules[{i}].name");
        well_formed(cx, "name", &path, "rule name", name, syntax::subdomain);
        if let Some(j) = seen.insert(name, i) {
            cx.error("rule-name", &path, format!("rule name `{name}` is already used by rules[{j}]; rule names must be unique within the route"));
        }
    }
}

/// Total matches across a route's rules: at most 128 (CEL rule on
/// `spec.rules`), though each rule may have up to 64 (HTTP) or 8 (gRPC).
pub(crate) fn total_matches(cx: &mut Check<'_>, counts: impl Iterator<Item = usize>) {
    let total: usize = counts.sum();
    if total > 128 {
        cx.error(
            "too-many",
            "spec.rules",
            format!("{total} matches across all rules, more than the 128 a route may hold; split the route"),
        );
    }
}

/// One backend reference: names well formed, a Service has a `port`,
/// weight within 0 to 1,000,000.
pub(crate) fn backend(cx: &mut Check<'_>, path: &str, b: &Backend<'_>) {
    well_formed(
        cx,
        "name",
        &format!("{path}.name"),
        "object name",
        b.name,
        syntax::object_name,
    );
    if let Some(g) = b.group {
        well_formed(
            cx,
            "name",
            &format!("{path}.group"),
            "API group",
            g,
            syntax::group,
        );
    }
    if let Some(k) = b.kind {
        well_formed(cx, "name", &format!("{path}.kind"), "kind", k, syntax::kind);
    }
    if let Some(ns) = b.namespace {
        well_formed(
            cx,
            "name",
            &format!("{path}.namespace"),
            "namespace",
            ns,
            syntax::dns_label,
        );
    }
    match b.port {
        Some(p) => port(cx, &format!("{path}.port"), p),
        None if is_core_service(b.group, b.kind) => cx.error(
            "service-port",
            path,
            format!("backend `{}` is a Service, which needs `port`: the Service port (not the container's target port)", b.name),
        ),
        None => {}
    }
    if let Some(w) = b.weight
        && !(0..=MAX_WEIGHT).contains(&w)
    {
        cx.error("weight", format!("{path}.weight"), format!("weight {w} is out of range; use 0 to 1000000 (weights are relative and need not sum to 100)"));
    }
}

/// Warns when every backend of a rule has weight 0: no request can be
/// forwarded, so every one gets an error response.
pub(crate) fn all_zero_weights(
    cx: &mut Check<'_>,
    path: &str,
    weights: impl Iterator<Item = Option<i32>>,
) {
    let weights: Vec<i32> = weights.map(|w| w.unwrap_or(1)).collect();
    if !weights.is_empty() && weights.iter().all(|w| *w == 0) {
        cx.warn(
            "weights-zero",
            path,
            "every backendRef has weight 0, so no request can be forwarded and each gets an error; give at least one a positive weight",
        );
    }
}

/// The checks every route kind's spec shares: its parents, hostnames,
/// the CRD's limit of 16 rules, unique rule names and the 128 matches a
/// route may hold in all. `kind` names the route in the fix (`HTTPRoute`).
pub(crate) fn route_spec<'a>(
    cx: &mut Check<'_>,
    kind: &str,
    parent_refs: &[ParentReference],
    hostnames: &[String],
    names: impl Iterator<Item = Option<&'a String>>,
    match_counts: impl Iterator<Item = usize>,
    rules: usize,
) {
    self::parent_refs(cx, parent_refs);
    self::hostnames(cx, hostnames);
    max_items(
        cx,
        "spec.rules",
        rules,
        16,
        &format!("split the route into several {kind}s"),
    );
    rule_names(cx, names);
    total_matches(cx, match_counts);
}

/// A route filter's `type`, as every route kind's filter enum spells it.
pub(crate) trait FilterType: Copy + PartialEq {
    fn as_str(self) -> &'static str;
    /// The field that holds this type's settings.
    fn field(self) -> &'static str;
}

/// A filter's settings must be those of its `type`, and only those.
/// `configs` are the settings fields that are set, each with the type it
/// belongs to.
pub(crate) fn filter_settings<T: FilterType>(
    cx: &mut Check<'_>,
    path: &str,
    t: T,
    configs: &[(&'static str, T)],
) {
    for (field, of) in configs {
        if *of != t {
            cx.error(
                "filter-config",
                format!("{path}.{field}"),
                format!(
                    "`{field}` is set but the filter's type is `{}`; change `type` to `{}` or remove `{field}`",
                    t.as_str(),
                    of.as_str()
                ),
            );
        }
    }
    if !configs.iter().any(|(_, of)| *of == t) {
        cx.error(
            "filter-config",
            path,
            format!(
                "a `{}` filter needs its settings under `{}`",
                t.as_str(),
                t.field()
            ),
        );
    }
}

/// A match's `headers`: at most 16, each well formed, no name twice
/// (names compare case-insensitively).
pub(crate) fn header_matches(cx: &mut Check<'_>, path: &str, headers: &[super::HeaderMatch]) {
    let at = format!("{path}.headers");
    max_items(cx, &at, headers.len(), 16, "split the match");
    for (k, h) in headers.iter().enumerate() {
        value_match(cx, &format!("{at}[{k}]"), h.type_, &h.name, &h.value, 4096);
    }
    duplicate_names(
        cx,
        &at,
        "header",
        headers.iter().map(|h| h.name.as_str()),
        true,
    );
}
