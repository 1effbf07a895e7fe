//! Ingress gateways: which proxies Istio and Gateway API Gateways select,
//! which VirtualServices and HTTPRoutes bind to them, and the virtual
//! hosts and routes that result.

use weft_proto::config::{GatewayServer, PathMatch, ProxyConfig, RouteMatch, ServerTls};
use weft_proto::discovery::ListenerInfo;
use weft_proto::resources::GATEWAY_SERVER;

use super::*;
use crate::compile::gateway::GATEWAY_NAME_LABEL as NAME_LABEL;

pub(super) fn conformance(path: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance")
        .join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn bookinfo() -> String {
    conformance("istio/bookinfo/platform/bookinfo.yaml")
}

/// A proxy with a gateway listener (unless `sidecar`), as it introduces
/// itself.
fn gateway(ns: &str, labels: &[(&str, &str)]) -> Node {
    let mut n = node("gw-1", ns, labels, "198.18.1.1");
    n.transparent_inbound = false;
    n.listeners = vec![ListenerInfo {
        name: "http".into(),
        address: "127.0.0.1:8080".into(),
        direction: "gateway".into(),
        interception: "explicit".into(),
        protocol: "detect".into(),
    }];
    n
}

const INGRESS: &[(&str, &str)] = &[("istio", "ingressgateway")];

/// The gateway servers `n` gets, by port; checks that the whole view is
/// a config the proxy accepts.
fn servers(c: &Compiler, n: &Node) -> Vec<GatewayServer> {
    c.proxy_connected(n);
    c.rebuild();
    let view = c.view(n);
    let typed: Vec<Typed> = view
        .resources
        .values()
        .map(|r| Typed::decode(r).unwrap())
        .collect();
    let base = ProxyConfig::from_yaml(
        "gw.yaml",
        "listeners: [{ name: http, address: 127.0.0.1:8080, direction: gateway, target_port: 80 }]\ncontrol_plane: { address: \"127.0.0.1:15012\", ca_bundle: root.pem }",
    )
    .unwrap();
    let config = weft_proto::resources::compose(&base, &typed).unwrap();
    let errors = config.validate();
    assert!(errors.is_empty(), "{errors:?}");
    let mut out: Vec<GatewayServer> = view
        .resources
        .keys()
        .filter(|(t, _)| t == GATEWAY_SERVER)
        .map(|(t, name)| match decoded(&view, t, name) {
            Typed::GatewayServer(g) => g,
            other => panic!("{other:?}"),
        })
        .collect();
    out.sort_by_key(|s| s.port);
    out
}

/// `(host, [(first path match, cluster)])` of each virtual host.
fn table(server: &GatewayServer) -> Vec<(String, Vec<(String, String)>)> {
    server
        .virtual_hosts
        .iter()
        .map(|vh| {
            let routes = vh
                .routes
                .iter()
                .map(|r| (show(r.matches.first()), r.backends[0].cluster.clone()))
                .collect();
            (vh.hosts.join(","), routes)
        })
        .collect()
}

fn show(m: Option<&RouteMatch>) -> String {
    match m.and_then(|m| m.path.as_ref()) {
        None => "*".into(),
        Some(PathMatch::Exact(p)) => format!("={p}"),
        Some(PathMatch::Prefix(p)) => format!("{p}*"),
        Some(PathMatch::Regex(p)) => format!("~{p}"),
    }
}

const PRODUCTPAGE: &str = "outbound|9080||productpage.default.svc.cluster.local";

#[test]
fn an_istio_gateway_configures_the_proxies_its_selector_picks() {
    let yaml = format!(
        "{}---\n{}",
        bookinfo(),
        conformance("istio/bookinfo/networking/bookinfo-gateway.yaml")
    );
    let c = compiler(&yaml);
    connect_bookinfo(&c);
    // The seed: port 8080, every host, bookinfo's five paths to productpage.
    let got = servers(&c, &gateway("istio-system", INGRESS));
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].port, got[0].tls.as_ref()), (8080, None));
    let vh = &got[0].virtual_hosts[0];
    assert_eq!(vh.hosts, ["*"]);
    assert_eq!(vh.routes.len(), 1);
    let paths: Vec<String> = vh.routes[0].matches.iter().map(|m| show(Some(m))).collect();
    assert_eq!(
        paths,
        [
            "=/productpage",
            "/static*",
            "=/login",
            "=/logout",
            "/api/v1/products*"
        ]
    );
    assert_eq!(vh.routes[0].backends[0].cluster, PRODUCTPAGE);
    // The cluster travels with it: productpage's sidecar, over mTLS.
    let view = c.view(&gateway("istio-system", INGRESS));
    let pp = cluster(&view, PRODUCTPAGE);
    assert_eq!(pp.endpoints.len(), 1);
    assert_eq!(
        pp.endpoints[0].identity.as_deref(),
        Some("spiffe://cluster.local/ns/default/sa/default")
    );

    // Other labels: not this Gateway's proxy. A sidecar with the labels
    // (no gateway listener) gets nothing either.
    assert!(servers(&c, &gateway("istio-system", &[("istio", "egressgateway")])).is_empty());
    let sidecar = node("labelled-sidecar", "default", INGRESS, "198.18.1.2");
    c.proxy_connected(&sidecar);
    c.rebuild();
    let view = c.view(&sidecar);
    assert!(!view.resources.keys().any(|(t, _)| t == GATEWAY_SERVER));
}

