//! Mesh routing from Gateway API routes attached to a Service (GAMMA):
//! who they apply to and what they compile to.

use weft_proto::config::{
    HeaderMatch, HttpRoute, PathMatch, ProxyConfig, RegexRewrite, Service, StringMatch,
};

use super::*;

/// `reviews` and one Service per version, selecting the `version` label,
/// in `default`; a client namespace `shop`.
pub(super) const SERVICES: &str = "
apiVersion: v1
kind: Service
metadata: { name: reviews }
spec: { selector: { app: reviews }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: reviews-v1 }
spec: { selector: { app: reviews, version: v1 }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: reviews-v2 }
spec: { selector: { app: reviews, version: v2 }, ports: [{ name: http, port: 9080 }] }
";

pub(super) const REVIEWS: &str = "reviews.default.svc.cluster.local";

pub(super) fn v(version: &str) -> String {
    format!("outbound|9080||reviews-{version}.default.svc.cluster.local")
}

/// The service `fqdn` as a client in `ns` sees it; checks the client's
/// whole view is a config the proxy accepts.
pub(super) fn seen_from(c: &Compiler, ns: &str, fqdn: &str) -> Service {
    let client = node(
        &format!("client-{ns}"),
        ns,
        &[("app", "client")],
        "198.18.9.9",
    );
    c.proxy_connected(&client);
    c.rebuild();
    let view = c.view(&client);
    let typed: Vec<Typed> = view
        .resources
        .values()
        .map(|r| Typed::decode(r).unwrap())
        .collect();
    let base = ProxyConfig::from_yaml(
        "b.yaml",
        "listeners: []\ncontrol_plane: { address: \"127.0.0.1:15012\", ca_bundle: root.pem }",
    )
    .unwrap();
    let config = weft_proto::resources::compose(&base, &typed).unwrap();
    let errors = config.validate();
    assert!(errors.is_empty(), "{errors:?}");
    match decoded(&view, SERVICE, fqdn) {
        Typed::Service(s) => s,
        other => panic!("{other:?}"),
    }
}

pub(super) fn clusters_of(route: &HttpRoute) -> Vec<(&str, u32)> {
    route
        .backends
        .iter()
        .map(|b| (b.cluster.as_str(), b.weight))
        .collect()
}

pub(super) fn http_route(ns: &str, name: &str, parent: &str, backend: &str) -> String {
    format!(
        "---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{ name: {name}, namespace: {ns} }}
spec:
  parentRefs: [{parent}]
  rules:
  - backendRefs: [{{ name: {backend}, namespace: default, port: 9080 }}]
"
    )
}

pub(super) const REVIEWS_PARENT: &str =
    "{ group: '', kind: Service, name: reviews, namespace: default }";

#[test]
fn producer_routes_apply_to_every_client_consumer_routes_to_their_namespace() {
    let yaml = format!(
        "{SERVICES}{}{}",
        http_route("default", "producer", REVIEWS_PARENT, "reviews-v2"),
        // A consumer route must send within its own namespace (no
        // ReferenceGrant): it sends to a Service of `shop`.
        "---
apiVersion: v1
kind: Service
metadata: { name: reviews-canary, namespace: shop }
spec: { selector: { app: reviews, version: v1 }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: consumer, namespace: shop }
spec:
  parentRefs: [{ group: core, kind: Service, name: reviews, namespace: default }]
  rules:
  - backendRefs: [{ name: reviews-canary, port: 9080 }]
",
    );
    let c = compiler(&yaml);
    let cases = [
        (
            "default",
            "outbound|9080||reviews-v2.default.svc.cluster.local",
        ),
        (
            "other",
            "outbound|9080||reviews-v2.default.svc.cluster.local",
        ),
        (
            "shop",
            "outbound|9080||reviews-canary.shop.svc.cluster.local",
        ),
    ];
    for (ns, want) in cases {
        let svc = seen_from(&c, ns, REVIEWS);
        let port = &svc.ports[0];
        assert_eq!(port.routes.len(), 1, "{ns}: {port:?}");
        assert_eq!(clusters_of(&port.routes[0]), [(want, 1)], "{ns}");
        assert_eq!(port.cluster, None, "{ns}: only the routes apply");
    }
}

