use crate::ResourceSet;
use crate::kinds::Spec;

fn load(yaml: &str) -> ResourceSet {
    crate::load::checked("se.yaml", yaml)
}

fn messages(set: &ResourceSet) -> Vec<String> {
    set.findings
        .iter()
        .map(|f| format!("{}: {f}", f.severity))
        .collect()
}

/// A ServiceEntry whose spec starts on line 5.
fn se(spec: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{ name: s }}\nspec:\n{spec}"
    )
}

/// The examples in istio/api's `service_entry.proto` and
/// `workload_entry.proto` references.
const DOC_EXAMPLES: &str = r#"
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: external-svc-https
spec:
  hosts:
  - api.dropboxapi.com
  - www.googleapis.com
  - api.facebook.com
  location: MESH_EXTERNAL
  ports:
  - number: 443
    name: https
    protocol: TLS
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: external-svc-mongocluster
spec:
  hosts:
  - mymongodb.somedomain # not used
  addresses:
  - 192.192.192.192/24 # VIPs
  ports:
  - number: 27018
    name: mongodb
    protocol: MONGO
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints:
  - address: 2.2.2.2
  - address: 3.3.3.3
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: external-svc-redirect
spec:
  hosts:
  - wikipedia.org
  - "*.wikipedia.org"
  location: MESH_EXTERNAL
  ports:
  - number: 443
    name: https
    protocol: TLS
  resolution: NONE
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: external-svc-httpbin
  namespace: egress
spec:
  hosts:
  - example.com
  exportTo:
  - "."
  location: MESH_EXTERNAL
  ports:
  - number: 80
    name: http
    protocol: HTTP
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: external-svc-wildcard-example
spec:
  hosts:
  - "*.bar.com"
  location: MESH_EXTERNAL
  ports:
  - number: 80
    name: http
    protocol: HTTP
  resolution: NONE
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: unix-domain-socket-example
spec:
  hosts:
  - "example.unix.local"
  location: MESH_EXTERNAL
  ports:
  - number: 80
    name: http
    protocol: HTTP
  resolution: STATIC
  endpoints:
  - address: unix:///var/run/example/socket
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: external-svc-dns
spec:
  hosts:
  - foo.bar.com
  location: MESH_EXTERNAL
  ports:
  - number: 80
    name: http
    protocol: HTTP
  resolution: DNS
  endpoints:
  - address: us.foo.bar.com
    ports:
      http: 8080
  - address: uk.foo.bar.com
    ports:
      http: 9080
  - address: in.foo.bar.com
    ports:
      http: 7080
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: httpbin
  namespace: httpbin-ns
spec:
  hosts:
  - example.com
  location: MESH_INTERNAL
  ports:
  - number: 80
    name: http
    protocol: HTTP
  resolution: STATIC
  endpoints:
  - address: 2.2.2.2
  - address: 3.3.3.3
  subjectAltNames:
  - "spiffe://cluster.local/ns/httpbin-ns/sa/httpbin-service-account"
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: details-svc
spec:
  hosts:
  - details.bookinfo.com
  location: MESH_INTERNAL
  ports:
  - number: 80
    name: http
    protocol: HTTP
    targetPort: 8080
  resolution: STATIC
  workloadSelector:
    labels:
      app: details-legacy
"#;

#[test]
fn documentation_examples_load_clean() {
    let set = load(DOC_EXAMPLES);
    assert!(set.findings.is_empty(), "{:#?}", messages(&set));
    assert_eq!(set.resources.len(), 9);
    let Spec::ServiceEntry(e) = &set.resources[6].spec else {
        panic!("not a ServiceEntry")
    };
    assert_eq!(e.resolution, Some(super::ServiceEntryResolution::Dns));
    assert_eq!(e.location, Some(super::ServiceEntryLocation::MeshExternal));
    assert_eq!(e.endpoints[1].ports["http"], 9080);
    assert_eq!(e.ports[0].protocol.as_deref(), Some("HTTP"));
}

#[test]
fn hosts_are_required_and_not_a_bare_wildcard() {
    let set = load(&se(
        "  ports: [{ number: 80, name: http, protocol: HTTP }]\n",
    ));
    assert_eq!(
        messages(&set),
        [
            "error: se.yaml:4: spec: a ServiceEntry needs `hosts`, such as `hosts: [api.example.com]`"
        ]
    );
    let set = load(&se("  hosts: [\"*\", \"foo*.example.com\"]\n"));
    let m = messages(&set);
    assert_eq!(
        m[0],
        "error: se.yaml:5: spec.hosts[0]: `*` is not allowed; name the hosts, such as `*.example.com`"
    );
    assert!(
        m[1].starts_with(
            "error: se.yaml:5: spec.hosts[1]: \"foo*.example.com\" is not a valid DNS name"
        ),
        "{m:#?}"
    );
    assert_eq!(m.len(), 2, "{m:#?}");
}