#[test]
fn mesh_only_virtual_services_stay_off_the_gateway() {
    // virtual-service-all-v1 pins productpage to v1 for sidecars; the
    // gateway routes by its own VirtualService, to productpage itself.
    let yaml = format!(
        "{}---\n{}---\n{}---\n{}",
        bookinfo(),
        conformance("istio/bookinfo/networking/destination-rule-all.yaml"),
        conformance("istio/bookinfo/networking/virtual-service-all-v1.yaml"),
        conformance("istio/bookinfo/networking/bookinfo-gateway.yaml"),
    );
    let c = compiler(&yaml);
    connect_bookinfo(&c);
    let got = servers(&c, &gateway("istio-system", INGRESS));
    assert_eq!(
        table(&got[0]),
        [(
            "*".to_string(),
            vec![("=/productpage".to_string(), PRODUCTPAGE.to_string())]
        )]
    );
    // And the gateway-bound one stays off the sidecars.
    let page = connect_bookinfo(&c);
    let view = c.view(&page);
    let Typed::Service(svc) = decoded(&view, SERVICE, "productpage.default.svc.cluster.local")
    else {
        panic!()
    };
    assert_eq!(
        svc.ports[0].routes[0].backends[0].cluster,
        "outbound|9080|v1|productpage.default.svc.cluster.local"
    );
}

