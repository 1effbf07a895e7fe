//! HTTPRoute filters: upstream examples, and each filter rule.

use crate::kinds::gateway_api::test_util::{assert_clean, assert_finding, findings};

/// Upstream examples: CORS with every field, a prefix rewrite, mirroring,
/// timeouts (v1beta1), a header filter, and a GAMMA route to a
/// ServiceImport.
#[test]
fn upstream_filter_examples_load_clean() {
    for yaml in [
        r#"apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: cors-allow-credentials
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /cors-behavior-creds-true
    backendRefs:
    - name: infra-backend-v1
      port: 8080
    filters:
    - cors:
        allowOrigins:
        - "https://www.foo.com"
        - "https://*.bar.com"
        allowMethods:
        - GET
        - OPTIONS
        allowHeaders:
        - "*"
        exposeHeaders:
        - "x-header-3"
        - "x-header-4"
        allowCredentials: true
        maxAge: 3600
      type: CORS
"#,
        "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: http-filter-rewrite
spec:
  hostnames:
    - rewrite.example
  rules:
    - matches:
        - path:
            type: PathPrefix
            value: /cardamom
      filters:
        - type: URLRewrite
          urlRewrite:
            hostname: elsewhere.example
            path:
              type: ReplacePrefixMatch
              replacePrefixMatch: /fennel
      backendRefs:
        - name: example-svc
          weight: 1
          port: 80
",
        "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: http-filter-mirror
  labels:
    gateway: mirror-gateway
spec:
  parentRefs:
  - name: mirror-gateway
  hostnames:
  - mirror.example
  rules:
  - backendRefs:
    - name: foo-v1
      port: 8080
    filters:
    - type: RequestMirror
      requestMirror:
        backendRef:
          name: foo-v2
          port: 8080
",
        r#"apiVersion: gateway.networking.k8s.io/v1beta1
kind: HTTPRoute
metadata:
  name: timeout-example
spec:
  parentRefs:
  - name: example-gateway
  hostnames:
  - "timeout.example.com"
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /timeout
    backendRefs:
    - name: timeout-svc
      port: 8080
    timeouts:
      request: 10s
      backendRequest: 2s
"#,
        "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: header-http-echo
spec:
  parentRefs:
  - name: acme-gw
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /add-a-request-header
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        add:
        - name: my-header-name
          value: my-header-value
    backendRefs:
      - name: echo
        port: 8080
",
        r#"kind: HTTPRoute
apiVersion: gateway.networking.k8s.io/v1
metadata:
  name: store
spec:
  parentRefs:
  - group: multicluster.x-k8s.io
    kind: ServiceImport
    name: store
  rules:
  - matches:
    - path:
        value: "/cart"
    backendRefs:
    - group: multicluster.x-k8s.io
      kind: ServiceImport
      name: cart
"#,
    ] {
        assert_clean(yaml);
    }
}

#[test]
fn filter_type_needs_its_own_config_only() {
    let yaml = "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r }
spec:
  rules:
  - filters:
    - type: RequestHeaderModifier
      responseHeaderModifier:
        add: [{name: x, value: y}]
";
    assert_eq!(
        findings(yaml),
        [
            "error: gw.yaml:7: spec.rules[0].filters[0]: a `RequestHeaderModifier` filter needs its settings under `requestHeaderModifier`",
            "error: gw.yaml:8: spec.rules[0].filters[0].responseHeaderModifier: `responseHeaderModifier` is set but the filter's type is `RequestHeaderModifier`; change `type` to `ResponseHeaderModifier` or remove `responseHeaderModifier`",
        ]
    );
}

#[test]
fn redirect_rules() {
    // Redirect and rewrite together, redirect with backends, a bad code.
    let yaml = "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r }
spec:
  rules:
  - filters:
    - type: RequestRedirect
      requestRedirect: { scheme: https, statusCode: 304, port: 0 }
    - type: URLRewrite
      urlRewrite: { hostname: \"*.example.com\" }
    backendRefs:
    - name: web
      port: 80
";
    let all = findings(yaml);
    for want in [
        "gw.yaml:9: spec.rules[0].filters[1]: `RequestRedirect` (spec.rules[0].filters[0]) and `URLRewrite` (spec.rules[0].filters[1]) cannot be used together",
        "gw.yaml:7: spec.rules[0].filters[0]: a rule with a `RequestRedirect` filter cannot have `backendRefs`",
        "spec.rules[0].filters[0].requestRedirect.statusCode: 304 is not a redirect status; use 301, 302, 303, 307 or 308",
        "spec.rules[0].filters[0].requestRedirect.port: 0 is not a port; use 1 to 65535",
        "spec.rules[0].filters[1].urlRewrite.hostname: \"*.example.com\" is not a valid hostname: a wildcard is not allowed here",
    ] {
        assert!(
            all.iter().any(|f| f.contains(want)),
            "missing {want:?} in {all:#?}"
        );
    }
}

#[test]
fn replace_prefix_match_needs_one_path_prefix_match() {
    let yaml = "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r }
spec:
  rules:
  - matches:
    - path: { type: Exact, value: /a }
    filters:
    - type: URLRewrite
      urlRewrite:
        path: { type: ReplacePrefixMatch, replacePrefixMatch: /b, replaceFullPath: /c }
    backendRefs: [{name: web, port: 80}]
";
    assert_finding(
        yaml,
        &[
            "gw.yaml:11:",
            "urlRewrite.path.replacePrefixMatch",
            "exactly one match",
            "its path match is Exact",
        ],
    );
    assert_finding(
        yaml,
        &[
            "urlRewrite.path.replaceFullPath: `replaceFullPath` does not go with `type: ReplacePrefixMatch`",
        ],
    );
}

#[test]
fn repeated_filters_and_header_actions() {
    let yaml = "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r }
spec:
  rules:
  - filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: X-Env, value: prod}]
        remove: [x-env]
    - type: RequestHeaderModifier
      requestHeaderModifier:
        add: [{name: a, value: b}]
";
    assert_finding(
        yaml,
        &["gw.yaml:11: spec.rules[0].filters[1].type: a second `RequestHeaderModifier` filter"],
    );
    assert_finding(
        yaml,
        &[
            "spec.rules[0].filters[0].requestHeaderModifier.remove[0]: header `x-env` already has an action at spec.rules[0].filters[0].requestHeaderModifier.set[0].name",
        ],
    );
}

#[test]
fn cors_sets() {
    let yaml = "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r }
spec:
  rules:
  - filters:
    - type: CORS
      cors:
        allowOrigins: [\"*\", \"https://a.example\"]
        allowMethods: [get]
        maxAge: 0
";
    let all = findings(yaml);
    for want in [
        "spec.rules[0].filters[0].cors.allowOrigins: `*` already allows every origin",
        "spec.rules[0].filters[0].cors.allowMethods[0]: \"get\" is not a valid method",
        "spec.rules[0].filters[0].cors.maxAge: maxAge 0 must be at least 1",
    ] {
        assert!(
            all.iter().any(|f| f.contains(want)),
            "missing {want:?} in {all:#?}"
        );
    }
}