#[test]
fn a_route_in_a_third_namespace_applies_to_no_one_else() {
    let yaml = format!(
        "{SERVICES}---
apiVersion: v1
kind: Service
metadata: {{ name: reviews-canary, namespace: shop }}
spec: {{ selector: {{ app: reviews }}, ports: [{{ name: http, port: 9080 }}] }}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{ name: consumer, namespace: shop }}
spec:
  parentRefs: [{REVIEWS_PARENT}]
  rules:
  - backendRefs: [{{ name: reviews-canary, port: 9080 }}]
"
    );
    let c = compiler(&yaml);
    for ns in ["default", "other"] {
        let svc = seen_from(&c, ns, REVIEWS);
        assert!(super::unrouted(&svc.ports[0]), "{ns}: {svc:?}");
    }
    let svc = seen_from(&c, "default", REVIEWS);
    assert_eq!(
        svc.ports[0].cluster.as_deref(),
        Some("outbound|9080||reviews.default.svc.cluster.local")
    );
}

#[test]
fn a_port_in_the_parent_ref_limits_the_route_to_that_port() {
    let yaml = format!(
        "{}{}",
        SERVICES.replace(
            "metadata: { name: reviews }\nspec: { selector: { app: reviews }, ports: [{ name: http, port: 9080 }] }",
            "metadata: { name: reviews }\nspec: { selector: { app: reviews }, ports: [{ name: http, port: 9080 }, { name: admin, port: 9090 }] }",
        ),
        http_route(
            "default",
            "admin-only",
            "{ group: '', kind: Service, name: reviews, port: 9090 }",
            "reviews-v1"
        ),
    );
    let c = compiler(&yaml);
    let svc = seen_from(&c, "default", REVIEWS);
    let by_port: Vec<(u16, usize, Option<&str>)> = svc
        .ports
        .iter()
        .map(|p| {
            (
                p.port,
                p.routes.len() - usize::from(super::unrouted(p)),
                p.cluster.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        by_port,
        [
            (
                9080,
                0,
                Some("outbound|9080||reviews.default.svc.cluster.local")
            ),
            // `admin` names no protocol: opaque bytes still reach the
            // service, HTTP follows the route.
            (
                9090,
                1,
                Some("outbound|9090||reviews.default.svc.cluster.local")
            )
        ]
    );
    assert_eq!(
        clusters_of(&svc.ports[1].routes[0]),
        [(v("v1").as_str(), 1)],
        "an explicit backend port wins over the routed one"
    );
}

#[test]
fn rules_match_filter_and_split_by_weight_and_the_rest_gets_404() {
    let yaml = format!(
        "{SERVICES}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{ name: reviews }}
spec:
  parentRefs: [{{ group: '', kind: Service, name: reviews }}]
  rules:
  - matches: [{{ path: {{ type: PathPrefix, value: /reviews }} }}]
    backendRefs:
    - {{ name: reviews-v1, port: 9080, weight: 90 }}
    - {{ name: reviews-v2, port: 9080, weight: 10 }}
    timeouts: {{ request: 3s, backendRequest: 1s }}
  - matches: [{{ path: {{ type: Exact, value: /reviews/0 }}, headers: [{{ name: End-User, value: jason }}] }}]
    filters:
    - {{ type: RequestHeaderModifier, requestHeaderModifier: {{ set: [{{ name: X-Canary, value: 'yes' }}] }} }}
    - {{ type: URLRewrite, urlRewrite: {{ path: {{ type: ReplaceFullPath, replaceFullPath: /reviews/1 }} }} }}
    backendRefs: [{{ name: reviews-v2, port: 9080 }}]
"
    );
    let c = compiler(&yaml);
    let port = seen_from(&c, "default", REVIEWS).ports.remove(0);
    assert_eq!(port.cluster, None, "a request no rule matches gets 404");
    // Gateway API precedence: the exact path first, whatever the order
    // written; the segment prefix takes two matches.
    let names: Vec<&str> = port
        .routes
        .iter()
        .map(|r| r.name.as_deref().unwrap())
        .collect();
    assert_eq!(names, ["default/reviews/1", "default/reviews/0"]);
    // Each rule is counted under its name (`weft routes`).
    let metered: Vec<&str> = port
        .routes
        .iter()
        .filter_map(|r| r.metrics.as_ref().map(|m| m.name.as_str()))
        .collect();
    assert_eq!(metered, names);
    let exact = &port.routes[0];
    assert_eq!(
        exact.matches[0].path,
        Some(PathMatch::Exact("/reviews/0".into()))
    );
    assert_eq!(
        exact.matches[0].headers,
        [HeaderMatch {
            name: "end-user".into(),
            value: StringMatch::Exact("jason".into())
        }]
    );
    assert_eq!(
        exact.headers.request.set,
        [("x-canary".to_string(), "yes".to_string())]
    );
    assert_eq!(
        exact.rewrite.as_ref().and_then(|r| r.uri_regex.clone()),
        Some(RegexRewrite {
            pattern: "^.*$".into(),
            substitution: "/reviews/1".into()
        })
    );
    let split = &port.routes[1];
    let paths: Vec<_> = split.matches.iter().map(|m| m.path.clone()).collect();
    assert_eq!(
        paths,
        [
            Some(PathMatch::Exact("/reviews".into())),
            Some(PathMatch::Prefix("/reviews/".into()))
        ]
    );
    assert_eq!(
        clusters_of(split),
        [(v("v1").as_str(), 90), (v("v2").as_str(), 10)]
    );
    assert_eq!(
        (
            split.timeout,
            split.retries.as_ref().and_then(|r| r.per_try_timeout)
        ),
        (
            Some(std::time::Duration::from_secs(3)),
            Some(std::time::Duration::from_secs(1))
        ),
        "request bounds the request, backendRequest each try"
    );
}

#[test]
fn grpc_methods_are_paths() {
    let yaml = format!(
        "{SERVICES}---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {{ name: grpc }}
spec:
  parentRefs: [{{ group: '', kind: Service, name: reviews, port: 9080 }}]
  rules:
  - matches: [{{ method: {{ service: bookinfo.Reviews }} }}]
    backendRefs: [{{ name: reviews-v1, port: 9080 }}]
  - matches:
    - {{ method: {{ service: bookinfo.Reviews, method: Get }}, headers: [{{ name: end-user, value: jason }}] }}
    - {{ method: {{ method: Rate }} }}
    - {{ method: {{ type: RegularExpression, service: 'bookinfo\\..*', method: 'List.*' }} }}
    filters: [{{ type: RequestHeaderModifier, requestHeaderModifier: {{ add: [{{ name: x-grpc, value: '1' }}] }} }}]
    backendRefs: [{{ name: reviews-v2, port: 9080, weight: 3 }}, {{ name: reviews-v1, port: 9080 }}]
"
    );
    let c = compiler(&yaml);
    let port = seen_from(&c, "default", REVIEWS).ports.remove(0);
    type Seen<'a> = (Option<PathMatch>, usize, Vec<(&'a str, u32)>);
    let got: Vec<Seen<'_>> = port
        .routes
        .iter()
        .map(|r| {
            (
                r.matches[0].path.clone(),
                r.matches[0].headers.len(),
                clusters_of(r),
            )
        })
        .collect();
    let (v1, v2) = (v("v1"), v("v2"));
    let split = vec![(v2.as_str(), 3), (v1.as_str(), 1)];
    assert_eq!(
        got,
        [
            // The longest service, then method, then the most headers.
            (
                Some(PathMatch::Exact("/bookinfo.Reviews/Get".into())),
                1,
                split.clone()
            ),
            (
                Some(PathMatch::Prefix("/bookinfo.Reviews/".into())),
                0,
                vec![(v1.as_str(), 1)]
            ),
            (
                Some(PathMatch::Regex("/(?:bookinfo\\..*)/(?:List.*)".into())),
                0,
                split.clone()
            ),
            (
                Some(PathMatch::Regex("/[^/]+/Rate".into())),
                0,
                split.clone()
            ),
        ]
    );
    assert_eq!(
        port.routes[0].headers.request.add,
        [("x-grpc".to_string(), "1".to_string())]
    );
    // Each rule is counted under its name (`weft routes`), by default
    // classification (5xx and gRPC errors fail).
    let metered: Vec<(&str, bool)> = port
        .routes
        .iter()
        .filter_map(|r| r.metrics.as_ref())
        .map(|m| (m.name.as_str(), m.failures.is_none()))
        .collect();
    assert_eq!(
        metered,
        [
            ("default/grpc/1", true),
            ("default/grpc/0", true),
            ("default/grpc/1", true),
            ("default/grpc/1", true)
        ]
    );
}