#[test]
fn resolution_rules() {
    let set = load(&se(
        "  hosts: [\"*.example.com\"]\n  ports: [{ number: 443, name: tls, protocol: TLS }]\n  resolution: DNS\n",
    ));
    assert_eq!(
        messages(&set),
        [
            "error: se.yaml:5: spec.hosts[0]: with resolution DNS and no endpoints the host itself is resolved, so \"*.example.com\" must be a DNS name without wildcards; use resolution NONE (or DYNAMIC_DNS) for wildcards"
        ]
    );
    let set = load(&se("  hosts: [a.example.com]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  endpoints: [{ address: 1.1.1.1 }]
"));
    assert_eq!(
        messages(&set),
        [
            "error: se.yaml:7: spec.endpoints: resolution NONE takes no endpoints; remove `endpoints` or set `resolution: STATIC` (or DNS)"
        ]
    );
    let set = load(&se("  hosts: [a.example.com]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: DNS_ROUND_ROBIN
  endpoints: [{ address: a.example.com }, { address: b.example.com }]
"));
    assert_eq!(
        messages(&set),
        [
            "error: se.yaml:8: spec.endpoints: resolution DNS_ROUND_ROBIN takes at most one endpoint; use resolution DNS for several"
        ]
    );
    let set = load(&se("  hosts: [a.example.com]\n  resolution: STATIC\n"));
    assert_eq!(
        messages(&set),
        [
            "warning: se.yaml:6: spec.resolution: resolution STATIC without `endpoints` or `workloadSelector` has no endpoints to send to; add either"
        ]
    );
}

#[test]
fn static_endpoints_are_ips_with_declared_ports() {
    let set = load(&se("  hosts: [db.example.com]
  ports: [{ number: 5432, name: pg, protocol: TCP }]
  resolution: STATIC
  endpoints:
  - address: db1.example.com
    ports: { postgres: 5432 }
  - network: other
  - {}
"));
    assert_eq!(
        messages(&set),
        [
            "error: se.yaml:9: spec.endpoints[0].address: \"db1.example.com\" is not an IP address, which resolution STATIC needs; use an IP, or resolution DNS for a DNS name",
            "error: se.yaml:10: spec.endpoints[0].ports.postgres: `postgres` is not a port of this ServiceEntry; endpoint ports are keyed by the entry's port names (`pg`)",
            "error: se.yaml:12: spec.endpoints[2].address: an address is required; set `address` (an IP address) or, for a workload in another network, `network`",
        ]
    );
}

#[test]
fn ports_are_unique_named_and_known() {
    let set = load(&se("  hosts: [a.example.com]
  addresses: [10.0.0.0/8, not-an-ip]
  ports:
  - { number: 80, name: http, protocol: HTTP }
  - { number: 80, name: http, protocol: HTTP3 }
  - { number: 0, name: Bad_Name, targetPort: 70000 }
  - { number: 81 }
  resolution: DNS
"));
    let m = messages(&set);
    for want in [
        "error: se.yaml:6: spec.addresses[1]: \"not-an-ip\" is not an IP address or CIDR block, such as `10.0.0.5` or `192.168.0.0/16`",
        "error: se.yaml:6: spec.addresses[0]: CIDR addresses need resolution NONE or STATIC; list single IPs or change `resolution`",
        "error: se.yaml:9: spec.ports[1].name: port name `http` is used twice; give each port its own name",
        "error: se.yaml:9: spec.ports[1].number: port 80 is listed twice; list each port once",
        "error: se.yaml:9: spec.ports[1].protocol: unknown protocol \"HTTP3\"; use HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, TCP, TLS, MONGO, MYSQL or REDIS",
        "error: se.yaml:10: spec.ports[2].name: \"Bad_Name\" is not a valid port name; use up to 63 letters, digits and '-', starting and ending with a letter or digit, such as `http-web`",
        "error: se.yaml:10: spec.ports[2].number: 0 is not a port; use 1 to 65535",
        "error: se.yaml:10: spec.ports[2].targetPort: 70000 is not a port; use 1 to 65535",
        "error: se.yaml:11: spec.ports[3].name: a port needs a `name`, such as `http`; endpoints refer to ports by name",
    ] {
        assert!(m.contains(&want.to_string()), "missing {want}\n{m:#?}");
    }
    assert_eq!(m.len(), 9, "{m:#?}");
}

#[test]
fn several_hosts_need_http_or_tls_ports() {
    let set = load(&se("  hosts: [a.example.com, b.example.com]
  ports: [{ number: 80, name: http, protocol: HTTP }, { number: 6379, name: redis, protocol: REDIS }]
  resolution: DNS
"));
    assert_eq!(
        messages(&set),
        [
            "error: se.yaml:6: spec.ports[1]: several hosts cannot share a port that is neither HTTP nor TLS (nothing tells them apart); use one host per ServiceEntry or an HTTP/TLS protocol"
        ]
    );
}

#[test]
fn selector_and_endpoints_exclude_each_other() {
    let set = load(&se("  hosts: [a.example.com]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: STATIC
  workloadSelector: { labels: {} }
  endpoints: [{ address: 1.1.1.1 }]
  exportTo: [\"~\", \"*\"]
"));
    let m = messages(&set);
    for want in [
        "warning: se.yaml:8: spec.workloadSelector: the selector has no `labels`, so it applies to every workload in the namespace; add labels or remove the selector",
        "error: se.yaml:8: spec.workloadSelector: set `workloadSelector` or `endpoints`, not both",
        "error: se.yaml:10: spec.exportTo: `*` exports to every namespace already; remove the other entries",
        "error: se.yaml:10: spec.exportTo: `~` exports to no one and cannot be combined with other entries",
    ] {
        assert!(m.contains(&want.to_string()), "missing {want}\n{m:#?}");
    }
    assert_eq!(m.len(), 4, "{m:#?}");
}

#[test]
fn typos_are_reported() {
    let set = load(&se(
        "  hosts: [a.example.com]\n  resolution: DNS\n  port: [{ number: 80, name: http }]\n",
    ));
    let m = messages(&set);
    assert_eq!(m.len(), 1, "{m:#?}");
    assert!(
        m[0].starts_with("error: se.yaml:7: spec.port: unknown field `port`"),
        "{m:#?}"
    );
    assert!(m[0].contains("did you mean `ports`?"), "{m:#?}");
}
