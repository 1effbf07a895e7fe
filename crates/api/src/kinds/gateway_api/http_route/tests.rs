use crate::kinds::gateway_api::test_util::{assert_clean, assert_finding, findings};

mod filters;

/// Upstream `examples/standard/basic-http.yaml` (the HTTPRoute).
#[test]
fn upstream_basic_http_loads_clean() {
    assert_clean(
        r#"apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: http-app-1
spec:
  parentRefs:
  - name: my-gateway
  hostnames:
  - "foo.com"
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /bar
    backendRefs:
    - name: my-service1
      port: 8080
  - matches:
    - headers:
      - type: Exact
        name: magic
        value: foo
      queryParams:
      - type: Exact
        name: great
        value: example
      path:
        type: PathPrefix
        value: /some/thing
      method: GET
    backendRefs:
    - name: my-service2
      port: 8080
"#,
    );
}

/// Istio's `samples/helloworld/gateway-api/*` routes (also in the shared
/// conformance set).
#[test]
fn istio_helloworld_routes_load_clean() {
    assert_clean(
        "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: helloworld
spec:
  parentRefs:
  - name: helloworld-gateway
  rules:
  - matches:
    - path:
        type: Exact
        value: /hello
    backendRefs:
    - name: helloworld-v1
      port: 5000
      weight: 90
    - name: helloworld-v2
      port: 5000
      weight: 10
",
    );
}

/// A mesh (GAMMA) route attaches to a Service; retries and every
/// experimental field are modelled.
#[test]
fn mesh_route_with_retries_and_experimental_fields_loads_clean() {
    assert_clean(
        r#"apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: reviews
spec:
  parentRefs:
  - group: ""
    kind: Service
    name: reviews
    port: 9080
  useDefaultGateways: All
  rules:
  - name: v2-for-jason
    matches:
    - headers:
      - name: end-user
        value: jason
      path:
        type: RegularExpression
        value: "/reviews/[0-9]+"
    backendRefs:
    - name: reviews-v2
      port: 9080
      filters:
      - type: ResponseHeaderModifier
        responseHeaderModifier:
          set: [{name: x-version, value: v2}]
          remove: [x-internal]
    retry:
      codes: [502, 503]
      attempts: 2
      backoff: 100ms
    sessionPersistence:
      sessionName: reviews
      absoluteTimeout: 1h
      type: Cookie
      cookieConfig:
        lifetimeType: Permanent
  - filters:
    - type: ExternalAuth
      externalAuth:
        protocol: HTTP
        backendRef: {name: authz, port: 8000}
        http:
          path: /check
          allowedHeaders: [authorization]
        forwardBody: {maxSize: 1024}
    - type: ExtensionRef
      extensionRef: {group: example.com, kind: RateLimit, name: slow}
    - type: RequestMirror
      requestMirror:
        backendRef: {name: shadow, port: 9080}
        fraction: {numerator: 1, denominator: 10}
    backendRefs:
    - name: reviews-v1
      port: 9080
"#,
    );
}

