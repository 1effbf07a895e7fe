use crate::kinds::gateway_api::test_util::{assert_clean, assert_finding, findings};

/// Istio's `samples/tcp-echo/gateway-api/tcp-echo-20-v2.yaml` (also in the
/// shared conformance set), and upstream's `basic-tcp.yaml` route.
#[test]
fn examples_load_clean() {
    assert_clean(
        "apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata:
  name: tcp-echo
spec:
  parentRefs:
  - name: tcp-echo-gateway
    sectionName: tcp-31400
  rules:
  - backendRefs:
    - name: tcp-echo-v1
      port: 9000
      weight: 80
    - name: tcp-echo-v2
      port: 9000
      weight: 20
",
    );
    assert_clean(
        "apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata:
  name: tcp-app-1
spec:
  parentRefs:
    - name: my-tcp-gateway
      sectionName: foo
  rules:
    - backendRefs:
        - name: my-foo-service
          port: 6000
",
    );
}

#[test]
fn rules_and_backends_are_required() {
    assert_eq!(
        findings(
            "apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: { name: t }
spec:
  parentRefs: [{name: gw}]
"
        ),
        [
            "error: gw.yaml:4: spec.rules: a TCPRoute needs at least one rule with `backendRefs`, where connections go"
        ]
    );
    assert_eq!(
        findings(
            "apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: { name: t }
spec:
  rules:
  - name: first
  - name: first
    backendRefs:
    - { name: echo, port: 9000, weight: 0 }
"
        ),
        [
            "error: gw.yaml:6: spec.rules[0]: a TCP rule needs `backendRefs`: without a backend every connection is refused; add one, such as `- name: my-service` with its `port`",
            "error: gw.yaml:7: spec.rules[1].name: rule name `first` is already used by rules[0]; rule names must be unique within the route",
            "warning: gw.yaml:8: spec.rules[1].backendRefs: every backendRef has weight 0, so no request can be forwarded and each gets an error; give at least one a positive weight",
        ]
    );
}

#[test]
fn typos_and_tcp_fields_that_do_not_exist() {
    // TCPRoute backends have no filters, and rules no matches.
    let yaml = "apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: { name: t }
spec:
  rules:
  - matches: []
    backendRefs:
    - { name: echo, port: 9000, filters: [] }
";
    assert_finding(yaml, &["gw.yaml:6:", "unknown field `matches`"]);
    assert_finding(yaml, &["gw.yaml:8:", "unknown field `filters`"]);
}