#[test]
fn a_tcp_route_shares_connections_by_weight() {
    let yaml = "
apiVersion: v1
kind: Service
metadata: { name: tcp-echo }
spec: { selector: { app: tcp-echo }, ports: [{ name: tcp, port: 9000 }] }
---
apiVersion: v1
kind: Service
metadata: { name: tcp-echo-v1 }
spec: { selector: { app: tcp-echo, version: v1 }, ports: [{ name: tcp, port: 9000 }] }
---
apiVersion: v1
kind: Service
metadata: { name: tcp-echo-v2 }
spec: { selector: { app: tcp-echo, version: v2 }, ports: [{ name: tcp, port: 9000 }] }
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: { name: tcp-echo }
spec:
  parentRefs: [{ group: '', kind: Service, name: tcp-echo }]
  rules:
  - backendRefs: [{ name: tcp-echo-v1, port: 9000, weight: 80 }, { name: tcp-echo-v2, port: 9000, weight: 20 }]
";
    let c = compiler(yaml);
    let port = seen_from(&c, "default", "tcp-echo.default.svc.cluster.local")
        .ports
        .remove(0);
    assert_eq!(port.cluster, None);
    assert_eq!(port.routes.len(), 1);
    assert!(
        port.routes[0].matches.is_empty(),
        "opaque bytes follow a catch-all route"
    );
    assert_eq!(
        clusters_of(&port.routes[0]),
        [
            ("outbound|9000||tcp-echo-v1.default.svc.cluster.local", 80),
            ("outbound|9000||tcp-echo-v2.default.svc.cluster.local", 20)
        ]
    );
}

