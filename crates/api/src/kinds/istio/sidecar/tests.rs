use crate::ResourceSet;
use crate::kinds::Spec;

fn load(yaml: &str) -> ResourceSet {
    crate::load::checked("sc.yaml", yaml)
}

fn messages(set: &ResourceSet) -> Vec<String> {
    set.findings
        .iter()
        .map(|f| format!("{}: {f}", f.severity))
        .collect()
}

/// A Sidecar whose spec starts on line 5.
fn sc(spec: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {{ name: s }}\nspec:\n{spec}"
    )
}

/// The examples in istio/api's `sidecar.proto` reference.
const DOC_EXAMPLES: &str = r#"
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: default
  namespace: prod-us1
spec:
  egress:
  - hosts:
    - "prod-us1/*"
    - "prod-apis/*"
    - "istio-system/*"
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: default-uds
  namespace: prod-us1
spec:
  ingress:
  - port:
      number: 9080
      protocol: HTTP
      name: somename
    defaultEndpoint: unix:///var/run/someuds.sock
  egress:
  - port:
      number: 9080
      protocol: HTTP
      name: egresshttp
    hosts:
    - "prod-us1/*"
  - hosts:
    - "istio-system/*"
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: no-ip-tables
  namespace: prod-us1
spec:
  workloadSelector:
    labels:
      app: productpage
  ingress:
  - port:
      number: 9080 # binds to 0.0.0.0:9080
      protocol: HTTP
      name: somename
    defaultEndpoint: 127.0.0.1:8080
    captureMode: NONE # not needed if metadata is set for entire proxy
  egress:
  - port:
      number: 3306
      protocol: MYSQL
      name: egressmysql
    captureMode: NONE # not needed if metadata is set for entire proxy
    bind: 127.0.0.1
    hosts:
    - "*/mysql.foo.com"
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: partial-ip-tables
  namespace: prod-us1
spec:
  workloadSelector:
    labels:
      app: productpage
  ingress:
  - bind: 172.16.1.32
    port:
      number: 80 # binds to 172.16.1.32:80
      protocol: HTTP
      name: somename
    defaultEndpoint: 127.0.0.1:8080
    captureMode: NONE
  egress:
    # use the system detected defaults
    # sets up configuration to handle outbound traffic to services
    # in 192.168.0.0/16 subnet, based on information provided by the
    # service registry
  - captureMode: IPTABLES
    hosts:
    - "*/*"
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: ratings
  namespace: prod-us1
spec:
  workloadSelector:
    labels:
      app: ratings
  ingress:
  - port:
      number: 9080
      protocol: HTTPS
      name: somename
    defaultEndpoint: unix:///var/run/someuds.sock
    tls:
      mode: SIMPLE
      privateKey: "/etc/istio/certs/privatekey.pem"
      serverCertificate: "/etc/istio/certs/servercert.pem"
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: connection-pool-settings
  namespace: prod-us1
spec:
  workloadSelector:
    labels:
      app: productpage
  inboundConnectionPool:
    http:
      http1MaxPendingRequests: 1024
      http2MaxRequests: 1024
      maxRequestsPerConnection: 1024
      maxRetries: 100
  ingress:
  - port:
      number: 80
      protocol: HTTP
      name: somename
    connectionPool:
      http:
        http1MaxPendingRequests: 1024
        http2MaxRequests: 1024
        maxRequestsPerConnection: 1024
        maxRetries: 100
      tcp:
        maxConnections: 100
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: egress-proxy
spec:
  outboundTrafficPolicy:
    mode: ALLOW_ANY
    egressProxy:
      host: foo.bar.com
      subset: v1
      port:
        number: 443
  egress:
  - hosts:
    - "./*"
    - "~/*"
"#;

#[test]
fn documentation_examples_load_clean() {
    let set = load(DOC_EXAMPLES);
    assert!(set.findings.is_empty(), "{:#?}", messages(&set));
    assert_eq!(set.resources.len(), 7);
    let Spec::Sidecar(s) = &set.resources[2].spec else {
        panic!("not a Sidecar")
    };
    assert_eq!(
        s.workload_selector
            .as_ref()
            .map(|w| w.labels["app"].as_str()),
        Some("productpage")
    );
    assert_eq!(s.ingress[0].capture_mode, Some(super::CaptureMode::None));
    assert_eq!(s.egress[0].port.as_ref().map(|p| p.number), Some(3306));
    assert_eq!(s.egress[0].hosts, ["*/mysql.foo.com"]);
}

