//! What weft's ingress gateway acts on (`weft-control`'s
//! `compile/gateway/`): Istio `Gateway`, Gateway API `Gateway` and
//! `HTTPRoute` (which sidecars also act on when attached to a Service,
//! `mesh.rs`). Fields whose values weft can only partly honour are
//! listed as implemented and get a specific warning here instead of the
//! generic one, so the warning says what happens instead.

use weft_yaml::{Entry, Node, NodeKind, Scalar};

use crate::kinds::Kind;

pub(super) const ISTIO_GATEWAY: &[&str] = &[
    "spec.selector",
    "spec.servers[].port.number",
    "spec.servers[].port.protocol",
    "spec.servers[].port.name",
    "spec.servers[].hosts",
    "spec.servers[].name",
    "spec.servers[].tls.mode",
    "spec.servers[].tls.serverCertificate",
    "spec.servers[].tls.privateKey",
    "spec.servers[].tls.credentialName",
];

pub(super) const KUBE_GATEWAY: &[&str] = &[
    "spec.gatewayClassName",
    "spec.listeners[].name",
    "spec.listeners[].hostname",
    "spec.listeners[].port",
    "spec.listeners[].protocol",
    "spec.listeners[].tls.mode",
    "spec.listeners[].tls.certificateRefs",
    "spec.listeners[].allowedRoutes.namespaces.from",
    "spec.listeners[].allowedRoutes.kinds",
];

pub(super) const HTTP_ROUTE: &[&str] = &[
    "spec.parentRefs",
    "spec.hostnames",
    "spec.rules[].name",
    "spec.rules[].matches[].path",
    "spec.rules[].matches[].headers",
    "spec.rules[].matches[].method",
    "spec.rules[].matches[].queryParams",
    "spec.rules[].filters[].type",
    "spec.rules[].filters[].requestHeaderModifier",
    "spec.rules[].filters[].responseHeaderModifier",
    "spec.rules[].filters[].requestRedirect",
    "spec.rules[].filters[].urlRewrite",
    "spec.rules[].filters[].requestMirror",
    "spec.rules[].filters[].cors",
    "spec.rules[].backendRefs[].filters[].type",
    "spec.rules[].backendRefs[].filters[].requestHeaderModifier",
    "spec.rules[].backendRefs[].filters[].responseHeaderModifier",
    "spec.rules[].backendRefs[].group",
    "spec.rules[].backendRefs[].kind",
    "spec.rules[].backendRefs[].name",
    "spec.rules[].backendRefs[].namespace",
    "spec.rules[].backendRefs[].port",
    "spec.rules[].backendRefs[].weight",
    "spec.rules[].timeouts.request",
    "spec.rules[].retry",
    "spec.rules[].timeouts.backendRequest",
];

