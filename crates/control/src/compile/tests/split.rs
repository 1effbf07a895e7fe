//! SMI TrafficSplits, and which routing wins when several kinds claim one
//! service.

use weft_proto::config::Backend;

use super::gamma::{REVIEWS, REVIEWS_PARENT, SERVICES, clusters_of, http_route, seen_from, v};
use super::*;

const CANARY_SERVICES: &str = "
apiVersion: v1
kind: Service
metadata: { name: website }
spec: { selector: { app: website }, ports: [{ name: http, port: 80 }] }
---
apiVersion: v1
kind: Service
metadata: { name: website-v1 }
spec: { selector: { app: website, version: v1 }, ports: [{ name: http, port: 80 }] }
---
apiVersion: v1
kind: Service
metadata: { name: website-v2 }
spec: { selector: { app: website, version: v2 }, ports: [{ name: http, port: 80 }] }
---
";

#[test]
fn the_seed_canary_split_sends_90_to_v1_and_10_to_v2_as_written() {
    let seed = super::gateway::conformance("seeds/valid/canary-trafficsplit.yaml");
    let c = compiler(&format!("{CANARY_SERVICES}{seed}"));
    let port = seen_from(&c, "default", "website.default.svc.cluster.local")
        .ports
        .remove(0);
    assert_eq!(port.cluster, None);
    assert_eq!(port.routes.len(), 1);
    let r = &port.routes[0];
    assert_eq!(r.name.as_deref(), Some("default/canary"));
    assert_eq!(
        r.backends,
        [
            Backend {
                cluster: "outbound|80||website-v1.default.svc.cluster.local".into(),
                weight: 90_000,
                ..Backend::default()
            },
            Backend {
                cluster: "outbound|80||website-v2.default.svc.cluster.local".into(),
                weight: 10_000,
                ..Backend::default()
            },
        ]
    );
}

#[test]
fn the_booksapp_splits_load_and_compile() {
    let set = ResourceSet::from_text(
        "booksapp.yml",
        &super::gateway::conformance("linkerd/booksapp/booksapp-trafficsplit.yml"),
    );
    assert!(!set.has_errors(), "{:?}", set.findings);
    let c = Compiler::new(set.resources);
    let port = seen_from(&c, "default", "authors.default.svc.cluster.local")
        .ports
        .remove(0);
    assert_eq!(
        clusters_of(&port.routes[0]),
        [
            ("outbound|7001||authors.default.svc.cluster.local", 500),
            // Its only port: the clone listens on 7009.
            (
                "outbound|7009||authors-clone.default.svc.cluster.local",
                500
            )
        ]
    );
    let port = seen_from(&c, "default", "webapp.default.svc.cluster.local")
        .ports
        .remove(0);
    assert_eq!(
        clusters_of(&port.routes[0]),
        [("outbound|7000||webapp.default.svc.cluster.local", 1000)],
        "weight 0 gets nothing"
    );
}

#[test]
fn a_split_with_matches_is_not_carried_out() {
    let c = compiler(&format!(
        "{CANARY_SERVICES}apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {{ name: ab-test }}
spec:
  service: website
  matches: [{{ kind: HTTPRouteGroup, name: ab-test, apiGroup: specs.smi-spec.io }}]
  backends: [{{ service: website-v1, weight: 0 }}, {{ service: website-v2, weight: 100 }}]
"
    ));
    let port = seen_from(&c, "default", "website.default.svc.cluster.local")
        .ports
        .remove(0);
    assert!(super::unrouted(&port), "{port:?}");
    assert_eq!(
        port.cluster.as_deref(),
        Some("outbound|80||website.default.svc.cluster.local")
    );
}

#[test]
fn a_virtual_service_wins_then_a_traffic_split_then_mesh_routes() {
    let route = http_route("default", "to-v2", REVIEWS_PARENT, "reviews-v2");
    let split = "---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: { name: reviews }
spec: { service: reviews, backends: [{ service: reviews-v1, weight: 1 }] }
";
    let vs = "---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http: [{ route: [{ destination: { host: reviews } }] }]
";
    let first_cluster = |yaml: String| {
        let c = compiler(&yaml);
        let svc = seen_from(&c, "default", REVIEWS);
        clusters_of(&svc.ports[0].routes[0])[0].0.to_string()
    };
    assert_eq!(first_cluster(format!("{SERVICES}{route}")), v("v2"));
    assert_eq!(first_cluster(format!("{SERVICES}{route}{split}")), v("v1"));
    assert_eq!(
        first_cluster(format!("{SERVICES}{route}{split}{vs}")),
        "outbound|9080||reviews.default.svc.cluster.local"
    );
}

#[test]
fn applying_and_deleting_a_route_or_split_recompiles_the_service() {
    let base = ResourceSet::from_text("m.yaml", SERVICES).resources;
    let c = Compiler::new(base.clone());
    let routed = |c: &Compiler| {
        let svc = seen_from(c, "default", REVIEWS);
        let port = &svc.ports[0];
        (!super::unrouted(port))
            .then(|| port.routes.first().map(|r| r.backends[0].cluster.clone()))
            .flatten()
    };
    assert_eq!(routed(&c), None);
    let extra = |yaml: &str| {
        let mut all = base.clone();
        all.extend(ResourceSet::from_text("x.yaml", yaml).resources);
        all
    };
    c.set_resources(extra(&http_route(
        "default",
        "to-v2",
        REVIEWS_PARENT,
        "reviews-v2",
    )));
    assert_eq!(routed(&c), Some(v("v2")));
    c.set_resources(extra(
        "apiVersion: split.smi-spec.io/v1alpha2
kind: TrafficSplit
metadata: { name: reviews }
spec: { service: reviews, backends: [{ service: reviews-v1, weight: 1 }] }
",
    ));
    assert_eq!(routed(&c), Some(v("v1")));
    c.set_resources(base.clone());
    assert_eq!(routed(&c), None);
}

#[test]
fn a_split_on_a_tcp_port_shares_connections() {
    let c = compiler(
        "apiVersion: v1
kind: Service
metadata: { name: db }
spec: { selector: { app: db }, ports: [{ name: tcp, port: 3306 }] }
---
apiVersion: v1
kind: Service
metadata: { name: db-v2 }
spec: { selector: { app: db, version: v2 }, ports: [{ name: tcp, port: 3306 }] }
---
apiVersion: split.smi-spec.io/v1alpha2
kind: TrafficSplit
metadata: { name: db }
spec: { service: db, backends: [{ service: db, weight: 3 }, { service: db-v2, weight: 1 }] }
",
    );
    let port = seen_from(&c, "default", "db.default.svc.cluster.local")
        .ports
        .remove(0);
    assert_eq!(port.cluster, None);
    assert!(port.routes[0].matches.is_empty(), "a catch-all route");
    assert_eq!(
        clusters_of(&port.routes[0]),
        [
            ("outbound|3306||db.default.svc.cluster.local", 3000),
            ("outbound|3306||db-v2.default.svc.cluster.local", 1000)
        ]
    );
}
