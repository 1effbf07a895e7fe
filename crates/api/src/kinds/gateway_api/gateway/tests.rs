use crate::kinds::gateway_api::test_util::{assert_clean, assert_finding, findings};

/// Istio's helloworld and tcp-echo Gateways (also in the shared conformance
/// set), and upstream's `simple-http-https`, `gateway-addresses` and
/// `frontend-cert-validation` examples.
#[test]
fn examples_load_clean() {
    for yaml in [
        "apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: helloworld-gateway
spec:
  gatewayClassName: istio
  listeners:
  - name: http
    port: 80
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: Same
",
        "apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: tcp-echo-gateway
spec:
  gatewayClassName: istio
  listeners:
  - name: tcp-31400
    protocol: TCP
    port: 31400
    allowedRoutes:
      kinds:
      - kind: TCPRoute
",
        r#"apiVersion: gateway.networking.k8s.io/v1beta1
kind: Gateway
metadata:
  name: example-gateway
spec:
  gatewayClassName: prod
  listeners:
  - name: http
    port: 80
    protocol: HTTP
    hostname: "*.example.com"
  - name: https
    port: 443
    protocol: HTTPS
    hostname: "*.example.com"
    tls:
      mode: Terminate
      certificateRefs:
      - kind: Secret
        name: example-com
  - name: https-default-tls-mode
    port: 8443
    protocol: HTTPS
    hostname: "*.foo.com"
    tls:
      certificateRefs:
      - kind: Secret
        name: foo-com
"#,
        r#"apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gateway-addresses
spec:
  gatewayClassName: example
  addresses:
  - value: 1200:0000:AB00:1234:0000:2552:7777:1313
  - value: 21DA:D3:0:2F3B:2AA:FF:FE28:9C5A
  - value: "2001:db8:3c4d:15:0:d234:3eee::"
  - value: "1234::"
  - value: "1.1.1.1"
  - value: "0.0.0.0"
  - type: IPAddress
    value: "255.255.255.255"
  - type: "Hostname"
    value: "example.com"
  listeners:
  - protocol: HTTP
    port: 80
    name: prod-web-gw
    allowedRoutes:
      namespaces:
        from: Same
"#,
        r#"apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: client-validation-basic
spec:
  gatewayClassName: acme-lb
  tls:
    frontend:
      default:
        validation:
          caCertificateRefs:
          - kind: ConfigMap
            group: ""
            name: foo-example-com-ca-cert
      perPort:
      - port: 8443
        tls:
          validation:
            caCertificateRefs:
            - kind: ConfigMap
              group: ""
              name: bar-example-com-ca-cert
  listeners:
  - name: foo-https
    protocol: HTTPS
    port: 443
    hostname: foo.example.com
    tls:
      certificateRefs:
      - kind: Secret
        group: ""
        name: foo-example-com-cert
  - name: tls-passthrough
    protocol: TLS
    port: 8443
    hostname: bar.example.com
    tls:
      mode: Passthrough
    allowedRoutes:
      namespaces:
        from: Selector
        selector:
          matchLabels: { shared-gateway-access: "true" }
      kinds: [{kind: TLSRoute}]
"#,
    ] {
        assert_clean(yaml);
    }
}

/// Fields that moved between releases are all read: `backendTLS` and a
/// listener's `frontendValidation`, infrastructure, default scope.
#[test]
fn experimental_fields_load_clean() {
    assert_clean(
        r#"apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw }
spec:
  gatewayClassName: istio
  defaultScope: All
  backendTLS:
    clientCertificateRef: { name: client-cert }
  infrastructure:
    labels: { team: payments }
    annotations: { example.com/owner: payments }
    parametersRef: { group: "", kind: ConfigMap, name: gw-options }
  allowedListeners:
    namespaces: { from: None }
  listeners:
  - name: https
    port: 443
    protocol: HTTPS
    tls:
      certificateRefs: [{name: cert}]
      options: { example.com/min-version: "1.3" }
      frontendValidation:
        caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}]
"#,
    );
}

