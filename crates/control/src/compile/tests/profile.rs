//! Linkerd ServiceProfiles: routes, timeouts, retries and their budget,
//! response classes, overrides, and which profile a client gets.

use std::time::Duration;

use weft_proto::config::{
    HttpRoute, PathMatch, RetryBudget, RetryOn, RouteMatch, ServicePort, StatusRange,
};

use super::gamma::{clusters_of, http_route, seen_from};
use super::*;

const WEBAPP: &str = "
apiVersion: v1
kind: Service
metadata: { name: webapp, namespace: booksapp }
spec: { selector: { app: webapp }, ports: [{ name: http, port: 7000 }] }
---
apiVersion: v1
kind: Service
metadata: { name: webapp-v2, namespace: booksapp }
spec: { selector: { app: webapp-v2 }, ports: [{ name: http, port: 7000 }] }
---
";

const FQDN: &str = "webapp.booksapp.svc.cluster.local";
const CLUSTER: &str = "outbound|7000||webapp.booksapp.svc.cluster.local";

fn profile(ns: &str, spec: &str) -> String {
    format!(
        "---\napiVersion: linkerd.io/v1alpha2\nkind: ServiceProfile\nmetadata: {{ name: {FQDN}, namespace: {ns} }}\nspec:\n{spec}"
    )
}

fn port_seen_from(yaml: &str, ns: &str) -> ServicePort {
    let c = compiler(&format!("{WEBAPP}{yaml}"));
    seen_from(&c, ns, FQDN).ports.remove(0)
}

fn matching(method: Option<&str>, path: Option<&str>) -> RouteMatch {
    RouteMatch {
        method: method.map(|m| weft_proto::config::StringMatch::Exact(m.to_string())),
        path: path.map(|p| PathMatch::Regex(p.to_string())),
        ..RouteMatch::default()
    }
}

fn named<'a>(port: &'a ServicePort, name: &str) -> &'a HttpRoute {
    port.routes
        .iter()
        .find(|r| r.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no route {name}: {:?}", port.routes))
}

#[test]
fn the_seed_profile_compiles_to_named_routes_then_the_default() {
    let seed = super::gateway::conformance("seeds/valid/webapp-serviceprofile.yaml");
    let port = port_seen_from(&seed, "booksapp");
    assert_eq!(port.routes.len(), 3, "{:?}", port.routes);
    let get = &port.routes[0];
    assert_eq!(get.name.as_deref(), Some("GET /"));
    assert_eq!(get.matches, [matching(Some("GET"), Some("/"))]);
    // Linkerd's default route timeout; no retries unless retryable.
    assert_eq!(get.timeout, Some(Duration::from_secs(10)));
    assert_eq!(get.retries, None);
    let m = get.metrics.as_ref().unwrap();
    assert_eq!((m.name.as_str(), &m.failures), ("GET /", &None));
    assert_eq!(clusters_of(get), [(CLUSTER, 1)]);
    let post = &port.routes[1];
    assert_eq!(post.matches, [matching(Some("POST"), Some("/authors"))]);
    // Requests no route matches go to the service as without a profile,
    // counted under no route.
    let default = &port.routes[2];
    assert!(default.matches.is_empty() && default.metrics.is_none());
    assert_eq!(clusters_of(default), [(CLUSTER, 1)]);
    assert_eq!(port.retry_budget, RetryBudget::default());
}

#[test]
fn retryable_routes_retry_their_failures_within_the_budget() {
    let spec = "  routes:
  - name: GET /books
    condition: { method: GET, pathRegex: '/books/[^/]*' }
    isRetryable: true
    timeout: 300ms
  - name: PUT /books
    condition: { method: PUT, pathRegex: '/books/[^/]*' }
    isRetryable: true
    responseClasses:
    - { condition: { status: { min: 500, max: 502 } }, isFailure: false }
    - { condition: { status: { min: 429, max: 429 } }, isFailure: true }
  - name: never fails
    condition: { pathRegex: /ok }
    isRetryable: true
    responseClasses:
    - { condition: { status: { min: 100, max: 599 } }, isFailure: false }
  retryBudget: { retryRatio: 0.5, minRetriesPerSecond: 3, ttl: 20s }
";
    let port = port_seen_from(&profile("booksapp", spec), "booksapp");
    let get = named(&port, "GET /books");
    assert_eq!(get.timeout, Some(Duration::from_millis(300)));
    let r = get.retries.as_ref().unwrap();
    assert_eq!(r.attempts, 10);
    assert_eq!(r.retry_on, [RetryOn::FiveXx]);
    // The first class that matches decides; the rest of 5xx still fails.
    let put = named(&port, "PUT /books");
    let failures = vec![
        StatusRange { min: 429, max: 429 },
        StatusRange { min: 503, max: 599 },
    ];
    assert_eq!(put.metrics.as_ref().unwrap().failures, Some(failures));
    let r = put.retries.as_ref().unwrap();
    assert_eq!(
        r.retry_on,
        [RetryOn::RetriableStatusCodes, RetryOn::ConnectFailure]
    );
    assert_eq!(r.status_codes.len(), 1 + 97);
    assert!(r.status_codes.contains(&429) && !r.status_codes.contains(&500));
    // Nothing fails: nothing to retry.
    assert_eq!(named(&port, "never fails").retries, None);
    assert_eq!(
        port.retry_budget,
        RetryBudget {
            ratio: 0.5,
            min_per_second: 3,
            ttl: Duration::from_secs(20),
        }
    );
}