/// Warnings for values of implemented fields that weft does not act on.
pub(super) fn values(kind: Kind, root: &Node, out: &mut Vec<(String, String)>) {
    let route_ns = root
        .entry("metadata")
        .and_then(|m| m.value.str_at("namespace"))
        .unwrap_or(crate::meta::DEFAULT_NAMESPACE)
        .to_string();
    root.walk(&mut |path, entry| {
        let at = path.to_string();
        let msg = match (kind, path.pattern().as_str()) {
            (Kind::Gateway, "spec.servers[].port.protocol") => str_of(entry)
                .filter(|p| {
                    !["HTTP", "HTTPS", "HTTP2", "GRPC", "TLS", "TCP", "MONGO", "MYSQL", "REDIS"]
                        .iter()
                        .any(|h| p.eq_ignore_ascii_case(h))
                })
                .map(|p| format!("weft's gateways serve HTTP, HTTPS, TLS (passed through) and TCP: a `{p}` server is not served")),
            (Kind::Gateway, "spec.servers[]") => {
                let protocol = entry.value.entry("port").and_then(|p| p.value.str_at("protocol"));
                let mode = entry.value.entry("tls").and_then(|t| t.value.str_at("mode"));
                match (protocol, mode) {
                    (Some(p), m) if p.eq_ignore_ascii_case("TLS") && m != Some("PASSTHROUGH") => Some(format!(
                        "weft's gateways pass TLS servers through (tls.mode PASSTHROUGH); `{}` on a TLS server (terminate, then TCP) is not implemented yet, so this server is not served",
                        m.unwrap_or("no tls.mode")
                    )),
                    _ => None,
                }
            }
            (Kind::Gateway, "spec.servers[].tls.mode") => str_of(entry)
                .filter(|m| *m != "SIMPLE" && *m != "PASSTHROUGH")
                .map(|m| format!("weft's gateways terminate SIMPLE TLS and pass PASSTHROUGH TLS through: `{m}` is not implemented yet, so this port gets no certificate and refuses TLS")),
            (Kind::Gateway, "spec.servers[].tls.credentialName") => Some(
                "weft cannot read Kubernetes Secrets yet: give the certificate as files (serverCertificate and privateKey), or in the gateway proxy's listener `tls`".to_string(),
            ),
            (Kind::KubeGateway, "spec.gatewayClassName") => str_of(entry)
                .filter(|c| !["istio", "weft"].contains(c))
                .map(|c| format!("weft runs Gateways of class `istio` or `weft`: this one (`{c}`) is left to its own implementation")),
            (Kind::KubeGateway, "spec.listeners[].protocol") => str_of(entry)
                .filter(|p| *p != "HTTP" && *p != "HTTPS")
                .map(|p| format!("weft's gateways serve HTTP and HTTPS: a `{p}` listener is not served yet")),
            (Kind::KubeGateway, "spec.listeners[].tls.mode") => str_of(entry)
                .filter(|m| *m != "Terminate")
                .map(|m| format!("weft's gateways terminate TLS only: `{m}` is not implemented yet")),
            (Kind::KubeGateway, "spec.listeners[].tls.certificateRefs") => Some(
                "weft cannot read Kubernetes Secrets yet: this listener's certificate comes from the gateway proxy's listener `tls: { certificate, private_key }` (or use an Istio Gateway with serverCertificate and privateKey files)".to_string(),
            ),
            (Kind::KubeGateway, "spec.listeners[].allowedRoutes.namespaces.from") => str_of(entry)
                .filter(|f| *f == "Selector")
                .map(|_| "weft does not read Namespace labels yet: no route attaches through `from: Selector`".to_string()),
            (Kind::HttpRoute, "spec.rules[].filters[].requestRedirect.path.type")
            | (Kind::HttpRoute, "spec.rules[].filters[].urlRewrite.path.type") => None,
            (Kind::HttpRoute, "spec.rules[].filters[].requestRedirect.path") => entry
                .value
                .str_at("type")
                .filter(|t| *t == "ReplacePrefixMatch")
                .map(|_| "weft does not redirect with a prefix replacement yet: this rule's requests find no route (404)".to_string()),
            (Kind::HttpRoute, "spec.rules[].backendRefs[].namespace") => str_of(entry)
                .filter(|ns| *ns != route_ns)
                .map(|_| "a backend in another namespace needs a ReferenceGrant, which weft does not read yet: this backend gets no traffic".to_string()),
            (Kind::HttpRoute, "spec.rules[].backendRefs[].kind") => str_of(entry)
                .filter(|k| *k != "Service" && *k != "Hostname")
                .map(|k| format!("weft sends to Services (and Istio's Hostname) only: this `{k}` backend gets no traffic")),
            _ => None,
        };
        if let Some(m) = msg {
            out.push((at, m));
        }
        true
    });
}

fn str_of(entry: &Entry) -> Option<&str> {
    match &entry.value.kind {
        NodeKind::Scalar(Scalar::Str(s)) => Some(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::ResourceSet;

    fn warnings(yaml: &str) -> Vec<String> {
        ResourceSet::from_text("gw.yaml", yaml)
            .findings
            .iter()
            .filter(|f| f.code == "not-implemented")
            .map(|f| f.to_string())
            .collect()
    }

    #[test]
    fn the_seed_gateway_and_its_virtual_service_draw_no_warning() {
        let seed =
            std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
                "../../../shared/conformance/istio/bookinfo/networking/bookinfo-gateway.yaml",
            ))
            .unwrap();
        assert_eq!(warnings(&seed), Vec::<String>::new());
    }

    #[test]
    fn what_a_gateway_cannot_do_is_said_on_its_line() {
        let got = warnings(
            "apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: 443, name: https, protocol: HTTPS }
    hosts: ['*']
    tls: { mode: SIMPLE, credentialName: edge-cert }
  - port: { number: 31400, name: udp, protocol: UDP }
    hosts: ['*']
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: kube }
spec:
  gatewayClassName: istio
  listeners:
  - name: https
    port: 443
    protocol: HTTPS
    tls: { certificateRefs: [{ name: cert }] }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r }
spec:
  parentRefs: [{ name: kube }, { group: '', kind: Service, name: reviews }]
  rules:
  - matches: [{ queryParams: [{ name: debug, value: '1' }] }]
    filters: [{ type: RequestRedirect, requestRedirect: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /x } } }]
    backendRefs: [{ name: reviews, namespace: other, port: 9080 }]
",
        );
        let has = |line: u32, words: &str| {
            got.iter()
                .any(|w| w.contains(&format!("gw.yaml:{line}:")) && w.contains(words))
        };
        assert!(has(9, "cannot read Kubernetes Secrets"), "{got:#?}");
        assert!(has(10, "`UDP` server is not served"), "{got:#?}");
        assert!(has(22, "gateway proxy's listener `tls"), "{got:#?}");
        assert!(has(31, "redirect with a prefix replacement"), "{got:#?}");
        assert!(has(32, "ReferenceGrant"), "{got:#?}");
        assert_eq!(got.len(), 5, "{got:#?}");
    }
}
