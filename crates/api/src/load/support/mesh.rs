//! What weft's sidecars act on for mesh routing (`weft-control`'s
//! `compile/gamma.rs` and `compile/split.rs`): Gateway API routes
//! attached to a Service (GAMMA) and SMI TrafficSplits. A route attached
//! to a Gateway is the gateway's business (`gateways.rs`); what differs
//! by parent gets its own warning here.

use weft_yaml::{FieldPath, Node, NodeKind};

use crate::kinds::Kind;

pub(super) const GRPC_ROUTE: &[&str] = &[
    "spec.parentRefs",
    "spec.hostnames",
    "spec.rules[].name",
    "spec.rules[].matches[].method",
    "spec.rules[].matches[].headers",
    "spec.rules[].filters[].type",
    "spec.rules[].filters[].requestHeaderModifier",
    "spec.rules[].filters[].responseHeaderModifier",
    "spec.rules[].backendRefs[].filters[].type",
    "spec.rules[].backendRefs[].filters[].requestHeaderModifier",
    "spec.rules[].backendRefs[].filters[].responseHeaderModifier",
    "spec.rules[].backendRefs[].group",
    "spec.rules[].backendRefs[].kind",
    "spec.rules[].backendRefs[].name",
    "spec.rules[].backendRefs[].namespace",
    "spec.rules[].backendRefs[].port",
    "spec.rules[].backendRefs[].weight",
];

pub(super) const TCP_ROUTE: &[&str] = &[
    "spec.parentRefs",
    "spec.rules[].name",
    "spec.rules[].backendRefs[].group",
    "spec.rules[].backendRefs[].kind",
    "spec.rules[].backendRefs[].name",
    "spec.rules[].backendRefs[].namespace",
    "spec.rules[].backendRefs[].port",
    "spec.rules[].backendRefs[].weight",
];

pub(super) const TRAFFIC_SPLIT: &[&str] = &["spec.service", "spec.backends", "spec.matches"];

/// Linkerd ServiceProfiles (`compile/profile.rs`); `opaquePorts` is
/// Linkerd's own to set (validation warns).
pub(super) const SERVICE_PROFILE: &[&str] = &[
    "spec.routes[].name",
    "spec.routes[].condition",
    "spec.routes[].responseClasses",
    "spec.routes[].isRetryable",
    "spec.routes[].timeout",
    "spec.retryBudget",
    "spec.dstOverrides",
];

/// Warnings for values of implemented fields that weft does not act on,
/// or acts on differently by parent.
pub(super) fn values(kind: Kind, root: &Node, out: &mut Vec<(String, String)>) {
    let mut say = |path: &str, msg: &str| out.push((path.to_string(), msg.to_string()));
    if kind == Kind::ServiceProfile {
        root.walk(&mut |path, _| {
            if path.pattern().starts_with("spec.routes[].condition") && path.last_key() == Some("not") {
                say(
                    &path.to_string(),
                    "weft does not carry out `not` request conditions yet: this route is left out, and its requests go to the service as if it were not there",
                );
                return false;
            }
            true
        });
        return;
    }
    if kind == Kind::TrafficSplit {
        if !seq_at(root, "spec.matches").is_empty() {
            say(
                "spec.matches",
                "weft does not read HTTPRouteGroups yet: a TrafficSplit with `matches` is not carried out, and traffic to its service goes on as without it",
            );
        }
        return;
    }
    if !matches!(kind, Kind::HttpRoute | Kind::GrpcRoute | Kind::TcpRoute) {
        return;
    }
    let parents = seq_at(root, "spec.parentRefs");
    let service = parents.iter().any(is_service);
    let gateway = parents.iter().any(|p| !is_service(p));
    if service && !seq_at(root, "spec.hostnames").is_empty() {
        say(
            "spec.hostnames",
            "for a Service parent (mesh routing), `hostnames` are not matched (GAMMA, GEP-1426: meshes infer nothing from them); match the `Host` header in `matches` instead",
        );
    }
    let kind_name = match kind {
        Kind::GrpcRoute => "GRPCRoutes",
        Kind::TcpRoute => "TCPRoutes",
        _ => return,
    };
    if gateway {
        say(
            "spec.parentRefs",
            &format!(
                "weft's gateways do not serve {kind_name} yet: only parents of `kind: Service` (mesh routing) are carried out"
            ),
        );
    }
    let rules = seq_at(root, "spec.rules");
    if kind == Kind::TcpRoute && rules.len() > 1 {
        say(
            "spec.rules[1]",
            "weft carries out a TCPRoute's first rule only (mesh parents have no `sectionName` to tell rules apart)",
        );
    }
    let route_ns = root
        .entry("metadata")
        .and_then(|m| m.value.str_at("namespace"))
        .unwrap_or(crate::meta::DEFAULT_NAMESPACE);
    for (i, rule) in rules.iter().enumerate() {
        let refs = rule
            .entry("backendRefs")
            .map(|e| seq(&e.value))
            .unwrap_or_default();
        for (j, b) in refs.iter().enumerate() {
            let at = format!("spec.rules[{i}].backendRefs[{j}]");
            if b.str_at("namespace").is_some_and(|ns| ns != route_ns) {
                say(
                    &format!("{at}.namespace"),
                    "a backend in another namespace needs a ReferenceGrant, which weft does not read yet: this backend gets no traffic",
                );
            }
            if let Some(k) = b.str_at("kind").filter(|k| *k != "Service") {
                say(
                    &format!("{at}.kind"),
                    &format!(
                        "weft sends mesh routes to Services only: this `{k}` backend gets no traffic"
                    ),
                );
            }
        }
    }
}

