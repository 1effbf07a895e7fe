use std::collections::HashMap;

use weft_api::ResourceSet;
use weft_proto::config::{Cluster, InboundPort, LbPolicy, UpstreamProtocol};
use weft_proto::resources::{CLUSTER, INBOUND, SERVICE, Typed};

use super::*;

const MESH: &str = "
apiVersion: v1
kind: Service
metadata: { name: reviews }
spec: { selector: { app: reviews }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: productpage }
spec: { selector: { app: productpage }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: mysql, namespace: db }
spec: { selector: { app: mysql }, ports: [{ name: tcp, port: 3306 }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
  - match: [{ headers: { end-user: { exact: jason } } }]
    route: [{ destination: { host: reviews, subset: v2 } }]
  - route: [{ destination: { host: reviews, subset: v1 } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews }
spec:
  host: reviews
  trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN } }
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 }, trafficPolicy: { loadBalancer: { simple: LEAST_REQUEST } } }
";

fn node(id: &str, ns: &str, labels: &[(&str, &str)], addr: &str) -> Node {
    Node {
        id: id.into(),
        workload: id.into(),
        namespace: ns.into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<_, _>>(),
        addresses: vec![addr.into()],
        transparent_inbound: true,
        ..Node::default()
    }
}

fn compiler(yaml: &str) -> Arc<Compiler> {
    let set = ResourceSet::from_text("m.yaml", yaml);
    assert!(!set.has_errors(), "{:?}", set.findings);
    Compiler::new(set.resources)
}

fn connect_bookinfo(c: &Compiler) -> Node {
    let page = node(
        "productpage-1",
        "default",
        &[("app", "productpage"), ("version", "v1")],
        "198.18.0.2",
    );
    for n in [
        page.clone(),
        node(
            "reviews-v1-1",
            "default",
            &[("app", "reviews"), ("version", "v1")],
            "198.18.0.3",
        ),
        node(
            "reviews-v2-1",
            "default",
            &[("app", "reviews"), ("version", "v2")],
            "198.18.0.4",
        ),
        node(
            "reviews-v2-2",
            "default",
            &[("app", "reviews"), ("version", "v2")],
            "198.18.0.5",
        ),
    ] {
        c.proxy_connected(&n);
    }
    c.rebuild();
    page
}

fn decoded(view: &View, type_url: &str, name: &str) -> Typed {
    let r = view
        .resources
        .get(&(type_url.to_string(), name.to_string()))
        .unwrap_or_else(|| {
            panic!(
                "no {type_url} {name} in {:?}",
                view.resources.keys().collect::<Vec<_>>()
            )
        });
    Typed::decode(r).unwrap()
}

/// A port nothing routes: one catch-all route to the port's own cluster
/// (with Istio's default retries), the cluster also taking TCP.
pub(super) fn unrouted(port: &weft_proto::config::ServicePort) -> bool {
    matches!(&port.routes[..], [r] if r.matches.is_empty()
        && r.backends.len() == 1
        && Some(r.backends[0].cluster.as_str()) == port.cluster.as_deref()
        && r.retries.is_some())
}