#[test]
fn conditions_combine_into_match_blocks() {
    let spec = "  routes:
  - name: reads
    condition:
      all:
      - { pathRegex: '/api/.*' }
      - any: [{ method: GET }, { method: HEAD }]
  - name: impossible
    condition: { all: [{ method: GET }, { method: POST }] }
  - name: negated
    condition: { not: { method: GET } }
";
    let port = port_seen_from(&profile("booksapp", spec), "booksapp");
    assert_eq!(
        named(&port, "reads").matches,
        [
            matching(Some("GET"), Some("/api/.*")),
            matching(Some("HEAD"), Some("/api/.*"))
        ]
    );
    // A route that can match nothing, and one weft cannot carry out, are
    // left out: their requests take the default route.
    let names: Vec<_> = port.routes.iter().map(|r| r.name.as_deref()).collect();
    assert_eq!(names, [Some("reads"), None]);
}

#[test]
fn a_profile_in_the_clients_namespace_wins_for_that_client() {
    let server = profile(
        "booksapp",
        "  routes: [{ name: server, condition: { pathRegex: /a } }]\n",
    );
    let client = profile(
        "shop",
        "  routes: [{ name: client, condition: { pathRegex: /b } }]\n",
    );
    let yaml = format!("{server}{client}");
    let c = compiler(&format!("{WEBAPP}{yaml}"));
    let from_shop = seen_from(&c, "shop", FQDN).ports.remove(0);
    assert_eq!(from_shop.routes[0].name.as_deref(), Some("client"));
    let from_elsewhere = seen_from(&c, "other", FQDN).ports.remove(0);
    assert_eq!(from_elsewhere.routes[0].name.as_deref(), Some("server"));
}

#[test]
fn dst_overrides_weigh_mesh_services_and_leave_out_others() {
    let spec = "  routes: [{ name: all, condition: { pathRegex: '.*' } }]
  dstOverrides:
  - { authority: 'webapp.booksapp.svc.cluster.local:7000', weight: 900m }
  - { authority: 'webapp-v2.booksapp.svc.cluster.local:7000', weight: 100m }
  - { authority: 'elsewhere.example.com:80', weight: 1 }
";
    let port = port_seen_from(&profile("booksapp", spec), "booksapp");
    let want = [
        (CLUSTER, 900),
        ("outbound|7000||webapp-v2.booksapp.svc.cluster.local", 100),
    ];
    assert_eq!(clusters_of(&port.routes[0]), want);
    // Every request is split, the default route's too.
    assert_eq!(clusters_of(&port.routes[1]), want);
}

#[test]
fn a_virtual_service_wins_and_a_profile_wins_over_mesh_routes() {
    let routes = http_route(
        "booksapp",
        "to-v2",
        "{ group: '', kind: Service, name: webapp, port: 7000 }",
        "webapp-v2",
    );
    let sp = profile(
        "booksapp",
        "  routes: [{ name: sp, condition: { pathRegex: /a } }]\n",
    );
    let port = port_seen_from(&format!("{routes}{sp}"), "booksapp");
    assert_eq!(port.routes[0].name.as_deref(), Some("sp"));
    let vs = "---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: webapp, namespace: booksapp }
spec:
  hosts: [webapp]
  http: [{ name: vs, route: [{ destination: { host: webapp-v2 } }] }]
";
    let port = port_seen_from(&format!("{sp}{vs}"), "booksapp");
    assert_eq!(port.routes[0].name.as_deref(), Some("vs"));
    assert!(port.routes.iter().all(|r| r.metrics.is_none()));
}

#[test]
fn a_profile_uses_the_services_traffic_split_as_its_backends() {
    let split = "---
apiVersion: split.smi-spec.io/v1alpha2
kind: TrafficSplit
metadata: { name: canary, namespace: booksapp }
spec:
  service: webapp
  backends: [{ service: webapp, weight: 1 }, { service: webapp-v2, weight: 3 }]
";
    let sp = profile(
        "booksapp",
        "  routes: [{ name: sp, condition: { pathRegex: /a } }]\n",
    );
    let port = port_seen_from(&format!("{split}{sp}"), "booksapp");
    assert_eq!(port.routes[0].name.as_deref(), Some("sp"));
    assert_eq!(
        clusters_of(&port.routes[0]),
        [
            (CLUSTER, 1000),
            ("outbound|7000||webapp-v2.booksapp.svc.cluster.local", 3000)
        ]
    );
}