/// A parentRef to a Service (`group: ""` or `core`).
fn is_service(p: &Node) -> bool {
    p.str_at("kind") == Some("Service") && matches!(p.str_at("group"), Some("" | "core"))
}

fn seq_at<'a>(root: &'a Node, path: &str) -> &'a [Node] {
    root.get(&FieldPath::parse(path))
        .map(seq)
        .unwrap_or_default()
}

fn seq(n: &Node) -> &[Node] {
    match &n.kind {
        NodeKind::Seq(items) => items,
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use crate::ResourceSet;

    fn warnings(yaml: &str) -> Vec<String> {
        ResourceSet::from_text("m.yaml", yaml)
            .findings
            .iter()
            .filter(|f| f.code == "not-implemented")
            .map(|f| f.to_string())
            .collect()
    }

    #[test]
    fn mesh_routes_and_splits_weft_carries_out_draw_no_warning() {
        let got = warnings(
            "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r }
spec:
  parentRefs: [{ group: '', kind: Service, name: reviews, port: 9080 }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /a } }]
    filters: [{ type: RequestHeaderModifier, requestHeaderModifier: { set: [{ name: x, value: y }] } }]
    backendRefs: [{ name: reviews-v2, port: 9080, weight: 1 }]
    timeouts: { request: 2s, backendRequest: 1s }
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: g }
spec:
  parentRefs: [{ group: core, kind: Service, name: reviews }]
  rules:
  - matches: [{ method: { service: a.B, method: C }, headers: [{ name: x, value: y }] }]
    backendRefs: [{ name: reviews-v2, port: 9080 }]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: { name: t }
spec:
  parentRefs: [{ group: '', kind: Service, name: db }]
  rules:
  - backendRefs: [{ name: db-v1, port: 3306, weight: 9 }, { name: db-v2, port: 3306, weight: 1 }]
---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: { name: canary }
spec:
  service: website
  backends: [{ service: website-v1, weight: 90 }, { service: website-v2, weight: 10 }]
",
        );
        assert_eq!(got, Vec::<String>::new());
    }

    #[test]
    fn what_mesh_routing_does_not_do_is_said_on_its_line() {
        let got = warnings(
            "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r }
spec:
  parentRefs: [{ group: '', kind: Service, name: reviews }]
  hostnames: [reviews.example.com]
  rules:
  - backendRefs: [{ name: reviews-v2, port: 9080 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: g }
spec:
  parentRefs: [{ name: edge }]
  rules:
  - backendRefs: [{ name: reviews-v2, namespace: other, port: 9080 }]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: { name: t }
spec:
  parentRefs: [{ group: '', kind: Service, name: db }]
  rules:
  - backendRefs: [{ name: db-v1, port: 3306 }]
  - backendRefs: [{ name: db-v2, port: 3306 }]
---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: { name: ab }
spec:
  service: website
  matches: [{ kind: HTTPRouteGroup, name: ab, apiGroup: specs.smi-spec.io }]
  backends: [{ service: website-v2, weight: 1 }]
",
        );
        let has = |line: u32, words: &str| {
            got.iter()
                .any(|w| w.contains(&format!("m.yaml:{line}:")) && w.contains(words))
        };
        assert!(has(6, "`hostnames` are not matched"), "{got:#?}");
        assert!(has(14, "do not serve GRPCRoutes"), "{got:#?}");
        assert!(has(16, "ReferenceGrant"), "{got:#?}");
        assert!(has(25, "first rule only"), "{got:#?}");
        assert!(has(32, "HTTPRouteGroups"), "{got:#?}");
        assert_eq!(got.len(), 5, "{got:#?}");
    }
}
