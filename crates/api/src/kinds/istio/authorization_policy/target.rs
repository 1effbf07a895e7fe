//! Where a security policy applies: a workload `selector`, or the
//! resources `targetRef`/`targetRefs` name. Shared by AuthorizationPolicy,
//! RequestAuthentication and (for the selector) PeerAuthentication,
//! following Istio's `validateOneOfSelectorType`,
//! `validatePolicyTargetReference` and `validateWorkloadSelector`.

use serde::Deserialize;

use super::super::WorkloadSelector;
use crate::check::Check;

/// istio/api `type/v1beta1/selector.proto` `PolicyTargetReference`: a
/// resource in the policy's namespace the policy attaches to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyTargetReference {
    /// API group; `""` is the core group (a Service).
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    /// Must be unset: Istio does not support cross-namespace references.
    pub namespace: Option<String>,
}

/// The (group, kind) pairs Istio accepts as policy targets.
const TARGET_KINDS: [(&str, &str); 4] = [
    ("", "Service"),
    ("networking.istio.io", "ServiceEntry"),
    ("gateway.networking.k8s.io", "Gateway"),
    ("gateway.networking.k8s.io", "GatewayClass"),
];

/// Checks that at most one of `selector`, `targetRef` and `targetRefs` is
/// set, and each of them on its own.
pub(crate) fn check_scope(
    cx: &mut Check<'_>,
    selector: Option<&WorkloadSelector>,
    target_ref: Option<&PolicyTargetReference>,
    target_refs: &[PolicyTargetReference],
) {
    let set: Vec<&str> = [
        ("selector", selector.is_some()),
        ("targetRef", target_ref.is_some()),
        ("targetRefs", !target_refs.is_empty()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    if let [.., last] = set.as_slice()
        && set.len() > 1
    {
        cx.error(
            "policy-scope",
            format!("spec.{last}"),
            format!(
                "set only one of `selector`, `targetRef` and `targetRefs` (found `{}`); a policy applies either to the workloads a selector picks or to the resources it targets",
                set.join("` and `")
            ),
        );
    }
    if let Some(s) = selector {
        check_selector(cx, s);
    }
    if let Some(r) = target_ref {
        r.check(cx, "spec.targetRef");
    }
    for (i, r) in target_refs.iter().enumerate() {
        r.check(cx, &format!("spec.targetRefs[{i}]"));
    }
}

/// Istio's `validateWorkloadSelector`: no empty keys, no wildcards, and a
/// warning for a selector without labels (it selects every workload).
pub(crate) fn check_selector(cx: &mut Check<'_>, selector: &WorkloadSelector) {
    if selector.match_labels.is_empty() {
        cx.warn(
            "selector",
            "spec.selector",
            "the selector has no `matchLabels`, so it selects every workload in the namespace; add labels such as `app: reviews`, or remove `selector`",
        );
    }
    for (key, value) in &selector.match_labels {
        let path = format!("spec.selector.matchLabels.{key}");
        if key.is_empty() {
            cx.error(
                "selector",
                "spec.selector.matchLabels",
                "a label key is empty; write it as `app: reviews`",
            );
        }
        if key.contains('*') || value.contains('*') {
            cx.error(
                "selector",
                path,
                format!("wildcards are not supported in selectors (`{key}: {value}`); name the exact label value"),
            );
        }
    }
}

// === impl PolicyTargetReference ===

impl PolicyTargetReference {
    fn check(&self, cx: &mut Check<'_>, path: &str) {
        if self.name.is_empty() {
            cx.error(
                "target-ref",
                format!("{path}.name"),
                "a target needs a `name`",
            );
        }
        if self.namespace.as_deref().is_some_and(|ns| !ns.is_empty()) {
            cx.error(
                "target-ref",
                format!("{path}.namespace"),
                "remove `namespace`: a policy can only target resources in its own namespace",
            );
        }
        let group = if self.group == "core" {
            ""
        } else {
            self.group.as_str()
        };
        if !TARGET_KINDS.contains(&(group, self.kind.as_str())) {
            let shown = if group.is_empty() {
                format!("`{}`", self.kind)
            } else {
                format!("`{}` in `{group}`", self.kind)
            };
            cx.error(
                "target-ref",
                format!("{path}.kind"),
                format!(
                    "{shown} cannot be a policy target; use `kind: Service` (group \"\"), `kind: ServiceEntry` (group `networking.istio.io`), or `kind: Gateway` or `GatewayClass` (group `gateway.networking.k8s.io`)"
                ),
            );
        }
    }
}