#[test]
fn listener_protocol_rules() {
    let yaml = "apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw }
spec:
  gatewayClassName: istio
  listeners:
  - name: web
    port: 80
    protocol: HTTP
    tls: { certificateRefs: [{name: c}] }
  - name: secure
    port: 443
    protocol: HTTPS
  - name: pass
    port: 8443
    protocol: HTTPS
    tls: { mode: Passthrough }
  - name: db
    port: 5432
    protocol: TCP
    hostname: db.example.com
  - name: term
    port: 9443
    protocol: TLS
    tls: {}
";
    assert_eq!(
        findings(yaml),
        [
            "error: gw.yaml:10: spec.listeners[0].tls: an HTTP listener has no TLS; remove `tls`, or use protocol HTTPS (or TLS) to terminate TLS here",
            "error: gw.yaml:11: spec.listeners[1]: an HTTPS listener needs `tls` with `certificateRefs` naming the Secret with its certificate",
            "error: gw.yaml:17: spec.listeners[2].tls.mode: an HTTPS listener terminates TLS, so `mode` must be `Terminate`; to pass TLS through to the backend, use protocol TLS",
            "error: gw.yaml:21: spec.listeners[3].hostname: a TCP listener cannot match a hostname (there is no SNI or Host header); remove `hostname`",
            "error: gw.yaml:25: spec.listeners[4].tls: terminating TLS needs a certificate: add `certificateRefs` naming a Secret of type kubernetes.io/tls (or use `mode: Passthrough`)",
        ]
    );
}

#[test]
fn listeners_are_distinct() {
    let yaml = "apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw }
spec:
  gatewayClassName: istio
  listeners:
  - { name: http, port: 80, protocol: HTTP }
  - { name: http, port: 8080, protocol: HTTP }
  - { name: other, port: 80, protocol: HTTP }
  - { name: raw, port: 8080, protocol: TCP }
";
    assert_eq!(
        findings(yaml),
        [
            "error: gw.yaml:8: spec.listeners[1].name: listener name `http` is already used by listeners[0]; names must be unique within the Gateway (routes pick a listener by name with `sectionName`)",
            "warning: gw.yaml:8: spec.listeners[1].port: port 8080 is also used by the TCP listener listeners[3]; a TCP listener takes the whole port, so neither is accepted — use another port",
            "error: gw.yaml:9: spec.listeners[2]: listeners[0] already has port 80, protocol HTTP and no hostname; change the port or the hostname so each listener is distinct",
        ]
    );
}

#[test]
fn addresses_allowed_routes_and_names() {
    let yaml = r#"apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw }
spec:
  gatewayClassName: istio
  addresses:
  - value: 10.0.0.300
  - { type: Hostname, value: "Example.com" }
  - value: 10.0.0.1
  - value: 10.0.0.1
  listeners:
  - name: Web
    port: 70000
    protocol: http/1.1
    allowedRoutes:
      namespaces: { from: Selector }
      kinds: [{kind: TCPRoute}]
"#;
    let all = findings(yaml);
    for want in [
        "spec.addresses[0].value: \"10.0.0.300\" is not an IP address",
        "spec.addresses[1].value: \"Example.com\" is not a valid hostname: hostnames are lower case; write `example.com`",
        "error: gw.yaml:10: spec.addresses[3].value: IPAddress `10.0.0.1` is listed twice; remove one",
        "spec.listeners[0].name: \"Web\" is not a valid listener name",
        "spec.listeners[0].port: 70000 is not a port; use 1 to 65535",
        "spec.listeners[0].protocol: \"http/1.1\" is not a valid protocol",
        "spec.listeners[0].allowedRoutes.namespaces: `from: Selector` needs `selector`",
    ] {
        assert!(
            all.iter().any(|f| f.contains(want)),
            "missing {want:?} in {all:#?}"
        );
    }
    // An unknown core protocol serves no known kinds: no kind warning.
    assert!(
        !all.iter()
            .any(|f| f.contains("route-kind") || f.contains("does not serve")),
        "{all:#?}"
    );
    assert_finding(
        "apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw }
spec:
  gatewayClassName: istio
  listeners:
  - name: http
    port: 80
    protocol: HTTP
    allowedRoutes: { kinds: [{kind: TCPRoute}] }
",
        &[
            "warning: gw.yaml:10: spec.listeners[0].allowedRoutes.kinds[0].kind: an HTTP listener does not serve TCPRoute (it serves HTTPRoute and GRPCRoute)",
        ],
    );
}

#[test]
fn required_fields_and_typos() {
    assert_eq!(
        findings(
            "apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw }
spec:
  gatewayClassName: istio
  listeners: []
"
        ),
        [
            "error: gw.yaml:6: spec.listeners: a Gateway needs at least one listener, such as `- name: http`, `port: 80`, `protocol: HTTP`"
        ]
    );
    let typo = "apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw }
spec:
  gatewayClassName: istio
  listeners:
  - name: http
    port: 80
    protocol: HTTP
    allowedRoute: {}
";
    assert_finding(typo, &["gw.yaml:10:", "unknown field `allowedRoute`"]);
    assert_finding(
        "apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw }
spec:
  listeners: [{name: http, port: 80, protocol: HTTP}]
",
        &["missing field `gatewayClassName`"],
    );
}
