use std::sync::Arc;

use http::Request;
use weft_proto::config::ProxyConfig;

use super::*;
use crate::errors::ProxyError;
use crate::listen::ListenerRt;
use crate::state::ProxyState;

/// A gateway on port 80 (bound elsewhere) with exact, wildcard and
/// catch-all virtual hosts; port 443 has no server.
const CONFIG: &str = "
listeners:
  - { name: http, address: 127.0.0.1:8080, direction: gateway, target_port: 80 }
  - { name: other, address: 127.0.0.1:8443, direction: gateway, target_port: 443 }
  - { name: bound, address: 127.0.0.1:8081, direction: gateway }
gateway_servers:
  - port: 80
    virtual_hosts:
      - name: exact
        hosts: [shop.example.com]
        routes:
          - match: [{ path: { prefix: /api } }]
            backends: [{ cluster: api }]
            timeout: 2s
      - name: short-wildcard
        hosts: ['*.com']
        routes: [{ backends: [{ cluster: com }] }]
      - name: long-wildcard
        hosts: ['*.example.com']
        routes: [{ backends: [{ cluster: example }] }]
      - name: everything
        hosts: ['*']
        routes: [{ backends: [{ cluster: page }] }]
  - port: 8081
    virtual_hosts:
      - { name: only, hosts: [only.example.com], routes: [{ backends: [{ cluster: page }] }] }
clusters:
  - { name: api, service: api.shop.svc.cluster.local, endpoints: [{ address: 127.0.0.1:1001 }] }
  - { name: com, endpoints: [{ address: 127.0.0.1:1002 }] }
  - { name: example, endpoints: [{ address: 127.0.0.1:1003 }] }
  - { name: page, service: productpage.default.svc.cluster.local, endpoints: [{ address: 127.0.0.1:1004 }] }
";

fn ctx_for(listener: &str) -> (Arc<ConnCtx>, Arc<crate::state::Snapshot>) {
    let cfg = ProxyConfig::from_yaml("t.yaml", CONFIG).unwrap();
    let l = cfg
        .listeners
        .iter()
        .find(|l| l.name == listener)
        .unwrap()
        .clone();
    let state = Arc::new(ProxyState::new(cfg).unwrap());
    let (_signal, watch) = drain::channel();
    let snap = state.snapshot();
    let ctx = Arc::new(ConnCtx {
        state,
        listener: Arc::new(ListenerRt::new(&l)),
        peer: "203.0.113.7:5555".parse().unwrap(),
        orig_dst: None,
        identity: None,
        peer_labels: None,
        client_tls: false,
        drain: watch,
        peer_meta: Default::default(),
    });
    (ctx, snap)
}

fn get(host: &str, path: &str) -> Request<()> {
    Request::get(path).header("host", host).body(()).unwrap()
}

fn cluster(d: &Decision) -> &str {
    match &d.target {
        Target::Cluster(c) => &c.name,
        other => panic!("{other:?}"),
    }
}

#[test]
fn exact_beats_the_longest_wildcard_which_beats_star() {
    let (ctx, snap) = ctx_for("http");
    let cases = [
        ("shop.example.com", "/api/x", "api"),
        ("SHOP.Example.com:80", "/api/x", "api"),
        ("a.example.com", "/", "example"),
        ("a.b.EXAMPLE.com", "/", "example"),
        // `*.example.com` does not cover the domain itself.
        ("example.com", "/", "com"),
        ("other.org", "/", "page"),
        ("10.0.0.1:80", "/", "page"),
    ];
    for (host, path, want) in cases {
        let d = decide(&snap, &ctx, &get(host, path)).unwrap();
        assert_eq!(cluster(&d), want, "{host}{path}");
    }
}

#[test]
fn decisions_carry_the_backend_service_and_the_route_timeout() {
    let (ctx, snap) = ctx_for("http");
    let d = decide(&snap, &ctx, &get("shop.example.com", "/api")).unwrap();
    assert_eq!(&*d.service.service, "api.shop.svc.cluster.local");
    assert_eq!(&*d.service.namespace, "shop");
    assert_eq!(d.timeout, Some(std::time::Duration::from_secs(2)));
    // A cluster that names no service reports `unknown`.
    let d = decide(&snap, &ctx, &get("a.example.com", "/")).unwrap();
    assert_eq!(&*d.service.service, "unknown");
}

#[test]
fn no_route_names_what_is_missing() {
    let (ctx, snap) = ctx_for("http");
    // The exact host's routes do not fall through to wildcards.
    let err = decide(&snap, &ctx, &get("shop.example.com", "/cart")).unwrap_err();
    assert!(
        matches!(&err, ProxyError::NoRoute { authority } if authority.contains("shop.example.com/cart") && authority.contains("exact")),
        "{err}"
    );
    let no_host = Request::get("/").body(()).unwrap();
    assert!(decide(&snap, &ctx, &no_host).is_err());

    let (ctx, snap) = ctx_for("other");
    let err = decide(&snap, &ctx, &get("shop.example.com", "/api")).unwrap_err();
    assert!(
        err.to_string().contains("no Gateway serves port 443"),
        "{err}"
    );
}

#[test]
fn a_listener_without_target_port_serves_its_bound_port() {
    let (ctx, snap) = ctx_for("bound");
    assert_eq!(ctx.target_port(), Some(8081));
    let d = decide(&snap, &ctx, &get("only.example.com", "/")).unwrap();
    assert_eq!(cluster(&d), "page");
    let err = decide(&snap, &ctx, &get("shop.example.com", "/")).unwrap_err();
    assert!(err.to_string().contains("no virtual host"), "{err}");
}