#[test]
fn path_values_follow_the_cel_rules() {
    let route = |value: &str| {
        format!(
            "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{ name: r }}
spec:
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: {value}
"
        )
    };
    assert_eq!(
        findings(&route("api")),
        [
            r#"error: gw.yaml:9: spec.rules[0].matches[0].path.value: path "api" must start with `/` for type PathPrefix; write `/api`"#
        ]
    );
    assert_finding(&route("/a//b"), &["must not contain `//`"]);
    assert_finding(&route("/a/.."), &["must not end with `/..`"]);
    assert_finding(
        &route("\"/a b\""),
        &["not a valid URL path", "percent-encode"],
    );
    let regex = "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r }
spec:
  rules:
  - matches:
    - path: { type: RegularExpression, value: \"/(a\" }
";
    assert_finding(
        regex,
        &["gw.yaml:7: spec.rules[0].matches[0].path.value: regex \"/(a\" does not compile"],
    );
}

#[test]
fn matches_headers_and_query_params() {
    let yaml = "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r }
spec:
  rules:
  - matches:
    - headers:
      - {name: Version, value: v1}
      - {name: version, value: v2}
      - {name: \"bad header\", value: x}
      - {name: x-re, type: RegularExpression, value: \"a(\"}
      queryParams:
      - {name: q, value: \"\"}
";
    let all = findings(yaml);
    for want in [
        "gw.yaml:9: spec.rules[0].matches[0].headers[1].name: header `version` is already matched by spec.rules[0].matches[0].headers[0] (header names are case-insensitive)",
        "spec.rules[0].matches[0].headers[2].name: \"bad header\" is not a valid name: ' ' cannot appear in a header name",
        "spec.rules[0].matches[0].headers[3].value: regex \"a(\" does not compile",
        "spec.rules[0].matches[0].queryParams[0].value: empty value",
    ] {
        assert!(
            all.iter().any(|f| f.contains(want)),
            "missing {want:?} in {all:#?}"
        );
    }
}

#[test]
fn backends_weights_ports_and_parents() {
    let yaml = r#"apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r }
spec:
  parentRefs:
  - name: gw
  - name: gw
  - kind: Service
    name: reviews
  hostnames: ["10.0.0.1", "foo.com:80", "*.ok.example.com"]
  rules:
  - backendRefs:
    - name: a
    - name: b
      port: 80
      weight: 2000000
"#;
    let all = findings(yaml);
    for want in [
        "error: gw.yaml:7: spec.parentRefs[1]: Gateway `gw` is also referenced by parentRefs[0]; when a route names one parent twice, give each reference a distinct `sectionName` (or `port`)",
        "warning: gw.yaml:8: spec.parentRefs[2].kind: `kind: Service` without `group` means gateway.networking.k8s.io/Service",
        "spec.hostnames[0]: \"10.0.0.1\" is not a valid hostname: it is an IP address",
        "spec.hostnames[1]: \"foo.com:80\" is not a valid hostname: a hostname carries no port",
        "error: gw.yaml:13: spec.rules[0].backendRefs[0]: backend `a` is a Service, which needs `port`",
        "error: gw.yaml:16: spec.rules[0].backendRefs[1].weight: weight 2000000 is out of range; use 0 to 1000000",
    ] {
        assert!(
            all.iter().any(|f| f.contains(want)),
            "missing {want:?} in {all:#?}"
        );
    }
    assert_eq!(all.len(), 6, "{all:#?}");
}

#[test]
fn limits_timeouts_and_durations() {
    let rules: String = (0..17).map(|i| format!("  - name: r{i}\n")).collect();
    let yaml = format!(
        "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{ name: r }}
spec:
  rules:
{rules}  - name: r0
    timeouts: {{ request: 1.5s, backendRequest: 2s }}
"
    );
    let all = findings(&yaml);
    for want in [
        "gw.yaml:5: spec.rules: 18 entries, more than the 16 the CRD allows",
        "spec.rules[17].name: rule name `r0` is already used by rules[0]",
        "spec.rules[17].timeouts.request: \"1.5s\" is not a Gateway API duration",
        "spec.rules[17].timeouts.backendRequest: backendRequest 2s is longer than the request timeout 1.5s",
    ] {
        assert!(
            all.iter().any(|f| f.contains(want)),
            "missing {want:?} in {all:#?}"
        );
    }
}

#[test]
fn typos_are_reported_everywhere() {
    let yaml = "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r }
spec:
  parentRef:
  - name: gw
  rules:
  - matches:
    - path: { type: Exact, valeu: /a }
    backendRefs:
    - name: web
      port: 80
      wieght: 1
";
    let all = findings(yaml);
    assert!(
        all.iter()
            .any(|f| f.contains("gw.yaml:5: spec.parentRef: unknown field `parentRef`")),
        "{all:#?}"
    );
    assert!(
        all.iter()
            .any(|f| f.contains("gw.yaml:9:") && f.contains("unknown field `valeu`")),
        "{all:#?}"
    );
    assert!(
        all.iter()
            .any(|f| f.contains("gw.yaml:13:") && f.contains("unknown field `wieght`")),
        "{all:#?}"
    );
}

#[test]
fn enum_values_are_spelled_as_upstream() {
    let yaml = "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r }
spec:
  rules:
  - matches:
    - path: { type: Prefix, value: /a }
";
    assert_finding(yaml, &["gw.yaml:7:", "Prefix", "PathPrefix"]);
}
