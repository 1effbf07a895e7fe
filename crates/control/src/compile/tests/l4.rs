//! VirtualService `tls` and `tcp` rules: on sidecars by SNI and weight,
//! and on Istio Gateway `PASSTHROUGH` and TCP servers.

use weft_proto::config::{Backend, TcpRoute};

use super::gamma::seen_from;
use super::*;

const SERVICES: &str = "
apiVersion: v1
kind: Service
metadata: { name: secure }
spec: { selector: { app: secure }, ports: [{ name: tls, port: 443 }] }
---
apiVersion: v1
kind: Service
metadata: { name: db }
spec: { selector: { app: db }, ports: [{ name: tcp, port: 5432 }] }
---
apiVersion: v1
kind: Service
metadata: { name: other }
spec: { selector: { app: other }, ports: [{ name: tls, port: 443 }, { name: tcp, port: 5432 }] }
---
";

fn backend(cluster: &str, weight: u32) -> Backend {
    Backend {
        cluster: cluster.into(),
        weight,
        ..Backend::default()
    }
}

fn route(sni: &[&str], backends: Vec<Backend>) -> TcpRoute {
    TcpRoute {
        name: None,
        sni: sni.iter().map(|s| s.to_string()).collect(),
        backends,
    }
}

const SECURE: &str = "outbound|443||secure.default.svc.cluster.local";
const OTHER_443: &str = "outbound|443||other.default.svc.cluster.local";

#[test]
fn tls_rules_route_a_tls_port_by_server_name() {
    let c = compiler(&format!(
        "{SERVICES}
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{ name: secure }}
spec:
  hosts: [secure]
  tls:
  - match:
    - {{ sniHosts: [api.example.com], port: 443 }}
    - {{ sniHosts: ['*.example.com'], sourceLabels: {{ app: someone-else }} }}
    route:
    - {{ destination: {{ host: other }}, weight: 80 }}
    - {{ destination: {{ host: secure }}, weight: 20 }}
  - match:
    - {{ sniHosts: [api.example.com] }}
    route: [{{ destination: {{ host: secure }} }}]
  - match:
    - {{ sniHosts: ['*.example.com'], port: 8443 }}
    route: [{{ destination: {{ host: secure }} }}]
  - match:
    - {{ sniHosts: ['*'] }}
    route: [{{ destination: {{ host: secure }} }}]
"
    ));
    let port = seen_from(&c, "default", "secure.default.svc.cluster.local")
        .ports
        .remove(0);
    assert_eq!(port.cluster, None);
    assert!(port.routes.is_empty());
    // The other caller's match and the other port's are decided away; a
    // repeat of api.example.com could never be reached.
    assert_eq!(
        port.tcp_routes,
        [
            route(
                &["api.example.com"],
                vec![backend(OTHER_443, 80), backend(SECURE, 20)]
            ),
            route(&["*"], vec![backend(SECURE, 1)]),
        ]
    );
}

#[test]
fn a_tls_port_without_applicable_rules_goes_to_its_service() {
    let c = compiler(&format!(
        "{SERVICES}
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{ name: secure }}
spec:
  hosts: [secure]
  tls:
  - match: [{{ sniHosts: [a.example.com], sourceNamespace: elsewhere }}]
    route: [{{ destination: {{ host: other }} }}]
  tcp:
  - route: [{{ destination: {{ host: other }} }}]
"
    ));
    let port = seen_from(&c, "default", "secure.default.svc.cluster.local")
        .ports
        .remove(0);
    // tcp rules are not for TLS ports.
    assert!(port.tcp_routes.is_empty());
    assert_eq!(port.cluster.as_deref(), Some(SECURE));
}

#[test]
fn tcp_rules_split_by_weight_or_pick_one_cluster() {
    let c = compiler(&format!(
        "{SERVICES}
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{ name: db }}
spec:
  host: db
  subsets: [{{ name: v1, labels: {{ version: v1 }} }}, {{ name: v2, labels: {{ version: v2 }} }}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{ name: db }}
spec:
  hosts: [db]
  tcp:
  - match: [{{ port: 9999 }}]
    route: [{{ destination: {{ host: other }} }}]
  - route:
    - {{ destination: {{ host: db, subset: v1 }}, weight: 75 }}
    - {{ destination: {{ host: db, subset: v2 }}, weight: 25 }}
    - {{ destination: {{ host: other }}, weight: 0 }}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{ name: other }}
spec:
  hosts: [other]
  tcp:
  - route: [{{ destination: {{ host: db, subset: v2 }} }}]
"
    ));
    let db = seen_from(&c, "default", "db.default.svc.cluster.local")
        .ports
        .remove(0);
    assert_eq!(db.cluster, None);
    assert_eq!(
        db.tcp_routes,
        [route(
            &[],
            vec![
                backend("outbound|5432|v1|db.default.svc.cluster.local", 75),
                backend("outbound|5432|v2|db.default.svc.cluster.local", 25),
            ]
        )]
    );
    // One destination: a plain cluster, on the tcp port only (the tls
    // port of the same service ignores tcp rules).
    let other = seen_from(&c, "default", "other.default.svc.cluster.local");
    let tcp = other.ports.iter().find(|p| p.port == 5432).unwrap();
    assert_eq!(
        tcp.cluster.as_deref(),
        Some("outbound|5432|v2|db.default.svc.cluster.local")
    );
    assert!(tcp.tcp_routes.is_empty());
    let tls = other.ports.iter().find(|p| p.port == 443).unwrap();
    assert_eq!(tls.cluster.as_deref(), Some(OTHER_443));
}

#[test]
fn a_passthrough_gateway_routes_sni_narrowed_to_its_hosts() {
    let c = compiler(&format!(
        "{SERVICES}
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{ name: edge }}
spec:
  selector: {{ istio: ingressgateway }}
  servers:
  - port: {{ number: 443, name: tls, protocol: TLS }}
    tls: {{ mode: PASSTHROUGH }}
    hosts: ['*.example.com']
  - port: {{ number: 31400, name: tcp, protocol: TCP }}
    hosts: ['*']
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{ name: edge }}
spec:
  hosts: ['*']
  gateways: [edge]
  tls:
  - match:
    - {{ port: 443, sniHosts: ['*', 'api.example.org'] }}
    route: [{{ destination: {{ host: secure }} }}]
  - match:
    - {{ port: 443, sniHosts: [db.example.org] }}
    route: [{{ destination: {{ host: other, port: {{ number: 443 }} }} }}]
  tcp:
  - match: [{{ port: 31400 }}]
    route: [{{ destination: {{ host: db }} }}]
"
    ));
    let servers = super::gateway::servers_of(&c, &[("istio", "ingressgateway")]);
    let tls = servers.iter().find(|s| s.port == 443).unwrap();
    assert!(tls.virtual_hosts.is_empty() && tls.tls.is_none());
    // `*` narrowed to the server's `*.example.com`; names the server does
    // not admit are dropped, and a match left with none too.
    assert_eq!(
        tls.tcp_routes,
        [TcpRoute {
            name: Some("default/edge".into()),
            ..route(&["*.example.com"], vec![backend(SECURE, 1)])
        }]
    );
    let tcp = servers.iter().find(|s| s.port == 31400).unwrap();
    assert_eq!(
        tcp.tcp_routes,
        [TcpRoute {
            name: Some("default/edge".into()),
            ..route(
                &[],
                vec![backend("outbound|5432||db.default.svc.cluster.local", 1)]
            )
        }]
    );
}
