use crate::ResourceSet;
use crate::kinds::Spec;

fn load(yaml: &str) -> ResourceSet {
    crate::load::checked("gw.yaml", yaml)
}

fn messages(set: &ResourceSet) -> Vec<String> {
    set.findings
        .iter()
        .map(|f| format!("{}: {f}", f.severity))
        .collect()
}

/// A Gateway with `servers` as given (indented under `spec:`), starting on
/// line 6.
fn gw(servers: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {{ name: g }}\nspec:\n  selector: {{ istio: ingressgateway }}\n{servers}"
    )
}

/// The examples in istio/api's `gateway.proto` reference.
const DOC_EXAMPLES: &str = r#"
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: my-gateway
  namespace: some-config-namespace
spec:
  selector:
    app: my-gateway-controller
  servers:
  - port:
      number: 80
      name: http
      protocol: HTTP
    hosts:
    - uk.bookinfo.com
    - eu.bookinfo.com
    tls:
      httpsRedirect: true # sends 301 redirect for http requests
  - port:
      number: 443
      name: https-443
      protocol: HTTPS
    hosts:
    - uk.bookinfo.com
    - eu.bookinfo.com
    tls:
      mode: SIMPLE # enables HTTPS on this port
      serverCertificate: /etc/certs/servercert.pem
      privateKey: /etc/certs/privatekey.pem
  - port:
      number: 9443
      name: https-9443
      protocol: HTTPS
    hosts:
    - "bookinfo-namespace/*.bookinfo.com"
    tls:
      mode: SIMPLE # enables HTTPS on this port
      credentialName: bookinfo-secret # fetches certs from Kubernetes secret
  - port:
      number: 9080
      name: http-wildcard
      protocol: HTTP
    hosts:
    - "*"
  - port:
      number: 2379 # to expose internal service via external port 2379
      name: mongo
      protocol: MONGO
    hosts:
    - "*"
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: my-gateway-ns
  namespace: some-config-namespace
spec:
  selector:
    app: my-gateway-controller
  servers:
  - port:
      number: 80
      name: http
      protocol: HTTP
    hosts:
    - "ns1/*"
    - "ns2/foo.bar.com"
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: my-ingress
spec:
  selector:
    app: my-ingress-gateway
  servers:
  - port:
      number: 80
      name: http2
      protocol: HTTP2
    hosts:
    - "*"
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: my-tcp-ingress
spec:
  selector:
    app: my-tcp-ingress-gateway
  servers:
  - port:
      number: 27018
      name: mongo
      protocol: MONGO
    hosts:
    - "*"
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: my-tls-ingress
spec:
  selector:
    app: my-tls-ingress-gateway
  servers:
  - port:
      number: 443
      name: https
      protocol: HTTPS
    hosts:
    - "*"
    tls:
      mode: SIMPLE
      serverCertificate: /etc/certs/server.pem
      privateKey: /etc/certs/privatekey.pem
"#;

#[test]
fn documentation_examples_load_clean() {
    let set = load(DOC_EXAMPLES);
    assert!(set.findings.is_empty(), "{:#?}", messages(&set));
    assert_eq!(set.resources.len(), 5);
    let Spec::Gateway(g) = &set.resources[0].spec else {
        panic!("not a Gateway")
    };
    assert_eq!(g.selector["app"], "my-gateway-controller");
    assert_eq!(g.servers.len(), 5);
    assert_eq!(
        (
            g.servers[1].port.number,
            g.servers[1].port.protocol.as_str()
        ),
        (443, "HTTPS")
    );
    let tls = g.servers[1].tls.as_ref().map(|t| t.mode());
    assert_eq!(tls, Some(super::ServerTlsMode::Simple));
}