#[test]
fn http_and_grpc_routes_on_one_port_are_not_merged() {
    let grpc = "---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: a-grpc }
spec:
  parentRefs: [{ group: '', kind: Service, name: reviews }]
  rules: [{ backendRefs: [{ name: reviews-v1, port: 9080 }] }]
";
    let names = |yaml: String| {
        let c = compiler(&yaml);
        let svc = seen_from(&c, "default", REVIEWS);
        svc.ports[0]
            .routes
            .iter()
            .map(|r| r.name.clone().unwrap())
            .collect::<Vec<_>>()
    };
    // `default/a-grpc` comes before `default/to-v2`: the GRPCRoute kind
    // is used; renamed after it, the HTTPRoute kind.
    let route = http_route("default", "to-v2", REVIEWS_PARENT, "reviews-v2");
    assert_eq!(
        names(format!("{SERVICES}{route}{grpc}")),
        ["default/a-grpc/0"]
    );
    let later = grpc.replace("a-grpc", "z-grpc");
    assert_eq!(
        names(format!("{SERVICES}{route}{later}")),
        ["default/to-v2/0"]
    );
}

#[test]
fn a_route_with_no_rule_to_carry_out_still_replaces_the_service() {
    // The only backend is in another namespace, without the
    // ReferenceGrant weft does not read: no rule is left, and still only
    // the route applies (GEP-1426), so every request gets 404.
    let yaml = format!(
        "{SERVICES}{}",
        http_route("default", "elsewhere", REVIEWS_PARENT, "reviews-v2")
            .replace("namespace: default, port", "namespace: shop, port")
    );
    let c = compiler(&yaml);
    let port = seen_from(&c, "default", REVIEWS).ports.remove(0);
    assert_eq!(port.cluster, None);
    assert_eq!(port.routes.len(), 1);
    let r = &port.routes[0];
    assert!(r.matches.is_empty() && r.backends.is_empty(), "{r:?}");
    assert_eq!(r.direct_response.as_ref().map(|d| d.status), Some(404));
}

#[test]
fn request_mirror_and_cors_filters_become_the_routes_mirrors_and_cors() {
    let yaml = format!(
        "{SERVICES}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{ name: mirrored }}
spec:
  parentRefs: [{REVIEWS_PARENT}]
  rules:
  - backendRefs: [{{ name: reviews-v1, port: 9080 }}]
    filters:
    - type: RequestMirror
      requestMirror: {{ backendRef: {{ name: reviews-v2, port: 9080 }}, percent: 30 }}
    - type: RequestMirror
      requestMirror: {{ backendRef: {{ name: reviews-v2, port: 9080 }}, fraction: {{ numerator: 1, denominator: 4 }} }}
    - type: CORS
      cors:
        allowOrigins: ['https://*.shop.example', 'https://admin.example']
        allowMethods: [GET]
        allowCredentials: true
"
    );
    let c = compiler(&yaml);
    let svc = seen_from(&c, "default", REVIEWS);
    let route = &svc.ports[0].routes[0];
    let mirrors: Vec<(String, f64)> = route
        .mirrors
        .iter()
        .map(|m| (m.cluster.clone(), m.percent))
        .collect();
    assert_eq!(
        mirrors,
        [(v("v2"), 30.0), (v("v2"), 25.0)],
        "percent, or the fraction"
    );
    let cors = route.cors.as_ref().expect("cors");
    assert_eq!(
        cors.allow_origins,
        [
            StringMatch::Regex("https://.*\\.shop\\.example".into()),
            StringMatch::Exact("https://admin.example".into()),
        ]
    );
    assert_eq!(cors.max_age, Some(std::time::Duration::from_secs(5)));
    assert!(cors.allow_credentials);
}
