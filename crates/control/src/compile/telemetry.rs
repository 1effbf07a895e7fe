//! Istio's `Telemetry` resources for one proxy: whether it writes access
//! logs, and how it traces. As Istio scopes them: one in the root
//! namespace without a selector applies mesh-wide, one in the proxy's
//! namespace without a selector to the namespace, one with a selector to
//! the workloads whose labels it matches in its namespace.
//!
//! Access logging: the most specific one that says anything about it
//! decides. Tracing: field by field, each from the most specific one that
//! sets it (Istio's Telemetry task, "Scope, Inheritance, and Overrides":
//! a field set at a level overrides the parent's, the rest is inherited).

use weft_api::analyze::ROOT_NAMESPACE;
use weft_api::kinds::Spec;
use weft_api::kinds::istio::{Telemetry, TracingSettings};
use weft_api::resource::Resource;
use weft_proto::config::Tracing;

use super::routes::Caller;
use crate::model::Mesh;

/// How specific a Telemetry is for a caller: mesh-wide, namespace,
/// workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Mesh = 0,
    Namespace = 1,
    Workload = 2,
}

/// Whether `caller` writes access logs.
pub fn access_logs(mesh: &Mesh, caller: &Caller) -> bool {
    let mut best: Option<(Level, bool)> = None;
    for (r, t) in telemetries(mesh) {
        let Some(on) = t.access_logs() else {
            continue;
        };
        let Some(level) = level(r, t, caller) else {
            continue;
        };
        if best.is_none_or(|(l, _)| level > l) {
            best = Some((level, on));
        }
    }
    best.is_some_and(|(_, on)| on)
}

/// The tracing `caller` is pushed: the mesh's collector and sampling
/// (`weft control --tracing-*`), with the sampling percentage and span
/// reporting of the Telemetry that sets them most specifically. `None`:
/// no collector (nothing to export to, whatever Telemetry says), or span
/// reporting disabled. A disabled proxy has no tracer, so trace headers
/// pass through it untouched, as Istio documents for
/// `disableSpanReporting` ("tracing context will still be propagated").
///
/// Cost: one pass over the resources per view.
pub fn tracing(mesh: &Mesh, caller: &Caller) -> Option<Tracing> {
    let base = mesh.tracing.as_ref()?;
    // Two at one level is invalid in Istio; as for access logging, the
    // first loaded wins.
    let mut levels: [Option<TracingSettings>; 3] = [None; 3];
    for (r, t) in telemetries(mesh) {
        let settings = t.tracing();
        if settings.is_empty() {
            continue;
        }
        if let Some(level) = level(r, t, caller) {
            levels[level as usize].get_or_insert(settings);
        }
    }
    let settings = levels
        .iter()
        .rev()
        .flatten()
        .fold(TracingSettings::default(), |acc, s| acc.over(*s));
    if settings.disabled == Some(true) {
        return None;
    }
    let mut out = base.clone();
    if let Some(p) = settings.sampling {
        out.sampling = p;
    }
    Some(out)
}

fn telemetries(mesh: &Mesh) -> impl Iterator<Item = (&Resource, &Telemetry)> {
    mesh.resources.iter().filter_map(|r| match &r.spec {
        Spec::Telemetry(t) => Some((&**r, t)),
        _ => None,
    })
}

/// How `t` applies to `caller`, if it does. A selector in the root
/// namespace selects only workloads there (Istio ignores such a
/// selector for the rest of the mesh).
fn level(r: &Resource, t: &Telemetry, caller: &Caller) -> Option<Level> {
    let labels = t
        .selector
        .as_ref()
        .map(|s| &s.match_labels)
        .filter(|l| !l.is_empty());
    let ns = r.namespace();
    match labels {
        Some(l)
            if ns == caller.namespace && l.iter().all(|(k, v)| caller.labels.get(k) == Some(v)) =>
        {
            Some(Level::Workload)
        }
        Some(_) => None,
        None if ns == caller.namespace => Some(Level::Namespace),
        None if ns == ROOT_NAMESPACE => Some(Level::Mesh),
        None => None,
    }
}