fn cluster(view: &View, name: &str) -> Cluster {
    match decoded(view, CLUSTER, name) {
        Typed::Cluster(c) => c,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_proxy_sees_services_routes_and_the_subsets_endpoints() {
    let c = compiler(MESH);
    let page = connect_bookinfo(&c);
    let view = c.view(&page);

    let Typed::Service(reviews) = decoded(&view, SERVICE, "reviews.default.svc.cluster.local")
    else {
        panic!()
    };
    assert_eq!(
        reviews.hosts,
        ["reviews", "reviews.default", "reviews.default.svc"]
    );
    let routes = &reviews.ports[0].routes;
    assert_eq!(routes.len(), 2);
    assert_eq!(
        routes[0].backends[0].cluster,
        "outbound|9080|v2|reviews.default.svc.cluster.local"
    );
    assert_eq!(
        reviews.ports[0].cluster, None,
        "a VirtualService claims it: no fallback"
    );

    let v2 = cluster(&view, "outbound|9080|v2|reviews.default.svc.cluster.local");
    let addrs: Vec<String> = v2.endpoints.iter().map(|e| e.address.to_string()).collect();
    assert_eq!(addrs, ["198.18.0.4:9080", "198.18.0.5:9080"]);
    assert_eq!(
        v2.lb,
        LbPolicy::LeastRequest,
        "the subset's policy replaces the rule's"
    );
    assert_eq!(
        v2.protocol,
        UpstreamProtocol::Http2,
        "sidecar to sidecar: HTTP/2"
    );
    assert_eq!(
        v2.endpoints[0]
            .workload
            .as_ref()
            .unwrap()
            .version
            .as_deref(),
        Some("v2")
    );
    let v1 = cluster(&view, "outbound|9080|v1|reviews.default.svc.cluster.local");
    assert_eq!((v1.endpoints.len(), v1.lb), (1, LbPolicy::RoundRobin));

    // No VirtualService: one cluster, every instance; from another namespace.
    let Typed::Service(mysql) = decoded(&view, SERVICE, "mysql.db.svc.cluster.local") else {
        panic!()
    };
    assert_eq!(
        mysql.hosts,
        ["mysql.db", "mysql.db.svc"],
        "the bare name is not ours to use"
    );
    assert_eq!(
        mysql.ports[0].cluster.as_deref(),
        Some("outbound|3306||mysql.db.svc.cluster.local")
    );
    assert!(mysql.ports[0].routes.is_empty(), "TCP: no HTTP routes");

    // HTTP without a VirtualService: one route to every instance, with
    // Istio's default retries; the cluster stays for TCP on the port.
    let Typed::Service(page_svc) = decoded(&view, SERVICE, "productpage.default.svc.cluster.local")
    else {
        panic!()
    };
    let port = &page_svc.ports[0];
    let default = "outbound|9080||productpage.default.svc.cluster.local";
    assert_eq!(port.cluster.as_deref(), Some(default));
    assert_eq!(port.routes.len(), 1);
    assert_eq!(port.routes[0].backends[0].cluster, default);
    assert_eq!(port.routes[0].retries.as_ref().map(|r| r.attempts), Some(2));
    assert!(
        reviews.ports[0].routes.iter().all(|r| r.retries.is_some()),
        "VirtualService rules without retries get the default too"
    );

    let Typed::Inbound(inbound) = decoded(&view, INBOUND, "9080") else {
        panic!()
    };
    assert_eq!(
        inbound,
        InboundPort {
            port: 9080,
            protocol: weft_proto::config::AppProtocol::Http,
            target: None,
            service: Some("productpage.default.svc.cluster.local".into()),
            rate_limit: None,
        }
    );
}

#[test]
fn the_composed_view_is_a_config_the_proxy_accepts() {
    let c = compiler(MESH);
    let page = connect_bookinfo(&c);
    let view = c.view(&page);
    let typed: Vec<Typed> = view
        .resources
        .values()
        .map(|r| Typed::decode(r).unwrap())
        .collect();
    // Meshed endpoints are mTLS, which needs a control plane section.
    let base = weft_proto::config::ProxyConfig::from_yaml(
        "b.yaml",
        "listeners: []\ncontrol_plane: { address: \"127.0.0.1:15012\", ca_bundle: root.pem }",
    )
    .unwrap();
    let config = weft_proto::resources::compose(&base, &typed).unwrap();
    let errors = config.validate();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn a_sidecar_narrows_what_a_proxy_sees() {
    let c = compiler(&format!(
        "{MESH}---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {{ name: default }}
spec:
  egress: [{{ hosts: ['./*'] }}]
"
    ));
    let page = connect_bookinfo(&c);
    let view = c.view(&page);
    let services: Vec<&str> = view
        .resources
        .keys()
        .filter(|(t, _)| t == SERVICE)
        .map(|(_, n)| n.as_str())
        .collect();
    assert_eq!(
        services,
        [
            "productpage.default.svc.cluster.local",
            "reviews.default.svc.cluster.local"
        ]
    );
}

#[test]
fn one_endpoint_change_reuses_everything_else_and_says_what_changed() {
    let c = compiler(MESH);
    let page = connect_bookinfo(&c);
    let before = c.view(&page);
    c.proxy_disconnected(&node("reviews-v2-2", "default", &[], "198.18.0.5"), true);
    c.rebuild();
    let after = c.view(&page);
    assert_ne!(before.version, after.version);
    let delta = after.delta.as_ref().unwrap();
    assert_eq!(delta.from, before.version);
    assert_eq!(
        delta.changed,
        [(
            CLUSTER.to_string(),
            "outbound|9080|v2|reviews.default.svc.cluster.local".to_string()
        )],
        "only the cluster that lost an endpoint"
    );
    assert!(delta.removed.is_empty());
    let key = (
        SERVICE.to_string(),
        "reviews.default.svc.cluster.local".to_string(),
    );
    assert_eq!(
        before.resources[&key].version,
        after.resources[&key].version
    );
}

#[test]
fn proxies_with_the_same_identity_share_one_view() {
    let c = compiler(MESH);
    let page = connect_bookinfo(&c);
    let mut twin = page.clone();
    twin.id = "productpage-2".into();
    assert!(Arc::ptr_eq(&c.view(&page), &c.view(&twin)));
}

#[tokio::test(start_paused = true)]
async fn bursts_of_changes_become_one_generation() {
    let c = compiler(MESH);
    let mut generation = c.generation();
    tokio::spawn(c.clone().run(DEBOUNCE));
    for i in 0..50 {
        c.proxy_connected(&node(
            &format!("p{i}"),
            "default",
            &[("app", "reviews")],
            "198.18.1.1",
        ));
    }
    generation.changed().await.unwrap();
    assert_eq!(*generation.borrow(), 2);
    assert_eq!(c.proxies().len(), 50);
    tokio::time::sleep(DEBOUNCE * 5).await;
    assert_eq!(*generation.borrow(), 2, "nothing more changed");
}

fn v2_endpoints(c: &Compiler, page: &Node) -> usize {
    c.rebuild();
    cluster(
        &c.view(page),
        "outbound|9080|v2|reviews.default.svc.cluster.local",
    )
    .endpoints
    .len()
}

#[test]
fn a_lost_proxy_stays_an_endpoint_through_its_grace_a_leaving_one_does_not() {
    let c = compiler(MESH);
    let page = connect_bookinfo(&c);
    let (v2a, v2b) = (
        node(
            "reviews-v2-1",
            "default",
            &[("app", "reviews"), ("version", "v2")],
            "198.18.0.4",
        ),
        node(
            "reviews-v2-2",
            "default",
            &[("app", "reviews"), ("version", "v2")],
            "198.18.0.5",
        ),
    );
    c.proxy_disconnected(&v2a, false);
    c.proxy_disconnected(&v2b, true);
    assert_eq!(v2_endpoints(&c, &page), 1, "lost stays, left goes");

    c.sweep(Instant::now() + LOST_GRACE / 2);
    assert_eq!(v2_endpoints(&c, &page), 1, "still within its grace");
    // It reconnects; its old session is noticed gone only afterwards.
    c.proxy_connected(&v2a);
    c.proxy_connected(&v2a);
    c.proxy_disconnected(&v2a, false);
    c.sweep(Instant::now() + LOST_GRACE * 2);
    assert_eq!(
        v2_endpoints(&c, &page),
        1,
        "a reconnected proxy is not swept"
    );

    c.proxy_disconnected(&v2a, false);
    c.sweep(Instant::now() + LOST_GRACE * 2);
    assert_eq!(v2_endpoints(&c, &page), 0, "past its grace");
}

#[test]
fn registrations_survive_a_restart_in_their_grace() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("registrations.bin");
    let set = ResourceSet::from_text("m.yaml", MESH);
    let c = Compiler::with_registrations(set.resources.clone(), file.clone());
    let page = connect_bookinfo(&c);
    drop(c);

    // A new control plane, before any proxy reconnects.
    let again = Compiler::with_registrations(set.resources, file);
    assert_eq!(again.proxies().len(), 4);
    assert_eq!(
        v2_endpoints(&again, &page),
        2,
        "endpoints known before the backends reconnect"
    );
    again.sweep(Instant::now() + LOST_GRACE * 2);
    assert_eq!(
        v2_endpoints(&again, &page),
        0,
        "those that never came back are forgotten"
    );
}

#[test]
fn an_unchanged_view_is_the_same_object_across_generations() {
    let c = compiler(MESH);
    let page = connect_bookinfo(&c);
    let before = c.view(&page);
    // A proxy no service selects: the mesh changes, this view does not.
    c.proxy_connected(&node(
        "loadgen-1",
        "default",
        &[("app", "loadgen")],
        "198.18.0.9",
    ));
    c.rebuild();
    let after = c.view(&page);
    assert!(
        Arc::ptr_eq(&before, &after),
        "{} vs {}",
        before.version,
        after.version
    );
}

#[test]
fn a_proxy_no_service_selects_joins_without_a_recompile() {
    let c = compiler(MESH);
    connect_bookinfo(&c);
    let before = c.current().number;
    c.proxy_connected(&node(
        "loadgen-1",
        "default",
        &[("app", "loadgen")],
        "198.18.0.9",
    ));
    c.rebuild();
    assert_eq!(
        c.current().number,
        before,
        "nothing selects it: no new generation"
    );
    assert_eq!(c.proxies().len(), 5, "but it is registered");
    c.proxy_connected(&node(
        "reviews-v3-1",
        "default",
        &[("app", "reviews"), ("version", "v3")],
        "198.18.0.6",
    ));
    c.rebuild();
    assert_eq!(
        c.current().number,
        before + 1,
        "a selected one changes endpoints"
    );
}

#[test]
fn one_instance_change_recompiles_only_what_selects_it() {
    let c = compiler(MESH);
    let page = connect_bookinfo(&c);
    c.view(&page);
    let full = c.current().compiled();
    // 3 services; clusters reviews v1 and v2, productpage, mysql.
    assert_eq!(full, 7, "the first view compiles everything");
    c.proxy_disconnected(&node("reviews-v2-2", "default", &[], "198.18.0.5"), true);
    c.rebuild();
    c.view(&page);
    // reviews' service and its two clusters are recompiled; productpage
    // and mysql are reused.
    assert_eq!(c.current().compiled(), 3, "of {full}");
}

#[test]
fn a_wildcard_rule_recompiles_everything() {
    let set = ResourceSet::from_text("m.yaml", MESH);
    let c = Compiler::new(set.resources.clone());
    let page = connect_bookinfo(&c);
    c.view(&page);
    let full = c.current().compiled();
    let more = ResourceSet::from_text(
        "w.yaml",
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: { name: all }\nspec: { host: '*.default.svc.cluster.local' }\n",
    );
    let mut resources = set.resources;
    resources.extend(more.resources);
    c.set_resources(resources);
    c.rebuild();
    c.view(&page);
    assert_eq!(c.current().compiled(), full);
}

#[test]
fn a_workload_gets_the_policies_that_select_it() {
    let c = compiler(&format!(
        "{MESH}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{ name: reviews-viewer }}
spec:
  selector: {{ matchLabels: {{ app: reviews }} }}
  rules: [{{ from: [{{ source: {{ serviceAccounts: [bookinfo-productpage, other/sa] }} }}] }}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{ name: namespace-wide }}
spec: {{ action: DENY, rules: [{{ to: [{{ operation: {{ paths: ['/admin*'] }} }}] }}] }}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{ name: mesh-wide, namespace: istio-system }}
spec: {{ action: CUSTOM, provider: {{ name: opa }}, rules: [{{ from: [{{ source: {{ ipBlocks: [10.0.0.0/8] }} }}] }}] }}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{ name: elsewhere, namespace: db }}
spec: {{ rules: [{{}}] }}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{ name: waypoint }}
spec:
  targetRefs: [{{ kind: Gateway, group: gateway.networking.k8s.io, name: waypoint }}]
  rules: [{{}}]
"
    ));
    connect_bookinfo(&c);
    let policies = |labels: &[(&str, &str)]| -> Vec<weft_proto::config::AuthorizationPolicy> {
        let view = c.view(&node("x", "default", labels, "198.18.9.9"));
        view.resources
            .values()
            .filter_map(|r| match Typed::decode(r).unwrap() {
                Typed::Authorization(a) => Some(a),
                _ => None,
            })
            .collect()
    };
    let reviews = policies(&[("app", "reviews")]);
    let names: Vec<&str> = reviews.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "default/namespace-wide",
            "default/reviews-viewer",
            "istio-system/mesh-wide"
        ]
    );
    let viewer = &reviews[1];
    assert_eq!(
        viewer.rules[0].from[0].principals,
        [
            "cluster.local/ns/default/sa/bookinfo-productpage",
            "cluster.local/ns/other/sa/sa"
        ]
    );
    assert_eq!(
        reviews[2].action,
        weft_proto::config::Action::Deny,
        "CUSTOM denies what it cannot ask"
    );
    let page: Vec<String> = policies(&[("app", "productpage")])
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(page, ["default/namespace-wide", "istio-system/mesh-wide"]);
}

mod delegation;
mod gamma;
mod gateway;
mod l4;
mod lb;
mod locality;
mod mtls;
mod profile;
mod rate_limit;
mod split;
mod telemetry;
