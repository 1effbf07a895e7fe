use crate::kinds::gateway_api::test_util::{assert_clean, assert_finding, findings};

/// Upstream `examples/standard/basic-grpc.yaml` (the GRPCRoute) and
/// `grpc-filter.yaml`; v1alpha2 is read too.
#[test]
fn upstream_examples_load_clean() {
    assert_clean(
        r#"apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata:
  name: grpc-app-1
spec:
  parentRefs:
  - name: my-gateway
  hostnames:
  - "example.com"
  rules:
  - matches:
    - method:
        service: com.example.User
        method: Login
    backendRefs:
    - name: my-service1
      port: 50051
  - matches:
    - headers:
      - type: Exact
        name: magic
        value: foo
      method:
        service: com.example.Things
        method: DoThing
    backendRefs:
    - name: my-service2
      port: 50051
"#,
    );
    assert_clean(
        "apiVersion: gateway.networking.k8s.io/v1alpha2
kind: GRPCRoute
metadata:
  name: grpc-filter-1
spec:
  hostnames:
    - my.filter.com
  rules:
    - filters:
        - type: RequestHeaderModifier
          requestHeaderModifier:
            add:
              - name: my-header
                value: foo
      backendRefs:
        - name: my-filter-svc1
          weight: 1
          port: 50051
",
    );
}

#[test]
fn method_matches_follow_the_cel_rules() {
    let yaml = "apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: g }
spec:
  rules:
  - matches:
    - method: {}
    - method: { service: com.example/User }
    - method: { method: \"Log in\" }
    - method: { type: RegularExpression, service: \"com.(\" }
";
    assert_eq!(
        findings(yaml),
        [
            "error: gw.yaml:7: spec.rules[0].matches[0].method: a method match needs `service`, `method` or both, such as `service: com.example.User` and `method: Login`; to match every call, leave `method` out",
            "error: gw.yaml:8: spec.rules[0].matches[1].method.service: \"com.example/User\" is not a valid gRPC service name: write the service alone, such as `com.example.User`, and the method under `method`",
            "error: gw.yaml:9: spec.rules[0].matches[2].method.method: \"Log in\" is not a valid gRPC method name: use one identifier of letters, digits and `_`, such as `Login`",
            "error: gw.yaml:10: spec.rules[0].matches[3].method.service: regex \"com.(\" does not compile: unclosed group; use RE2 syntax (no look-around or back-references)",
        ]
    );
}

#[test]
fn filters_and_limits() {
    let matches: String = (0..9)
        .map(|i| format!("    - method: {{ service: s{i} }}\n"))
        .collect();
    let yaml = format!(
        "apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {{ name: g }}
spec:
  rules:
  - matches:
{matches}    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier: {{ remove: [x] }}
    - type: ResponseHeaderModifier
      responseHeaderModifier: {{ remove: [y] }}
    - type: RequestMirror
    backendRefs:
    - name: api
"
    );
    let all = findings(&yaml);
    for want in [
        "gw.yaml:6: spec.rules[0].matches: 9 entries, more than the 8 the CRD allows",
        "spec.rules[0].filters[1].type: a second `ResponseHeaderModifier` filter",
        "spec.rules[0].filters[2]: a `RequestMirror` filter needs its settings under `requestMirror`",
        "spec.rules[0].backendRefs[0]: backend `api` is a Service, which needs `port`",
    ] {
        assert!(
            all.iter().any(|f| f.contains(want)),
            "missing {want:?} in {all:#?}"
        );
    }
}

#[test]
fn typos_and_unknown_filter_types() {
    assert_finding(
        "apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: g }
spec:
  rules:
  - matches:
    - method: { servce: a.B }
",
        &["gw.yaml:7:", "unknown field `servce`"],
    );
    // URLRewrite is an HTTPRoute filter only.
    assert_finding(
        "apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: g }
spec:
  rules:
  - filters:
    - type: URLRewrite
",
        &["gw.yaml:7:", "unknown value `URLRewrite`"],
    );
}
