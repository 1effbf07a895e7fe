//! The Service Mesh Interface `split.smi-spec.io` TrafficSplit, as the SMI
//! spec (`apis/traffic-split/`) and smi-sdk-go (`pkg/apis/split/`) define
//! it. One struct reads every version: v1alpha1 writes weights as
//! Kubernetes quantities (`500m`), v1alpha2 and later as integers, and
//! v1alpha3 added `matches`.

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use serde::Deserialize;

use crate::check::{Check, Validate};
use crate::types::Quantity;

/// SMI `TrafficSplitSpec`: traffic for the root `service` is shared
/// between `backends` in proportion to their weights (weights, not
/// percentages: they need not sum to anything).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrafficSplit {
    /// The root (apex) service clients address.
    #[serde(default)]
    pub service: String,
    #[serde(default)]
    pub backends: Vec<TrafficSplitBackend>,
    /// v1alpha3+: HTTPRouteGroups whose matches select the traffic split;
    /// the rest goes to the root service.
    #[serde(default)]
    pub matches: Vec<TypedLocalObjectReference>,
}

/// SMI `TrafficSplitBackend`: a Kubernetes service in the split's
/// namespace and its share.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrafficSplitBackend {
    #[serde(default)]
    pub service: String,
    /// `500m` (v1alpha1) or `50` (v1alpha2+); kept in thousandths.
    pub weight: Quantity,
}

/// Kubernetes `core/v1` `TypedLocalObjectReference`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TypedLocalObjectReference {
    /// `specs.smi-spec.io` for an HTTPRouteGroup.
    pub api_group: Option<String>,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
}

/// What the SMI CRD schema and spec require, and what makes a split
/// route nothing.
impl Validate for TrafficSplit {
    fn validate(&self, cx: &mut Check<'_>) {
        if self.service.is_empty() {
            cx.error("service", "spec.service", "a TrafficSplit needs `service`, the root service clients address, such as `service: website`");
        }
        if self.backends.is_empty() {
            cx.error(
                "no-backends",
                "spec.backends",
                "a TrafficSplit needs `backends`, such as `- service: website-v1` with `weight: 90`",
            );
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, b) in self.backends.iter().enumerate() {
            let path = format!("spec.backends[{i}]");
            if b.service.is_empty() {
                cx.error(
                    "service",
                    format!("{path}.service"),
                    "a backend needs `service`, the Kubernetes service to send its share to",
                );
            } else if let Some(first) = seen.get(b.service.as_str()) {
                cx.error(
                    "duplicate-backend",
                    format!("{path}.service"),
                    format!("backend `{}` is already listed at backends[{first}]; list each service once, with the sum of the weights", b.service),
                );
            } else {
                seen.insert(&b.service, i);
            }
            if b.weight.milli < 0 {
                cx.error(
                    "weight",
                    format!("{path}.weight"),
                    "weight is negative; use 0 or more",
                );
            }
        }
        if !self.backends.is_empty() && self.backends.iter().all(|b| b.weight.milli <= 0) {
            cx.error(
                "weights-zero",
                format!("spec.backends[{}].weight", self.backends.len() - 1),
                "every weight is 0, so no backend gets traffic; give at least one backend a positive weight",
            );
        }
        for (i, m) in self.matches.iter().enumerate() {
            let path = format!("spec.matches[{i}]");
            if m.name.is_empty() {
                cx.error(
                    "match",
                    format!("{path}.name"),
                    "a match needs the `name` of an HTTPRouteGroup",
                );
            }
            if m.kind.is_empty() {
                cx.error(
                    "match",
                    format!("{path}.kind"),
                    "a match needs `kind: HTTPRouteGroup`",
                );
            } else if m.kind != "HTTPRouteGroup" {
                cx.error(
                    "match",
                    format!("{path}.kind"),
                    format!("`kind: {}` cannot be matched; a TrafficSplit matches `kind: HTTPRouteGroup`", m.kind),
                );
            }
        }
    }
}
