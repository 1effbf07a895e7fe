//! kubernetes-sigs/gateway-api `apis/v1alpha2/tcproute_types.go`:
//! TCPRoute, which forwards the connections a TCP listener accepts to
//! weighted backends.

#[cfg(test)]
mod tests;

use serde::Deserialize;

use super::common::validate::{self as common, Backend};
use super::common::{BackendRef, GatewayDefaultScope, ParentReference};
use crate::check::{Check, Validate};

/// `TCPRouteSpec`. The `CommonRouteSpec` fields come first.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpRoute {
    #[serde(default)]
    pub parent_refs: Vec<ParentReference>,
    /// Experimental: attach to the default Gateways of this scope too.
    pub use_default_gateways: Option<GatewayDefaultScope>,
    /// 1 to 16 rules.
    #[serde(default)]
    pub rules: Vec<TcpRouteRule>,
}

/// `TCPRouteRule`: where connections go.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpRouteRule {
    /// Unique within the route, when set.
    pub name: Option<String>,
    /// 1 to 16 backends; connections are spread by weight.
    #[serde(default)]
    pub backend_refs: Vec<BackendRef>,
}

/// The CRD's markers: `rules` and each rule's `backendRefs` hold 1 to 16
/// entries; rule names are unique.
impl Validate for TcpRoute {
    fn validate(&self, cx: &mut Check<'_>) {
        common::parent_refs(cx, &self.parent_refs);
        if self.rules.is_empty() {
            cx.error(
                "required",
                "spec.rules",
                "a TCPRoute needs at least one rule with `backendRefs`, where connections go",
            );
        }
        common::max_items(
            cx,
            "spec.rules",
            self.rules.len(),
            16,
            "split the route into several TCPRoutes",
        );
        common::rule_names(cx, self.rules.iter().map(|r| r.name.as_ref()));
        for (i, rule) in self.rules.iter().enumerate() {
            let path = format!("spec.rules[{i}].backendRefs");
            if rule.backend_refs.is_empty() {
                cx.error(
                    "required",
                    format!("spec.rules[{i}]"),
                    "a TCP rule needs `backendRefs`: without a backend every connection is refused; add one, such as `- name: my-service` with its `port`",
                );
            }
            common::max_items(cx, &path, rule.backend_refs.len(), 16, "split the rule");
            for (j, b) in rule.backend_refs.iter().enumerate() {
                let view = Backend {
                    group: b.group.as_deref(),
                    kind: b.kind.as_deref(),
                    name: &b.name,
                    namespace: b.namespace.as_deref(),
                    port: b.port,
                    weight: b.weight,
                };
                common::backend(cx, &format!("{path}[{j}]"), &view);
            }
            common::all_zero_weights(cx, &path, rule.backend_refs.iter().map(|b| b.weight));
        }
    }
}