#[test]
fn every_newer_field_reads() {
    let set = load(&gw(r#"  servers:
  - name: main
    bind: 0.0.0.0
    port: { number: 443, name: https, protocol: https }
    hosts: ["./*.example.com", "10.0.0.1"]
    defaultEndpoint: 127.0.0.1:8080
    tls:
      mode: OPTIONAL_MUTUAL
      credentialNames: [rsa-cert, ecdsa-cert]
      caCertCredentialName: client-ca
      subjectAltNames: [client.example.com]
      verifyCertificateSpki: [abc]
      verifyCertificateHash: [def]
      minProtocolVersion: TLSV1_2
      maxProtocolVersion: TLSV1_3
      cipherSuites: [ECDHE-RSA-AES128-GCM-SHA256, "[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]"]
  - port: { number: 8443, name: https-2, protocol: HTTPS }
    hosts: ["*"]
    tls:
      mode: MUTUAL
      tlsCertificates:
      - { serverCertificate: /a.pem, privateKey: /a.key, caCertificates: /ca.pem }
"#));
    assert!(set.findings.is_empty(), "{:#?}", messages(&set));
}

#[test]
fn servers_and_hosts_are_required() {
    let set = load(&gw("  servers: []\n"));
    assert_eq!(
        messages(&set),
        ["error: gw.yaml:4: spec: a Gateway needs at least one entry in `servers`"]
    );
    let set = load(&gw(
        "  servers:\n  - port: { number: 80, name: http, protocol: HTTP }\n",
    ));
    assert_eq!(
        messages(&set),
        [
            "error: gw.yaml:7: spec.servers[0].hosts: a server needs `hosts`, such as `\"*\"` or `\"prod/*.example.com\"`"
        ]
    );
}

#[test]
fn hosts_follow_namespace_slash_dns_name() {
    let set = load(&gw(r#"  servers:
  - port: { number: 80, name: http, protocol: HTTP }
    hosts:
    - reviews
    - "prod/foo*.example.com"
    - "/foo.example.com"
    - "Bad_NS/*"
    - "~/foo.example.com"
"#));
    assert_eq!(
        messages(&set),
        [
            "error: gw.yaml:9: spec.servers[0].hosts[0]: \"reviews\" is a short name; use a fully qualified name such as `reviews.prod.svc.cluster.local`, or `*`",
            "error: gw.yaml:10: spec.servers[0].hosts[1]: \"foo*.example.com\" is not a valid DNS name: label \"foo*\" is invalid; use letters, digits and '-' (a wildcard only as the whole first label)",
            "error: gw.yaml:11: spec.servers[0].hosts[2]: host \"/foo.example.com\" needs both a namespace and a DNS name, such as `prod/*` or `*/foo.example.com`",
            "error: gw.yaml:12: spec.servers[0].hosts[3]: \"Bad_NS\" in host \"Bad_NS/*\" is not a namespace; use `*`, `.` or a namespace name",
            "error: gw.yaml:13: spec.servers[0].hosts[4]: \"~\" in host \"~/foo.example.com\" is not a namespace; use `*`, `.` or a namespace name",
        ]
    );
}

#[test]
fn ports_need_a_known_protocol_a_number_and_a_unique_name() {
    let set = load(&gw(r#"  servers:
  - port: { number: 80, name: http, protocol: HTTP/2 }
    hosts: ["*"]
  - port: { number: 70000, name: http, protocol: HTTP, targetPort: 8080 }
    hosts: ["*"]
  - port: { number: 81, protocol: TCP }
    hosts: ["*"]
  - hosts: ["*"]
"#));
    assert_eq!(
        messages(&set),
        [
            "error: gw.yaml:7: spec.servers[0].port.protocol: unknown protocol \"HTTP/2\"; use HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, TCP, TLS, MONGO, MYSQL or REDIS",
            "error: gw.yaml:9: spec.servers[1].port.name: port name `http` is used by another server; give each server's port its own name",
            "error: gw.yaml:9: spec.servers[1].port.number: 70000 is not a port; use 1 to 65535",
            "error: gw.yaml:9: spec.servers[1].port.targetPort: targetPort has no effect on Gateways; remove it",
            "error: gw.yaml:11: spec.servers[2].port.name: a server port needs a `name`, such as `http`",
            "error: gw.yaml:13: spec.servers[3].port: a server needs `port`, such as `port: {number: 80, name: http, protocol: HTTP}`",
        ]
    );
}

#[test]
fn tls_must_match_the_protocol() {
    let set = load(&gw(r#"  servers:
  - port: { number: 443, name: https, protocol: HTTPS }
    hosts: ["*"]
  - port: { number: 80, name: http, protocol: HTTP }
    hosts: ["*"]
    tls: { mode: SIMPLE, credentialName: cert }
  - port: { number: 3306, name: mysql, protocol: MYSQL }
    hosts: ["*"]
    tls: { mode: PASSTHROUGH }
  - port: { number: 31400, name: tcp, protocol: TCP }
    hosts: ["*"]
    tls: { httpsRedirect: true }
"#));
    let m = messages(&set);
    assert_eq!(
        m,
        [
            "error: gw.yaml:7: spec.servers[0]: a HTTPS server needs `tls`, such as `tls: {mode: SIMPLE, credentialName: my-cert}`, or `tls: {mode: PASSTHROUGH}`",
            "error: gw.yaml:11: spec.servers[1].tls: a plain-text HTTP server takes no TLS settings but `httpsRedirect`; use protocol HTTPS to terminate TLS",
            "error: gw.yaml:14: spec.servers[2].tls: a MYSQL server takes no TLS settings; use protocol TLS or HTTPS for TLS",
            "error: gw.yaml:17: spec.servers[3].tls: a TCP server takes no TLS settings; use protocol TLS or HTTPS for TLS",
            "warning: gw.yaml:17: spec.servers[3].tls.httpsRedirect: httpsRedirect only applies to HTTP servers; remove it",
        ],
        "{m:#?}"
    );
}

#[test]
fn tls_modes_need_their_certificates() {
    let set = load(&gw(r#"  servers:
  - port: { number: 443, name: https, protocol: HTTPS }
    hosts: ["*"]
    tls: { mode: SIMPLE, privateKey: /k.pem, caCrl: /crl.pem }
  - port: { number: 8443, name: mtls, protocol: HTTPS }
    hosts: ["*"]
    tls: { mode: MUTUAL, serverCertificate: /c.pem, privateKey: /k.pem }
  - port: { number: 9443, name: istio, protocol: TLS }
    hosts: ["*"]
    tls: { mode: ISTIO_MUTUAL, credentialName: cert }
  - port: { number: 9444, name: both, protocol: TLS }
    hosts: ["*"]
    tls: { mode: SIMPLE, credentialName: a, credentialNames: [b] }
  - port: { number: 9445, name: old, protocol: TLS }
    hosts: ["*"]
    tls: { mode: SIMPLE, credentialName: a, minProtocolVersion: TLSV1_0, cipherSuites: [NOPE, AES128-SHA, AES128-SHA] }
"#));
    let m = messages(&set);
    assert_eq!(
        m,
        [
            "error: gw.yaml:9: spec.servers[0].tls.caCrl: SIMPLE TLS does not check client certificates, so caCrl cannot apply; remove it or use MUTUAL",
            "error: gw.yaml:9: spec.servers[0].tls.mode: SIMPLE TLS needs `serverCertificate` (a file path), or the certificates in a secret named by `credentialName`",
            "error: gw.yaml:12: spec.servers[1].tls.mode: MUTUAL TLS needs `caCertificates` (a file path), or the certificates in a secret named by `credentialName`",
            "error: gw.yaml:15: spec.servers[2].tls.credentialName: ISTIO_MUTUAL uses Istio's certificates; remove `credentialName` (or use MUTUAL)",
            "error: gw.yaml:18: spec.servers[3].tls: set only one of `credentialName`, `credentialNames` and `tlsCertificates`",
            "warning: gw.yaml:21: spec.servers[4].tls.cipherSuites[0]: \"NOPE\" is not a cipher suite Envoy knows; it is ignored (e.g. `ECDHE-RSA-AES128-GCM-SHA256`)",
            "warning: gw.yaml:21: spec.servers[4].tls.cipherSuites[2]: \"AES128-SHA\" is listed twice; the repeat is ignored",
        ],
        "{m:#?}"
    );
}

#[test]
fn unix_socket_binds() {
    let set = load(&gw(r#"  servers:
  - port: { number: 0, name: uds, protocol: HTTP }
    bind: unix:///var/run/gw.sock
    hosts: ["*"]
  - port: { number: 80, name: http, protocol: HTTP }
    bind: unix://relative.sock
    hosts: ["*"]
  - port: { number: 81, name: http-81, protocol: HTTP }
    bind: localhost
    hosts: ["*"]
"#));
    let m = messages(&set);
    assert_eq!(m.len(), 3, "{m:#?}");
    assert_eq!(
        m[0],
        "error: gw.yaml:10: spec.servers[1].port.number: a server bound to a Unix socket takes port number 0"
    );
    assert!(
        m[1].starts_with(
            "error: gw.yaml:11: spec.servers[1].bind: \"relative.sock\" is not an absolute path"
        ),
        "{m:#?}"
    );
    assert_eq!(
        m[2],
        "error: gw.yaml:14: spec.servers[2].bind: \"localhost\" is not an IP address or `unix://` socket"
    );
}

#[test]
fn typos_are_reported() {
    let set = load(&gw(
        "  servers:\n  - port: { number: 80, name: http, protocol: HTTP }\n    host: [\"*\"]\n",
    ));
    let m = messages(&set);
    assert!(
        m.iter().any(|m| m
            .starts_with("error: gw.yaml:8: spec.servers[0].host: unknown field `host`")
            && m.contains("did you mean `hosts`?")),
        "{m:#?}"
    );
}
