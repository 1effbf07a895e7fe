use std::sync::Arc;

use weft_api::kinds::Spec;
use weft_api::{Resource, ResourceSet};

use super::*;

const SERVICES: &str = "
apiVersion: v1
kind: Service
metadata: { name: reviews }
spec: { selector: { app: reviews }, ports: [{ name: http, port: 9080 }, { name: http-admin, port: 9901 }] }
---
apiVersion: v1
kind: Service
metadata: { name: ratings }
spec: { selector: { app: ratings }, ports: [{ name: http, port: 9080 }] }
";

struct Fixture {
    mesh: Mesh,
    vs: Arc<Resource>,
}

fn fixture(vs_yaml: &str) -> Fixture {
    let set = ResourceSet::from_text("t.yaml", &format!("{SERVICES}---\n{vs_yaml}"));
    assert!(!set.has_errors(), "{:?}", set.findings);
    let vs = set
        .resources
        .iter()
        .find(|r| matches!(r.spec, Spec::VirtualService(_)))
        .cloned()
        .unwrap();
    Fixture {
        mesh: crate::model::Mesh::build(Arc::new(set.resources), &[]),
        vs,
    }
}

fn caller(ns: &str, labels: &[(&str, &str)]) -> Caller {
    Caller {
        namespace: ns.into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        gateway: false,
    }
}

/// Routes for port `port` of reviews as `who` sees them, and the clusters.
fn routes(f: &Fixture, port: u16, who: &Caller) -> (Vec<HttpRoute>, Vec<String>) {
    let Spec::VirtualService(vs) = &f.vs.spec else {
        unreachable!()
    };
    let svc = f.mesh.services["reviews.default.svc.cluster.local"].clone();
    let p = svc.ports.iter().find(|p| p.port == port).unwrap();
    let mut clusters = Vec::new();
    let r = http_routes(
        Scoped {
            vs,
            namespace: f.vs.namespace(),
        },
        &svc,
        p,
        who,
        &f.mesh,
        &mut clusters,
    );
    (r, clusters.iter().map(ClusterRef::name).collect())
}

fn vs(http: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{ name: reviews }}\nspec:\n  hosts: [reviews]\n  http:\n{http}"
    )
}

#[test]
fn header_routing_sends_jason_to_v2_and_everyone_else_to_v1() {
    let f = fixture(&vs("  - match:
    - headers: { end-user: { exact: jason } }
    route: [{ destination: { host: reviews, subset: v2 } }]
  - route: [{ destination: { host: reviews, subset: v1 } }]
"));
    let (r, clusters) = routes(&f, 9080, &caller("default", &[]));
    assert_eq!(r.len(), 2);
    assert_eq!(
        r[0].matches,
        [RouteMatch {
            headers: vec![HeaderMatch {
                name: "end-user".into(),
                value: StringMatch::Exact("jason".into())
            }],
            ..RouteMatch::default()
        }]
    );
    assert_eq!(
        r[0].backends,
        [Backend {
            cluster: "outbound|9080|v2|reviews.default.svc.cluster.local".into(),
            weight: 1,
            ..Backend::default()
        }]
    );
    assert!(r[1].matches.is_empty(), "the last rule matches everything");
    assert_eq!(
        clusters,
        [
            "outbound|9080|v2|reviews.default.svc.cluster.local",
            "outbound|9080|v1|reviews.default.svc.cluster.local"
        ]
    );
}

#[test]
fn weights_timeouts_and_cross_service_destinations() {
    let f = fixture(&vs("  - timeout: 0.5s
    route:
    - { destination: { host: reviews, subset: v1 }, weight: 90 }
    - { destination: { host: ratings.default.svc.cluster.local }, weight: 10 }
    - { destination: { host: reviews, subset: v3 }, weight: 0 }
"));
    let (r, _) = routes(&f, 9080, &caller("default", &[]));
    let got: Vec<(&str, u32)> = r[0]
        .backends
        .iter()
        .map(|b| (b.cluster.as_str(), b.weight))
        .collect();
    assert_eq!(
        got,
        [
            ("outbound|9080|v1|reviews.default.svc.cluster.local", 90),
            ("outbound|9080||ratings.default.svc.cluster.local", 10)
        ],
        "weight 0 takes no traffic; ratings has one port"
    );
    assert_eq!(r[0].timeout, Some(std::time::Duration::from_millis(500)));
}

#[test]
fn port_source_and_gateway_conditions_are_decided_per_caller() {
    let f = fixture(&vs("  - match:
    - { port: 9901, uri: { prefix: /admin } }
    route: [{ destination: { host: reviews, subset: admin } }]
  - match:
    - { sourceLabels: { app: productpage }, method: { exact: POST } }
    - { gateways: [bookinfo-gateway], uri: { exact: /from-gateway } }
    route: [{ destination: { host: reviews, subset: v2 } }]
  - route: [{ destination: { host: reviews, subset: v1 } }]
"));
    let (r, _) = routes(&f, 9080, &caller("default", &[("app", "productpage")]));
    assert_eq!(r.len(), 2, "the 9901 rule does not apply to 9080");
    assert_eq!(
        r[0].matches.len(),
        1,
        "the gateway-only match is dropped for sidecars"
    );
    assert_eq!(
        r[0].matches[0].method,
        Some(StringMatch::Exact("POST".into()))
    );
    let (r, _) = routes(&f, 9080, &caller("default", &[("app", "details")]));
    assert_eq!(r.len(), 1, "not productpage: only the catch-all");
    let (r, _) = routes(&f, 9901, &caller("default", &[]));
    assert_eq!(
        r[0].matches[0].path,
        Some(PathMatch::Prefix("/admin".into()))
    );
}

#[test]
fn presence_and_absence_of_headers() {
    let f = fixture(&vs("  - match:
    - headers: { x-canary: {} }
      withoutHeaders: { x-debug: {} }
    route: [{ destination: { host: reviews, subset: v2 } }]
"));
    let (r, _) = routes(&f, 9080, &caller("default", &[]));
    assert_eq!(
        r[0].matches[0].headers,
        [
            HeaderMatch {
                name: "x-canary".into(),
                value: StringMatch::Present(true)
            },
            HeaderMatch {
                name: "x-debug".into(),
                value: StringMatch::Present(false)
            },
        ]
    );
}

#[test]
fn method_patterns_and_the_scheme_reach_the_proxy() {
    let f = fixture(&vs("  - match:
    - method: { regex: \"GET|HEAD\" }
      scheme: { exact: https }
    - method: { prefix: P }
    - method: { exact: DELETE }
    route: [{ destination: { host: reviews } }]
"));
    let (r, _) = routes(&f, 9080, &caller("default", &[]));
    let m = &r[0].matches;
    assert_eq!(m[0].method, Some(StringMatch::Regex("GET|HEAD".into())));
    assert_eq!(m[0].scheme, Some(StringMatch::Exact("https".into())));
    assert_eq!(m[1].method, Some(StringMatch::Prefix("P".into())));
    assert_eq!(m[1].scheme, None);
    assert_eq!(m[2].method, Some(StringMatch::Exact("DELETE".into())));
}