#[test]
fn an_empty_sidecar_is_an_error() {
    let set = load(&sc("  workloadSelector: { labels: { app: a } }\n"));
    assert_eq!(
        messages(&set),
        [
            "error: sc.yaml:4: spec: an empty Sidecar changes nothing; add `egress`, `ingress`, `outboundTrafficPolicy` or `inboundConnectionPool`"
        ]
    );
}

#[test]
fn egress_hosts_are_namespace_slash_dns_name() {
    let set = load(&sc(r#"  egress:
  - hosts:
    - reviews.prod.svc.cluster.local
    - "prod/reviews"
    - "Prod_NS/*"
    - "*/foo*.example.com"
    - "prod/*"
    - "prod/a.example.com"
"#));
    assert_eq!(
        messages(&set),
        [
            "error: sc.yaml:7: spec.egress[0].hosts[0]: host \"reviews.prod.svc.cluster.local\" must be written `namespace/dnsName`, such as `*/reviews.prod.svc.cluster.local` or `./reviews.prod.svc.cluster.local`",
            "error: sc.yaml:8: spec.egress[0].hosts[1]: \"reviews\" is a short name; use a fully qualified name such as `reviews.prod.svc.cluster.local`, or `*`",
            "error: sc.yaml:9: spec.egress[0].hosts[2]: \"Prod_NS\" in host \"Prod_NS/*\" is not a namespace; use `*`, `.`, `~` or a namespace name",
            "error: sc.yaml:10: spec.egress[0].hosts[3]: \"foo*.example.com\" is not a valid DNS name: label \"foo*\" is invalid; use letters, digits and '-' (a wildcard only as the whole first label)",
            "warning: sc.yaml:11: spec.egress[0].hosts[4]: \"prod/*\" is already covered by another host of this listener; remove it",
            "warning: sc.yaml:12: spec.egress[0].hosts[5]: \"prod/a.example.com\" is already covered by another host of this listener; remove it",
        ]
    );
}

#[test]
fn at_most_one_catch_all_egress_listener_and_it_is_last() {
    let set = load(&sc(r#"  egress:
  - hosts: ["./*"]
  - port: { number: 9080, protocol: HTTP, name: http }
    hosts: ["./*"]
  - hosts: ["istio-system/*"]
  - hosts: ["prod/*"]
"#));
    assert_eq!(
        messages(&set),
        [
            "error: sc.yaml:6: spec.egress[0]: the egress listener without a `port` must be the last one; move it to the end",
            "error: sc.yaml:9: spec.egress[2]: the egress listener without a `port` must be the last one; move it to the end",
        ]
    );
    let set = load(&sc(
        "  egress:\n  - hosts: [\"./*\"]\n  - hosts: [\"prod/*\"]\n",
    ));
    assert_eq!(
        messages(&set),
        [
            "error: sc.yaml:6: spec.egress[0]: the egress listener without a `port` must be the last one; move it to the end"
        ]
    );
}

#[test]
fn egress_ports_binds_and_capture_modes() {
    let set = load(&sc(r#"  egress:
  - port: { number: 0, protocol: HTTP, name: uds }
    captureMode: IPTABLES
    bind: unix:///var/run/egress.sock
    hosts: ["./*"]
  - port: { number: 0, protocol: HTTP }
    hosts: ["./*"]
  - port: { number: 8080, protocol: HTTP, targetPort: 9090 }
    bind: localhost
    hosts: ["./*"]
  - port: { number: 8080, protocol: SPDY }
    hosts: ["./*"]
"#));
    assert_eq!(
        messages(&set),
        [
            "error: sc.yaml:7: spec.egress[0].captureMode: a Unix socket listener takes captureMode DEFAULT or NONE",
            "error: sc.yaml:10: spec.egress[1].port.number: port 0 means a Unix socket listener; set `bind: unix:///path`, or a port number",
            "error: sc.yaml:12: spec.egress[2].port.targetPort: targetPort has no effect on Sidecars; remove it",
            "error: sc.yaml:13: spec.egress[2].bind: \"localhost\" is not an IP address; bind an IP, or a `unix://` socket with port 0",
            "error: sc.yaml:15: spec.egress[3].port.number: port 8080 is used by another egress listener; each port once",
            "error: sc.yaml:15: spec.egress[3].port.protocol: unknown protocol \"SPDY\"; use HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, TCP, TLS, MONGO, MYSQL or REDIS",
        ]
    );
}

#[test]
fn ingress_listeners() {
    let set = load(&sc(r#"  ingress:
  - defaultEndpoint: 127.0.0.1:8080
  - port: { number: 9080, protocol: TCP, name: tcp }
    defaultEndpoint: 10.0.0.1:8080
    connectionPool: { http: { maxRetries: 3 } }
  - port: { number: 9080, protocol: HTTPS, name: https }
    defaultEndpoint: "127.0.0.1:http"
    tls: { mode: ISTIO_MUTUAL, httpsRedirect: true, credentialName: cert, subjectAltNames: [a] }
"#));
    let m = messages(&set);
    for want in [
        "error: sc.yaml:6: spec.ingress[0]: an ingress listener needs `port`, such as `port: {number: 9080, protocol: HTTP, name: http}`",
        "error: sc.yaml:8: spec.ingress[1].defaultEndpoint: \"10.0.0.1\" is not the workload's own address; use 127.0.0.1:<port>, 0.0.0.0:<port>, [::1]:<port>, [::]:<port> or unix:///path",
        "warning: sc.yaml:9: spec.ingress[1].connectionPool.http: port 9080 is not HTTP, so only the `tcp` pool settings apply",
        "error: sc.yaml:10: spec.ingress[2].port.number: port 9080 is used by another ingress listener; each port once",
        "error: sc.yaml:11: spec.ingress[2].defaultEndpoint: port \"http\" is not a number; use 127.0.0.1:<port>, 0.0.0.0:<port>, [::1]:<port>, [::]:<port> or unix:///path",
        "error: sc.yaml:12: spec.ingress[2].tls.subjectAltNames: subjectAltNames is not supported on a sidecar's ingress TLS; remove it",
        "error: sc.yaml:12: spec.ingress[2].tls.httpsRedirect: httpsRedirect is not supported on a sidecar; remove it",
        "error: sc.yaml:12: spec.ingress[2].tls.credentialName: credentialName is not supported on a sidecar; use serverCertificate and privateKey file paths",
        "error: sc.yaml:12: spec.ingress[2].tls.mode: ISTIO_MUTUAL cannot be used on a sidecar's ingress; use SIMPLE or MUTUAL",
        "error: sc.yaml:12: spec.ingress[2].tls.credentialName: ISTIO_MUTUAL uses Istio's certificates; remove `credentialName` (or use MUTUAL)",
    ] {
        assert!(m.contains(&want.to_string()), "missing {want}\n{m:#?}");
    }
    assert_eq!(m.len(), 10, "{m:#?}");
}

#[test]
fn egress_proxy_needs_allow_any_and_a_port() {
    let set = load(&sc(
        "  outboundTrafficPolicy:\n    mode: REGISTRY_ONLY\n    egressProxy: { host: proxy.example.com, port: { number: 3128 } }\n",
    ));
    assert_eq!(
        messages(&set),
        [
            "error: sc.yaml:7: spec.outboundTrafficPolicy.egressProxy: egressProxy only applies with `mode: ALLOW_ANY`; set the mode or remove egressProxy"
        ]
    );
    let set = load(&sc(
        "  outboundTrafficPolicy:\n    mode: ALLOW_ANY\n    egressProxy: { host: proxy }\n",
    ));
    assert_eq!(
        messages(&set),
        [
            "error: sc.yaml:7: spec.outboundTrafficPolicy.egressProxy: egressProxy needs `port`, such as `port: {number: 3128}`"
        ]
    );
}

#[test]
fn typos_are_reported() {
    let set = load(&sc(
        "  egress:\n  - hosts: [\"./*\"]\n    captureMod: NONE\n",
    ));
    let m = messages(&set);
    assert_eq!(m.len(), 1, "{m:#?}");
    assert!(
        m[0].starts_with("error: sc.yaml:7: spec.egress[0].captureMod: unknown field `captureMod`"),
        "{m:#?}"
    );
    assert!(m[0].contains("did you mean `captureMode`?"), "{m:#?}");
}
