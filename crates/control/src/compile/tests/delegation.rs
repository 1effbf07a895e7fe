//! VirtualService delegation through the compiler: a root's delegate
//! rule becomes the delegate's routes, and editing the delegate (which
//! names no host) recompiles the root's service.

use super::gamma::{REVIEWS, SERVICES, seen_from, v};
use super::*;

const ROOT: &str = "---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
  - match: [{ uri: { prefix: /reviews } }]
    delegate: { name: reviews-team }
";

fn delegate(to: &str) -> String {
    format!(
        "---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{ name: reviews-team }}
spec:
  http:
  - match: [{{ headers: {{ end-user: {{ exact: jason }} }} }}]
    route: [{{ destination: {{ host: reviews-v2 }} }}]
  - route: [{{ destination: {{ host: {to} }} }}]
"
    )
}

#[test]
fn a_delegate_routes_for_its_root_and_its_edits_recompile_the_root() {
    // The services and the root stay the same objects across both sets,
    // so only the delegate counts as changed.
    let base = ResourceSet::from_text("m.yaml", &format!("{SERVICES}{ROOT}")).resources;
    let resources = |to: &str| {
        let mut all = base.clone();
        all.extend(ResourceSet::from_text("d.yaml", &delegate(to)).resources);
        all
    };
    let c = Compiler::new(resources("reviews-v1"));
    let port = seen_from(&c, "default", REVIEWS).ports.remove(0);
    let routes: Vec<(usize, String)> = port
        .routes
        .iter()
        .map(|r| (r.matches[0].headers.len(), r.backends[0].cluster.clone()))
        .collect();
    assert_eq!(routes, [(1, v("v2")), (0, v("v1"))]);
    assert!(
        port.routes.iter().all(|r| matches!(
            &r.matches[0].path,
            Some(weft_proto::config::PathMatch::Prefix(p)) if p == "/reviews"
        )),
        "every route keeps the root's match"
    );

    // The same client, no reconnect: only the delegate's edit can make
    // the root's service compile again.
    let client = node(
        "client-default",
        "default",
        &[("app", "client")],
        "198.18.9.9",
    );
    c.set_resources(resources("reviews-v2"));
    c.rebuild();
    let Typed::Service(svc) = decoded(&c.view(&client), SERVICE, REVIEWS) else {
        panic!("no service")
    };
    assert_eq!(svc.ports[0].routes[1].backends[0].cluster, v("v2"));
}