const HOSTS: &str = "
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: 80, name: http, protocol: HTTP }
    hosts: [bookinfo.example.com, shop/*.shop.com, ./*.edge.com]
  - port: { number: 443, name: https, protocol: HTTPS }
    hosts: ['*']
    tls: { mode: SIMPLE, serverCertificate: /etc/certs/edge.pem, privateKey: /etc/certs/edge-key.pem }
  - port: { number: 8443, name: https-secret, protocol: HTTPS }
    hosts: ['*']
    tls: { mode: SIMPLE, credentialName: edge-cert }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: everything, namespace: default }
spec:
  hosts: ['*']
  gateways: [istio-system/edge]
  http: [{ route: [{ destination: { host: productpage, port: { number: 9080 } } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: shop, namespace: shop }
spec:
  hosts: [a.shop.com, b.example.org]
  gateways: [istio-system/edge]
  http: [{ route: [{ destination: { host: productpage.default.svc.cluster.local } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: not-shop, namespace: default }
spec:
  hosts: [b.shop.com]
  gateways: [istio-system/edge]
  http: [{ route: [{ destination: { host: productpage } }] }]
";

#[test]
fn server_hosts_narrow_and_admit_virtual_services_by_namespace() {
    let c = compiler(&format!("{}---\n{HOSTS}", bookinfo()));
    connect_bookinfo(&c);
    let got = servers(&c, &gateway("istio-system", INGRESS));
    let ports: Vec<u16> = got.iter().map(|s| s.port).collect();
    assert_eq!(ports, [80, 443, 8443]);
    let hosts = |s: &GatewayServer| -> Vec<String> {
        s.virtual_hosts.iter().map(|v| v.hosts.join(",")).collect()
    };
    // `*` narrows to the server's hosts; shop's VirtualService binds
    // through `shop/` only; default's `b.shop.com` is not admitted, and
    // nothing in default is under `./` (istio-system).
    assert_eq!(hosts(&got[0]), ["a.shop.com", "bookinfo.example.com"]);
    let shop = got[0]
        .virtual_hosts
        .iter()
        .find(|v| v.hosts == ["a.shop.com"])
        .unwrap();
    // One port, no `port:` needed.
    assert_eq!(shop.routes[0].backends[0].cluster, PRODUCTPAGE);
    // SIMPLE with files: the gateway terminates with them.
    assert_eq!(
        got[1].tls,
        Some(ServerTls {
            certificate: "/etc/certs/edge.pem".into(),
            private_key: "/etc/certs/edge-key.pem".into()
        })
    );
    assert_eq!(
        hosts(&got[1]),
        ["*", "a.shop.com", "b.example.org", "b.shop.com"]
    );
    // A Secret weft cannot read: the port has no certificate.
    assert_eq!(got[2].tls, None);
}

const BINDING: &str = "
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ['*'] }]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw, namespace: default }
spec:
  selector: { app: other-gateway }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ['*'] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: by-full-name }
spec:
  hosts: [full.example.com]
  gateways: [istio-system/gw]
  http: [{ route: [{ destination: { host: productpage } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: by-short-name }
spec:
  hosts: [short.example.com]
  gateways: [gw]
  http: [{ route: [{ destination: { host: productpage } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  gateways: [mesh, istio-system/gw]
  http:
  - match: [{ uri: { prefix: /mesh }, gateways: [mesh] }]
    route: [{ destination: { host: reviews, subset: v1 } }]
  - match: [{ uri: { prefix: /edge }, gateways: [istio-system/gw] }]
    route: [{ destination: { host: reviews, subset: v2 } }]
  - match: [{ uri: { prefix: /port }, port: 8080 }]
    route: [{ destination: { host: reviews, subset: v2 } }]
  - route: [{ destination: { host: reviews, subset: v1 } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews }
spec:
  host: reviews
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
";

#[test]
fn virtual_services_bind_by_gateway_name_and_matches_by_their_gateways() {
    let c = compiler(&format!("{}---\n{BINDING}", bookinfo()));
    connect_bookinfo(&c);
    let got = servers(&c, &gateway("istio-system", INGRESS));
    let t = table(&got[0]);
    let hosts: Vec<&str> = t.iter().map(|(h, _)| h.as_str()).collect();
    // `gw` in by-short-name's namespace is default/gw, another gateway's.
    assert_eq!(
        hosts,
        ["full.example.com", "reviews.default.svc.cluster.local"]
    );
    let v1 = "outbound|9080|v1|reviews.default.svc.cluster.local";
    let v2 = "outbound|9080|v2|reviews.default.svc.cluster.local";
    // The mesh-only match and the match for another port are dropped.
    assert_eq!(
        t[1].1,
        [
            ("/edge*".to_string(), v2.to_string()),
            ("*".to_string(), v1.to_string())
        ]
    );
    // default/gw's proxy gets by-short-name.
    let other = servers(&c, &gateway("default", &[("app", "other-gateway")]));
    assert_eq!(table(&other[0])[0].0, "short.example.com");

    // Sidecars see the mesh rules, not the gateway's.
    let page = connect_bookinfo(&c);
    let view = c.view(&page);
    let Typed::Service(reviews) = decoded(&view, SERVICE, "reviews.default.svc.cluster.local")
    else {
        panic!()
    };
    let paths: Vec<String> = reviews.ports[0]
        .routes
        .iter()
        .map(|r| show(r.matches.first()))
        .collect();
    assert_eq!(paths, ["/mesh*", "*"]);
}

#[test]
fn a_gateway_api_gateway_serves_its_attached_http_routes() {
    // Istio's sample: a Gateway and its HTTPRoute.
    let yaml = format!(
        "{}---\n{}",
        conformance("istio/helloworld/helloworld.yaml"),
        conformance("istio/helloworld/gateway-api-helloworld-gateway.yaml"),
    );
    let c = compiler(&yaml);
    let mine = gateway("default", &[(NAME_LABEL, "helloworld-gateway")]);
    let got = servers(&c, &mine);
    assert_eq!(got.len(), 1);
    assert_eq!(
        table(&got[0]),
        [(
            "*".to_string(),
            vec![(
                "=/hello".to_string(),
                "outbound|5000||helloworld.default.svc.cluster.local".to_string()
            )]
        )]
    );
    // The Gateway lives in default: a proxy of that name elsewhere, or of
    // another name, runs nothing.
    let elsewhere = gateway("other", &[(NAME_LABEL, "helloworld-gateway")]);
    assert!(servers(&c, &elsewhere).is_empty());
    assert!(servers(&c, &gateway("default", &[(NAME_LABEL, "x")])).is_empty());
}

const KUBE: &str = "
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: edge }
spec:
  gatewayClassName: istio
  listeners:
  - { name: http, port: 80, protocol: HTTP }
  - name: https
    port: 443
    protocol: HTTPS
    hostname: '*.example.com'
    tls: { certificateRefs: [{ name: edge-cert }] }
    allowedRoutes: { namespaces: { from: All } }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: catch-all }
spec:
  parentRefs: [{ name: edge }]
  rules: [{ backendRefs: [{ name: details, port: 9080 }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: pages }
spec:
  parentRefs: [{ name: edge, sectionName: http }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /api/ } }, { path: { type: Exact, value: /productpage } }]
    backendRefs: [{ name: productpage, port: 9080 }]
  - matches: [{ path: { type: PathPrefix, value: /api/v1 }, method: GET }]
    backendRefs: [{ name: reviews, port: 9080, weight: 90 }, { name: ratings, port: 9080, weight: 10 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: shop, namespace: shop }
spec:
  parentRefs: [{ name: edge, namespace: default, port: 443 }]
  hostnames: [a.example.com, b.example.org]
  rules: [{ backendRefs: [{ name: details, namespace: default, port: 9080 }, { name: cart, port: 80 }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: not-allowed, namespace: shop }
spec:
  parentRefs: [{ name: edge, namespace: default, sectionName: http }]
  rules: [{ backendRefs: [{ name: cart, port: 80 }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: other-gateway }
spec:
  parentRefs: [{ name: elsewhere }]
  rules: [{ backendRefs: [{ name: ratings, port: 9080 }] }]
";

#[test]
fn http_routes_attach_by_section_and_port_and_sort_by_precedence() {
    let c = compiler(&format!("{}---\n{KUBE}", bookinfo()));
    let got = servers(&c, &gateway("default", &[(NAME_LABEL, "edge")]));
    let ports: Vec<u16> = got.iter().map(|s| s.port).collect();
    assert_eq!(ports, [80, 443]);
    let svc = |s: &str, p: u16| format!("outbound|{p}||{s}.default.svc.cluster.local");
    // Port 80: exact first, then the longest prefix (as segments: `/api/`
    // is `/api` exactly or `/api/...`), then the rule order: `/` last.
    let http = table(&got[0]);
    assert_eq!(http.len(), 1, "{http:?}");
    assert_eq!(
        http[0].1,
        [
            ("=/productpage".to_string(), svc("productpage", 9080)),
            ("=/api/v1".to_string(), svc("reviews", 9080)),
            ("=/api".to_string(), svc("productpage", 9080)),
            ("/*".to_string(), svc("details", 9080)),
        ]
    );
    let weighted = &got[0].virtual_hosts[0].routes[1];
    assert_eq!(
        weighted.matches[0].method,
        Some(weft_proto::config::StringMatch::Exact("GET".into()))
    );
    assert_eq!(
        weighted.matches[1].path,
        Some(PathMatch::Prefix("/api/v1/".into()))
    );
    let weights: Vec<u32> = weighted.backends.iter().map(|b| b.weight).collect();
    assert_eq!(weights, [90, 10]);

    // Port 443: hostnames narrowed to `*.example.com` (b.example.org does
    // not fit); a.example.com also gets the catch-all route, which covers
    // it. shop's own `cart` is served; nothing crosses namespaces without
    // a ReferenceGrant, and certificateRefs give no certificate.
    assert_eq!(got[1].tls, None);
    let https = table(&got[1]);
    let hosts: Vec<&str> = https.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(hosts, ["*.example.com", "a.example.com"]);
    assert_eq!(https[0].1, [("/*".to_string(), svc("details", 9080))]);
    let a = &got[1].virtual_hosts[1].routes;
    assert_eq!(a.len(), 2);
    let a_backends: Vec<Vec<String>> = a
        .iter()
        .map(|r| r.backends.iter().map(|b| b.cluster.clone()).collect())
        .collect();
    assert_eq!(
        a_backends,
        [
            vec![svc("details", 9080)],
            vec!["outbound|80||cart.shop.svc.cluster.local".to_string()]
        ]
    );
}

/// The gateway servers of a gateway proxy in `default` with `labels`.
pub(super) fn servers_of(c: &Compiler, labels: &[(&str, &str)]) -> Vec<GatewayServer> {
    servers(c, &gateway("default", labels))
}
